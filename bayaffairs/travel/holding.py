"""Group commit for seat holds: holds for one departure that arrive together are taken in one
transaction, so a hot departure pays one commit (and one WAL flush) per batch instead of one
per hold, while each hold still waits for its commit before it is answered.

One task per departure drains that departure's queue: it locks the departure's seat rows
(`FOR UPDATE`, every fare class), then the advisory lock of each rider in the batch, reads which
of the batch's documents already hold a seat on the departure and how many unpaid bookings each
rider has, and serves the queued holds in arrival order, exactly as if they had run one after
another: a hold gets its seats if its fare class still has them, none of its passengers holds a
seat on the departure yet (one person, one seat), and its rider stays within
`max_active_holds`. It writes the seats, the bookings and their passengers in one statement,
commits, and only then answers each waiter. The locks make several processes safe, each with
its own queues; the table's CHECK `held + sold <= capacity` and the unique index of active
passengers per departure and document stay the last guards.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bayaffairs.db.queries import travel as dq
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.storage import Database

log = logging.getLogger("bayaffairs.travel")

BATCH_MAX = 256  # holds per transaction at most; more wait for the next batch

# How a passenger's fare follows from the fare class's: (fare per seat, passenger) -> fare.
Pricing = Callable[[int, q.PassengerRow], int]


@dataclass(frozen=True)
class Held:
    """The hold got its seats: the booking as written (its total priced under the lock)."""

    row: q.BookingRow
    passengers: tuple[q.PassengerRow, ...]


@dataclass(frozen=True)
class Refused:
    """The hold got nothing: `sold_out`, `passenger_already_booked` (with the passenger's
    position), `too_many_holds` or `departure_cancelled`."""

    reason: str
    position: int | None = None


Outcome = Held | Refused


@dataclass
class _Pending:
    row: q.BookingRow
    passengers: Sequence[q.PassengerRow]
    pricing: Pricing
    answer: asyncio.Future[Outcome]


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


def _decide(
    batch: Sequence[_Pending],
    seats: dict[str, tuple[int, int]],
    booked: set[bytes],
    unpaid: dict[str, int],
    max_active: int,
) -> list[Outcome]:
    """Serve the batch in arrival order against what the locks guarantee: free seats per fare
    class, the documents already on the departure, each rider's unpaid bookings."""
    free = {c: f for c, (f, _) in seats.items()}
    booked = set(booked)
    unpaid = dict(unpaid)
    out: list[Outcome] = []
    for p in batch:
        row = p.row
        clash = next((x for x in p.passengers if x.fingerprint is not None and x.fingerprint in booked), None)
        if clash is not None:
            out.append(Refused("passenger_already_booked", clash.position))
            continue
        if unpaid.get(row.user_id, 0) >= max_active:
            out.append(Refused("too_many_holds"))
            continue
        if row.fare_class not in seats or not first_fit(free[row.fare_class], [row.seats])[0]:
            out.append(Refused("sold_out"))
            continue
        free[row.fare_class] -= row.seats
        unpaid[row.user_id] = unpaid.get(row.user_id, 0) + 1
        booked.update(x.fingerprint for x in p.passengers if x.fingerprint is not None)
        fare = seats[row.fare_class][1]
        passengers = tuple(dataclasses.replace(x, fare_amount=p.pricing(fare, x)) for x in p.passengers)
        total = sum(x.fare_amount for x in passengers)
        out.append(Held(dataclasses.replace(row, total_amount=total), passengers))
    return out


class HoldQueue:
    """Per-departure queues of holds, each drained by one task at a time."""

    def __init__(self, db: Database, *, durable: bool, max_active: int, batch_max: int = BATCH_MAX) -> None:
        self.db = db
        self.durable = durable
        self.max_active = max_active
        self.batch_max = batch_max
        self.batches = 0  # transactions committed, for tests and metrics
        self._queues: dict[str, list[_Pending]] = {}
        self._drainers: dict[str, asyncio.Task[None]] = {}

    async def hold(
        self, row: q.BookingRow, passengers: Sequence[q.PassengerRow], pricing: Pricing
    ) -> Outcome:
        """Insert the held booking `row` with its passengers if the rules let it, once its
        batch has committed: Held (priced with `pricing` under the lock) or Refused (nothing
        written)."""
        key = row.departure_id
        pending = _Pending(row, passengers, pricing, asyncio.get_running_loop().create_future())
        self._queues.setdefault(key, []).append(pending)
        if key not in self._drainers:
            self._drainers[key] = asyncio.create_task(self._drain(key))
        return await pending.answer

    async def _drain(self, key: str) -> None:
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

    async def _take(self, key: str, batch: list[_Pending]) -> None:
        try:
            outcomes = await self._commit(key, batch)
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
        for p, outcome in zip(batch, outcomes, strict=True):
            if not p.answer.done():
                p.answer.set_result(outcome)

    async def _commit(self, departure_id: str, batch: list[_Pending]) -> list[Outcome]:
        async with self.db.transaction() as conn:
            if not self.durable:
                await dq.commit_without_waiting_for_flush(conn)
            seats, cancelled = await q.lock_departure(conn, departure_id)
            if cancelled:
                return [Refused("departure_cancelled")] * len(batch)
            if not seats:
                return [Refused("sold_out")] * len(batch)
            riders = sorted({p.row.user_id for p in batch})
            await q.lock_riders(conn, riders)
            fingerprints = [x.fingerprint for p in batch for x in p.passengers if x.fingerprint is not None]
            booked, unpaid = await q.taken(conn, departure_id, fingerprints, riders)
            outcomes = _decide(batch, seats, booked, unpaid, self.max_active)
            held = [(o.row, o.passengers) for o in outcomes if isinstance(o, Held)]
            if held:
                await q.hold_many(conn, departure_id, held)
        return outcomes
