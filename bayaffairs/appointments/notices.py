"""Telling riders about their appointments: an outbox of notices, sent with the notifier's
idempotency key.

A notice is written in the transaction of its cause (`enqueue`: a reminder falling due, a desk
closed over the appointment, an agency refusing it), so a crash after the commit loses nothing
and a rolled-back cause tells nobody. `Notices.drain` leases due notices (SKIP LOCKED: one
worker each) and sends them with `dedupe_key` as the notifier's idempotency key: a worker that
dies between sending and recording it leaves the lease to run out, and the repeat is delivered
once. A failed send is retried with backoff, but never at or after the notice's `not_after` (a
reminder's is the appointment's start): a reminder is on time or not at all. A notice about an
appointment no longer in the state it was written for (a reminder or a desk-closed notice of one
rescheduled, cancelled or checked in since) is dropped unsent, and so is a desk-closed notice
whose block was removed since (the time is open again). Both are checked again just before
each send, not only at the claim: a batch's earlier sends may take long, and the rider may change
the appointment meanwhile. A notice that still fails after `MAX_ATTEMPTS` sends (about a day of
retries) is given up, dropped with the reason and logged as an error: a notifier that long
down needs an operator, and a notice then is no longer news.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import Any

from bayaffairs.adapters.protocols import Notification, Notifier
from bayaffairs.appointments import notice_texts
from bayaffairs.appointments.model import Appointment
from bayaffairs.backoff import doubling
from bayaffairs.clock import Clock
from bayaffairs.db.queries import appointment_notices as nq
from bayaffairs.errors import DomainError
from bayaffairs.i18n import Text
from bayaffairs.storage import Connection, Database

log = logging.getLogger("bayaffairs.appointments")

BATCH = 50
LEASE = timedelta(minutes=2)
FIRST_RETRY = timedelta(minutes=1)
LAST_RETRY = timedelta(minutes=30)
MAX_ATTEMPTS = 48  # 1, 2, 4, 8, 16 minutes, then every 30: about a day


async def enqueue(
    conn: Connection,
    *,
    kind: str,
    notifier: str | None,
    appointment_id: str,
    notification: Notification,
    not_after: datetime | None,
    now: datetime,
    block_id: str | None = None,
) -> bool:
    """Write a notice (once per `notification.dedupe_key`) in the caller's transaction; False
    when there is no notifier to send it or it was written before. A desk-closed notice names
    its block: removed before the notice goes out, the notice is dropped."""
    if notifier is None or notification.dedupe_key is None:
        return False
    return await nq.enqueue(
        conn,
        dedupe_key=notification.dedupe_key,
        kind=kind,
        notifier=notifier,
        appointment_id=appointment_id,
        notification=_encoded(notification),
        not_after=not_after,
        at=now,
        block_id=block_id,
    )


async def tell(
    conn: Connection,
    appointment: Appointment,
    kind: str,
    *,
    zone: tzinfo,
    notifier: str | None,
    language: str,
    dedupe_key: str,
    now: datetime,
    block_id: str | None = None,
    **params: str | Text,
) -> bool:
    """Write the notice `kind` (`notice_texts`) about `appointment` to its rider, with its local
    time (in `zone`, its centre's) and reference filled in besides `params`; news only until the
    appointment's start. False when nobody is to be told (no rider, no notifier) or it was
    written before."""
    if appointment.user_id is None:
        return False
    local = appointment.start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    text = notice_texts.render(kind, time=local, reference=appointment.reference, **params)
    notification = Notification(
        recipient=appointment.user_id,
        channel="app",
        subject=text.subject,
        body=text.body,
        language=language,
        dedupe_key=dedupe_key,
    )
    return await enqueue(
        conn,
        kind=kind,
        notifier=notifier,
        appointment_id=appointment.id,
        notification=notification,
        not_after=appointment.start,
        now=now,
        block_id=block_id,
    )


def _encoded(n: Notification) -> dict[str, Any]:
    return {
        "recipient": n.recipient,
        "channel": n.channel,
        "language": n.language,
        "subject": n.subject.as_dict(),
        "body": n.body.as_dict(),
    }


def _decoded(data: dict[str, Any], key: str) -> Notification:
    return Notification(
        recipient=data["recipient"],
        channel=data["channel"],
        subject=Text.from_mapping(data["subject"]),
        body=Text.from_mapping(data["body"]),
        language=data.get("language", "en"),
        dedupe_key=key,
    )


class Notices:
    def __init__(self, db: Database, clock: Clock, notifier: Callable[[str], Notifier | None]) -> None:
        self.db = db
        self.clock = clock
        self.notifier = notifier

    async def drain(self) -> int:
        """Send what is due; how many were sent."""
        now = self.clock.now()
        async with self.db.acquire() as conn:
            await nq.drop_stale(conn, now)
            due = await nq.claim_due(conn, now, BATCH, now + LEASE)
        sent = 0
        for row in due:
            async with self.db.acquire() as conn:
                if await nq.drop_if_stale(conn, row.id, self.clock.now()):
                    continue
            notifier = self.notifier(row.notifier)
            try:
                if notifier is None:
                    raise DomainError("partner_error", details={"why": f"notifier {row.notifier} off"})
                message_id = await notifier.send(_decoded(row.notification, row.dedupe_key))
            except Exception as exc:  # a notifier's failure of any kind: retried, never raised
                log.exception("notice %s failed", row.dedupe_key)
                await self._failed(row, exc)
                continue
            async with self.db.acquire() as conn:
                await nq.mark_sent(conn, row.id, self.clock.now(), message_id)
            sent += 1
        return sent

    async def _failed(self, row: nq.NoticeRow, exc: Exception) -> None:
        """Retry with backoff, or drop it when the retry would be at or after `not_after`, or
        after `MAX_ATTEMPTS` sends."""
        why = str(exc.details.get("why", exc.code)) if isinstance(exc, DomainError) else repr(exc)
        now = self.clock.now()
        retry: datetime | None = now + doubling(FIRST_RETRY, row.attempts, LAST_RETRY)
        if row.attempts >= MAX_ATTEMPTS:
            retry, why = None, f"gave up after {row.attempts} attempts: {why}"
        elif row.not_after is not None and retry is not None and retry >= row.not_after:
            retry = None
        async with self.db.acquire() as conn:
            await nq.mark_failed(conn, row.id, why, retry, now)
        if retry is None:
            log.error("notice %s dropped unsent: %s", row.dedupe_key, why)
