"""The refund outbox: refunds owed, written in the transaction that decides them, then leased one
at a time by whoever works them off (the request that wrote them, or the sweeper)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bayaffairs.storage import Connection

_REFUND = (
    "id, booking_id, charge_id, reason, amount, currency, fare_amount, fare_currency, passengers,"
    " carrier_cancel, carrier_done_at, status, attempts, next_attempt_at, leased_until, last_error,"
    " created_at, done_at"
)


@dataclass(frozen=True)
class RefundRow:
    id: str
    booking_id: str
    charge_id: str
    reason: str
    amount: int
    currency: str
    fare_amount: int
    fare_currency: str
    passengers: list[int] | None
    carrier_cancel: bool
    carrier_done_at: datetime | None
    status: str  # pending | done | stuck | superseded
    attempts: int
    next_attempt_at: datetime
    leased_until: datetime | None
    last_error: str | None
    created_at: datetime
    done_at: datetime | None


def _row(record: Any) -> RefundRow:
    data = dict(record)
    data["passengers"] = list(data["passengers"]) if data["passengers"] is not None else None
    return RefundRow(**data)


async def insert(conn: Connection, row: RefundRow) -> None:
    await conn.execute(
        f"""
        INSERT INTO travel_refunds ({_REFUND})
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
        """,
        row.id,
        row.booking_id,
        row.charge_id,
        row.reason,
        row.amount,
        row.currency,
        row.fare_amount,
        row.fare_currency,
        row.passengers,
        row.carrier_cancel,
        row.carrier_done_at,
        row.status,
        row.attempts,
        row.next_attempt_at,
        row.leased_until,
        row.last_error,
        row.created_at,
        row.done_at,
    )


async def lock_charge(conn: Connection, charge_id: str) -> None:
    """Lock a charge's payment row (a row lock: the append-only trigger is not involved) so that
    refunds of it are decided one at a time."""
    await conn.execute("SELECT 1 FROM travel_payments WHERE id = $1 FOR UPDATE", charge_id)


async def owed_for_charge(conn: Connection, charge_id: str) -> int:
    """What is already owed back (or paid back) of a charge."""
    return int(
        await conn.fetchval(
            "SELECT coalesce(sum(amount), 0) FROM travel_refunds"
            " WHERE charge_id = $1 AND status <> 'superseded'",
            charge_id,
        )
    )


async def of_bookings(conn: Connection, booking_ids: Sequence[str]) -> list[RefundRow]:
    records = await conn.fetch(
        f"""
        SELECT {_REFUND} FROM travel_refunds WHERE booking_id = ANY($1::text[])
        ORDER BY booking_id, created_at, id
        """,
        list(booking_ids),
    )
    return [_row(r) for r in records]


async def lease(conn: Connection, refund_id: str, now: datetime, until: datetime) -> RefundRow | None:
    """Take a pending refund that is due and nobody works on (until `until`); None otherwise."""
    record = await conn.fetchrow(
        f"""
        UPDATE travel_refunds SET leased_until = $3
        WHERE id = $1 AND status = 'pending' AND next_attempt_at <= $2
          AND (leased_until IS NULL OR leased_until <= $2)
        RETURNING {_REFUND}
        """,
        refund_id,
        now,
        until,
    )
    return _row(record) if record else None


async def due(conn: Connection, now: datetime, limit: int) -> list[str]:
    records = await conn.fetch(
        """
        SELECT id FROM travel_refunds
        WHERE status = 'pending' AND next_attempt_at <= $1 AND (leased_until IS NULL OR leased_until <= $1)
        ORDER BY next_attempt_at LIMIT $2
        """,
        now,
        limit,
    )
    return [r["id"] for r in records]


async def carrier_done(conn: Connection, refund_id: str, at: datetime) -> None:
    await conn.execute("UPDATE travel_refunds SET carrier_done_at = $2 WHERE id = $1", refund_id, at)


async def finish(conn: Connection, refund_id: str, status: str, at: datetime, error: str | None) -> None:
    """End a leased refund after an attempt: `done` or `stuck` (with the last error)."""
    await conn.execute(
        """
        UPDATE travel_refunds SET status = $2, done_at = $3, last_error = coalesce($4, last_error),
            leased_until = NULL, attempts = attempts + 1
        WHERE id = $1 AND status = 'pending'
        """,
        refund_id,
        status,
        at,
        error,
    )


async def failed_attempt(
    conn: Connection, refund_id: str, error: str, next_attempt_at: datetime, give_up_after: int
) -> str:
    """Count a failed attempt: due again at `next_attempt_at`, or `stuck` once it has failed
    `give_up_after` times. The refund's status after it."""
    status = await conn.fetchval(
        """
        UPDATE travel_refunds SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3,
            leased_until = NULL,
            status = CASE WHEN attempts + 1 >= $4 THEN 'stuck' ELSE status END
        WHERE id = $1 AND status = 'pending'
        RETURNING status
        """,
        refund_id,
        error,
        next_attempt_at,
        give_up_after,
    )
    return str(status)


async def supersede(conn: Connection, booking_id: str, reason: str, now: datetime) -> bool:
    """Drop a booking's refund of `reason` that has not started and still waits for a later
    time (never attempted, not leased, not due): the rider took another remedy. False when it
    has started, is due or is done."""
    done = await conn.fetchval(
        """
        UPDATE travel_refunds SET status = 'superseded', done_at = $3
        WHERE booking_id = $1 AND reason = $2 AND status = 'pending' AND attempts = 0
          AND carrier_done_at IS NULL AND next_attempt_at > $3
          AND (leased_until IS NULL OR leased_until <= $3)
        RETURNING id
        """,
        booking_id,
        reason,
        now,
    )
    return done is not None


async def listing(conn: Connection, status: str, *, after: str | None, limit: int) -> list[RefundRow]:
    """Refunds of one status, oldest first (a cursor is the last id seen)."""
    records = await conn.fetch(
        f"""
        SELECT {_REFUND} FROM travel_refunds
        WHERE status = $1 AND ($2::text IS NULL OR (created_at, id) >
            (SELECT created_at, id FROM travel_refunds WHERE id = $2))
        ORDER BY created_at, id LIMIT $3
        """,
        status,
        after,
        limit,
    )
    return [_row(r) for r in records]


async def bring_forward(conn: Connection, booking_id: str, reason: str, now: datetime) -> list[str]:
    """Make a booking's pending refunds of `reason` due now; their ids."""
    records = await conn.fetch(
        """
        UPDATE travel_refunds SET next_attempt_at = $3
        WHERE booking_id = $1 AND reason = $2 AND status = 'pending' AND next_attempt_at > $3
        RETURNING id
        """,
        booking_id,
        reason,
        now,
    )
    return [r["id"] for r in records]


async def offer_open(conn: Connection, booking_id: str, reason: str, now: datetime) -> RefundRow | None:
    """A booking's refund of `reason` that has not started and waits for a later time: while it
    does, the rider may take a move instead."""
    record = await conn.fetchrow(
        f"""
        SELECT {_REFUND} FROM travel_refunds
        WHERE booking_id = $1 AND reason = $2 AND status = 'pending' AND attempts = 0
          AND carrier_done_at IS NULL AND next_attempt_at > $3
          AND (leased_until IS NULL OR leased_until <= $3)
        """,
        booking_id,
        reason,
        now,
    )
    return _row(record) if record else None
