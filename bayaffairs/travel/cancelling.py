"""The rider cancelling: a whole booking, or one passenger of it.

A held booking is simply released. A paid one is cancelled on our side in one transaction: its
tickets locked first (a boarding scan waits, then sees them cancelled; one that boarded first
makes the cancellation 409), the booking or passenger cancelled, the tickets voided, the refund
owed written to the outbox (`refunds.py`), the seats back on sale last (the departure's seat row
is shared by every booking on it: it is held briefly). Then the carrier's cancellation and the
refund are worked off. A booking being paid for is 409 `payment_in_progress`: the payment ends
it first, confirmed (then cancel it) or released.

What comes back follows the carrier's refund tier by the minutes left before departure, of the
part of the charge the cancelled passengers stand for (`ledger.shares`: by their fares, so a
child's seat returns a child's fare); never more than is left of the charge.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bayaffairs.clock import Clock
from bayaffairs.db.queries import travel as dq
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_refunds as fq
from bayaffairs.errors import NotFound
from bayaffairs.storage import Connection, Database
from bayaffairs.travel.bookings import DISRUPTED, Booking, TravelBookings, refund_amount
from bayaffairs.travel.carriers import Carriers
from bayaffairs.travel.confirming import CarrierConfirming
from bayaffairs.travel.errors import BookingNotFound, NotCancellable, PaymentInProgress
from bayaffairs.travel.ledger import open_charge, shares
from bayaffairs.travel.refunds import RefundOutbox, owe

log = logging.getLogger("bayaffairs.travel")


class Cancellations:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        bookings: TravelBookings,
        carriers: Carriers,
        confirming: CarrierConfirming,
        refunds: RefundOutbox,
    ) -> None:
        self.db = db
        self.clock = clock
        self.bookings = bookings
        self.carriers = carriers
        self.confirming = confirming
        self.refunds = refunds

    async def cancel(self, user_id: str, booking_id: str) -> Booking:
        row = await self._cancellable(user_id, booking_id)
        if row is None:  # held, released now; or cancelled with its departure, refunded now
            return await self.bookings.get(user_id, booking_id)
        now = self.clock.now()
        percent = await self._percent(row, now)
        async with self.db.transaction() as conn:
            if any(t.status == "boarded" for t in await q.lock_tickets(conn, row.id)):
                raise NotCancellable(details={"status": row.status, "reason": "boarded"})
            done = await q.move(conn, row.id, from_status=("confirmed",), to_status="cancelled", at=now)
            if done is None:
                raise NotCancellable(details={"status": "cancelled"})
            await q.cancel_tickets(conn, done.id)
            passengers = await q.passengers(conn, [done.id])
            active = [p.position for p in passengers if p.cancelled_at is None]
            refund_id = await self._owe(conn, done, passengers, active, percent, now)
            await dq.return_sold(conn, done.departure_id, done.fare_class, done.seats)
        await self.refunds.work_all([refund_id])
        return await self.bookings.get(user_id, booking_id)

    async def cancel_passenger(self, user_id: str, booking_id: str, passenger_id: str) -> Booking:
        """One passenger off a paid booking (the last one cancels the booking): their ticket
        void, their seat back on sale, their part refunded by the tiers, the carrier told."""
        position = _position(booking_id, passenger_id)
        async with self.db.acquire() as conn:
            row = await q.get(conn, booking_id, user_id)
            passengers = await q.passengers(conn, [booking_id]) if row else []
        if row is None:
            raise BookingNotFound()
        if position not in {p.position for p in passengers}:
            raise NotFound("passenger_not_found")
        active = [p for p in passengers if p.cancelled_at is None]
        if row.status == "confirmed" and [p.position for p in active] == [position]:
            return await self.cancel(user_id, booking_id)
        row = await self._cancellable(user_id, booking_id, held_ok=False)
        assert row is not None
        now = self.clock.now()
        percent = await self._percent(row, now)
        async with self.db.transaction() as conn:
            tickets = await q.lock_tickets(conn, row.id)
            if any(t.position == position and t.status == "boarded" for t in tickets):
                raise NotCancellable(details={"status": row.status, "reason": "boarded"})
            # Read again under the tickets' lock: another passenger's cancellation may have
            # finished meanwhile, leaving this one the last (then the booking goes, below).
            passengers = await q.passengers(conn, [row.id])
            last = [p.position for p in passengers if p.cancelled_at is None] == [position]
            if not last:
                done = await q.cancel_passenger(conn, row.id, position, now)
                if done is None:
                    raise NotCancellable(details={"status": row.status, "reason": "passenger_cancelled"})
                refund_id = await self._owe(conn, done, passengers, [position], percent, now)
                await dq.return_sold(conn, done.departure_id, done.fare_class, 1)
        if last:
            return await self.cancel(user_id, booking_id)
        await self.refunds.work_all([refund_id])
        return await self.bookings.get(user_id, booking_id)

    async def _cancellable(
        self, user_id: str, booking_id: str, *, held_ok: bool = True
    ) -> q.BookingRow | None:
        """The confirmed booking to cancel; None when it was dealt with here (a held one
        released, one cancelled with its departure refunded at once). 409 otherwise."""
        async with self.db.acquire() as conn:
            row = await q.get(conn, booking_id, user_id)
        if row is None:
            raise BookingNotFound()
        if row.status == "held" and held_ok:
            if await self.bookings.release(row.id, "cancelled_by_rider"):
                return None
            async with self.db.acquire() as conn:  # a payment claimed it meanwhile
                row = await q.get(conn, booking_id, user_id)
            assert row is not None
        if row.status == "paying":
            raise PaymentInProgress(details={"retry_after": 1})
        if (row.status, row.release_reason) == ("cancelled", DISRUPTED) and held_ok:
            await self.refunds.bring_forward(row.id, DISRUPTED)  # no move: the money now
            return None
        if row.status != "confirmed":
            raise NotCancellable(details={"status": row.status})
        return row

    async def _percent(self, row: q.BookingRow, now: datetime) -> int:
        """The carrier's refund tier now; 409 once the departure has left."""
        carrier = self.carriers.get(row.carrier)
        assert carrier is not None
        departs_at = await self.confirming.departs_at(row.departure_id)
        if departs_at <= now:
            raise NotCancellable(details={"status": row.status, "reason": "departed"})
        return carrier.timetable.refund_percent((departs_at - now).total_seconds() / 60)

    async def _owe(
        self,
        conn: Connection,
        booking: q.BookingRow,
        passengers: list[q.PassengerRow],
        cancelled: list[int],
        percent: int,
        now: datetime,
    ) -> str:
        """Owe back the tier's part of what the cancelled passengers stand for, with the
        carrier's cancellation of them (all of them: the booking's)."""
        charge = open_charge(await q.payments(conn, booking.id), await fq.of_bookings(conn, [booking.id]))
        if charge is None:
            log.error("booking %s: confirmed without a charge standing; nothing to refund", booking.id)
            return ""
        parts = shares(charge.amount, passengers)
        whole = {p.position for p in passengers if p.cancelled_at is None} <= set(cancelled)
        amount = refund_amount(sum(parts[p] for p in cancelled), percent)
        reason = "cancellation" if whole else "passenger_cancellation"
        return await owe(
            conn,
            booking.id,
            charge,
            amount,
            reason,
            now,
            carrier_cancel=True,
            passengers=None if whole else cancelled,
        )


def _position(booking_id: str, passenger_id: str) -> int:
    """A passenger id is `<booking id>.<position>`; anything else names no passenger."""
    prefix, _, number = passenger_id.rpartition(".")
    if prefix != booking_id or not number.isdigit() or len(number) > 3:
        raise NotFound("passenger_not_found")
    return int(number)
