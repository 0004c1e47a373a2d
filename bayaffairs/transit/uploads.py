"""Taps that gates validated offline and upload later (`POST /v1/gate/taps:batch`).

An upload is judged cheaply and stored at once: each tap's layout, station, direction and time
are checked (the rejected ones are answered by index), the rest are COPY-ed in one transaction,
idempotent per tap id (a repeated tap is counted as a duplicate, never stored twice). A
background job then verifies the signatures at the time of the scan and pairs the taps into
journeys like online scans; a tap that fails there (forged, replayed, denied account) is kept as
refused, with its reason, for the operator's review, because the gate already let the rider in.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bayaffairs.clock import Clock
from bayaffairs.config.settings import RideCodeSettings
from bayaffairs.db.queries import gate_contacts
from bayaffairs.db.queries import tap_uploads as q
from bayaffairs.db.queries.journeys import ScanItem
from bayaffairs.errors import InvalidInput
from bayaffairs.pages import Page
from bayaffairs.storage import Database
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.codes.verify import DeviceKeyCache, Policy, Rejected, check
from bayaffairs.transit.keyring import RideCodeKeys
from bayaffairs.transit.model import Direction
from bayaffairs.transit.network import Network
from bayaffairs.transit.scans import TapRecorder, group_refusal

log = logging.getLogger("bayaffairs.uploads")
MAX_AGE = timedelta(days=7)
SETTLE_SECONDS = 30  # the entry and exit of a journey, uploaded by two gates, are paired in order
# At most this many taps a batch (400 above): 2000 device-code taps (~450 bytes of JSON each) stay
# under the server's 1 MiB body limit (server.max_body_bytes); the gate library sends batches
# of at most UPLOAD_CHUNK taps and MAX_BATCH_BYTES of JSON.
MAX_BATCH_TAPS = 2000
TAP_FLAGS = ("stale",)  # what a gate may say of how it decided (it opened on a stale sync)
MAX_BATCH_BYTES = 900_000
LANES = 2  # batches a worker's drain decides at once (see drain)


@dataclass(frozen=True)
class OfflineTap:
    tap_id: str
    payload: str
    gate_id: str
    station: str
    direction: Direction
    scanned_at: datetime
    flags: tuple[str, ...] = ()  # what the gate says of how it decided: "stale"


@dataclass
class UploadResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)


def slot_of(account: bytes) -> int:
    """The slot of a rider's uploads (0051_tap_upload_slots.sql): one lane at a time claims a
    slot, so a rider's taps are decided by one lane, in scan order. The account token is random
    per account (format.py), so its first byte spreads riders evenly; an unverified code's
    account is only where its tap waits to be verified."""
    return account[0] % q.SLOTS if account else 0


class TapUploads:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: RideCodeSettings,
        network: Network,
        keys: RideCodeKeys,
        recorder: TapRecorder,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.network = network
        self.keys = keys
        self.recorder = recorder
        self.policy = Policy(settings.code_seconds, settings.skew_seconds)
        self.device_keys = DeviceKeyCache()
        self._exits: dict[str, tuple[str, ...]] = {}
        self._turn = 0  # the slot the next claim tries first: the lanes go round the slots

    def _problem(self, tap: OfflineTap, operator_id: str, now: datetime) -> tuple[str | None, int]:
        """(why the tap is rejected at once or None, its rider's slot)."""
        operator = self.network.operators[operator_id]
        try:
            slot = slot_of(fmt.decode_text(tap.payload).account)
        except fmt.MalformedCode:
            return "malformed", 0
        if not operator.has_stop(tap.station):
            return "unknown_station", slot
        if tap.direction == "out" and not operator.rules.tap_out:
            return "wrong_direction", slot
        if tap.scanned_at > now + timedelta(seconds=self.settings.skew_seconds):
            return "scanned_in_the_future", slot
        if tap.scanned_at < now - MAX_AGE:
            return "too_old", slot
        return None, slot

    async def upload(
        self, operator_id: str, taps: Sequence[OfflineTap], bound_gate: str | None = None
    ) -> UploadResult:
        """`bound_gate`: the gate a gate-bound credential speaks for (its taps name it, checked
        before): its taps may reach back `gate_backlog_hours` before the newest tap it delivered
        before, no further (a gate uploads oldest first, so what it still holds is newer)."""
        if operator_id not in self.network.operators:
            raise InvalidInput({"operator": ["unknown operator"]})
        now = self.clock.now()
        floor = await self._floor(operator_id, bound_gate)
        result = UploadResult()
        valid: dict[str, q.Upload] = {}
        for index, tap in enumerate(taps):
            problem, slot = self._problem(tap, operator_id, now)
            if problem is None and floor is not None and tap.scanned_at < floor:
                problem = "too_old"
            if problem is not None:
                result.rejected.append((index, problem))
            elif tap.tap_id in valid:
                result.duplicates += 1
            else:
                valid[tap.tap_id] = q.Upload(
                    tap.tap_id,
                    operator_id,
                    tap.gate_id,
                    tap.station,
                    tap.direction,
                    tap.payload,
                    tap.scanned_at,
                    list(tap.flags),
                    slot=slot,
                )
        if valid:
            async with self.db.transaction() as conn:
                new = await q.store(conn, list(valid.values()))
                if bound_gate is not None:
                    newest = max(u.scanned_at for u in valid.values())
                    await gate_contacts.delivered(conn, operator_id, bound_gate, newest)
            result.accepted = len(new)
            result.duplicates += len(valid) - len(new)
        return result

    async def flagged(self, operator_id: str, *, cursor: str | None, limit: int) -> Page[q.FlaggedTap]:
        """Taps gates flagged (validated on a stale sync), for the operator's review."""
        async with self.db.acquire() as conn:
            rows = await q.flagged(conn, operator_id, cursor, limit + 1)
        return Page.from_rows(rows, limit, key=lambda t: t.tap_id)

    async def _floor(self, operator_id: str, gate_id: str | None) -> datetime | None:
        if gate_id is None:
            return None
        async with self.db.acquire() as conn:
            newest = await gate_contacts.newest_tap(conn, operator_id, gate_id)
        return None if newest is None else newest - timedelta(hours=self.settings.gate_backlog_hours)

    def _exits_waiting(self, entry_operator: str) -> tuple[str, ...]:
        """The operators whose waiting exits an entry here may wake: those that take tap-outs
        (an uploaded tap-out elsewhere is refused `wrong_direction`, so never waits). Spares a
        batch of bus entries the statement that looks for exits that cannot exist."""
        exits = self._exits.get(entry_operator)
        if exits is None:
            exits = self._exits[entry_operator] = tuple(
                o
                for o in self.network.exit_operators(entry_operator)
                if (operator := self.network.operator(o)) is not None and operator.rules.tap_out
            )
        return exits

    async def drain(
        self, limit: int = 500, rounds: int = 200, settle_seconds: int = SETTLE_SECONDS, lanes: int = LANES
    ) -> int:
        """Process pending uploads until none are left (at most `rounds` batches per lane per
        call). `lanes` batches are decided at once, each in its own transaction, so that one
        lane verifies signatures (CPU) while another waits for the database. Each batch is of
        one rider slot that no other lane (of any worker) holds meanwhile (q.take_slot), so
        lanes never step over each other's rows, nor decide one rider's taps at once."""
        counts = await asyncio.gather(*(self._lane(limit, rounds, settle_seconds) for _ in range(lanes)))
        return sum(counts)

    async def _lane(self, limit: int, rounds: int, settle_seconds: int) -> int:
        done = 0
        for _ in range(rounds):
            processed, more = await self._process(limit, settle_seconds)
            done += processed
            if not processed and not more:  # no slot free with uploads due
                break
        return done

    async def process_pending(self, limit: int = 500, settle_seconds: int = SETTLE_SECONDS) -> int:
        """Verify and record a batch of what was uploaded (of one rider slot); safe to run in
        several workers (one lane at a time a slot, so a rider). Returns how many uploads it
        decided."""
        return (await self._process(limit, settle_seconds))[0]

    async def _process(self, limit: int, settle_seconds: int) -> tuple[int, bool]:
        """(uploads decided, whether some went back to pending)."""
        async with self.db.transaction() as conn:
            window_closed_before = self.clock.now() - MAX_AGE
            turn = self._turn
            order = [(turn + i) % q.SLOTS for i in range(q.SLOTS)]
            slot = await q.take_slot(conn, order, settle_seconds, window_closed_before)
            if slot is None:
                return 0, False
            self._turn = (slot + 1) % q.SLOTS
            uploads = await q.claim_pending(conn, slot, limit, settle_seconds, window_closed_before)
            if not uploads:
                return 0, False
            # Only now: an idle drain must not fill the worker's key cache before the first key.
            keyset = await self.keys.keyset()
            results: list[q.Processed] = []
            items: list[ScanItem] = []
            owners: list[q.Upload] = []
            policy, device_keys, item_of = self.policy, self.device_keys, self.recorder.item
            for upload in uploads:
                operator = self.network.operator(upload.operator)
                if operator is None:
                    results.append((upload.operator, upload.tap_id, "refused", "unknown_operator", None))
                    continue
                try:
                    verified = check(
                        upload.payload,
                        now=int(upload.scanned_at.timestamp()),
                        keys=keyset,
                        scope=operator.scope_codes,
                        policy=policy,
                        device_keys=device_keys,
                    )
                except Rejected as exc:
                    results.append((upload.operator, upload.tap_id, "refused", exc.reason, None))
                    continue
                not_accepted = group_refusal(operator, verified)
                if not_accepted is not None:
                    results.append((upload.operator, upload.tap_id, "refused", not_accepted, None))
                    continue
                item = item_of(
                    operator,
                    upload.gate_id,
                    upload.station,
                    upload.direction,
                    verified,
                    upload.scanned_at,
                    "offline",
                    tap_id=f"{upload.operator}:{upload.tap_id}",  # gate ids are unique per operator
                )
                # An exit whose entry is not here yet waits for it, until the offline window closes.
                item["wait_for_entry"] = upload.direction == "out" and not upload.waiting
                items.append(item)
                owners.append(upload)
            # One lane at a time decides a rider's taps (they are all in the slot this one holds):
            # another lane's window holding this rider's entry, uncommitted, would pair it wrong.
            waiting: list[tuple[str, str, str]] = []
            entered: list[tuple[str, str]] = []
            if items:
                decisions = await self.recorder.record(conn, items)
                for upload, item, decision in zip(owners, items, decisions, strict=True):
                    if decision.decision == "open":
                        results.append(
                            (upload.operator, upload.tap_id, "recorded", None, decision.journey_id)
                        )
                        # its exit may wait at this operator or at a through-fare partner
                        if upload.direction == "in" and (exits := self._exits_waiting(upload.operator)):
                            entered.extend((o, item["account"]) for o in exits)
                    elif decision.decision == "wait":
                        waiting.append((upload.operator, upload.tap_id, item["account"]))
                    else:
                        results.append((upload.operator, upload.tap_id, "refused", decision.reason, None))
            await q.mark(conn, results)
            if waiting:
                await q.park(conn, waiting)
            woken = await q.wake(conn, entered) if entered else 0
        refused = sum(1 for r in results if r[2] == "refused")
        if refused:
            log.warning("%d of %d offline taps refused", refused, len(results))
        return len(results) + len(waiting), bool(woken)
