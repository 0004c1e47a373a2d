"""Offline validation with the memory of the gate's station group (`GateStore`, on disk).

The signature check runs on the keys the gate last synced, held in process and reloaded when a
sync (by this process or another gate of the group) changes them; the stateful checks (replays,
riders inside) and the queued tap are one transaction on the store, committed before `open` is
answered. Measured against raw ECDSA verifies by bench/offline.py.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bayaffairs.gate.store import Decision, GateStore, LastTap, SeenCode, SyncState
from bayaffairs.signing.keys import load_public_key
from bayaffairs.transit.codes.verify import (
    DeviceKeyCache,
    KeySet,
    Policy,
    Rejected,
    Verified,
    VerifyingKey,
    check,
)

FORGET_EVERY = 256  # decisions between two clean-ups of expired codes and old riders' taps
GATE_ID = re.compile(r"[A-Za-z0-9._-]{1,40}")  # tap ids start with it (`gate/store.py`)
REOPEN_SECONDS = 120  # after a restart, a gate opens again for a tap it recorded this recently


@dataclass(frozen=True)
class GateRules:
    """What the gate decides by, from its operator's `rules` in the keys document.

    `tap_out`: riders tap out (metro) or only in (bus); `max_journey_minutes`: a rider who
    entered longer ago than this is no longer inside (the service closes such a journey as
    unfinished); `tap_out_without_tap_in`: "deny" refuses an exit the station group knows to be a
    second one (the rider's last tap here was an exit), "max_fare" lets it through (the service
    charges its rule). Offline, a gate never knows of entries at other stations, so it never
    refuses an exit for want of one. `max_stale_hours`: how long the gate may decide on the keys and
    deny list it last synced (each counts); past it, `stale_policy` "deny" refuses everyone (reason
    `stale`), "flag" opens as usual and flags the taps `stale` for the operator's review.
    """

    operator: str
    tap_out: bool
    max_journey_minutes: int
    tap_out_without_tap_in: str
    max_stale_hours: int
    stale_policy: str

    @classmethod
    def from_document(cls, rules: Mapping[str, Any]) -> GateRules:
        return cls(
            rules["operator"],
            rules["tap_out"],
            rules["max_journey_minutes"],
            rules["tap_out_without_tap_in"],
            rules["max_stale_hours"],
            rules["stale_policy"],
        )


@dataclass(frozen=True)
class GateDecision:
    decision: str
    reason: str | None = None
    tap_id: str | None = None


@dataclass
class OfflineGate:
    """One gate of one operator at one station (or on one bus route); the gates of a station
    group share one `store`."""

    gate_id: str
    station: str
    store: GateStore
    rules: GateRules | None = None
    scope: int | frozenset[int] = 0
    policy: Policy = field(default_factory=Policy)
    keys: KeySet = field(default_factory=lambda: KeySet(()))
    _generation: int = -1
    _state: SyncState | None = None
    _decisions: int = 0
    _opened: dict[str, int] = field(default_factory=dict)  # tap id -> when this instance opened it
    _device_keys: DeviceKeyCache = field(default_factory=DeviceKeyCache)
    _denied_accounts: set[bytes] = field(default_factory=set)
    _denied_credentials: set[bytes] = field(default_factory=set)
    _public_keys: dict[tuple[str, str], Any] = field(default_factory=dict)
    _stamp: tuple[int, str] = (-1, "")

    def __post_init__(self) -> None:
        if not GATE_ID.fullmatch(self.gate_id):
            raise ValueError(f"gate id {self.gate_id!r}: 1 to 40 of A-Z a-z 0-9 . _ -")
        self.refresh()

    @property
    def keys_etag(self) -> str | None:
        return self._state.keys_etag if self._state else None

    @property
    def deny_cursor(self) -> int:
        return self._state.deny_cursor if self._state else 0

    @property
    def denied(self) -> frozenset[tuple[str, str]]:
        return self._state.denied if self._state else frozenset()

    def synced_at(self) -> tuple[int | None, int | None]:
        """When the group last synced (keys, the whole deny list), by the gate's clock."""
        self.refresh()
        state = self._state
        return (state.keys_synced_at, state.deny_synced_at) if state else (None, None)

    def stale(self, now: int) -> bool:
        """Whether what the gate decides with is older than its operator allows."""
        self.refresh()
        return self._stale(now)

    def _stale(self, now: int) -> bool:
        state, rules = self._state, self.rules
        if state is None or rules is None or state.keys_synced_at is None or state.deny_synced_at is None:
            return True
        return now - min(state.keys_synced_at, state.deny_synced_at) > rules.max_stale_hours * 3600

    def apply_keys(
        self, document: Mapping[str, Any], etag: str | None = None, now: int | None = None
    ) -> None:
        """Store `GET /v1/gate/keys` for the whole group, then use it."""
        self.store.save_keys(dict(document), etag, unix_now(now))
        self.refresh()

    def keys_unchanged(self, now: int | None = None) -> None:
        self.store.keys_unchanged(unix_now(now))
        self.refresh()

    def apply_denylist(self, delta: Mapping[str, Any], now: int | None = None) -> None:
        """Store `GET /v1/gate/denylist?since=<deny_cursor>` (changes applied in order)."""
        changes = [(c["kind"], c["value"], c["action"]) for c in delta["changes"]]
        synced_at = unix_now(now) if delta.get("complete", True) else None
        self.store.apply_deny_changes(changes, delta["next_cursor"], synced_at)
        self.refresh()

    def apply_deny_snapshot(
        self, entries: Sequence[Mapping[str, Any]], cursor: int, now: int | None = None
    ) -> None:
        """Store `GET /v1/gate/denylist?snapshot=true` (every page): the whole list as of `cursor`."""
        changes = [(e["kind"], e["value"], "add") for e in entries]
        self.store.apply_deny_changes(changes, cursor, unix_now(now), replace=True)
        self.refresh()

    def refresh(self) -> None:
        """Reload what the group last synced, if a sync changed it since this gate looked."""
        if self.store.generation() == self._generation:
            return
        state = self.store.sync_state()
        self._state, self._generation = state, state.generation
        revoked = {value for kind, value in state.denied if kind == "key"}
        document = state.keys
        if document is not None:
            # A compromised key leaves the keys document but stays on the deny list.
            published = {k["kid"] for k in document["keys"]}
            self.keys = KeySet(
                (
                    VerifyingKey(
                        k["key_number"],
                        self._public_key(k["algorithm"], k["public_key"]),
                        revoked=k["kid"] in revoked,
                        not_before=_unix(k.get("not_before")),
                    )
                    for k in document["keys"]
                ),
                revoked_numbers=(
                    int(kid.rsplit("-", 1)[1])
                    for kid in revoked - published
                    if re.fullmatch(r"ride_codes-\d+", kid)
                ),
            )
            policy = document["policy"]
            self.policy = Policy(policy["code_seconds"], policy["skew_seconds"])
            # a keys document without `scopes` (an older service) names the gate's city only
            self.scope = frozenset(policy.get("scopes") or (policy["scope"],))
            self.rules = GateRules.from_document(document["rules"])
        self._denied_accounts = _raw(value for kind, value in state.denied if kind == "account")
        self._denied_credentials = _raw(value for kind, value in state.denied if kind == "credential")

    def _public_key(self, algorithm: str, encoded: str) -> Any:
        """Parsed once: a sync every few minutes re-sends the same keys."""
        key = self._public_keys.get((algorithm, encoded))
        if key is None:
            key = load_public_key(algorithm, base64.b64decode(encoded))
            self._public_keys[algorithm, encoded] = key
        return key

    def validate(self, payload: str, direction: str, now: int | None = None) -> GateDecision:
        now = unix_now(now)
        self.refresh()
        rules = self.rules
        if rules is None:
            return GateDecision("deny", "not_synced")
        if direction == "out" and not rules.tap_out:
            return GateDecision("deny", "wrong_direction")
        stale = self._stale(now)
        if stale and rules.stale_policy == "deny":
            return GateDecision("deny", "stale")
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
        with self.store.deciding() as memory:
            return self._decide(memory, verified, payload, direction, now, rules, stale)

    def _decide(
        self,
        memory: Decision,
        verified: Verified,
        payload: str,
        direction: str,
        now: int,
        rules: GateRules,
        stale: bool,
    ) -> GateDecision:
        """The checks that need the group's memory, and the tap, in one transaction."""
        longest = rules.max_journey_minutes * 60
        self._decisions += 1
        if self._decisions % FORGET_EVERY == 1:
            memory.forget(now, now - longest)
            self._opened = {t: at for t, at in self._opened.items() if now - at <= REOPEN_SECONDS}
        code = verified.code.replay_key
        seen = memory.seen(code, direction)
        if seen is not None:
            if self._reopens(seen, now):
                self._opened[seen.tap_id] = now
                return GateDecision("open", "reopened", seen.tap_id)
            return GateDecision("deny", "replayed")
        last = memory.last_tap(verified.account) if rules.tap_out else None
        if last is not None and now - last.at > longest:
            last = None  # the service closes a journey this old; it blocks nothing
        if direction == "in" and last is not None and last.direction == "in":
            return GateDecision("deny", "unfinished_journey")
        second_exit = direction == "out" and last is not None and last.direction == "out"
        if second_exit and rules.tap_out_without_tap_in == "deny":
            return GateDecision("deny", "wrong_direction")
        tap: dict[str, Any] = {
            "payload": payload,
            "gate_id": self.gate_id,
            "station": self.station,
            "direction": direction,
            "scanned_at": self._scanned_at(now),
        }
        if stale:
            tap["flags"] = ["stale"]
        tap_id = memory.queue(self.gate_id, tap)
        until = now + self.policy.code_seconds + 2 * self.policy.skew_seconds
        memory.remember(code, direction, until, SeenCode(self.gate_id, now, tap_id))
        if rules.tap_out:
            memory.set_last_tap(verified.account, LastTap(direction, now, self.gate_id))
        self._opened[tap_id] = now
        return GateDecision("open", "stale" if stale else None, tap_id)

    def _reopens(self, seen: SeenCode, now: int) -> bool:
        """A gate that went down between recording a tap and opening its barrier (a power cut)
        opens again for the same code, once, within REOPEN_SECONDS, without a second tap: the
        rider is not left outside, recorded as inside. Only for a tap this gate decided before it
        restarted; any other gate, or this one without a restart, refuses it as a replay."""
        return (
            seen.gate_id == self.gate_id
            and seen.tap_id not in self._opened
            and 0 <= now - seen.at <= REOPEN_SECONDS
        )

    def scanned_at(self, now: int) -> str:
        """`now` (Unix seconds) as the RFC 3339 text the service takes."""
        return self._scanned_at(now)

    def _scanned_at(self, now: int) -> str:
        if self._stamp[0] != now:
            self._stamp = (now, datetime.fromtimestamp(now, UTC).isoformat())
        return self._stamp[1]


def unix_now(now: int | None) -> int:
    """`now` as given (tests, replays), else the gate's clock in Unix seconds."""
    return int(time.time()) if now is None else now


def _unix(text: str | None) -> int:
    """An RFC 3339 time of the keys document in Unix seconds (0 when absent)."""
    return int(datetime.fromisoformat(text).timestamp()) if text else 0


def _raw(values: Any) -> set[bytes]:
    """Hex values of a deny list as bytes (a value that is not hex can match no code)."""
    out = set()
    for value in values:
        try:
            out.add(bytes.fromhex(value))
        except ValueError:
            continue
    return out
