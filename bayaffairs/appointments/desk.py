"""The counter's side: a centre's day list and its changes, check-in, the queue, outcomes.

A counter credential is scoped to one centre; every method takes that centre and never finds
another centre's appointments (404). The change cursor is the centre's change number: numbers
are handed out under the centre's row lock, so they commit in order and a cursor read before
the list never skips a change that was still committing (it may repeat one, never miss one).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bayaffairs.appointments import capacity, qr
from bayaffairs.appointments.booking import new_reference
from bayaffairs.appointments.catalogue import Catalogue
from bayaffairs.appointments.changes import ChangeNumbers
from bayaffairs.appointments.model import Appointment, Centre, Counter, DayRow
from bayaffairs.appointments.slots import local_today
from bayaffairs.clock import Clock
from bayaffairs.db.queries import appointments as q
from bayaffairs.documents import rules
from bayaffairs.errors import Conflict, InvalidInput, NotFound
from bayaffairs.ids import new_id
from bayaffairs.storage import Connection, Database

Fingerprints = Callable[[str, str], list[bytes]]
MAX_CALLS = 3  # called this often without showing up: no-show (ZMS callCountMax)
WALK_IN_CANDIDATES = 20  # walk-ins looked at per call for one that fits a gap
_INSTANT = timedelta(microseconds=1)
MAX_DOCUMENT_MISMATCHES = 3  # typed numbers not matching an appointment's before its check locks


@dataclass(frozen=True)
class DayList:
    centre_id: str
    date: date
    since: int
    cursor: int
    items: list[DayRow]


@dataclass(frozen=True)
class Called:
    counter: str
    appointment: Appointment | None


class CounterDesk:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        catalogue: Catalogue,
        keys: qr.AppointmentKeys,
        changes: ChangeNumbers,
        fingerprints: Fingerprints | None = None,
    ) -> None:
        """`fingerprints`: a document number's keyed fingerprints (`DocumentCipher.fingerprints`),
        to confirm at check-in that the document shown is the one booked with."""
        self.db = db
        self.clock = clock
        self.catalogue = catalogue
        self.keys = keys
        self.changes = changes
        self.fingerprints = fingerprints

    def today(self, centre_id: str) -> date:
        return local_today(self.catalogue.centre(centre_id), self.clock.now())

    async def cursor(self, centre_id: str) -> int:
        """The centre's change number: kept in memory while this worker hears every new one
        (`ChangeNumbers`), else read."""
        return await self.changes.current(centre_id)

    async def day(self, centre_id: str, day: date, since: int) -> DayList:
        async with self.db.acquire() as conn:
            cursor = await q.current_change(conn, centre_id)  # first: see the module docstring
            items = await q.centre_day(conn, centre_id, day, since)
        cursor = max([cursor, since, *(row[-1] for row in items)])
        return DayList(centre_id, day, since, cursor, items)

    async def _find(self, conn: Connection, centre_id: str, appointment_id: str) -> Appointment:
        appointment = await q.get(conn, appointment_id, lock=True)
        if appointment is None or appointment.centre_id != centre_id:
            raise NotFound("appointment_not_found")
        return appointment

    async def resolve(
        self, centre_id: str, *, payload: str | None, reference: str | None
    ) -> tuple[str, int | None]:
        """The appointment id (and QR version) a scanned code or a typed reference names."""
        if payload is not None:
            try:
                code = await self.keys.check(payload)
            except qr.BadCode as exc:
                raise InvalidInput({"payload": [exc.reason]}, "invalid_code", reason=exc.reason) from None
            return code.appointment_id, code.qr_version
        assert reference is not None
        async with self.db.acquire() as conn:
            found = await q.get_by_reference(conn, centre_id, reference.strip().upper())
        if found is None:
            raise NotFound("appointment_not_found")
        return found.id, None

    async def check_in(
        self,
        centre_id: str,
        appointment_id: str,
        qr_version: int | None = None,
        shown: tuple[str, str] | None = None,
    ) -> Appointment:
        """Give a queue number; checking in again answers the same number. `shown`: the type
        and the typed number of the document the person shows; unless it is the one booked with
        (the booking's person key), 409 document_mismatch and no check-in. The number is
        compared only once everything else admits the check-in, so that a desk cannot test
        guesses at who booked which reference without that person (and their QR) at the desk.
        After MAX_DOCUMENT_MISMATCHES mismatches, 409 document_check_locked (`_confirm`)."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            appointment = await self._find(conn, centre_id, appointment_id)
            stays = self.catalogue.centre(centre_id).data_stays_in
            if stays and qr_version is None and not appointment.walk_in:
                raise Conflict("qr_required")  # no name to check: the signed code and the document
            if qr_version is not None and (
                qr_version != appointment.qr_version or appointment.status == "rescheduled"
            ):
                raise Conflict("code_superseded")
            if appointment.queue_number is not None and appointment.status in (
                "checked_in",
                "called",
                "served",
            ):
                # Again the same number. A typed number is still compared (and counted): the
                # answer's `document: match` is never said of a number nobody compared; and only
                # on the appointment's day, as a first check-in's, with the person at the desk.
                if shown is None:
                    return appointment
                _today(self.catalogue.centre(centre_id), appointment, now)
                refused = await self._confirm(conn, appointment.id, *shown)
                if refused is None:
                    return appointment
            else:
                refused = await self._admit(conn, centre_id, appointment, now, shown)
                if refused is None:
                    number = await q.next_queue_number(conn, centre_id, appointment.local_date)
                    return await q.update(
                        conn,
                        appointment.id,
                        status="checked_in",
                        queue_number=number,
                        checked_in_at=now,
                        updated_at=now,
                        change_seq=await self.changes.next(conn, centre_id),
                    )
        raise refused  # after the commit: the mismatch stays counted though the check-in is refused

    async def _admit(
        self,
        conn: Connection,
        centre_id: str,
        appointment: Appointment,
        now: datetime,
        shown: tuple[str, str] | None,
    ) -> Conflict | None:
        """Whether a booked appointment may be checked in now: raises the refusal, or returns a
        typed number's mismatch (to raise once its count is committed), else None."""
        if appointment.status != "booked":
            raise Conflict(
                "appointment_not_active",
                details={"status": appointment.status},
                status=appointment.status,
            )
        centre = self.catalogue.centre(centre_id)
        _today(centre, appointment, now)
        await _not_closed(conn, centre, now)
        late_from = appointment.start + timedelta(minutes=centre.queue.late_grace_minutes)
        if now > late_from and centre.queue.late_arrivals == "refused":
            when = late_from.astimezone(centre.zone).isoformat()
            raise Conflict("arrived_late", details={"late_from": when}, time=when)
        if shown is None:
            return None
        return await self._confirm(conn, appointment.id, *shown)  # last: the person at the desk now

    async def _confirm(
        self, conn: Connection, appointment_id: str, doc_type: str, number: str
    ) -> Conflict | None:
        """The desk sees the holder's name and masked number only, which a made-up number of
        the same shape shares (a Macao ID's check digit cannot be verified, `documents/rules.py`):
        the typed number of the document shown must have the booking's keyed fingerprint. The
        answer says match (None) or mismatch (the refusal, to raise once the count is committed),
        never the number on file.

        Each mismatch is counted on the appointment; after MAX_DOCUMENT_MISMATCHES the typed
        check is locked (409 document_check_locked, even for the right number): with the masked
        number on screen, a desk trying numbers would otherwise recover the rest of it. The
        person is then checked in without a typed number (the desk looks at the document, and
        where the data stays home scans the signed QR too)."""
        try:
            typed = rules.normalise(doc_type, number)
        except ValueError as exc:
            raise InvalidInput({"document_number": [str(exc)]}) from None
        booked = await q.person_key_of(conn, appointment_id)
        if booked is None or not booked.startswith("doc:") or self.fingerprints is None:
            raise Conflict("document_not_booked")  # booked without a document: nothing to compare
        if await q.document_mismatches(conn, appointment_id) >= MAX_DOCUMENT_MISMATCHES:
            raise _locked()
        shown = ["doc:" + f.hex() for f in self.fingerprints(doc_type, typed)]
        if any(hmac.compare_digest(booked, key) for key in shown):
            return None
        count = await q.count_document_mismatch(conn, appointment_id, MAX_DOCUMENT_MISMATCHES)
        if count is None:
            raise _locked()
        left = MAX_DOCUMENT_MISMATCHES - count
        return Conflict("document_mismatch", details={"attempts_left": left})

    async def call_next(self, centre_id: str, counter_id: str) -> Called:
        """The next person for this desk: checked-in appointments by their time, from the
        centre's `early_minutes` before it (late arrivals after everyone on time); when none is
        due, the first walk-in the desk can serve now without taking booked time."""
        centre = self.catalogue.centre(centre_id)
        counter = centre.counter(counter_id)
        if counter is None:
            raise NotFound("counter_not_found")
        now = self.clock.now()
        rules = centre.queue
        today = local_today(centre, now)
        async with self.db.transaction() as conn:
            # The day's desk lock before any appointment's row lock, as a booking takes them (it
            # may move the appointment this call locks to another desk).
            await q.lock_centre_days(conn, centre_id, [today])
            await _not_closed(conn, centre, now, counter_id)
            waiting = await q.pick_next_waiting(
                conn,
                centre_id,
                today,
                sorted(counter.services),
                now,
                timedelta(minutes=rules.early_minutes),
                timedelta(minutes=rules.late_grace_minutes),
            )
            if waiting is not None:
                called = await q.update(
                    conn,
                    waiting.id,
                    counter_id=await self._onto(conn, centre, waiting, counter_id, now),
                    status="called",
                    call_count=waiting.call_count + 1,
                    called_at=now,
                    called_by=counter_id,
                    updated_at=now,
                    change_seq=await self.changes.next(conn, centre_id),
                )
                return Called(counter_id, called)
            walk_in = await self._walk_in_for(conn, centre, counter, now)
        return Called(counter_id, walk_in)

    async def _onto(
        self, conn: Connection, centre: Centre, appointment: Appointment, counter_id: str, now: datetime
    ) -> str | None:
        """The desk the called appointment holds from now on: the calling desk, for the time the
        appointment was given (moving whoever the ledger had there to another able desk, as a
        booking does, but never someone already called); its own desk when the calling desk
        cannot take that time (called early, before someone only that desk serves, or someone
        called there), as the ledger is what later bookings go by."""
        if appointment.counter_id == counter_id:
            return counter_id
        ledger = await capacity.day_ledger(
            conn, centre, appointment.local_date, now, leaving=appointment.id, fixed=capacity.AT_A_DESK
        )
        found = ledger.place(
            appointment.service_id, appointment.start, appointment.end, appointment.id, only=counter_id
        )
        if found is None:
            return appointment.counter_id
        if found.moves:
            await q.move_desks(conn, found.moves)
        return counter_id

    async def _walk_in_for(
        self, conn: Connection, centre: Centre, counter: Counter, now: datetime
    ) -> Appointment | None:
        """Call the first waiting walk-in that fits a gap of this desk, giving it the desk from
        now for its service's length."""
        waiting = await q.waiting_walk_ins(
            conn, centre.id, local_today(centre, now), sorted(counter.services), WALK_IN_CANDIDATES
        )
        if not waiting:
            return None
        candidates = [
            (w.id, w.service_id, self.catalogue.service(w.service_id).duration_minutes) for w in waiting
        ]
        chosen = await capacity.gap(conn, centre, counter.id, candidates, now)
        if chosen is None:
            return None
        walk_in = next(w for w in waiting if w.id == chosen)
        return await q.update(
            conn,
            walk_in.id,
            status="called",
            counter_id=counter.id,
            starts_at=now,
            ends_at=now + (walk_in.end - walk_in.start),
            call_count=walk_in.call_count + 1,
            called_at=now,
            called_by=counter.id,
            updated_at=now,
            change_seq=await self.changes.next(conn, centre.id),
        )

    async def walk_in(self, centre_id: str, service_id: str) -> Appointment:
        """A queue number for someone without an appointment, while the centre is open."""
        centre = self.catalogue.centre(centre_id)
        service = self.catalogue.service(service_id)
        if not centre.serves(service.id):
            raise InvalidInput(
                {"service_id": ["this centre does not offer the service"]}, "service_not_offered"
            )
        now = self.clock.now()
        if not _open_at(centre, now):
            raise Conflict("centre_closed_now")
        today = local_today(centre, now)
        async with self.db.transaction() as conn:
            await _not_closed(conn, centre, now)
            reference = new_reference(centre.reference_prefix)
            while await q.reference_taken(conn, reference):
                reference = new_reference(centre.reference_prefix)
            return await q.insert(
                conn,
                id=new_id("apt"),
                reference=reference,
                user_id=None,
                agency_id=centre.agency_id,
                centre_id=centre.id,
                service_id=service.id,
                starts_at=now,
                ends_at=now + timedelta(minutes=service.duration_minutes),
                local_date=today,
                counter_id=None,
                status="checked_in",
                holder_name="",
                queue_number=await q.next_queue_number(conn, centre.id, today),
                checked_in_at=now,
                walk_in=True,
                created_at=now,
                updated_at=now,
                change_seq=await self.changes.next(conn, centre.id),
            )

    async def recall(self, centre_id: str, appointment_id: str) -> Appointment:
        """Call the person again; after the third call without showing up, a no-show, but never
        before the appointment's time plus the centre's grace (the rule of `outcome`): until
        then the person is called again and stays called."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            appointment = await self._find(conn, centre_id, appointment_id)
            if appointment.status != "called":
                raise Conflict(
                    "not_called", details={"status": appointment.status}, status=appointment.status
                )
            seq = await self.changes.next(conn, centre_id)
            if appointment.call_count >= MAX_CALLS and now >= self._no_show_from(appointment):
                return await q.update(
                    conn, appointment.id, status="no_show", finished_at=now, updated_at=now, change_seq=seq
                )
            return await q.update(
                conn,
                appointment.id,
                call_count=appointment.call_count + 1,
                called_at=now,
                updated_at=now,
                change_seq=seq,
            )

    async def outcome(self, centre_id: str, appointment_id: str, outcome: str) -> Appointment:
        allowed = {"served": ("called",), "no_show": ("booked", "checked_in", "called")}[outcome]
        now = self.clock.now()
        async with self.db.transaction() as conn:
            appointment = await self._find(conn, centre_id, appointment_id)
            if appointment.status == outcome:
                return appointment
            if appointment.status not in allowed:
                raise Conflict(
                    "invalid_transition",
                    details={"status": appointment.status, "outcome": outcome},
                    status=appointment.status,
                    outcome=outcome,
                )
            if outcome == "no_show" and now < (late_from := self._no_show_from(appointment)):
                when = late_from.astimezone(self.catalogue.centre(centre_id).zone).isoformat()
                raise Conflict("no_show_too_early", details={"from": when}, time=when)
            return await q.update(
                conn,
                appointment.id,
                status=outcome,
                finished_at=now,
                updated_at=now,
                change_seq=await self.changes.next(conn, centre_id),
            )

    def _no_show_from(self, appointment: Appointment) -> datetime:
        """From when the person may be recorded a no-show: the appointment's time plus the
        centre's `late_grace_minutes` (a walk-in, who has no time, at once)."""
        if appointment.walk_in:
            return appointment.created_at
        centre = self.catalogue.centre(appointment.centre_id)
        return appointment.start + timedelta(minutes=centre.queue.late_grace_minutes)


def _today(centre: Centre, appointment: Appointment, now: datetime) -> None:
    if appointment.local_date != local_today(centre, now):
        raise Conflict("not_today", details={"date": appointment.local_date.isoformat()})


def _locked() -> Conflict:
    return Conflict(
        "document_check_locked",
        details={"mismatches": MAX_DOCUMENT_MISMATCHES},
        mismatches=MAX_DOCUMENT_MISMATCHES,
    )


def _open_at(centre: Centre, now: datetime) -> bool:
    local = now.astimezone(centre.zone)
    if local.date() in centre.closed_days:
        return False
    wall = local.time().replace(tzinfo=None)
    return any(opens <= wall < closes for opens, closes in centre.hours.get(local.weekday(), ()))


async def _not_closed(conn: Connection, centre: Centre, now: datetime, counter_id: str | None = None) -> None:
    """409 centre_blocked while a block closes the whole centre (a typhoon signal): nobody is
    checked in, given a number or called then. A desk's block closes that desk only: given
    `counter_id`, 409 counter_blocked while a block closes that desk (it calls nobody)."""
    blocks = await q.blocks_between(conn, centre.id, now, now + _INSTANT)
    closing = [b for b in blocks if b.counter_id is None]
    code = "centre_blocked"
    if not closing and counter_id is not None:
        closing = [b for b in blocks if b.counter_id == counter_id]
        code = "counter_blocked"
    if closing:
        last = max(closing, key=lambda b: b.ends_at)
        until = last.ends_at.astimezone(centre.zone).isoformat()
        raise Conflict(code, details={"until": until, "reason": last.reason}, time=until, reason=last.reason)
