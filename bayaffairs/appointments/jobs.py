"""Background work: reminders before appointments, and pushing changes to remote agencies.

Both are safe with several workers: a reminder is claimed by a conditional UPDATE of rows
locked with SKIP LOCKED (`reminded_at IS NULL`) in the transaction that writes its notice, and
notices and outbox events are leased the same way.

A push failure never fails or undoes a booking: the booking is ours (capacity is counted here),
and the agency hears of it from the outbox, retried with backoff (1 min doubling to 1 h) for up
to `MAX_ATTEMPTS`; after that the event is marked failed for an operator to look at.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bayaffairs.adapters.protocols import AgencyEvent, CounterAgency, Notification, Notifier
from bayaffairs.appointments import notices
from bayaffairs.appointments.catalogue import Catalogue
from bayaffairs.appointments.changes import ChangeNumbers
from bayaffairs.appointments.model import Appointment
from bayaffairs.appointments.notices import Notices
from bayaffairs.backoff import doubling
from bayaffairs.clock import Clock
from bayaffairs.db.queries import agency_outbox as outbox_q
from bayaffairs.db.queries import appointments as q
from bayaffairs.errors import DomainError
from bayaffairs.i18n import Text
from bayaffairs.storage import Connection, Database

log = logging.getLogger("bayaffairs.appointments")

BATCH = 50
MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=1)  # the longest wait between two pushes of one event
LEASE = timedelta(minutes=2)


class Reminders:
    """A reminder at the agency's lead time: the appointment is marked reminded and its notice
    written in one transaction (`notices.py` sends it, on time or not at all)."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        catalogue: Catalogue,
        notifier: Callable[[str], Notifier | None],
        notices: Notices | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.catalogue = catalogue
        self.notifier = notifier
        self.notices = notices or Notices(db, clock, notifier)

    async def send_due(self) -> int:
        """Write the reminders that fell due, then send every due notice; how many were sent."""
        await self.enqueue_due()
        return await self.notices.drain()

    async def enqueue_due(self) -> int:
        now = self.clock.now()
        written = 0
        async with self.db.transaction() as conn:
            for appointment in await q.claim_due_reminders(conn, now, BATCH):
                centre = self.catalogue.centres.get(appointment.centre_id)
                service = self.catalogue.services.get(appointment.service_id)
                agency = self.catalogue.agencies.get(appointment.agency_id)
                if centre is None or service is None or agency is None or appointment.user_id is None:
                    continue
                if appointment.start <= now:
                    continue  # found too late (the job was down): no reminder after the start
                local = appointment.start.astimezone(centre.zone).strftime("%Y-%m-%d %H:%M")
                notification = Notification(
                    recipient=appointment.user_id,
                    channel="app",
                    subject=Text(
                        f"Appointment reminder: {service.name.en}",
                        f"預約提醒:{service.name.get('zh-Hant')}",
                        f"预约提醒:{service.name.get('zh-Hans')}",
                    ),
                    body=Text(
                        f"{local} at {centre.name.en}, reference {appointment.reference}.",
                        f"{local} 於{centre.name.get('zh-Hant')},預約編號 {appointment.reference}。",
                        f"{local} 于{centre.name.get('zh-Hans')},预约编号 {appointment.reference}。",
                    ),
                    dedupe_key=f"reminder:{appointment.id}",
                )
                written += await notices.enqueue(
                    conn,
                    kind="reminder",
                    notifier=agency.notifier,
                    appointment_id=appointment.id,
                    notification=notification,
                    not_after=appointment.start,
                    now=now,
                )
        return written


