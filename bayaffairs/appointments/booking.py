"""Booking, rescheduling and cancelling appointments, and the slots a rider can choose from.

Capacity is counted per desk (`capacity.py`): a booking takes the centre-day lock and is given
a desk that serves its service and is free for its whole length, moving earlier bookings to
other able desks when that makes room; an exclusion constraint on (centre, desk, time) of the
appointments holding desks is the backstop. A reschedule is a cancellation and a new booking in
one transaction (the old appointment becomes `rescheduled` and its QR stops working; the new
one's QR has the next version), so a second reschedule of the same appointment finds it no
longer active.

Cancellation cooldown (ZMS deallocationDuration, against trading appointments): a cancelled
appointment keeps holding its desk for the agency's `cancellation_cooldown_minutes` (default 30,
0 frees it at once), for everyone, and within that time its rider may not book that slot again
even where another desk is free (409 `cancellation_cooldown`, with `until`): cancelling and
rebooking never hands a place to someone chosen, nor resets the rider's place. A reschedule
frees the old desk at once: the issue asks for it, and the old place is not handed to anyone.
A cancellation gives the quota back at once, but while it holds its desk it still counts for its
person (quotas.check_holds, 409 `cancellation_still_counts`): nobody books and cancels their way
to holding every desk of a time.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bayaffairs import transfers
from bayaffairs.appointments import capacity, qr, quotas
from bayaffairs.appointments.catalogue import Catalogue
from bayaffairs.appointments.changes import ChangeNumbers
from bayaffairs.appointments.model import Agency, Appointment, Centre, Service, Slot
from bayaffairs.appointments.slots import is_slot_start, local_today, slots, window
from bayaffairs.clock import Clock
from bayaffairs.db.queries import agency_outbox as outbox_q
from bayaffairs.db.queries import appointments as q
from bayaffairs.db.queries import users as users_q
from bayaffairs.documents.service import DocumentService
from bayaffairs.errors import Conflict, DomainError, InvalidInput, NotFound
from bayaffairs.i18n import DEFAULT_LANGUAGE
from bayaffairs.ids import new_id
from bayaffairs.pages import Page
from bayaffairs.storage import Connection, Database

MAX_RANGE_DAYS = 62
PURPOSE = "appointment"
_REFERENCE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class RiderLimitReached(DomainError):
    status = 400
    code = "rider_limit_reached"


@dataclass(frozen=True)
class Booked:
    appointment: Appointment
    qr_payload: str


def new_reference(prefix: str) -> str:
    """Human-readable, e.g. HQ-7K3-92F (Crockford base32: no I, L, O, U to misread)."""
    chars = "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(6))
    return f"{prefix}-{chars[:3]}-{chars[3:]}"


def _not_active(appointment: Appointment) -> Conflict:
    return Conflict(
        "appointment_not_active", details={"status": appointment.status}, status=appointment.status
    )


class AppointmentService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        catalogue: Catalogue,
        keys: qr.AppointmentKeys,
        documents: DocumentService,
        changes: ChangeNumbers,
    ) -> None:
        self.db = db
        self.clock = clock
        self.catalogue = catalogue
        self.keys = keys
        self.documents = documents
        self.changes = changes

    # -- slots -------------------------------------------------------------------------------

    async def slots(self, centre_id: str, service_id: str, first: date, last: date) -> list[Slot]:
        centre = self.catalogue.centre(centre_id)
        service = self.catalogue.service(service_id)
        _bookable(centre)
        if not centre.serves(service.id):
            raise InvalidInput({"service": ["this centre does not offer the service"]}, "service_not_offered")
        if last < first:
            raise InvalidInput({"to": ["must not be before from"]})
        if (last - first).days >= MAX_RANGE_DAYS:
            raise InvalidInput({"to": [f"at most {MAX_RANGE_DAYS} days at a time"]})
        now = self.clock.now()
        opens, closes = window(service, centre, now)  # only what can be booked is offered
        first, last = max(first, opens), min(last, closes)
        if last < first:
            return []
        async with self.db.acquire() as conn:
            days = await capacity.ledgers(conn, centre, first, last, now)

        def remaining(start: datetime, end: datetime) -> int:
            ledger = days.get(start.astimezone(centre.zone).date())
            return ledger.remaining(service.id, start, end) if ledger else centre.capacity(service.id)

        return [s for s in slots(centre, service, first, last, remaining) if s.start > now]

    def check_start(
        self,
        centre: Centre,
        service: Service,
        start: datetime,
        *,
        same_day: bool = False,
        now: datetime | None = None,
    ) -> None:
        """400 with the reason when `start` cannot be booked at `now` (the clock's, unless
        given), whatever the capacity. `same_day` (demo data only): today's later slots too,
        whatever `min_days_ahead` says."""
        _bookable(centre)
        if not centre.serves(service.id):
            raise InvalidInput(
                {"service_id": ["this centre does not offer the service"]}, "service_not_offered"
            )
        local = start.astimezone(centre.zone)
        day = local.date()
        now = self.clock.now() if now is None else now
        first, last = window(service, centre, now)
        if same_day:
            first = min(first, local_today(centre, now))
        if day < first or day > last or start <= now:
            raise InvalidInput(
                {"start": [f"bookable from {first.isoformat()} to {last.isoformat()}"]},
                "outside_booking_window",
                first=first.isoformat(),
                last=last.isoformat(),
            )
        if day in centre.closed_days:
            raise InvalidInput({"start": ["the centre is closed that day"]}, "centre_closed")
        wall = local.time().replace(tzinfo=None)
        intervals = centre.hours.get(day.weekday(), ())
        if not intervals:
            raise InvalidInput({"start": ["the centre is closed that day"]}, "centre_closed")
        if not any(opens <= wall < closes for opens, closes in intervals):
            raise InvalidInput({"start": ["outside the centre's opening hours"]}, "outside_opening_hours")
        if not is_slot_start(centre, service, start):
            raise InvalidInput(
                {"start": [f"slots start every {service.duration_minutes} minutes from opening"]},
                "not_slot_boundary",
            )

    # -- booking -----------------------------------------------------------------------------

    async def book(
        self,
        user_id: str,
        centre_id: str,
        service_id: str,
        start: datetime,
        document_id: str | None,
        *,
        language: str = DEFAULT_LANGUAGE,
        same_day: bool = False,
    ) -> Booked:
        """`language`: the rider's, for the notices about it (the booking request's, as the API
        negotiated it). `same_day`: see `check_start` (the demo data's appointments of today)."""
        centre = self.catalogue.centre(centre_id)
        service = self.catalogue.service(service_id)
        agency = self.catalogue.agency_of(service)
        self.check_start(centre, service, start, same_day=same_day)
        if document_id is None and quotas.applies(service):
            raise InvalidInput(
                {
                    "document_id": [
                        "this service limits appointments per person: give the applicant's document"
                    ]
                },
                "document_required",
            )
        subject = await self._subject(user_id, service, agency, document_id)
        persons = await self._persons(user_id, document_id)
        key = await self.keys.signing_key()  # before any write: no key, no booking
        now = self.clock.now()
        async with self.db.transaction() as conn:
            planned = await _plan(conn, user_id, subject, agency, centre)
            await q.lock_rider(conn, user_id)
            if await q.active_count(conn, user_id, service.id) >= service.per_rider_limit:
                raise RiderLimitReached(
                    details={"limit": service.per_rider_limit}, limit=service.per_rider_limit
                )
            await quotas.check(conn, centre, service, persons, start)
            await _not_cooling(conn, user_id, centre, service, start, now)
            await quotas.check_holds(conn, centre, service, persons, start, now)
            appointment = await self._seat(
                conn,
                user_id,
                agency,
                centre,
                service,
                start,
                subject,
                now,
                qr_version=1,
                rescheduled_from=None,
                persons=persons,
                language=language,
            )
            await transfers.record(conn, user_id, planned, appointment.id, now)
            await self._tell_agency(conn, agency, appointment, "booked", subject, now)
        return Booked(appointment, qr.encode(key, appointment.id, appointment.qr_version))

    async def _seat(
        self,
        conn: Connection,
        user_id: str,
        agency: Agency,
        centre: Centre,
        service: Service,
        start: datetime,
        subject: transfers.Subject,
        now: datetime,
        *,
        qr_version: int,
        rescheduled_from: str | None,
        persons: list[str],
        language: str | None,
    ) -> Appointment:
        """Take a desk for the time (409 slot_full) and write the appointment."""
        counter_id = await capacity.take_desk(conn, centre, service, start, now, leaving=rescheduled_from)
        reference = new_reference(centre.reference_prefix)
        while await q.reference_taken(conn, reference):
            reference = new_reference(centre.reference_prefix)
        lead = timedelta(minutes=agency.reminder_lead_minutes)
        remind_at = start - lead if agency.reminder_lead_minutes and start - lead > now else None
        return await q.insert(
            conn,
            id=new_id("apt"),
            reference=reference,
            user_id=user_id,
            agency_id=agency.id,
            centre_id=centre.id,
            service_id=service.id,
            starts_at=start,
            ends_at=start + timedelta(minutes=service.duration_minutes),
            local_date=start.astimezone(centre.zone).date(),
            counter_id=counter_id,
            department=service.quota_department,
            person_key=persons[0],
            person_keys=persons,
            status="booked",
            document_id=None if subject.document_id.startswith("account:") else subject.document_id,
            holder_name=subject.name,
            number_masked=subject.number_masked or None,
            qr_version=qr_version,
            rescheduled_from=rescheduled_from,
            remind_at=remind_at,
            language=language,
            created_at=now,
            updated_at=now,
            change_seq=await self.changes.next(conn, centre.id),
        )

    async def _subject(
        self, user_id: str, service: Service, agency: Agency, document_id: str | None
    ) -> transfers.Subject:
        """Whose data goes to the centre. Without a document, the applicant is taken to be a
        resident of the agency's region (Macao services are booked by Macao residents) and
        only the sign-in name is sent."""
        if document_id is not None:
            document = await self.documents.get(user_id, document_id)
            if document.type not in service.id_documents:
                raise InvalidInput(
                    {"document_id": [f"this service accepts {', '.join(service.id_documents)}"]},
                    "id_document_not_accepted",
                )
            return transfers.Subject(
                document.id,
                document.type,
                document.issuing,
                document.number_masked,
                document.holder_name,
                document.holder,
            )
        async with self.db.acquire() as conn:
            user = await users_q.get(conn, user_id)
        name = (user.display_name if user else None) or "-"
        return transfers.Subject(f"account:{user_id}", "account", agency.region, "", name)

    async def _persons(self, user_id: str, document_id: str | None) -> list[str]:
        """Whose quota a booking counts against (quotas.py): the document's holder first (the
        appointment's `person_key`), then, for the rider's own document, the rider's other own
        documents and the account (the rider, whichever document they show). A family member's
        document (holder `other`) is that person alone: a rider may book for their family."""
        account = f"account:{user_id}"
        if document_id is None:
            return [account]
        keys, own = await self.documents.holder_keys(user_id, document_id)
        return [*keys, account] if own else list(keys)

    async def _tell_agency(
        self,
        conn: Connection,
        agency: Agency,
        appointment: Appointment,
        event: str,
        subject: transfers.Subject | None,
        now: datetime,
    ) -> None:
        if not agency.remote:
            return
        available = {"holder_name": appointment.holder_name, "number_masked": appointment.number_masked or ""}
        home = self.catalogue.centres.get(appointment.centre_id)
        stays = home is not None and home.data_stays_in is not None
        fields = {}
        if event == "booked" and not stays:
            fields = transfers.minimal_fields(available, agency.personal_data)
        await outbox_q.enqueue(
            conn,
            agency_id=agency.id,
            appointment_id=appointment.id,
            event=event,
            event_key=f"{appointment.id}:{event}:{appointment.qr_version}",
            payload={
                "reference": appointment.reference,
                "centre_id": appointment.centre_id,
                "service_id": appointment.service_id,
                "start": appointment.start.isoformat(),
                "end": appointment.end.isoformat(),
                "fields": fields,
            },
            at=now,
            follows=appointment.rescheduled_from,
        )

    # -- changes -----------------------------------------------------------------------------

    async def reschedule(
        self, user_id: str, appointment_id: str, start: datetime, language: str | None = None
    ) -> Booked:
        """The new appointment keeps the old one's language unless `language` (the one the
        reschedule request names, if any) says otherwise.

        The times are checked again under the locks, with the clock read there: a reschedule
        that waited for a day's lock (a booker placing someone) must not take a slot that
        started, or move an appointment that started, while it waited."""
        current = await self.get(user_id, appointment_id)
        centre = self.catalogue.home(current.centre_id)
        if not current.status == "booked":
            raise _not_active(current)
        if current.start <= self.clock.now():  # the early answers; checked again below
            raise Conflict("appointment_started")
        if centre.kiosk:  # booked at a desk that became a kiosk: nothing to move it to there
            raise Conflict(
                "centre_not_bookable", details={"centre_id": centre.id, "kind": "kiosk"}, centre=centre.id
            )
        service = self.catalogue.service(current.service_id)
        agency = self.catalogue.agency_of(service)
        if start == current.start:
            raise InvalidInput({"start": ["that is the slot already booked"]}, "same_slot")
        self.check_start(centre, service, start)
        subject = await self._subject(user_id, service, agency, current.document_id)
        persons = await self._persons(user_id, current.document_id)
        key = await self.keys.signing_key()
        async with self.db.transaction() as conn:
            # The person's quota lock first, as a booking takes it, then the days' desk locks
            # (a booking takes them after the quota's: the other order could deadlock).
            await quotas.check(conn, centre, service, persons, start, leaving=current.id)
            # The days' desk locks before the appointment's row lock: a booker holding a day's
            # lock may move this appointment to another desk, so the other order could deadlock.
            await q.lock_centre_days(
                conn, centre.id, [current.local_date, start.astimezone(centre.zone).date()]
            )
            old = await q.get(conn, appointment_id, lock=True)
            assert old is not None
            if old.status != "booked":
                raise _not_active(old)
            now = self.clock.now()
            if old.start <= now:
                raise Conflict("appointment_started")
            self.check_start(centre, service, start, now=now)
            await _not_cooling(conn, user_id, centre, service, start, now)
            await quotas.check_holds(conn, centre, service, persons, start, now)
            planned = await _plan(conn, user_id, subject, agency, centre)
            new = await self._seat(
                conn,
                user_id,
                agency,
                centre,
                service,
                start,
                subject,
                now,
                qr_version=old.qr_version + 1,
                rescheduled_from=old.id,
                persons=persons,
                language=language or old.language,
            )
            old = await q.update(
                conn,
                old.id,
                status="rescheduled",
                rescheduled_to=new.id,
                updated_at=now,
                change_seq=new.change_seq,
            )
            await transfers.record(conn, user_id, planned, new.id, now)
            await self._tell_agency(conn, agency, old, "cancelled", None, now)
            await self._tell_agency(conn, agency, new, "booked", subject, now)
        return Booked(new, qr.encode(key, new.id, new.qr_version))

    async def cancel(
        self, user_id: str, appointment_id: str, *, closing_account: bool = False
    ) -> Appointment:
        """`closing_account`: the rider is deleting their account, so an appointment that has
        started (booked, not checked in) is cancelled too: its QR must stop working at once."""
        await self.get(user_id, appointment_id)
        now = self.clock.now()
        async with self.db.transaction() as conn:
            current = await q.get(conn, appointment_id, lock=True)
            assert current is not None
            if current.status == "cancelled":
                return current
            if current.status != "booked":
                raise _not_active(current)
            if current.start <= now and not closing_account:
                raise Conflict("appointment_started")
            agency = self.catalogue.agencies.get(current.agency_id)
            cooldown = agency.cancellation_cooldown_minutes if agency is not None else 0
            cancelled = await q.update(
                conn,
                current.id,
                status="cancelled",
                finished_at=now,
                updated_at=now,
                seat_held_until=now + timedelta(minutes=cooldown) if cooldown else None,
                change_seq=await self.changes.next(conn, current.centre_id),
            )
            if agency is not None:
                await self._tell_agency(conn, agency, cancelled, "cancelled", None, now)
        return cancelled

    # -- reading -----------------------------------------------------------------------------

    async def get(self, user_id: str, appointment_id: str) -> Appointment:
        async with self.db.acquire() as conn:
            appointment = await q.get(conn, appointment_id)
        if appointment is None or appointment.user_id != user_id:
            raise NotFound("appointment_not_found")
        return appointment

    async def list(self, user_id: str, *, cursor: str | None, limit: int) -> Page[Appointment]:
        async with self.db.acquire() as conn:
            rows = await q.list_for_user(conn, user_id, after=cursor, limit=limit + 1)
        return Page.from_rows(rows, limit, key=lambda a: a.id)

    async def qr_payload(self, appointment: Appointment) -> str:
        if not appointment.active:
            raise _not_active(appointment)
        return qr.encode(await self.keys.signing_key(), appointment.id, appointment.qr_version)


async def _not_cooling(
    conn: Connection, user_id: str, centre: Centre, service: Service, start: datetime, now: datetime
) -> None:
    """409 cancellation_cooldown while the rider's own cancellation of this slot cools down."""
    held = await q.own_hold(conn, user_id, centre.id, service.id, start, now)
    if held is not None:
        until = held.astimezone(centre.zone).isoformat()
        raise Conflict("cancellation_cooldown", details={"until": until}, until=until)


def _bookable(centre: Centre) -> None:
    if centre.kiosk:
        raise InvalidInput(
            {"centre_id": ["a self-service kiosk: walk up in its opening hours, no appointment"]},
            "not_bookable",
        )


async def _plan(
    conn: Connection, user_id: str, subject: transfers.Subject, agency: Agency, centre: Centre
) -> list[transfers.PlannedTransfer]:
    """What crosses a border to the centre (403 consent_required without consent); nothing
    where the centre's data stays home."""
    if centre.data_stays_in is not None:
        return []
    return await transfers.plan(conn, user_id, [subject], _recipient(agency, centre), PURPOSE)


def _recipient(agency: Agency, centre: Centre) -> transfers.Recipient:
    """The data goes to the staff of the centre, wherever the agency itself is (and, at a remote
    video counter, wherever the staff serve from)."""
    return transfers.Recipient(
        agency.id, f"{agency.name.en} ({centre.name.en})", centre.staff_region, agency.personal_data
    )
