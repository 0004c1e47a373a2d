"""What the travel sweeper recovers: payments abandoned in `paying`, charges whose outcome is
unknown, and carrier holds given up on.

Workers share the work without meeting: a stuck payment is leased (its `updated_at` moved on,
under SKIP LOCKED).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bayaffairs.db.queries.travel_bookings import _BOOKING, BookingRow, _booking
from bayaffairs.storage import Connection

_INTENT = (
    "reference, booking_id, provider, account, amount, currency, fare_amount, fare_currency, fx_rate,"
    " created_at"
)


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


async def unsettled_charges(conn: Connection, booking_id: str) -> list[ChargeIntent]:
    """Charges asked of the provider whose outcome is not known: no row yet (the process died
    before recording it) or only `unknown` ones."""
    records = await conn.fetch(
        f"""
        SELECT {_INTENT} FROM travel_charge_intents
        WHERE booking_id = $1 AND settled_at IS NULL
        ORDER BY created_at, reference
        """,
        booking_id,
    )
    return [ChargeIntent(**dict(r)) for r in records]


async def unsettled_elsewhere(conn: Connection, older_than: datetime, limit: int) -> list[ChargeIntent]:
    """Unknown charges whose booking no longer waits for them (it is not `paying`): only a
    look-up at the provider settles them."""
    records = await conn.fetch(
        f"""
        SELECT {", ".join("i." + c.strip() for c in _INTENT.split(","))}
        FROM travel_charge_intents i JOIN travel_bookings b ON b.id = i.booking_id
        WHERE i.settled_at IS NULL AND i.created_at <= $1 AND b.status <> 'paying'
        ORDER BY i.created_at LIMIT $2
        """,
        older_than,
        limit,
    )
    return [ChargeIntent(**dict(r)) for r in records]


async def charge_attempts(conn: Connection, booking_id: str) -> int:
    """How many charges were ever asked for the booking (the next one's number)."""
    return int(
        await conn.fetchval("SELECT count(*) FROM travel_charge_intents WHERE booking_id = $1", booking_id)
    )


async def heard_of(conn: Connection, reference: str) -> bool:
    """Whether a payment row already answers (or records as unknown) this reference."""
    return bool(
        await conn.fetchval("SELECT EXISTS (SELECT 1 FROM travel_payments WHERE reference = $1)", reference)
    )


async def settle_intent(conn: Connection, reference: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE travel_charge_intents SET settled_at = $2 WHERE reference = $1 AND settled_at IS NULL",
        reference,
        at,
    )


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
