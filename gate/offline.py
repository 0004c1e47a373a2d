"""Offline validation with the gate's own memory."""

from __future__ import annotations

import base64
import itertools
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
    seen: dict[tuple[str, str], int] = field(default_factory=dict)
    inside: dict[bytes, int] = field(default_factory=dict)
    queue: list[dict[str, Any]] = field(default_factory=list)
    _counter: Any = field(default_factory=lambda: itertools.count(1))
    _device_keys: DeviceKeyCache = field(default_factory=DeviceKeyCache)

    def apply_keys(self, document: Mapping[str, Any], etag: str | None = None) -> None:
        """Install `GET /v1/gate/keys`; keys the deny list names as compromised stay revoked."""
        revoked = {value for kind, value in self.denied if kind == "key"}
        self.keys = KeySet(
            VerifyingKey(
                k["key_number"],
                load_public_key(k["algorithm"], base64.b64decode(k["public_key"])),
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

    def validate(self, payload: str, direction: str, now: int | None = None) -> GateDecision:
        now = int(datetime.now(UTC).timestamp()) if now is None else now
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
        if ("account", verified.account.hex()) in self.denied:
            return GateDecision("deny", "denied_account")
        if verified.credential_id is not None and ("credential", verified.credential_id.hex()) in self.denied:
            return GateDecision("deny", "revoked")
        if (verified.code_key, direction) in self.seen:
            return GateDecision("deny", "replayed")
        entered = self.inside.get(verified.account)
        if entered is not None and now - entered > self.max_journey_minutes * 60:
            del self.inside[verified.account]  # the service decides about journeys this old
            entered = None
        if direction == "in" and self.tap_out and entered is not None:
            return GateDecision("deny", "unfinished_journey")
        if direction == "out" and entered is None and self.orphan_exit == "deny":
            return GateDecision("deny", "wrong_direction")
        self._remember(verified.code_key, direction, now)
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
                "scanned_at": datetime.fromtimestamp(now, UTC).isoformat(),
            }
        )
        return GateDecision("open", None, tap_id)

    def _remember(self, code_key: str, direction: str, now: int) -> None:
        """Codes are remembered for as long as any gate could still accept them."""
        self.seen[(code_key, direction)] = now + self.policy.code_seconds + 2 * self.policy.skew_seconds
        if len(self.seen) % 1024 == 0:
            self.seen = {k: until for k, until in self.seen.items() if until > now}
