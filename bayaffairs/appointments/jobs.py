"""Background work: reminders before appointments, and pushing changes to remote agencies.

Both are safe with several workers: a reminder is claimed by a conditional UPDATE of rows
locked with SKIP LOCKED (`reminded_at IS NULL`) in the transaction that writes its notice, and
notices and outbox events are leased the same way.

A push failure never fails or undoes a booking: the booking is ours (capacity is counted here),
and the agency hears of it from the outbox, retried with backoff (1 min doubling to 1 h, or the
agency's `Retry-After` when that is longer, up to `RETRY_AFTER_CEILING`) for up to
`MAX_ATTEMPTS`; after that the event is marked failed for an operator to look at. Only the
agency's agreed refusal of a booking (`refused` in the adapter's error) cancels it: an error
that says nothing about the booking (our key refused, a 404, 409, 429, 5xx, a timeout) must not
take a rider's valid appointment away, so it is retried, logged (as an error when it is our own
credentials or the event is given up) and counted (`OutboxStats`, in /metrics).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bayaffairs.adapters.protocols import AgencyEvent, CounterAgency, Notifier
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
from bayaffairs.storage import Connection, Database

log = logging.getLogger("bayaffairs.appointments")

BATCH = 50
MAX_ATTEMPTS = 12
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(hours=1)  # the longest wait of our own backoff between two pushes
RETRY_AFTER_CEILING = timedelta(hours=6)  # the longest `Retry-After` of an agency's honoured
LEASE = timedelta(minutes=2)
_OUR_CREDENTIALS = frozenset({"401", "403"})  # the agency does not take our key: ours to fix


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
                written += await notices.tell(
                    conn,
                    appointment,
                    "reminder",
                    zone=centre.zone,
                    notifier=agency.notifier,
                    language=self.catalogue.notice_language(appointment),
                    dedupe_key=f"reminder:{appointment.id}",
                    now=now,
                    service=service.name,
                    centre=centre.name,
                )
        return written


@dataclass
class OutboxStats:
    """For /metrics: pushes per (agency, outcome): `sent`, `refused` (the agency's agreed
    refusal), `retried` (failed, tried again later) and `failed` (given up)."""

    pushes: dict[tuple[str, str], int] = field(default_factory=dict)

    def count(self, agency_id: str, outcome: str) -> None:
        self.pushes[agency_id, outcome] = self.pushes.get((agency_id, outcome), 0) + 1


def retry_wait(attempts: int, retry_after: object) -> timedelta:
    """The wait after `attempts` failed pushes: our backoff, or the agency's `Retry-After`
    (seconds) when that is longer, never more than `RETRY_AFTER_CEILING`."""
    wait = doubling(FIRST_RETRY, attempts, LAST_RETRY)
    if isinstance(retry_after, str) and retry_after.isascii() and retry_after.isdigit():
        asked = timedelta(seconds=min(int(retry_after), int(RETRY_AFTER_CEILING.total_seconds())))
        wait = max(wait, asked)
    return wait


class AgencyOutbox:
    """A booking the agency refuses (its agreed refusal, `refused` in the error) is not retried:
    the appointment is cancelled with the agency's reason, its desk freed at once, and the rider
    told (an `agency_refused` notice), all in one transaction. Every other failure is retried
    and never touches the appointment."""

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
        self.stats = OutboxStats()

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
                    log.warning("agency %s refused %s: %s", row.agency_id, row.event_key, why)
                    await self._refused(row, event, why, reason)
                    self.stats.count(row.agency_id, "refused")
                    continue
                await self._failed(row, why, exc)
                continue
            async with self.db.acquire() as conn:
                await outbox_q.mark_sent(conn, row.id, self.clock.now(), agency_reference)
            self.stats.count(row.agency_id, "sent")
            pushed += 1
        return pushed

    async def _failed(self, row: outbox_q.OutboxRow, why: str, exc: DomainError) -> None:
        """Not a decision about the booking: try again later (or give up after `MAX_ATTEMPTS`,
        for an operator), and say so in the log."""
        now = self.clock.now()
        retry = None
        if row.attempts < MAX_ATTEMPTS:
            retry = now + retry_wait(row.attempts, exc.details.get("retry_after"))
        async with self.db.acquire() as conn:
            await outbox_q.mark_failed_attempt(conn, row.id, why, retry, now)
        ours = str(exc.details.get("status")) in _OUR_CREDENTIALS
        log.log(
            logging.ERROR if retry is None or ours else logging.WARNING,
            "agency %s: push %s failed (attempt %d%s): %s; %s",
            row.agency_id,
            row.event_key,
            row.attempts,
            ", our credentials refused" if ours else "",
            why,
            f"retried at {retry.isoformat()}" if retry else "given up, left for an operator",
        )
        self.stats.count(row.agency_id, "retried" if retry else "failed")

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
        await notices.tell(
            conn,
            appointment,
            "agency_refused",
            zone=centre.zone,
            notifier=agency.notifier,
            language=catalogue.notice_language(appointment),
            dedupe_key=f"agency_refused:{appointment.id}",
            now=now,
            service=service.name,
            agency=agency.name,
            reason=reason,
        )
