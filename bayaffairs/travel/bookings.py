"""Holding seats, the bookings a rider sees, the expiry sweeper and cancellation.

Holds are taken by group commit (`holding.HoldQueue`): the holds of one departure and fare class
arriving together share one transaction that locks the seat row, gives seats in arrival order
while they fit and inserts the bookings; it cannot oversell. The carrier is asked to hold
only after our seats are held; if it fails, times out or refuses, our seats go back at once
and the error is answered (502, 504, 409), so a retry with the same Idempotency-Key starts over.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar

from bayaffairs.adapters.protocols import CarrierHoldRequest
from bayaffairs.clock import Clock
from bayaffairs.config.settings import TravelSettings
from bayaffairs.db.queries import travel as dq
from bayaffairs.db.queries import travel_bookings as q
from bayaffairs.db.queries import travel_recovery as rq
from bayaffairs.db.queries import travel_refunds as fq
from bayaffairs.documents.service import Document, DocumentService
from bayaffairs.errors import InvalidInput, Unprocessable
from bayaffairs.i18n import Text
from bayaffairs.ids import new_id
from bayaffairs.money import Money
from bayaffairs.pages import Page
from bayaffairs.storage import Connection, Database
from bayaffairs.transfers import Subject, plan
from bayaffairs.travel.carriers import Carrier, Carriers
from bayaffairs.travel.documents import OnwardFlight
from bayaffairs.travel.errors import (
    BookingNotFound,
    CarrierDeclined,
    DepartureCancelled,
    DepartureNotFound,
    PassengerAlreadyBooked,
    SalesClosed,
    SoldOut,
    TicketVoid,
    TooManyHolds,
)
from bayaffairs.travel.holding import HoldQueue, Refused
from bayaffairs.travel.ledger import payment_status
from bayaffairs.travel.model import BookingStatus, TicketStatus
from bayaffairs.travel.passengers import (
    PassengerRequest,
    check_documents,
    crossing_of,
    documents_of,
    onward,
    passenger_rows,
)

log = logging.getLogger("bayaffairs.travel")
PURPOSE = "travel_booking"
DISRUPTED = "departure_cancelled"  # the release reason of a booking whose departure was cancelled
DEPARTURES_KEPT = 20_000  # departures a hold looks up, kept in the process (static part only)


@dataclass(frozen=True)
class Passenger:
    id: str
    document_id: str
    name: str
    document_type: str
    status: str  # active, or cancelled (on its own, or with its booking)
    onward_flight: OnwardFlight | None = None
    category: str = "adult"  # by the age the document's date of birth gives on the travel date
    fare: Money | None = None  # this passenger's part of the total


@dataclass(frozen=True)
class Ticket:
    id: str
    position: int
    payload: str
    status: TicketStatus


@dataclass(frozen=True)
class Disruption:
    """A booking cancelled with its departure that may still move instead of being refunded."""

    reason: str
    move_to: str  # the next departure of the route with seats
    decide_by: datetime  # then the refund starts


@dataclass(frozen=True)
class ScheduleChange:
    """The carrier's timetable changed what the booking's departure is: it arrives at another
    time (`retimed`) or it left the timetable (`withdrawn`, with the route's next run)."""

    kind: str
    changed_at: datetime
    departs_at: datetime | None
    arrives_at: datetime | None
    booked_arrives_at: datetime
    alternative: str | None


def _schedule_change(data: dict[str, Any] | None) -> ScheduleChange | None:
    if data is None:
        return None

    def at(key: str) -> datetime | None:
        value = data.get(key)
        return datetime.fromisoformat(value) if value else None

    booked = at("booked_arrives_at")
    changed = at("changed_at")
    assert booked is not None and changed is not None
    return ScheduleChange(
        data["kind"], changed, at("departs_at"), at("arrives_at"), booked, data.get("alternative")
    )


@dataclass(frozen=True)
class Itinerary:
    """Where and when a booking's departure goes, as the timetable now has it: times on the
    carrier's wall clock, ports by id and by name."""

    departs_at: datetime
    arrives_at: datetime
    origin: str
    destination: str
    origin_name: Text
    destination_name: Text


def itinerary(
    carriers: Carriers,
    carrier_id: str,
    origin: str,
    destination: str,
    departs_at: datetime,
    arrives_at: datetime,
) -> Itinerary:
    carrier = carriers.get(carrier_id)
    ports = carrier.timetable.ports if carrier else {}
    zone = carrier.timetable.zone if carrier else None

    def name(port_id: str) -> Text:
        port = ports.get(port_id)
        return port.name if port is not None else Text(port_id)

    return Itinerary(
        departs_at.astimezone(zone),
        arrives_at.astimezone(zone),
        origin,
        destination,
        name(origin),
        name(destination),
    )


@dataclass(frozen=True)
class Booking:
    id: str
    status: BookingStatus
    departure_id: str
    carrier: str
    fare_class: str
    passengers: tuple[Passenger, ...]
    total: Money
    expires_at: datetime
    created_at: datetime
    release_reason: str | None = None
    departs_at: datetime | None = None
    charge: Money | None = None
    refund: Money | None = None
    payment_status: str = "unpaid"
    tickets: tuple[Ticket, ...] = field(default_factory=tuple)
    disruption: Disruption | None = None
    moved_from: str | None = None
    schedule_change: ScheduleChange | None = None
    arrives_at: datetime | None = None
    origin: str | None = None
    destination: str | None = None
    origin_name: Text | None = None
    destination_name: Text | None = None


def _booking(
    row: q.BookingRow,
    passengers: Sequence[q.PassengerRow],
    tickets: Sequence[q.TicketRow] = (),
    payments: Sequence[q.PaymentRow] = (),
    refunds: Sequence[fq.RefundRow] = (),
    changes: Mapping[str, dict[str, Any]] | None = None,
    where: Itinerary | None = None,
) -> Booking:
    status, charge, refund = payment_status(payments, refunds)
    live = row.status in ("held", "paying", "confirmed")
    return Booking(
        id=row.id,
        status=row.status,
        departure_id=row.departure_id,
        carrier=row.carrier,
        fare_class=row.fare_class,
        passengers=tuple(
            Passenger(
                p.id,
                p.document_id,
                p.holder_name,
                p.document_type,
                "cancelled"
                if p.cancelled_at is not None or row.status in ("cancelled", "released")
                else "active",
                onward(p.onward_flight, p.onward_departs_at),
                p.category,
                Money(p.fare_amount, row.currency),
            )
            for p in passengers
        ),
        total=Money(row.total_amount, row.currency),
        expires_at=row.expires_at,
        created_at=row.created_at,
        release_reason=row.release_reason,
        charge=charge,
        refund=refund,
        payment_status=status,
        tickets=tuple(Ticket(t.id, t.position, t.payload, t.status) for t in tickets),
        moved_from=row.moved_from,
        schedule_change=_schedule_change((changes or {}).get(row.departure_id)) if live else None,
        **({f.name: getattr(where, f.name) for f in dataclasses.fields(where)} if where else {}),
    )


def refund_amount(paid: int, percent: int) -> int:
    """What a refund tier gives back, rounded down to the minor unit: never more than paid."""
    return paid * percent // 100


class TravelBookings:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: TravelSettings,
        carriers: Carriers,
        documents: DocumentService,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.carriers = carriers
        self.documents = documents
        self.holds = HoldQueue(db, durable=settings.durable_holds, max_active=settings.max_active_holds)
        self._departures: dict[str, dq.DepartureRow] = {}

    # -- holding ---------------------------------------------------------------------------

    async def hold(
        self,
        user_id: str,
        departure_id: str,
        fare_class: str,
        requests: Sequence[PassengerRequest],
        request_key: str | None = None,
    ) -> Booking:
        """Hold seats for the passengers. `request_key` (opaque: the rider's Idempotency-Key)
        makes a retry reach the booking the first try made: a booking released because the
        carrier failed is held again under the same id, hence the same reference at the
        carrier, which answers it with the hold it may already have made."""
        now = self.clock.now()
        departure, carrier = await self._departure(departure_id)
        if departure.departs_at <= now:
            raise InvalidInput({"departure_id": ["this departure has left"]}, "departure_departed")
        self.check_sales_open(carrier, departure.departs_at, now)
        fares = {c["fare_class"]: c for c in departure.classes}
        if fare_class not in fares:
            raise InvalidInput({"fare_class": [f"one of {', '.join(sorted(fares))}"]})
        limit = min(self.settings.max_passengers, carrier.timetable.max_passengers)
        documents = await documents_of(self.documents, user_id, requests, limit)
        check_documents(self.settings, crossing_of(self.carriers, carrier, departure), documents, requests)
        async with self.db.acquire() as conn:
            await plan(
                conn, user_id, [_subject(d) for d in documents], self.carriers.recipient(carrier), PURPOSE
            )
        expires_at = now + timedelta(minutes=carrier.timetable.hold_minutes)
        if request_key is not None:
            again = await self._retry(user_id, request_key, departure.id, fare_class, requests, expires_at)
            if again is not None:
                return again
        booking_id = new_id("bkg")
        row = q.BookingRow(
            id=booking_id,
            user_id=user_id,
            departure_id=departure.id,
            carrier=carrier.id,
            fare_class=fare_class,
            seats=len(documents),
            status="held",
            release_reason=None,
            total_amount=0,  # priced under the group commit's lock
            currency=departure.currency,
            expires_at=expires_at,
            carrier_reference=None,
            created_at=now,
            updated_at=now,
            request_key=request_key,
        )
        travel_day = departure.departs_at.astimezone(carrier.timetable.zone).date()
        categories = [carrier.timetable.category_of(d.date_of_birth, travel_day) for d in documents]
        outcome = await self.holds.hold(
            row, passenger_rows(booking_id, documents, requests, categories), _pricing(carrier)
        )
        if isinstance(outcome, Refused):
            raise self._refusal(outcome, departure.id, fare_class, documents)
        row = await self._hold_at_carrier(carrier, outcome.row)
        where = itinerary(
            self.carriers,
            carrier.id,
            departure.origin,
            departure.destination,
            departure.departs_at,
            departure.arrives_at,
        )
        return _booking(row, outcome.passengers, where=where)

    def check_sales_open(self, carrier: Carrier, departs_at: datetime, now: datetime) -> None:
        """409 `sales_closed` inside the carrier's cutoff before departure."""
        closes_at = departs_at - timedelta(minutes=carrier.timetable.sales_close_minutes)
        if now >= closes_at:
            raise SalesClosed(
                details={"closed_at": closes_at.isoformat(), "departs_at": departs_at.isoformat()}
            )

    def _refusal(
        self, refused: Refused, departure_id: str, fare_class: str, documents: Sequence[Document]
    ) -> Exception:
        if refused.reason == "passenger_already_booked" and refused.position is not None:
            return PassengerAlreadyBooked(refused.position, documents[refused.position].id)
        if refused.reason == "too_many_holds":
            return TooManyHolds(self.settings.max_active_holds)
        if refused.reason == "departure_cancelled":
            return DepartureCancelled(details={"departure_id": departure_id})
        return SoldOut(details={"departure_id": departure_id, "fare_class": fare_class})

    async def _retry(
        self,
        user_id: str,
        request_key: str,
        departure_id: str,
        fare_class: str,
        requests: Sequence[PassengerRequest],
        expires_at: datetime,
    ) -> Booking | None:
        """The booking an earlier hold with this key made, held again if the carrier failed it;
        None when there is none to reuse (a new booking is made)."""
        async with self.db.acquire() as conn:
            earlier = await q.latest_for_key(conn, user_id, request_key)
            if earlier is None:
                return None
            riders = [p.document_id for p in await q.passengers(conn, [earlier.id])]
        asked = (departure_id, fare_class, [r.document_id for r in requests])
        if (earlier.departure_id, earlier.fare_class, riders) != asked:
            raise Unprocessable("idempotency_key_reused")
        if (earlier.status, earlier.release_reason) != ("released", "carrier_hold_failed"):
            return await self.get(user_id, earlier.id)  # done already; its answer was lost
        row = await self._hold_again(earlier.id, expires_at)
        if row is None:
            return None  # the sweeper is letting go of its reference at the carrier
        carrier = self.carriers.get(row.carrier)
        assert carrier is not None
        try:
            await self._hold_at_carrier(carrier, row)
        except CarrierDeclined as exc:
            if exc.details.get("reason") not in ("hold_expired", "hold_released"):
                raise
            async with self.db.acquire() as conn:  # the carrier's hold is gone: so is the reference
                await rq.mark_released_at_carrier(conn, row.id, self.clock.now())
            return None
        return await self.get(user_id, row.id)

    async def _hold_again(self, booking_id: str, expires_at: datetime) -> q.BookingRow | None:
        """Take a booking's seats again after the carrier failed its hold, under the same id and
        the group commit's rules (the departure's seat rows and the rider locked, one seat per
        document, `max_active_holds`); None when it is no longer one to retry."""
        async with self.db.transaction() as conn:
            earlier = await q.lock_retryable(conn, booking_id)
            if earlier is None:
                return None
            seats, cancelled = await q.lock_departure(conn, earlier.departure_id)
            if cancelled:
                raise DepartureCancelled(details={"departure_id": earlier.departure_id})
            await q.lock_riders(conn, [earlier.user_id])
            passengers = await q.passengers(conn, [earlier.id])
            fingerprints = [p.fingerprint for p in passengers if p.fingerprint is not None]
            booked, unpaid = await q.taken(conn, earlier.departure_id, fingerprints, [earlier.user_id])
            clash = next((p for p in passengers if p.fingerprint in booked), None)
            if clash is not None:
                raise PassengerAlreadyBooked(clash.position, clash.document_id)
            if unpaid.get(earlier.user_id, 0) >= self.settings.max_active_holds:
                raise TooManyHolds(self.settings.max_active_holds)
            fare = seats.get(earlier.fare_class, (0, 0))[1]
            carrier = self.carriers.get(earlier.carrier)
            assert carrier is not None
            total = sum(_pricing(carrier)(fare, p) for p in passengers)
            row = await q.hold_again(conn, earlier, total, expires_at, self.clock.now())
        if row is None:
            raise SoldOut(details={"departure_id": earlier.departure_id, "fare_class": earlier.fare_class})
        return row

    async def _hold_at_carrier(self, carrier: Carrier, row: q.BookingRow) -> q.BookingRow:
        """Ask the carrier to hold a booking our seats are held for (our booking id is its
        reference); on any failure our seats go back at once (`carrier_hold_failed`) and the
        error is raised. The carrier may keep its hold for less time than ours: its expiry,
        less the time a confirmation may take (`carrier_timeout_seconds`), then bounds ours, so
        no payment starts on a hold the carrier has dropped. The booking as held."""
        try:
            held = await self.carriers.call(
                carrier.adapter.hold(
                    CarrierHoldRequest(row.id, row.departure_id, row.fare_class, row.seats, row.expires_at)
                )
            )
        except BaseException:
            await self.release(row.id, "carrier_hold_failed", tell_carrier=False)
            raise
        bound = held.expires_at - timedelta(seconds=self.carriers.timeout_seconds)
        reference = held.carrier_reference if held.carrier_reference != row.id else None
        if bound < row.expires_at or (reference is not None and reference != row.carrier_reference):
            expires_at = min(bound, row.expires_at)
            async with self.db.acquire() as conn:
                await q.held_at_carrier(conn, row.id, reference, expires_at)
            row = dataclasses.replace(
                row, expires_at=expires_at, carrier_reference=reference or row.carrier_reference
            )
        return row

    def forget(self, departure_ids: Iterable[str]) -> None:
        """Drop what is kept of departures a new timetable changed."""
        for departure_id in departure_ids:
            self._departures.pop(departure_id, None)

    async def _departure(self, departure_id: str) -> tuple[dq.DepartureRow, Carrier]:
        """The departure as a hold needs it: what never changes once materialised (its classes
        carry only fare_class and fare_amount, no seat counts), kept in the process."""
        departure = self._departures.get(departure_id)
        if departure is None:
            async with self.db.acquire() as conn:
                departure = await dq.get_departure(conn, departure_id)
            if departure is not None:
                if len(self._departures) > DEPARTURES_KEPT:
                    self._departures.clear()
                classes = [
                    {"fare_class": c["fare_class"], "fare_amount": c["fare_amount"]}
                    for c in departure.classes
                ]
                departure = self._departures[departure_id] = dataclasses.replace(departure, classes=classes)
        carrier = self.carriers.get(departure.carrier) if departure else None
        if departure is None or carrier is None:
            raise DepartureNotFound(details={"departure_id": departure_id})
        return departure, carrier

    # -- releasing -------------------------------------------------------------------------

    async def release(
        self,
        booking_id: str,
        reason: str,
        *,
        tell_carrier: bool = True,
        from_status: Sequence[BookingStatus] = ("held",),
    ) -> bool:
        """Give a booking's seats back if it is in one of `from_status`; False when it was not.
        Only the payment that holds a `paying` booking's lease releases it (`from_status`
        `("paying",)`): anyone else meeting a payment in flight must wait for it."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            row = await q.move(
                conn, booking_id, from_status=tuple(from_status), to_status="released", at=now, reason=reason
            )
            if row is None:
                return False
            await dq.release_held(conn, row.departure_id, row.fare_class, row.seats)
        if tell_carrier:
            await self._tell_release(row)
        return True

    async def _tell_release(self, row: q.BookingRow) -> None:
        carrier = self.carriers.get(row.carrier)
        if carrier is None:
            return
        with contextlib.suppress(Exception):  # the carrier's own hold expires anyway
            await self.carriers.call(carrier.adapter.release(row.id))  # our reference: the carrier's key

    async def sweep(self, batch: int = 200) -> int:
        """Release every hold past its expiry; safe with several workers (SKIP LOCKED)."""
        total = 0
        while True:
            async with self.db.transaction() as conn:
                rows = await q.expire_held(conn, self.clock.now(), batch)
            for row in rows:
                await self._tell_release(row)
            total += len(rows)
            if len(rows) < batch:
                return total

    # -- reading ---------------------------------------------------------------------------

    async def get(self, user_id: str, booking_id: str) -> Booking:
        async with self.db.acquire() as conn:
            row = await q.get(conn, booking_id, user_id)
            if row is None:
                raise BookingNotFound()
            bookings = await _full(conn, [row], self.carriers)
        return (await self._with_offers([row], bookings))[0]

    async def list(self, user_id: str, *, cursor: str | None, limit: int) -> Page[Booking]:
        async with self.db.acquire() as conn:
            rows = await q.list_for_user(conn, user_id, after=cursor, limit=limit + 1)
            bookings = await _full(conn, rows, self.carriers)
        return Page.from_rows(await self._with_offers(rows, bookings), limit, key=lambda b: b.id)

    async def _with_offers(
        self, rows: Sequence[q.BookingRow], bookings: Sequence[Booking]
    ) -> Sequence[Booking]:
        """The bookings, those cancelled with their departure with the move they may still take."""
        out: builtins.list[Booking] = []
        for row, booking in zip(rows, bookings, strict=True):
            offer = await self.offer(row) if row.release_reason == DISRUPTED else None
            out.append(dataclasses.replace(booking, disruption=offer) if offer else booking)
        return out

    def sales_open_after(self, row: q.BookingRow, now: datetime) -> datetime:
        """A departure a booking moves to must still be on sale after this."""
        carrier = self.carriers.get(row.carrier)
        return now + timedelta(minutes=carrier.timetable.sales_close_minutes if carrier else 0)

    async def offer(self, row: q.BookingRow) -> Disruption | None:
        """The move a booking cancelled with its departure may still take instead of its refund:
        while the refund has not started and waits, and a departure with seats is left on the
        route (local carriers only: a remote carrier's booking is refunded at once)."""
        if (row.status, row.release_reason) != ("cancelled", DISRUPTED):
            return None
        now = self.clock.now()
        async with self.db.acquire() as conn:
            refund = await fq.offer_open(conn, row.id, DISRUPTED, now)
            if refund is None:
                return None
            departure = await dq.get_departure(conn, row.departure_id)
            assert departure is not None
            target = await dq.next_with_seats(
                conn, departure, row.fare_class, row.seats, self.sales_open_after(row, now)
            )
        if target is None:
            return None
        return Disruption(departure.cancel_reason or "", target, refund.next_attempt_at)

    async def ticket_payload(self, user_id: str, ticket_id: str) -> str:
        """The QR payload of the rider's ticket; 404 for another rider's, 410 once cancelled
        (an image of a void ticket only invites a wasted trip to the gate)."""
        async with self.db.acquire() as conn:
            ticket = await q.ticket_for_user(conn, ticket_id, user_id)
        if ticket is None:
            raise BookingNotFound("ticket_not_found")
        if ticket.status not in ("valid", "boarded"):
            raise TicketVoid(details={"ticket_id": ticket_id, "status": ticket.status})
        return ticket.payload


async def _full(conn: Connection, rows: Sequence[q.BookingRow], carriers: Carriers) -> list[Booking]:
    ids = [r.id for r in rows]
    departures = await dq.static_departures(conn, list({r.departure_id for r in rows})) if rows else []
    where = {
        d.id: itinerary(carriers, d.carrier, d.origin, d.destination, d.departs_at, d.arrives_at)
        for d in departures
    }
    passengers = _group(await q.passengers(conn, ids))
    tickets = _group(await q.tickets(conn, ids))
    paid = [r.id for r in rows if r.status in ("paying", "confirmed", "cancelled", "released")]
    payment_rows = await q.payments_of(conn, paid) if paid else []
    payments = _group(payment_rows)
    refunds = _group(await fq.of_bookings(conn, paid) if payment_rows else [])
    live = [r.departure_id for r in rows if r.status in ("held", "paying", "confirmed")]
    changes = await dq.schedule_changes(conn, live) if live else {}
    return [
        _booking(
            row,
            passengers.get(row.id, []),
            tickets.get(row.id, []),
            payments.get(row.id, []),
            refunds.get(row.id, []),
            changes,
            where.get(row.departure_id),
        )
        for row in rows
    ]


class _OfBooking(Protocol):
    @property
    def booking_id(self) -> str: ...


_Row = TypeVar("_Row", bound=_OfBooking)


def _pricing(carrier: Carrier) -> Callable[[int, q.PassengerRow], int]:
    """A passenger's fare from the fare class's, by their category (child, senior) where the
    carrier has category fares: the category comes from the document, never from the account."""
    return lambda fare, passenger: carrier.timetable.category_fare(fare, passenger.category)


def _group(rows: Sequence[_Row]) -> dict[str, list[_Row]]:
    """Rows of several bookings by booking id, in their order (one pass, not one per booking)."""
    groups: dict[str, list[_Row]] = {}
    for row in rows:
        groups.setdefault(row.booking_id, []).append(row)
    return groups


def _subject(doc: Document) -> Subject:
    return Subject(doc.id, doc.type, doc.issuing, doc.number_masked, doc.holder_name, doc.holder)
