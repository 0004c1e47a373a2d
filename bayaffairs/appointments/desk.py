"""The counter's side: a centre's day list and its changes, check-in, the queue, outcomes.

A counter credential is scoped to one centre; every method takes that centre and never finds
another centre's appointments (404). The change cursor is the centre's change number: numbers
are handed out under the centre's row lock, so they commit in order and a cursor read before
the list never skips a change that was still committing (it may repeat one, never miss one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from bayaffairs.appointments import qr
from bayaffairs.appointments.catalogue import Catalogue
from bayaffairs.appointments.model import Appointment, DayRow
from bayaffairs.appointments.slots import local_today
from bayaffairs.clock import Clock
from bayaffairs.db.queries import appointments as q
from bayaffairs.errors import Conflict, InvalidInput, NotFound
from bayaffairs.storage import Connection, Database

MAX_CALLS = 3  # called this often without showing up: no-show (ZMS callCountMax)


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
    def __init__(self, db: Database, clock: Clock, catalogue: Catalogue, keys: qr.AppointmentKeys) -> None:
        self.db = db
        self.clock = clock
        self.catalogue = catalogue
        self.keys = keys

    def today(self, centre_id: str) -> date:
        return local_today(self.catalogue.centre(centre_id), self.clock.now())

    async def cursor(self, centre_id: str) -> int:
        async with self.db.acquire() as conn:
            return await q.current_change(conn, centre_id)

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
        self, centre_id: str, appointment_id: str, qr_version: int | None = None
    ) -> Appointment:
        """Give a queue number; checking in again answers the same number."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            appointment = await self._find(conn, centre_id, appointment_id)
            if qr_version is not None and (
                qr_version != appointment.qr_version or appointment.status == "rescheduled"
            ):
                raise Conflict("code_superseded")
            if appointment.queue_number is not None and appointment.status in (
                "checked_in",
                "called",
                "served",
            ):
                return appointment
            if appointment.status != "booked":
                raise Conflict(
                    "appointment_not_active",
                    details={"status": appointment.status},
                    status=appointment.status,
                )
            if appointment.local_date != local_today(self.catalogue.centre(centre_id), now):
                raise Conflict("not_today", details={"date": appointment.local_date.isoformat()})
            number = await q.next_queue_number(conn, centre_id, appointment.local_date)
            return await q.update(
                conn,
                appointment.id,
                status="checked_in",
                queue_number=number,
                checked_in_at=now,
                updated_at=now,
                change_seq=await q.next_change(conn, centre_id),
            )

    async def call_next(self, centre_id: str, counter_id: str) -> Called:
        centre = self.catalogue.centre(centre_id)
        counter = centre.counter(counter_id)
        if counter is None:
            raise NotFound("counter_not_found")
        now = self.clock.now()
        async with self.db.transaction() as conn:
            waiting = await q.pick_next_waiting(
                conn, centre_id, local_today(centre, now), sorted(counter.services)
            )
            if waiting is None:
                return Called(counter_id, None)
            called = await q.update(
                conn,
                waiting.id,
                status="called",
                call_count=waiting.call_count + 1,
                called_at=now,
                called_by=counter_id,
                updated_at=now,
                change_seq=await q.next_change(conn, centre_id),
            )
        return Called(counter_id, called)

    async def recall(self, centre_id: str, appointment_id: str) -> Appointment:
        """Call the person again; after the third call without showing up, a no-show."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            appointment = await self._find(conn, centre_id, appointment_id)
            if appointment.status != "called":
                raise Conflict(
                    "not_called", details={"status": appointment.status}, status=appointment.status
                )
            seq = await q.next_change(conn, centre_id)
            if appointment.call_count >= MAX_CALLS:
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
            if outcome == "no_show":
                centre = self.catalogue.centre(centre_id)
                late_from = appointment.start + timedelta(minutes=centre.queue.late_grace_minutes)
                if now < late_from:
                    when = late_from.astimezone(centre.zone).isoformat()
                    raise Conflict("no_show_too_early", details={"from": when}, time=when)
            return await q.update(
                conn,
                appointment.id,
                status=outcome,
                finished_at=now,
                updated_at=now,
                change_seq=await q.next_change(conn, centre_id),
            )
