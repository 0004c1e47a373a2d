"""Events for remote agencies, written with the change and pushed later with retries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bayaffairs.storage import Connection


@dataclass(frozen=True)
class OutboxRow:
    id: int
    agency_id: str
    appointment_id: str
    event: str
    event_key: str
    payload: dict[str, Any]
    attempts: int


_COLUMNS = "id, agency_id, appointment_id, event, event_key, payload, attempts"


async def enqueue(
    conn: Connection,
    *,
    agency_id: str,
    appointment_id: str,
    event: str,
    event_key: str,
    payload: dict[str, Any],
    at: datetime,
    follows: str | None = None,
) -> None:
    """`follows`: the appointment this one replaces (a reschedule's old one): the event joins
    its chain, so it is pushed after that appointment's earlier events."""
    await conn.execute(
        """
        INSERT INTO agency_outbox (agency_id, appointment_id, event, event_key, payload, next_attempt_at,
            created_at, chain_id)
        VALUES ($1, $2, $3, $4, $5, $6, $6, coalesce(
            (SELECT chain_id FROM agency_outbox WHERE appointment_id = $7 ORDER BY id LIMIT 1), $2))
        ON CONFLICT (event_key) DO NOTHING
        """,
        agency_id,
        appointment_id,
        event,
        event_key,
        payload,
        at,
        follows,
    )


async def claim_due(conn: Connection, now: datetime, limit: int, lease_until: datetime) -> list[OutboxRow]:
    """Due events, each behind no earlier unsent event of its chain (its appointment and those it
    was rescheduled from); leased to this worker (pushed again after `lease_until` if the worker
    dies)."""
    records = await conn.fetch(
        f"""
        UPDATE agency_outbox SET next_attempt_at = $3, attempts = attempts + 1
        WHERE id IN (
            SELECT o.id FROM agency_outbox o
            WHERE o.sent_at IS NULL AND o.failed_at IS NULL AND o.next_attempt_at <= $1
              AND NOT EXISTS (
                  SELECT 1 FROM agency_outbox e
                  WHERE e.chain_id = o.chain_id AND e.id < o.id
                    AND e.sent_at IS NULL AND e.failed_at IS NULL)
            ORDER BY o.id LIMIT $2 FOR UPDATE SKIP LOCKED)
        RETURNING {_COLUMNS}
        """,
        now,
        limit,
        lease_until,
    )
    return [OutboxRow(**dict(r)) for r in records]


async def mark_sent(conn: Connection, event_id: int, at: datetime, agency_reference: str) -> None:
    await conn.execute(
        "UPDATE agency_outbox SET sent_at = $2, agency_reference = $3, last_error = NULL WHERE id = $1",
        event_id,
        at,
        agency_reference,
    )


async def mark_failed_attempt(
    conn: Connection, event_id: int, error: str, retry_at: datetime | None, at: datetime
) -> None:
    """Try again at `retry_at`, or give up (None) and leave it for an operator."""
    await conn.execute(
        """
        UPDATE agency_outbox SET last_error = $2, next_attempt_at = coalesce($3, next_attempt_at),
            failed_at = CASE WHEN $3::timestamptz IS NULL THEN $4::timestamptz END
        WHERE id = $1
        """,
        event_id,
        error[:500],
        retry_at,
        at,
    )


async def for_appointment(conn: Connection, appointment_id: str) -> list[dict[str, Any]]:
    records = await conn.fetch(
        "SELECT * FROM agency_outbox WHERE appointment_id = $1 ORDER BY id", appointment_id
    )
    return [dict(r) for r in records]
