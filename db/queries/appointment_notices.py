"""Notices to riders about their appointments, written with their cause and sent later."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bayaffairs.storage import Connection


@dataclass(frozen=True)
class NoticeRow:
    id: int
    dedupe_key: str
    kind: str
    notifier: str
    appointment_id: str
    notification: dict[str, Any]
    not_after: datetime | None
    attempts: int


_COLUMNS = "id, dedupe_key, kind, notifier, appointment_id, notification, not_after, attempts"


async def enqueue(
    conn: Connection,
    *,
    dedupe_key: str,
    kind: str,
    notifier: str,
    appointment_id: str,
    notification: dict[str, Any],
    not_after: datetime | None,
    at: datetime,
    block_id: str | None = None,
) -> bool:
    """False when a notice with this key exists already (it is told once). A desk-closed notice
    names its block (`block_id`)."""
    status: str = await conn.execute(
        """
        INSERT INTO appointment_notices (dedupe_key, kind, notifier, appointment_id, notification,
            not_after, next_attempt_at, created_at, block_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) ON CONFLICT (dedupe_key) DO NOTHING
        """,
        dedupe_key,
        kind,
        notifier,
        appointment_id,
        notification,
        not_after,
        at,
        block_id,
    )
    return status.endswith(" 1")


# What a notice is about: the appointment still in the state the notice was written for. A
# reminder or a desk-closed notice is about an appointment still booked (rescheduled, cancelled or
# already checked in, it is dropped); an agency refusal is about its cancellation. A desk-closed
# notice is also about its block: removed, the time is open again and the notice is dropped.
_ABOUT = """
    EXISTS (SELECT 1 FROM appointments a WHERE a.id = n.appointment_id
            AND a.status = CASE n.kind WHEN 'agency_refused' THEN 'cancelled' ELSE 'booked' END)
"""
_BLOCK_GONE = """
    (n.block_id IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM counter_blocks b WHERE b.id = n.block_id AND b.removed_at IS NULL))
"""
_STALE = f"""
    n.sent_at IS NULL AND n.dropped_at IS NULL
    AND ((n.not_after IS NOT NULL AND n.not_after <= $1) OR NOT {_ABOUT} OR {_BLOCK_GONE})
"""
_DROP = f"""
    UPDATE appointment_notices n
    SET dropped_at = $1,
        last_error = CASE WHEN n.not_after IS NOT NULL AND n.not_after <= $1 THEN 'too late'
                          WHEN NOT {_ABOUT} AND n.kind = 'agency_refused'
                              THEN 'appointment no longer cancelled'
                          WHEN NOT {_ABOUT} THEN 'appointment no longer booked'
                          ELSE 'block removed' END
    WHERE {_STALE}
"""


async def drop_stale(conn: Connection, now: datetime) -> int:
    """Give up the unsent notices that may no longer go: past `not_after`, about an appointment
    no longer in the state they were written for, or about a block since removed. How many."""
    status: str = await conn.execute(_DROP, now)
    return int(status.split()[-1])


async def drop_if_stale(conn: Connection, notice_id: int, now: datetime) -> bool:
    """`drop_stale` for one notice, just before sending it: True when it was dropped (a notice
    claimed in time may be due to go out after a slow send before it, or its appointment may
    have changed since the claim)."""
    status: str = await conn.execute(_DROP + " AND n.id = $2", now, notice_id)
    return status.endswith(" 1")


async def claim_due(conn: Connection, now: datetime, limit: int, lease_until: datetime) -> list[NoticeRow]:
    """Due notices, leased to this worker until `lease_until` (sent again after it if the worker
    dies before recording the send: the notifier's idempotency key makes that one message); the
    most pressing first (soonest `not_after`), as they are to be sent."""
    records = await conn.fetch(
        f"""
        WITH claimed AS (
            UPDATE appointment_notices SET next_attempt_at = $3, attempts = attempts + 1
            WHERE id IN (
                SELECT id FROM appointment_notices
                WHERE sent_at IS NULL AND dropped_at IS NULL AND next_attempt_at <= $1
                  AND (not_after IS NULL OR not_after > $1)
                ORDER BY next_attempt_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
            RETURNING {_COLUMNS})
        SELECT * FROM claimed ORDER BY not_after NULLS LAST, id
        """,
        now,
        limit,
        lease_until,
    )
    return [NoticeRow(**dict(r)) for r in records]


async def mark_sent(conn: Connection, notice_id: int, at: datetime, message_id: str) -> None:
    await conn.execute(
        "UPDATE appointment_notices SET sent_at = $2, message_id = $3, last_error = NULL WHERE id = $1",
        notice_id,
        at,
        message_id,
    )


async def mark_failed(
    conn: Connection, notice_id: int, error: str, retry_at: datetime | None, at: datetime
) -> None:
    """Try again at `retry_at`, or drop it (None: a retry would be too late)."""
    await conn.execute(
        """
        UPDATE appointment_notices SET last_error = $2, next_attempt_at = coalesce($3, next_attempt_at),
            dropped_at = CASE WHEN $3::timestamptz IS NULL THEN $4::timestamptz END
        WHERE id = $1
        """,
        notice_id,
        error[:500],
        retry_at,
        at,
    )


async def for_appointment(conn: Connection, appointment_id: str) -> list[dict[str, Any]]:
    records = await conn.fetch(
        "SELECT * FROM appointment_notices WHERE appointment_id = $1 ORDER BY id", appointment_id
    )
    return [dict(r) for r in records]
