"""Disruption: a carrier (or an admin) cancels a departure (typhoon signal 8), and a rider may
take the next departure with seats instead of the refund.

Cancelling locks the departure's seat rows and marks it cancelled, so no hold or sale commits
after it without seeing it; then every booking on it is settled, each in its own transaction:
held ones released; paid ones cancelled with their tickets and refunded in full, whatever the
refund tiers say. A payment still in flight is left to itself: it refunds when it finds the
departure cancelled (`confirming.py`). Each rider is told once. Asked again, it settles
whatever is left and answers the same.

A paid booking's refund waits `disruption_decide_minutes` when the carrier is local and a
departure with seats is left on the route: until then the rider may move the booking there
(`move`) at no cost, its refund superseded, or ask for the money at once (its cancellation).
A remote carrier's booking is refunded at once, its cancellation sent to the carrier.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bayaffairs.adapters.protocols import Notification, Notifier
from bayaffairs.clock import Clock
from bayaffairs.config.settings import TravelSettings
from bayaffairs.db.queries import travel as dq
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_refunds as fq
from bayaffairs.errors import Forbidden
from bayaffairs.i18n import Text
from bayaffairs.storage import Database
from bayaffairs.travel.bookings import DISRUPTED, Booking, TravelBookings
from bayaffairs.travel.carriers import Carriers
from bayaffairs.travel.documents import OnwardFlight
from bayaffairs.travel.errors import (
    BookingNotFound,
    DepartureNotFound,
    MoveNotAvailable,
    PassengerAlreadyBooked,
)
from bayaffairs.travel.ledger import open_charge
from bayaffairs.travel.passengers import PassengerRequest, check_documents, crossing_of, documents_of
from bayaffairs.travel.refunds import RefundOutbox, owe
from bayaffairs.travel.tickets import TicketKeys

log = logging.getLogger("bayaffairs.travel")
REASON = DISRUPTED


@dataclass(frozen=True)
class DepartureCancellation:
    departure_id: str
    cancelled_at: datetime
    reason: str
    cancelled: int  # paid bookings cancelled and refunded in full (or moved since)
    released: int  # holds let go of
    paying: int  # payments still in flight: they refund when they find the departure cancelled


class Disruptions:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: TravelSettings,
        carriers: Carriers,
        bookings: TravelBookings,
        refunds: RefundOutbox,
        tickets: TicketKeys,
        notifier: Callable[[str], Notifier | None],
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.carriers = carriers
        self.bookings = bookings
        self.refunds = refunds
        self.tickets = tickets
        self.notifier = notifier

    async def cancel_departure(
        self, carrier_id: str | None, departure_id: str, reason: str, by: str
    ) -> DepartureCancellation:
        """`carrier_id`: the caller's carrier (None for an admin, who may cancel any)."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            found = await dq.get_departure(conn, departure_id)
            if found is None:
                raise DepartureNotFound(details={"departure_id": departure_id})
            if carrier_id is not None and found.carrier != carrier_id:
                raise Forbidden("out_of_scope", scope_kind="carrier")
            await q.lock_departure(conn, departure_id)
            departure = await dq.cancel(conn, departure_id, now, reason, by)
        assert departure is not None and departure.cancelled_at is not None
        reason = departure.cancel_reason or reason
        async with self.db.acquire() as conn:
            held = await q.of_departure(conn, departure_id, ("held",))
            paid = await q.of_departure(conn, departure_id, ("confirmed",))
        for row in held:
            if await self.bookings.release(row.id, REASON):
                await self._tell(row, reason)
        for row in paid:
            if await self._cancel_paid(row, departure, now):
                await self._tell(row, reason)
        async with self.db.acquire() as conn:
            counts = await q.count_by_outcome(conn, departure_id)
        return DepartureCancellation(
            departure_id,
            departure.cancelled_at,
            reason,
            cancelled=counts.get("cancelled", 0) + await self._moved(departure_id),
            released=counts.get("released", 0),
            paying=counts.get("paying", 0),
        )

    async def _cancel_paid(self, row: q.BookingRow, departure: dq.DepartureRow, now: datetime) -> bool:
        """Cancel one paid booking of the cancelled departure and owe its charge back in full,
        later if the rider may move instead; False when it was no longer confirmed."""
        carrier = self.carriers.get(row.carrier)
        remote = carrier is not None and carrier.remote
        not_before = now
        if not remote:
            async with self.db.acquire() as conn:
                target = await dq.next_with_seats(
                    conn, departure, row.fare_class, row.seats, self.bookings.sales_open_after(row, now)
                )
            if target is not None:
                not_before = now + timedelta(minutes=self.settings.disruption_decide_minutes)
        async with self.db.transaction() as conn:
            await q.lock_tickets(conn, row.id)
            done = await q.move(
                conn, row.id, from_status=("confirmed",), to_status="cancelled", at=now, reason=REASON
            )
            if done is None:
                return False
            await q.cancel_tickets(conn, done.id)
            charge = open_charge(await q.payments(conn, done.id), await fq.of_bookings(conn, [done.id]))
            refund_id = ""
            if charge is not None:
                refund_id = await owe(
                    conn,
                    done.id,
                    charge,
                    charge.amount,
                    REASON,
                    now,
                    carrier_cancel=remote,
                    not_before=not_before,
                )
            await dq.return_sold(conn, done.departure_id, done.fare_class, done.seats)
        if not_before <= now:
            await self.refunds.work_all([refund_id])
        return True

    async def _moved(self, departure_id: str) -> int:
        """Bookings of the departure moved since by their riders (counted as cancelled here)."""
        async with self.db.acquire() as conn:
            return await q.moved_from(conn, departure_id)

    async def _tell(self, row: q.BookingRow, reason: str) -> None:
        """Tell the rider, once per booking (the notifier drops a repeated dedupe key)."""
        notifier = self.notifier(self.settings.notifier) if self.settings.notifier else None
        if notifier is None:
            return
        paid = row.status == "confirmed"
        what = Text("refunded in full", "全數退款", "全数退款") if paid else Text("released", "釋放", "释放")
        note = Notification(
            recipient=row.user_id,
            channel="app",
            subject=Text("Your departure is cancelled", "你的班次已取消", "你的班次已取消"),
            body=Text(
                f"{row.departure_id} is cancelled ({reason}). Booking {row.id} is {what.en}; "
                "if a later departure has seats, you may move to it in the app.",
                f"{row.departure_id} 已取消({reason})。訂單 {row.id} 已{what.get('zh-Hant')};"
                "如較後班次尚有座位,可在應用程式內改乘。",
                f"{row.departure_id} 已取消({reason})。订单 {row.id} 已{what.get('zh-Hans')};"
                "如较后班次尚有座位,可在应用程序内改乘。",
            ),
            dedupe_key=f"{REASON}:{row.id}",
        )
        try:
            await notifier.send(note)
        except Exception:
            log.exception("booking %s: telling the rider of the cancelled departure failed", row.id)

    # -- the rider's choice ------------------------------------------------------------------

    async def _documents_fit(self, user_id: str, booking_id: str, target: dq.DepartureRow) -> None:
        """Moving is travelling on the target's date: each passenger's document (expiry,
        endorsements, onward flight) must make that crossing as a hold would check it; 400
        `document_not_accepted` otherwise."""
        carrier = self.carriers.get(target.carrier)
        assert carrier is not None
        async with self.db.acquire() as conn:
            people = [p for p in await q.passengers(conn, [booking_id]) if p.cancelled_at is None]
        requests = [
            PassengerRequest(
                p.document_id,
                OnwardFlight(p.onward_flight, p.onward_departs_at)
                if p.onward_flight and p.onward_departs_at
                else None,
            )
            for p in people
        ]
        docs = await documents_of(self.bookings.documents, user_id, requests, len(requests))
        check_documents(self.settings, crossing_of(self.carriers, carrier, target), docs, requests)

    async def move(self, user_id: str, booking_id: str, to: str | None) -> Booking:
        """Move a booking cancelled with its departure to `to` (by default the next departure
        with seats) instead of refunding it: its refund superseded, its passengers, seats and
        tickets on the new departure, in one transaction. 409 `move_not_available` once its
        refund has started or when there is nowhere to go."""
        async with self.db.acquire() as conn:
            row = await q.get(conn, booking_id, user_id)
        if row is None:
            raise BookingNotFound()
        offered = await self.bookings.offer(row)
        if offered is None:
            raise MoveNotAvailable(details={"booking_id": booking_id})
        target_id = to or offered.move_to
        now = self.clock.now()
        async with self.db.acquire() as conn:
            old = await dq.get_departure(conn, row.departure_id)
            target = await dq.get_departure(conn, target_id)
        if (
            old is None
            or target is None
            or (target.carrier, target.route) != (old.carrier, old.route)
            or target.cancelled_at is not None
            or target.departs_at <= self.bookings.sales_open_after(row, now)
        ):
            raise MoveNotAvailable(details={"booking_id": booking_id, "departure_id": target_id})
        await self._documents_fit(user_id, row.id, target)
        signed = await self.tickets.sign(target.id, int(target.departs_at.timestamp()), row.seats)
        async with self.db.transaction() as conn:
            if not await fq.supersede(conn, row.id, REASON, now):
                raise MoveNotAvailable(details={"booking_id": booking_id})
            seats, cancelled = await q.lock_departure(conn, target.id)
            free = seats.get(row.fare_class, (0, 0))[0]
            if cancelled or free < row.seats:
                raise MoveNotAvailable(details={"booking_id": booking_id, "departure_id": target.id})
            passengers = [p for p in await q.passengers(conn, [row.id]) if p.cancelled_at is None]
            fingerprints = [p.fingerprint for p in passengers if p.fingerprint is not None]
            booked, _ = await q.taken(conn, target.id, fingerprints, [])
            clash = next((p for p in passengers if p.fingerprint in booked), None)
            if clash is not None:
                raise PassengerAlreadyBooked(clash.position, clash.document_id)
            await q.move_to_departure(conn, row.id, old.id, target.id, now)
            await dq.sell(conn, target.id, row.fare_class, row.seats)
            await q.insert_tickets(
                conn,
                [
                    q.TicketRow(
                        t.id, row.id, p.position, target.id, row.carrier, t.payload, "valid", None, now
                    )
                    for p, t in zip(passengers, signed, strict=True)
                ],
            )
        return await self.bookings.get(user_id, booking_id)
