"""Online gate scans: verify the code, then record the tap durably before answering `open`.

Taps are committed in groups: each scan joins a queue, and a few writer tasks each take what is
waiting (up to `scan_batch_max`) into one transaction, which runs `record_scans()` in the
database (decisions in arrival order; the database's unique indexes settle races between
workers) and writes the fares of the journeys that completed. Only after COMMIT does any scan
of the batch get its answer, so a gate that opened never loses its tap, and one fsync serves many
scans. Under light load a batch is a single scan and nothing waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bayaffairs.clock import Clock
from bayaffairs.config.settings import RideCodeSettings
from bayaffairs.db.queries import journeys as q
from bayaffairs.errors import DomainError, Forbidden, InvalidInput
from bayaffairs.ids import new_id
from bayaffairs.money import Money
from bayaffairs.storage import Connection, Database
from bayaffairs.transit.codes.verify import DeviceKeyCache, Policy, Rejected, Verified, check
from bayaffairs.transit.keyring import RideCodeKeys
from bayaffairs.transit.model import PreviousLeg, Trip, UnknownStop
from bayaffairs.transit.network import Network, Operator
from bayaffairs.transit.pricing import Converter

log = logging.getLogger("bayaffairs.scans")


@dataclass(frozen=True)
class Scan:
    operator: str
    gate_id: str
    station: str
    direction: str
    payload: str
    scanned_at: datetime


@dataclass(frozen=True)
class Decision:
    decision: str
    reason: str | None = None
    journey_id: str | None = None
    fare: Money | None = None
    charge: Money | None = None

    @classmethod
    def deny(cls, reason: str) -> Decision:
        return cls("deny", reason)


def price_row(operator: Operator, row: dict[str, Any], direction: str) -> tuple[Money, str] | None:
    """The fare of a journey that this scan completed (None while it is still open)."""
    if row["journey_status"] != "completed":
        return None
    previous = (
        PreviousLeg(row["previous_operator"], row["previous_ended_at"]) if row["previous_operator"] else None
    )
    category = row["category"]
    if row["entry_station"] is None:  # tap-out without tap-in: the operator's rule
        quote = operator.fares.max_fare(row["_station"], category)
        return quote.amount, f"no tap-in: {quote.rule}"
    trip = Trip(
        entry_stop=row["entry_station"],
        exit_stop=row["_station"] if direction == "out" else None,
        entered_at=row["entry_at"],
        category=category,
        previous=previous,
    )
    quote = operator.fares.fare(trip)
    return quote.amount, quote.rule


class ScanService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: RideCodeSettings,
        network: Network,
        keys: RideCodeKeys,
        converter: Converter,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.network = network
        self.keys = keys
        self.recorder = TapRecorder(network, converter, clock)
        self.policy = Policy(settings.code_seconds, settings.skew_seconds)
        self.device_keys = DeviceKeyCache()
        self._queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[dict[str, Any]]]] = asyncio.Queue()
        self._writers: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self._writers = [
            asyncio.create_task(self._write_batches()) for _ in range(self.settings.scan_writers)
        ]

    async def stop(self) -> None:
        for task in self._writers:
            task.cancel()
        for task in self._writers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def scan(self, scan: Scan) -> Decision:
        operator = self.network.operator(scan.operator)
        if operator is None:
            raise InvalidInput({"operator": ["unknown operator"]})
        if not operator.has_stop(scan.station):
            if self.network.owner_of(scan.station) is not None:
                raise Forbidden("out_of_scope", scope_kind="operator")  # a gate of another operator
            raise InvalidInput({"station": [f"{scan.station!r} is not a station or route of {operator.id}"]})
        if scan.direction == "out" and not operator.rules.tap_out:
            return Decision.deny("wrong_direction")
        try:
            verified = check(
                scan.payload,
                now=int(self.clock.now().timestamp()),
                keys=await self.keys.keyset(),
                scope=operator.scope_code,
                policy=self.policy,
                device_keys=self.device_keys,
            )
        except Rejected as exc:
            return Decision.deny(exc.reason)
        item = self.recorder.item(
            # An online tap happens now, by our clock: a gate whose clock is wrong must not move a
            # journey to another day. The time a gate reports counts only for offline taps.
            operator,
            scan.gate_id,
            scan.station,
            scan.direction,
            verified,
            self.clock.now(),
            "online",
        )
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        await self._queue.put((item, future))
        row = await future
        if row["decision"] != "open":
            return Decision.deny(row["reason"])
        fare = row.get("_fare")
        charge = row.get("_charge")
        return Decision("open", None, row["journey_id"], fare, charge)

    async def _write_batches(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.settings.scan_batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                rows = await self._commit([item for item, _ in batch])
            except Exception as exc:  # noqa: BLE001 - every waiting gate must get an answer
                log.warning("recording %d scans failed: %r", len(batch), exc)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)  # the error middleware maps a database outage to 503
                continue
            for (_, future), row in zip(batch, rows, strict=True):
                if not future.done():
                    future.set_result(row)

    async def _commit(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        async with self.db.transaction() as conn:
            return await self.recorder.record(conn, items)


class TapRecorder:
    """Records taps through record_scans() and prices the journeys they complete, inside the
    caller's transaction (online scans and offline uploads alike)."""

    def __init__(self, network: Network, converter: Converter, clock: Clock) -> None:
        self.network = network
        self.converter = converter
        self.clock = clock

    @staticmethod
    def item(
        operator: Operator,
        gate_id: str,
        station: str,
        direction: str,
        verified: Verified,
        scanned_at: datetime,
        source: str,
    ) -> dict[str, Any]:
        return {
            "tap_id": new_id("tap"),
            "journey_id": new_id("jny"),
            "operator": operator.id,
            "gate_id": gate_id,
            "station": station,
            "direction": direction,
            "code_key": verified.code_key,
            "account": verified.account.hex(),
            "credential": verified.credential_id.hex() if verified.credential_id else None,
            "scanned_at": scanned_at.isoformat(),
            "source": source,
            "tap_out": operator.rules.tap_out,
            "orphan_exit": operator.rules.tap_out_without_tap_in,
        }

    async def record(self, conn: Connection, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Rows in the order of `items`. The database sees them ordered by account, so that two
        batches in flight lock journeys in the same order and cannot deadlock each other."""
        for index, item in enumerate(items):
            item["idx"] = index
        by_account = sorted(items, key=lambda i: (i["account"], i["idx"]))
        rows = sorted(await q.record_scans(conn, by_account), key=lambda r: r["idx"])
        prices = []
        for item, row in zip(items, rows, strict=True):
            if row["decision"] != "open":
                continue
            operator = self.network.operators[item["operator"]]
            row["_station"] = item["station"]
            price = await self._price(operator, row, item["direction"])
            if price is not None:
                prices.append(price)
        await q.set_prices(conn, prices)
        return rows

    async def _price(self, operator: Operator, row: dict[str, Any], direction: str) -> q.Price | None:
        try:
            priced = price_row(operator, row, direction)
        except UnknownStop:
            log.error("journey %s: a stop of %s has no fare", row["journey_id"], operator.id)
            return None
        if priced is None:
            return None
        fare, rule = priced
        row["_fare"] = fare
        wallet = row["wallet_currency"]
        if wallet is None:
            return q.Price(row["journey_id"], fare.amount, fare.currency, rule, None, None, None, None)
        try:
            charge = await self.converter.charge(fare, wallet, self.clock.now())
        except (DomainError, LookupError) as exc:
            # A rate feed outage must not stop gates: keep the fare, charge once a rate is back.
            log.warning(
                "journey %s: no %s/%s rate (%r); fare kept, charge deferred",
                row["journey_id"],
                fare.currency,
                wallet,
                exc,
            )
            return q.Price(row["journey_id"], fare.amount, fare.currency, rule, None, None, None, None)
        row["_charge"] = charge.charge
        return q.Price(
            row["journey_id"],
            fare.amount,
            fare.currency,
            rule,
            charge.charge.amount,
            wallet,
            charge.rate,
            charge.source,
        )
