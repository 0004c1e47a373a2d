"""What the travel sweeper recovers: payments abandoned in `paying`, charges asked of a provider
but never recorded, refunds the provider could not be reached for, and carrier holds given up on.

Workers share the work without meeting: a stuck payment is leased (its `updated_at` moved on,
under SKIP LOCKED), a refund is retried under an advisory lock on its reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bayaffairs.db.queries.travel_bookings import _BOOKING, BookingRow, _booking
from bayaffairs.storage import Connection


@dataclass(frozen=True)
class ChargeIntent:
    reference: str
    booking_id: str
    provider: str
    account: str
    amount: int
    currency: str
    fare_amount: int
    fare_currency: str
    fx_rate: Decimal
    created_at: datetime


@dataclass(frozen=True)
class RefundDue:
    reference: str
    last_id: str  # the latest failed attempt's row
    attempts: int
    last_at: datetime


async def insert_charge_intent(conn: Connection, intent: ChargeIntent) -> None:
    await conn.execute(
        """
        INSERT INTO travel_charge_intents (reference, booking_id, provider, account, amount, currency,
            fare_amount, fare_currency, fx_rate, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (reference) DO NOTHING
        """,
        intent.reference,
        intent.booking_id,
        intent.provider,
        intent.account,
        intent.amount,
        intent.currency,
        intent.fare_amount,
        intent.fare_currency,
        intent.fx_rate,
        intent.created_at,
    )


async def unrecorded_charges(conn: Connection, booking_id: str) -> list[ChargeIntent]:
    """Charges asked of the provider whose answer never made it into travel_payments."""
    records = await conn.fetch(
        """
        SELECT i.* FROM travel_charge_intents i
        WHERE i.booking_id = $1
          AND NOT EXISTS (SELECT 1 FROM travel_payments p WHERE p.reference = i.reference)
        ORDER BY i.created_at, i.reference
        """,
        booking_id,
    )
    return [ChargeIntent(**dict(r)) for r in records]


async def lease_abandoned_payments(
    conn: Connection, older_than: datetime, now: datetime, limit: int
) -> list[BookingRow]:
    """`paying` bookings untouched since `older_than`, leased to the caller by moving their
    `updated_at` to `now`: another worker skips them until they are that old again."""
    records = await conn.fetch(
        f"""
        WITH due AS (
            SELECT id FROM travel_bookings
            WHERE status = 'paying' AND updated_at <= $1
            ORDER BY updated_at LIMIT $3
            FOR UPDATE SKIP LOCKED
        )
        UPDATE travel_bookings b SET updated_at = $2
        FROM due WHERE b.id = due.id
        RETURNING {", ".join("b." + c.strip() for c in _BOOKING.split(","))}
        """,
        older_than,
        now,
        limit,
    )
    return [_booking(r) for r in records]


async def refunds_due(conn: Connection, since: datetime, limit: int) -> list[RefundDue]:
    """Refund references whose every attempt so far failed to reach the provider."""
    records = await conn.fetch(
        """
        WITH failed AS (
            SELECT DISTINCT reference FROM travel_payments
            WHERE kind = 'refund' AND NOT succeeded AND failure_code = 'provider_unreachable'
              AND created_at >= $1 AND reference IS NOT NULL
        )
        SELECT p.reference, count(*)::int AS attempts, max(p.created_at) AS last_at,
            (array_agg(p.id ORDER BY p.created_at DESC, p.id DESC))[1] AS last_id
        FROM travel_payments p JOIN failed USING (reference)
        GROUP BY p.reference
        HAVING NOT bool_or(p.succeeded) AND bool_and(p.failure_code = 'provider_unreachable')
        ORDER BY max(p.created_at) LIMIT $2
        """,
        since,
        limit,
    )
    return [RefundDue(**dict(r)) for r in records]


async def lock_reference(conn: Connection, reference: str) -> bool:
    """Take the transaction's advisory lock on a payment reference; False when another has it."""
    return bool(await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext('travel:' || $1))", reference))


async def reference_settled(conn: Connection, reference: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM travel_payments WHERE reference = $1 AND succeeded)", reference
        )
    )


GIVEN_UP = ("carrier_hold_failed", "carrier_unconfirmed")


async def holds_given_up(conn: Connection, since: datetime, limit: int) -> list[BookingRow]:
    """Bookings released because the carrier's hold failed or timed out (it may have held the
    seats and answered too late) or because its confirmation never got an answer (it may have
    sold them), not yet let go of at the carrier: never asked, or asked without an answer."""
    records = await conn.fetch(
        f"""
        SELECT {", ".join("b." + c.strip() for c in _BOOKING.split(","))} FROM travel_bookings b
        WHERE b.status = 'released' AND b.release_reason = ANY($3::text[]) AND b.updated_at >= $1
          AND NOT EXISTS (
            SELECT 1 FROM travel_carrier_releases r WHERE r.booking_id = b.id AND r.released_at IS NOT NULL
          )
        ORDER BY b.updated_at LIMIT $2
        """,
        since,
        limit,
        list(GIVEN_UP),
    )
    return [_booking(r) for r in records]


async def claim_carrier_release(conn: Connection, booking_id: str) -> bool:
    """Take a given-up booking's reference for releasing at the carrier (a row with released_at
    NULL) under the booking's row lock (run it in a transaction): from then on a retry of the
    hold never reuses the reference. False when the booking is no longer released (a retry held
    it again)."""
    locked = await conn.fetchval(
        """
        SELECT id FROM travel_bookings
        WHERE id = $1 AND status = 'released' AND release_reason = ANY($2::text[])
        FOR UPDATE
        """,
        booking_id,
        list(GIVEN_UP),
    )
    if locked is None:
        return False
    await conn.execute(
        "INSERT INTO travel_carrier_releases (booking_id, released_at) VALUES ($1, NULL)"
        " ON CONFLICT (booking_id) DO NOTHING",
        booking_id,
    )
    return True


async def mark_released_at_carrier(conn: Connection, booking_id: str, at: datetime) -> None:
    await conn.execute(
        """
        INSERT INTO travel_carrier_releases (booking_id, released_at) VALUES ($1, $2)
        ON CONFLICT (booking_id) DO UPDATE SET released_at = excluded.released_at
        WHERE travel_carrier_releases.released_at IS NULL
        """,
        booking_id,
        at,
    )


async def lease_payment(
    conn: Connection, booking_id: str, older_than: datetime, now: datetime
) -> BookingRow | None:
    """Lease one `paying` booking as `lease_abandoned_payments` does (its `updated_at` moved to
    `now`), if nobody holds it: untouched since `older_than`. None when another holds it."""
    record = await conn.fetchrow(
        f"""
        UPDATE travel_bookings SET updated_at = $3
        WHERE id = $1 AND status = 'paying' AND updated_at <= $2
        RETURNING {_BOOKING}
        """,
        booking_id,
        older_than,
        now,
    )
    return _booking(record) if record else None


async def end_lease(conn: Connection, booking_id: str, leased_at: datetime, free_from: datetime) -> None:
    """Hand a `paying` booking's lease back (its `updated_at` set to `free_from`, already old
    enough to lease), if it is still the one taken at `leased_at`."""
    await conn.execute(
        "UPDATE travel_bookings SET updated_at = $3 WHERE id = $1 AND status = 'paying' AND updated_at = $2",
        booking_id,
        leased_at,
        free_from,
    )
