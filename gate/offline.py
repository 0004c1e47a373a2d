"""Offline validation with the gate's own memory.

The hot path works in integers and bytes: times are Unix seconds, deny lists and replay memory
are keyed by raw bytes (no hex per code), the replay memory forgets codes from the front of a
queue ordered by expiry (no rebuilds), and the timestamp text of queued taps is made once per
second. Measured against raw ECDSA verifies by bench/offline.py.
"""

from __future__ import annotations

import base64
import itertools
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bayaffairs.signing.keys import load_public_key
from bayaffairs.transit.codes.verify import DeviceKeyCache, KeySet, Policy, Rejected, VerifyingKey, check


@dataclass(frozen=True)
class GateDecision:
    decision: str
    reason: str | None = None
    tap_id: str | None = None


@dataclass
class OfflineGate:
    """One gate of one operator at one station (or on one bus route)."""

    gate_id: str
    operator: str
    station: str
    tap_out: bool = True
    orphan_exit: str = "max_fare"
    max_journey_minutes: int = 240
    scope: int = 0
    policy: Policy = field(default_factory=Policy)
    keys: KeySet = field(default_factory=lambda: KeySet(()))
    keys_etag: str | None = None
    deny_cursor: int = 0
    denied: set[tuple[str, str]] = field(default_factory=set)
    seen: dict[tuple[bytes, str], int] = field(default_factory=dict)
    inside: dict[bytes, int] = field(default_factory=dict)
    queue: list[dict[str, Any]] = field(default_factory=list)
    _counter: Any = field(default_factory=lambda: itertools.count(1))
    _device_keys: DeviceKeyCache = field(default_factory=DeviceKeyCache)
    _expiry: deque[tuple[int, tuple[bytes, str]]] = field(default_factory=deque)
    _denied_accounts: set[bytes] = field(default_factory=set)
    _denied_credentials: set[bytes] = field(default_factory=set)
    _public_keys: dict[tuple[str, str], Any] = field(default_factory=dict)
    _stamp: tuple[int, str] = (-1, "")

    def apply_keys(self, document: Mapping[str, Any], etag: str | None = None) -> None:
        """Install `GET /v1/gate/keys`; keys the deny list names as compromised stay revoked."""
        revoked = {value for kind, value in self.denied if kind == "key"}
        self.keys = KeySet(
            VerifyingKey(
                k["key_number"],
                self._public_key(k["algorithm"], k["public_key"]),
                revoked=k["kid"] in revoked,
            )
            for k in document["keys"]
        )
        policy = document["policy"]
        self.policy = Policy(policy["code_seconds"], policy["skew_seconds"])
        self.scope = policy["scope"]
        self.keys_etag = etag

    def apply_denylist(self, delta: Mapping[str, Any]) -> None:
        """Apply `GET /v1/gate/denylist?since=<deny_cursor>` in order."""
        for change in delta["changes"]:
            entry = (change["kind"], change["value"])
            if change["action"] == "add":
                self.denied.add(entry)
            else:
                self.denied.discard(entry)
        self.deny_cursor = delta["next_cursor"]
        self._denied_accounts = _raw(value for kind, value in self.denied if kind == "account")
        self._denied_credentials = _raw(value for kind, value in self.denied if kind == "credential")

    def _public_key(self, algorithm: str, encoded: str) -> Any:
        """Parsed once: a sync every few minutes re-sends the same keys."""
        key = self._public_keys.get((algorithm, encoded))
        if key is None:
            key = load_public_key(algorithm, base64.b64decode(encoded))
            self._public_keys[algorithm, encoded] = key
        return key

    def validate(self, payload: str, direction: str, now: int | None = None) -> GateDecision:
        now = int(time.time()) if now is None else now
        if direction == "out" and not self.tap_out:
            return GateDecision("deny", "wrong_direction")
        try:
            verified = check(
                payload,
                now=now,
                keys=self.keys,
                scope=self.scope,
                policy=self.policy,
                device_keys=self._device_keys,
            )
        except Rejected as exc:
            return GateDecision("deny", exc.reason)
        if verified.account in self._denied_accounts:
            return GateDecision("deny", "denied_account")
        if verified.credential_id is not None and verified.credential_id in self._denied_credentials:
            return GateDecision("deny", "revoked")
        self._forget(now)
        replay_key = (verified.code.replay_key, direction)
        if replay_key in self.seen:
            return GateDecision("deny", "replayed")
        entered = self.inside.get(verified.account)
        if entered is not None and now - entered > self.max_journey_minutes * 60:
            del self.inside[verified.account]  # the service decides about journeys this old
            entered = None
        if direction == "in" and self.tap_out and entered is not None:
            return GateDecision("deny", "unfinished_journey")
        if direction == "out" and entered is None and self.orphan_exit == "deny":
            return GateDecision("deny", "wrong_direction")
        self._remember(replay_key, now)
        if direction == "in" and self.tap_out:
            self.inside[verified.account] = now
        else:
            self.inside.pop(verified.account, None)
        tap_id = f"{self.gate_id}-{now}-{next(self._counter)}"
        self.queue.append(
            {
                "tap_id": tap_id,
                "payload": payload,
                "gate_id": self.gate_id,
                "station": self.station,
                "direction": direction,
                "scanned_at": self._scanned_at(now),
            }
        )
        return GateDecision("open", None, tap_id)

    def _remember(self, replay_key: tuple[bytes, str], now: int) -> None:
        """Codes are remembered for as long as any gate could still accept them."""
        until = now + self.policy.code_seconds + 2 * self.policy.skew_seconds
        self.seen[replay_key] = until
        self._expiry.append((until, replay_key))

    def _forget(self, now: int) -> None:
        """Drop what expired; expiries come in the order codes were seen (give or take a clock
        step back, which only keeps a code a little longer)."""
        expiry, seen = self._expiry, self.seen
        while expiry and expiry[0][0] <= now:
            _, key = expiry.popleft()
            if seen.get(key, now + 1) <= now:
                del seen[key]

    def _scanned_at(self, now: int) -> str:
        if self._stamp[0] != now:
            self._stamp = (now, datetime.fromtimestamp(now, UTC).isoformat())
        return self._stamp[1]


def _raw(values: Any) -> set[bytes]:
    """Hex values of a deny list as bytes (a value that is not hex can match no code)."""
    out = set()
    for value in values:
        try:
            out.add(bytes.fromhex(value))
        except ValueError:
            continue
    return out
