"""A `paying` booking's claim and lease: who may move its money or confirm it right now.

A payment claims its booking (`held` -> `paying`); the claim's time (`updated_at`) is also its
lease, so a `paying` booking is taken over (by the rider's retry or the sweeper) only once it is
`payment_recovery_seconds` old. A payment left unknown hands its lease back at once; one that
ends with no money standing gives its claim back.
"""

from __future__ import annotations

from datetime import timedelta

from bayaffairs.clock import Clock
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_recovery as rq
from bayaffairs.storage import Database
from bayaffairs.travel.bookings import TravelBookings


class PaymentClaims:
    def __init__(self, db: Database, clock: Clock, bookings: TravelBookings) -> None:
        self.db = db
        self.clock = clock
        self.bookings = bookings

    @property
    def grace(self) -> timedelta:
        """How long a claim stays its payment's own before another driver may take it over."""
        return timedelta(seconds=self.bookings.settings.payment_recovery_seconds)

    async def lease(self, booking_id: str) -> q.BookingRow | None:
        """Take over a `paying` booking whose lease has run out (None while another holds it)."""
        now = self.clock.now()
        async with self.db.acquire() as conn:
            return await rq.lease_payment(conn, booking_id, now - self.grace, now)

    async def hand_back(self, leased: q.BookingRow) -> None:
        """End a `paying` booking's lease now, so the rider's retry or the next sweep can take
        it up at once."""
        async with self.db.acquire() as conn:
            await rq.end_lease(conn, leased.id, leased.updated_at, self.clock.now() - self.grace)

    async def give_back(self, row: q.BookingRow) -> None:
        """Undo a payment's claim: back to held while the hold lasts, else released."""
        now = self.clock.now()
        async with self.db.acquire() as conn:
            back = await q.move(
                conn, row.id, from_status=("paying",), to_status="held", at=now, unexpired_at=now
            )
        if back is None:
            await self.bookings.release(row.id, "payment_failed", from_status=("paying",))