class AgencyOutbox:
    """A booking the agency refuses (a 4xx with its reason, `refused` in the error) is not retried:
    the appointment is cancelled with the agency's reason, its desk freed at once, and the rider
    told (an `agency_refused` notice), all in one transaction."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        agency: Callable[[str], CounterAgency | None],
        catalogue: Catalogue | None = None,
        *,
        changes: ChangeNumbers,
    ) -> None:
        self.db = db
        self.clock = clock
        self.agency = agency
        self.catalogue = catalogue
        self.changes = changes

    async def drain(self) -> int:
        now = self.clock.now()
        async with self.db.acquire() as conn:
            events = await outbox_q.claim_due(conn, now, BATCH, now + LEASE)
        pushed = 0
        for row in events:
            adapter = self.agency(row.agency_id)
            p = row.payload
            event = AgencyEvent(
                key=row.event_key,
                event=row.event,
                appointment_id=row.appointment_id,
                reference=p["reference"],
                centre_id=p["centre_id"],
                service_id=p["service_id"],
                start=datetime.fromisoformat(p["start"]),
                end=datetime.fromisoformat(p["end"]),
                fields=p.get("fields", {}),
            )
            try:
                if adapter is None:
                    raise DomainError("partner_error", details={"why": f"agency {row.agency_id} not enabled"})
                agency_reference = await adapter.push(event)
            except DomainError as exc:
                why = str(exc.details.get("why", exc.code))
                if "refused" in exc.details:
                    reason = str(exc.details.get("refusal") or exc.details["refused"])
                    await self._refused(row, event, why, reason)
                    continue
                retry = None
                if row.attempts < MAX_ATTEMPTS:
                    retry = self.clock.now() + doubling(FIRST_RETRY, row.attempts, LAST_RETRY)
                async with self.db.acquire() as conn:
                    await outbox_q.mark_failed_attempt(conn, row.id, why, retry, self.clock.now())
                continue
            async with self.db.acquire() as conn:
                await outbox_q.mark_sent(conn, row.id, self.clock.now(), agency_reference)
            pushed += 1
        return pushed

    async def _refused(self, row: outbox_q.OutboxRow, event: AgencyEvent, why: str, reason: str) -> None:
        """The agency said no: give up the event; a refused booking is cancelled and told."""
        now = self.clock.now()
        async with self.db.transaction() as conn:
            await outbox_q.mark_failed_attempt(conn, row.id, why, None, now)
            if event.event != "booked":
                return
            appointment = await q.get(conn, event.appointment_id, lock=True)
            if appointment is None or not appointment.active:
                return  # already cancelled or moved on: nothing more to undo
            cancelled = await q.update(
                conn,
                appointment.id,
                status="cancelled",
                cancel_reason=reason[:500],
                finished_at=now,
                updated_at=now,
                seat_held_until=None,
                change_seq=await self.changes.next(conn, appointment.centre_id),
            )
            await self._tell_rider(conn, cancelled, reason, now)

    async def _tell_rider(
        self, conn: Connection, appointment: Appointment, reason: str, now: datetime
    ) -> None:
        catalogue = self.catalogue
        if catalogue is None or appointment.user_id is None:
            return
        agency = catalogue.agencies.get(appointment.agency_id)
        service = catalogue.services.get(appointment.service_id)
        centre = catalogue.centres.get(appointment.centre_id)
        if agency is None or service is None or centre is None:
            return
        local = appointment.start.astimezone(centre.zone).strftime("%Y-%m-%d %H:%M")
        ref = appointment.reference
        note = Notification(
            recipient=appointment.user_id,
            channel="app",
            subject=Text(
                f"Appointment not accepted: {service.name.en}",
                f"預約未獲接納:{service.name.get('zh-Hant')}",
                f"预约未获接纳:{service.name.get('zh-Hans')}",
            ),
            body=Text(
                f"{agency.name.en} did not accept your appointment {ref} on {local}: {reason}. "
                "It is cancelled; please book again.",
                f"{agency.name.get('zh-Hant')} 未接納你 {local} 的預約 {ref}:{reason}。"
                "預約已取消,請重新預約。",
                f"{agency.name.get('zh-Hans')} 未接纳你 {local} 的预约 {ref}:{reason}。"
                "预约已取消,请重新预约。",
            ),
            dedupe_key=f"agency_refused:{appointment.id}",
        )
        await notices.enqueue(
            conn,
            kind="agency_refused",
            notifier=agency.notifier,
            appointment_id=appointment.id,
            notification=note,
            not_after=None,
            now=now,
        )
