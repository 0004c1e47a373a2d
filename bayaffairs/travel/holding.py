"""Group commit for seat holds: holds for one departure and fare class that arrive together are
taken in one transaction, so a hot departure pays one commit (and one WAL flush) per batch
instead of one per hold, while each hold still waits for its commit before it is answered.

One task per (departure, fare class) drains that key's queue: it locks the seat row
(`FOR UPDATE`), serves the queued holds in arrival order, each getting its seats if they still
fit (as if they had run one after another), writes the seats, the bookings and their passengers
in one statement, commits, and only then answers each waiter (its fare per seat, or None: sold
out). The row lock makes several processes safe, each with its own queues; the table's CHECK
`held + sold <= capacity` stays the last guard.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bayaffairs.db.queries import travel as dq
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.storage import Database

log = logging.getLogger("bayaffairs.travel")

BATCH_MAX = 256  # holds per transaction at most; more wait for the next batch


@dataclass
class _Pending:
    row: q.BookingRow
    passengers: Sequence[q.PassengerRow]
    answer: asyncio.Future[int | None]


def first_fit(free: int, wanted: Sequence[int]) -> list[bool]:
    """Which requests, in arrival order, get their seats out of `free`: each one that still
    fits, exactly as if they had been served one by one."""
    out = []
    for seats in wanted:
        fits = 0 < seats <= free
        if fits:
            free -= seats
        out.append(fits)
    return out


class HoldQueue:
    """Per-(departure, fare class) queues of holds, each drained by one task at a time."""

    def __init__(self, db: Database, *, durable: bool, batch_max: int = BATCH_MAX) -> None:
        self.db = db
        self.durable = durable
        self.batch_max = batch_max
        self.batches = 0  # transactions committed, for tests and metrics
        self._queues: dict[tuple[str, str], list[_Pending]] = {}
        self._drainers: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def hold(self, row: q.BookingRow, passengers: Sequence[q.PassengerRow]) -> int | None:
        """Insert the held booking `row` with its passengers if its seats are free, once its
        batch has committed: the fare per seat, or None when sold out (nothing written)."""
        key = (row.departure_id, row.fare_class)
        pending = _Pending(row, passengers, asyncio.get_running_loop().create_future())
        self._queues.setdefault(key, []).append(pending)
        if key not in self._drainers:
            self._drainers[key] = asyncio.create_task(self._drain(key))
        return await pending.answer

    async def _drain(self, key: tuple[str, str]) -> None:
        try:
            while queue := self._queues.get(key):
                batch = [p for p in queue[: self.batch_max] if not p.answer.done()]
                del queue[: self.batch_max]
                if batch:
                    await self._take(key, batch)
        finally:
            del self._drainers[key]
            for p in self._queues.pop(key, []):  # only when cancelled (shutdown)
                p.answer.cancel()

    async def _take(self, key: tuple[str, str], batch: list[_Pending]) -> None:
        try:
            fares = await self._commit(key, batch)
        except Exception as exc:  # noqa: BLE001 - each hold of the batch fails as its transaction did
            for p in batch:
                if not p.answer.done():
                    p.answer.set_exception(exc)
            return
        except BaseException:
            for p in batch:
                p.answer.cancel()
            raise
        self.batches += 1
        for p, fare in zip(batch, fares, strict=True):
            if not p.answer.done():
                p.answer.set_result(fare)

    async def _commit(self, key: tuple[str, str], batch: list[_Pending]) -> list[int | None]:
        departure_id, fare_class = key
        async with self.db.transaction() as conn:
            if not self.durable:
                await dq.commit_without_waiting_for_flush(conn)
            seats = await q.lock_seats(conn, departure_id, fare_class)
            if seats is None:
                return [None] * len(batch)
            free, fare = seats
            fits = first_fit(free, [p.row.seats for p in batch])
            taken = [p for p, ok in zip(batch, fits, strict=True) if ok]
            if taken:
                await q.hold_many(conn, departure_id, fare_class, [(p.row, p.passengers) for p in taken])
        return [fare if ok else None for ok in fits]
