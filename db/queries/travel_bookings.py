"""Bookings, their passengers, payments and refunds (append-only), and tickets.

A booking's status moves only by conditional UPDATEs (`WHERE status = ...`), so two actors
racing (the payment and the expiry sweeper, two boarding scans) find exactly one winner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bayaffairs.storage import Connection, Record, returned
from bayaffairs.travel.model import BookingStatus, PaymentKind, TicketStatus

_BOOKING = (
    "id, user_id, departure_id, carrier, fare_class, seats, status, release_reason, total_amount,"
    " currency, expires_at, carrier_reference, created_at, updated_at, request_key, moved_from"
)
_PAYMENT = (
    "id, booking_id, kind, succeeded, amount, currency, fare_amount, fare_currency, fx_rate,"
    " provider, provider_reference, failure_code, charge_id, created_at, reference, outcome"
)
_TICKET = "id, booking_id, position, departure_id, carrier, payload, status, boarded_at, created_at"


@dataclass(frozen=True)
class BookingRow:
    id: str
    user_id: str
    departure_id: str
    carrier: str
    fare_class: str
    seats: int
    status: BookingStatus
    release_reason: str | None
    total_amount: int
    currency: str
    expires_at: datetime
    carrier_reference: str | None
    created_at: datetime
    updated_at: datetime
    request_key: str | None = None  # the rider's Idempotency-Key of the hold, if one was given
    moved_from: str | None = None  # the cancelled departure the rider moved it from


@dataclass(frozen=True)
class PassengerRow:
    booking_id: str
    position: int
    document_id: str
    document_type: str
    holder_name: str
    fingerprint: bytes | None = None  # the document's (keyed HMAC of type and number)
    number_masked: str = ""
    category: str = "adult"
    fare_amount: int = 0  # this passenger's fare, in the carrier's currency
    onward_flight: str | None = None
    onward_departs_at: datetime | None = None
    active: bool = True  # holds a seat: its booking is held, paying or confirmed, itself not cancelled
    cancelled_at: datetime | None = None

    @property
    def id(self) -> str:
        """The passenger's id: also what the carrier knows them by."""
        return f"{self.booking_id}.{self.position}"


_PASSENGER = (
    "booking_id, position, document_id, document_type, holder_name, fingerprint, number_masked,"
    " category, fare_amount, onward_flight, onward_departs_at, active, cancelled_at"
)


@dataclass(frozen=True)
class PaymentRow:
    id: str
    booking_id: str
    kind: PaymentKind
    succeeded: bool
    amount: int
    currency: str
    fare_amount: int
    fare_currency: str
    fx_rate: Decimal
    provider: str
    provider_reference: str | None
    failure_code: str | None
    charge_id: str | None
    created_at: datetime
    reference: str | None = None  # our idempotency reference at the provider
    outcome: str = ""  # succeeded | failed | unknown (the provider's answer was never heard)

    @property
    def result(self) -> str:
        return self.outcome or ("succeeded" if self.succeeded else "failed")


@dataclass(frozen=True)
class TicketRow:
    id: str
    booking_id: str
    position: int
    departure_id: str
    carrier: str
    payload: str
    status: TicketStatus
    boarded_at: datetime | None
    created_at: datetime


def _booking(record: Record) -> BookingRow:
    return BookingRow(**dict(record))


async def lock_departure(conn: Connection, departure_id: str) -> tuple[dict[str, tuple[int, int]], bool]:
    """The departure's free seats and fare per fare class, and whether it is off sale (cancelled,
    or withdrawn from the carrier's timetable); its seat
    rows locked (in fare class order) until the transaction ends: every change to who holds a
    seat on it, and its cancellation, waits."""
    records = await conn.fetch(
        """
        SELECT i.fare_class, i.capacity - i.sold - i.held AS free, i.fare_amount,
            d.cancelled_at IS NOT NULL OR d.withdrawn_at IS NOT NULL AS cancelled
        FROM travel_inventory i JOIN travel_departures d ON d.id = i.departure_id
        WHERE i.departure_id = $1 ORDER BY i.fare_class
        FOR UPDATE OF i
        """,
        departure_id,
    )
    seats = {r["fare_class"]: (r["free"], r["fare_amount"]) for r in records}
    return seats, any(r["cancelled"] for r in records)


async def lock_riders(conn: Connection, user_ids: Sequence[str]) -> None:
    """Take the transaction's advisory lock on each rider's holds, in one order (no deadlock);
    after it, a rider's count of unpaid bookings cannot change under the caller. Take it after
    the departure's seat rows, never before."""
    await conn.execute(
        """
        SELECT pg_advisory_xact_lock(hashtextextended('travel-rider:' || u, 0))
        FROM (SELECT DISTINCT unnest($1::text[]) AS u ORDER BY 1) riders
        """,
        list(user_ids),
    )


async def taken(
    conn: Connection, departure_id: str, fingerprints: Sequence[bytes], user_ids: Sequence[str]
) -> tuple[set[bytes], dict[str, int]]:
    """Of these documents, those already holding a seat on the departure; and each rider's
    unpaid bookings (held or paying). Read after the locks above, so both stay true until the
    transaction ends."""
    records = await conn.fetch(
        """
        SELECT 'seat' AS kind, fingerprint, NULL::text AS user_id, 0 AS n FROM travel_passengers
        WHERE departure_id = $1 AND active AND fingerprint = ANY($2::bytea[])
        UNION ALL
        SELECT 'rider', NULL, user_id, count(*)::int FROM travel_bookings
        WHERE user_id = ANY($3::text[]) AND status IN ('held', 'paying')
        GROUP BY user_id
        """,
        departure_id,
        list(fingerprints),
        list(user_ids),
    )
    seats = {bytes(r["fingerprint"]) for r in records if r["kind"] == "seat"}
    return seats, {r["user_id"]: r["n"] for r in records if r["kind"] == "rider"}


async def hold_many(
    conn: Connection, departure_id: str, bookings: Sequence[tuple[BookingRow, Sequence[PassengerRow]]]
) -> None:
    """Take the seats of all `bookings` (of one departure, any fare classes) and insert them
    held, with their totals as given, and their passengers, in one statement. The seat UPDATE
    is still conditional per fare class: if the seats are not free, nothing is written and
    this raises."""
    passengers = [p for _, ps in bookings for p in ps]
    wanted: dict[str, int] = {}
    for b, _ in bookings:
        wanted[b.fare_class] = wanted.get(b.fare_class, 0) + b.seats
    taken_classes = await conn.fetchval(
        f"""
        WITH seat AS (
            UPDATE travel_inventory i SET held = i.held + s.n
            FROM unnest($2::text[], $3::int[]) AS s(fare_class, n)
            WHERE i.departure_id = $1 AND i.fare_class = s.fare_class AND i.capacity - i.sold - i.held >= s.n
            RETURNING 1
        ), booking AS (
            INSERT INTO travel_bookings ({_BOOKING})
            SELECT b.id, b.user_id, $1, b.carrier, b.fare_class, b.seats, 'held', NULL, b.total, b.currency,
                b.expires_at, NULL, b.created_at, b.created_at, b.request_key, NULL
            FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::int[], $10::text[],
                $11::timestamptz[], $12::timestamptz[], $13::text[])
                AS b(id, user_id, carrier, fare_class, seats, total, currency, expires_at, created_at,
                    request_key)
            WHERE (SELECT count(*) FROM seat) = cardinality($2::text[])
            RETURNING id
        ), riders AS (
            INSERT INTO travel_passengers (booking_id, position, document_id, document_type, holder_name,
                departure_id, fingerprint, number_masked, category, fare_amount, onward_flight,
                onward_departs_at)
            SELECT p.booking_id, p.position, p.document_id, p.document_type, p.holder_name, $1,
                p.fingerprint, p.number_masked, p.category, p.fare_amount, p.onward_flight,
                p.onward_departs_at
            FROM unnest($14::text[], $15::int[], $16::text[], $17::text[], $18::text[], $19::bytea[],
                $20::text[], $21::text[], $22::int[], $23::text[], $24::timestamptz[])
                AS p(booking_id, position, document_id, document_type, holder_name, fingerprint,
                    number_masked, category, fare_amount, onward_flight, onward_departs_at)
            JOIN booking ON booking.id = p.booking_id
        )
        SELECT count(*) FROM seat
        """,
        departure_id,
        list(wanted),
        list(wanted.values()),
        [b.id for b, _ in bookings],
        [b.user_id for b, _ in bookings],
        [b.carrier for b, _ in bookings],
        [b.fare_class for b, _ in bookings],
        [b.seats for b, _ in bookings],
        [b.total_amount for b, _ in bookings],
        [b.currency for b, _ in bookings],
        [b.expires_at for b, _ in bookings],
        [b.created_at for b, _ in bookings],
        [b.request_key for b, _ in bookings],
        [p.booking_id for p in passengers],
        [p.position for p in passengers],
        [p.document_id for p in passengers],
        [p.document_type for p in passengers],
        [p.holder_name for p in passengers],
        [p.fingerprint for p in passengers],
        [p.number_masked for p in passengers],
        [p.category for p in passengers],
        [p.fare_amount for p in passengers],
        [p.onward_flight for p in passengers],
        [p.onward_departs_at for p in passengers],
    )
    if taken_classes != len(wanted):
        raise RuntimeError(f"seats of {departure_id} not free for a batch computed under lock")


async def get(conn: Connection, booking_id: str, user_id: str | None = None) -> BookingRow | None:
    record = await conn.fetchrow(
        f"SELECT {_BOOKING} FROM travel_bookings WHERE id = $1 AND ($2::text IS NULL OR user_id = $2)",
        booking_id,
        user_id,
    )
    return _booking(record) if record else None


async def latest_for_key(conn: Connection, user_id: str, request_key: str) -> BookingRow | None:
    """The newest booking a hold with this Idempotency-Key made for the rider."""
    record = await conn.fetchrow(
        f"""
        SELECT {_BOOKING} FROM travel_bookings WHERE user_id = $1 AND request_key = $2
        ORDER BY created_at DESC, id DESC LIMIT 1
        """,
        user_id,
        request_key,
    )
    return _booking(record) if record else None


async def lock_retryable(conn: Connection, booking_id: str) -> BookingRow | None:
    """A booking released because the carrier's hold failed, whose reference the sweeper has not
    taken to release at the carrier (`travel_carrier_releases`), locked (as the sweeper's claim
    locks it, so the two never both win); None when it is no longer such a booking."""
    record = await conn.fetchrow(
        f"""
        SELECT {_BOOKING} FROM travel_bookings b
        WHERE id = $1 AND status = 'released' AND release_reason = 'carrier_hold_failed'
          AND NOT EXISTS (SELECT 1 FROM travel_carrier_releases r WHERE r.booking_id = b.id)
        FOR UPDATE
        """,
        booking_id,
    )
    return _booking(record) if record else None


async def hold_again(
    conn: Connection, booking: BookingRow, total: int, expires_at: datetime, at: datetime
) -> BookingRow | None:
    """Take a locked, retryable booking's seats again under the same id: the booking held, or
    None when its seats are gone (nothing written)."""
    taken_seats = await conn.fetchval(
        """
        UPDATE travel_inventory SET held = held + $3
        WHERE departure_id = $1 AND fare_class = $2 AND capacity - sold - held >= $3
        RETURNING 1
        """,
        booking.departure_id,
        booking.fare_class,
        booking.seats,
    )
    if taken_seats is None:
        return None
    held = await conn.fetchrow(
        f"""
        UPDATE travel_bookings SET status = 'held', release_reason = NULL, expires_at = $2,
            total_amount = $3, updated_at = $4
        WHERE id = $1
        RETURNING {_BOOKING}
        """,
        booking.id,
        expires_at,
        total,
        at,
    )
    return _booking(returned(held))


async def list_for_user(conn: Connection, user_id: str, *, after: str | None, limit: int) -> list[BookingRow]:
    """Newest first."""
    records = await conn.fetch(
        f"""
        SELECT {_BOOKING} FROM travel_bookings
        WHERE user_id = $1 AND ($2::text IS NULL OR id < $2)
        ORDER BY id DESC LIMIT $3
        """,
        user_id,
        after,
        limit,
    )
    return [_booking(r) for r in records]


async def passengers(conn: Connection, booking_ids: Sequence[str]) -> list[PassengerRow]:
    records = await conn.fetch(
        f"""
        SELECT {_PASSENGER}
        FROM travel_passengers WHERE booking_id = ANY($1::text[]) ORDER BY booking_id, position
        """,
        list(booking_ids),
    )
    return [PassengerRow(**dict(r)) for r in records]


async def move(
    conn: Connection,
    booking_id: str,
    *,
    from_status: Sequence[BookingStatus],
    to_status: BookingStatus,
    at: datetime,
    reason: str | None = None,
    unexpired_at: datetime | None = None,
) -> BookingRow | None:
    """Move the booking to `to_status` if it is in one of `from_status` (and, when
    `unexpired_at` is given, its hold has not expired by then); None when it was not."""
    record = await conn.fetchrow(
        f"""
        UPDATE travel_bookings SET status = $3, updated_at = $4,
            release_reason = coalesce($5, release_reason)
        WHERE id = $1 AND status = ANY($2::text[])
          AND ($6::timestamptz IS NULL OR expires_at > $6)
        RETURNING {_BOOKING}
        """,
        booking_id,
        list(from_status),
        to_status,
        at,
        reason,
        unexpired_at,
    )
    return _booking(record) if record else None


async def held_at_carrier(
    conn: Connection, booking_id: str, reference: str | None, expires_at: datetime
) -> None:
    """What the carrier's hold said: its own id for it (None: our booking id) and the expiry
    that now bounds ours (never later than it was)."""
    await conn.execute(
        """
        UPDATE travel_bookings SET carrier_reference = coalesce($2, carrier_reference),
            expires_at = least(expires_at, $3)
        WHERE id = $1
        """,
        booking_id,
        reference,
        expires_at,
    )


async def set_carrier_reference(conn: Connection, booking_id: str, reference: str) -> None:
    await conn.execute(
        "UPDATE travel_bookings SET carrier_reference = $2 WHERE id = $1", booking_id, reference
    )


async def expire_held(conn: Connection, now: datetime, limit: int) -> list[BookingRow]:
    """Release holds expired by `now` and give their seats back, `limit` at a time. Rows another
    worker (or a payment) has locked are skipped, never waited for."""
    records = await conn.fetch(
        f"""
        WITH due AS (
            SELECT id FROM travel_bookings
            WHERE status = 'held' AND expires_at <= $1
            ORDER BY expires_at LIMIT $2
            FOR UPDATE SKIP LOCKED
        ), released AS (
            UPDATE travel_bookings b SET status = 'released', release_reason = 'expired', updated_at = $1
            FROM due WHERE b.id = due.id AND b.status = 'held'
            RETURNING b.*
        ), seats AS (
            UPDATE travel_inventory i SET held = i.held - s.n
            FROM (SELECT departure_id, fare_class, sum(seats)::int AS n FROM released
                  GROUP BY departure_id, fare_class) s
            WHERE i.departure_id = s.departure_id AND i.fare_class = s.fare_class
        )
        SELECT {_BOOKING} FROM released
        """,
        now,
        limit,
    )
    return [_booking(r) for r in records]


async def insert_payment(conn: Connection, row: PaymentRow) -> None:
    await conn.execute(
        f"""
        INSERT INTO travel_payments ({_PAYMENT})
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
        """,
        row.id,
        row.booking_id,
        row.kind,
        row.succeeded,
        row.amount,
        row.currency,
        row.fare_amount,
        row.fare_currency,
        row.fx_rate,
        row.provider,
        row.provider_reference,
        row.failure_code,
        row.charge_id,
        row.created_at,
        row.reference,
        row.result,
    )


async def payment(conn: Connection, payment_id: str) -> PaymentRow | None:
    record = await conn.fetchrow(f"SELECT {_PAYMENT} FROM travel_payments WHERE id = $1", payment_id)
    return None if record is None else PaymentRow(**dict(record))


async def payments(conn: Connection, booking_id: str) -> list[PaymentRow]:
    records = await conn.fetch(
        f"SELECT {_PAYMENT} FROM travel_payments WHERE booking_id = $1 ORDER BY created_at, id", booking_id
    )
    return [PaymentRow(**dict(r)) for r in records]


async def payments_of(conn: Connection, booking_ids: Sequence[str]) -> list[PaymentRow]:
    """The payments of several bookings in one query, each booking's in order."""
    records = await conn.fetch(
        f"""
        SELECT {_PAYMENT} FROM travel_payments
        WHERE booking_id = ANY($1::text[]) ORDER BY booking_id, created_at, id
        """,
        list(booking_ids),
    )
    return [PaymentRow(**dict(r)) for r in records]


async def insert_tickets(conn: Connection, tickets: Sequence[TicketRow]) -> None:
    await conn.execute(
        f"""
        INSERT INTO travel_tickets ({_TICKET})
        SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::timestamptz[], $9::timestamptz[])
        """,
        [t.id for t in tickets],
        [t.booking_id for t in tickets],
        [t.position for t in tickets],
        [t.departure_id for t in tickets],
        [t.carrier for t in tickets],
        [t.payload for t in tickets],
        [t.status for t in tickets],
        [t.boarded_at for t in tickets],
        [t.created_at for t in tickets],
    )


async def tickets(conn: Connection, booking_ids: Sequence[str]) -> list[TicketRow]:
    records = await conn.fetch(
        f"""
        SELECT {_TICKET} FROM travel_tickets
        WHERE booking_id = ANY($1::text[]) ORDER BY booking_id, position
        """,
        list(booking_ids),
    )
    return [TicketRow(**dict(r)) for r in records]


async def ticket_for_user(conn: Connection, ticket_id: str, user_id: str) -> TicketRow | None:
    record = await conn.fetchrow(
        f"""
        SELECT {", ".join("t." + c.strip() for c in _TICKET.split(","))}
        FROM travel_tickets t JOIN travel_bookings b ON b.id = t.booking_id
        WHERE t.id = $1 AND b.user_id = $2
        """,
        ticket_id,
        user_id,
    )
    return TicketRow(**dict(record)) if record else None


@dataclass(frozen=True)
class Scanned:
    """A boarding scan: the ticket's status before it, whether it boarded, and its passenger."""

    status: str
    boarded: bool
    name: str
    document_type: str
    document_masked: str


async def board(
    conn: Connection, ticket_id: str, departure_id: str, at: datetime, opens_at: datetime, closes_at: datetime
) -> Scanned | None:
    """Board a valid ticket once, if `at` is in the boarding window [opens_at, closes_at); None
    when there is no such ticket for that departure. The ticket row is locked: a cancellation
    holding it makes the scan wait and then see `cancelled`."""
    record = await conn.fetchrow(
        """
        WITH before AS (
            SELECT t.id, t.status, p.holder_name, p.document_type, p.number_masked
            FROM travel_tickets t
            JOIN travel_passengers p ON p.booking_id = t.booking_id AND p.position = t.position
            WHERE t.id = $1 AND t.departure_id = $2
            FOR UPDATE OF t
        ), boarded AS (
            UPDATE travel_tickets t SET status = 'boarded', boarded_at = $3::timestamptz
            FROM before WHERE t.id = before.id AND before.status = 'valid'
              AND $3::timestamptz >= $4::timestamptz AND $3::timestamptz < $5::timestamptz
            RETURNING t.id
        )
        SELECT status, EXISTS (SELECT 1 FROM boarded) AS boarded, holder_name AS name, document_type,
            number_masked AS document_masked
        FROM before
        """,
        ticket_id,
        departure_id,
        at,
        opens_at,
        closes_at,
    )
    return Scanned(**dict(record)) if record else None


async def of_departure(conn: Connection, departure_id: str, statuses: Sequence[str]) -> list[BookingRow]:
    records = await conn.fetch(
        f"""
        SELECT {_BOOKING} FROM travel_bookings WHERE departure_id = $1 AND status = ANY($2::text[])
        ORDER BY created_at, id
        """,
        departure_id,
        list(statuses),
    )
    return [_booking(r) for r in records]


async def moved_from(conn: Connection, departure_id: str) -> int:
    return int(
        await conn.fetchval("SELECT count(*) FROM travel_bookings WHERE moved_from = $1", departure_id)
    )


async def move_to_departure(conn: Connection, booking_id: str, old: str, new: str, at: datetime) -> None:
    """Put a booking cancelled with its departure, and its passengers, on `new`, confirmed again
    (its passengers take their seats back, by the booking's status trigger)."""
    await conn.execute(
        "UPDATE travel_passengers SET departure_id = $2 WHERE booking_id = $1", booking_id, new
    )
    await conn.execute(
        """
        UPDATE travel_bookings SET departure_id = $3, moved_from = $2, status = 'confirmed',
            release_reason = NULL, updated_at = $4
        WHERE id = $1 AND status = 'cancelled'
        """,
        booking_id,
        old,
        new,
        at,
    )


async def count_by_outcome(conn: Connection, departure_id: str) -> dict[str, int]:
    """A cancelled departure's bookings: cancelled or released by its cancellation, still paying."""
    records = await conn.fetch(
        """
        SELECT status, count(*)::int AS n FROM travel_bookings
        WHERE departure_id = $1 AND (release_reason = 'departure_cancelled' OR status = 'paying')
        GROUP BY status
        """,
        departure_id,
    )
    return {r["status"]: r["n"] for r in records}


@dataclass(frozen=True)
class ManifestRow:
    passenger_id: str
    booking_id: str
    name: str
    document_type: str
    document_masked: str
    fare_class: str
    category: str
    ticket_id: str | None
    boarding: str  # the ticket's status: valid or boarded
    boarded_at: datetime | None


async def manifest(
    conn: Connection, departure_id: str, *, after: str | None, limit: int
) -> list[ManifestRow]:
    """The passengers holding a paid seat on the departure, with their live ticket, in passenger
    id order (`after`: the last passenger id seen)."""
    records = await conn.fetch(
        """
        SELECT p.booking_id || '.' || p.position AS passenger_id, p.booking_id, p.holder_name AS name,
            p.document_type, p.number_masked AS document_masked, b.fare_class, p.category,
            t.id AS ticket_id, coalesce(t.status, 'valid') AS boarding, t.boarded_at
        FROM travel_passengers p
        JOIN travel_bookings b ON b.id = p.booking_id AND b.status = 'confirmed'
        LEFT JOIN travel_tickets t ON t.booking_id = p.booking_id AND t.position = p.position
            AND t.status <> 'cancelled'
        WHERE p.departure_id = $1 AND p.active
          AND ($2::text IS NULL
               OR (p.booking_id, p.position) > (split_part($2, '.', 1), split_part($2, '.', 2)::int))
        ORDER BY p.booking_id, p.position
        LIMIT $3
        """,
        departure_id,
        after,
        limit,
    )
    return [ManifestRow(**dict(r)) for r in records]


async def lock_tickets(conn: Connection, booking_id: str) -> list[TicketRow]:
    """The booking's tickets, locked until the transaction ends: a boarding scan of one of them
    waits, then sees what this transaction made of it."""
    records = await conn.fetch(
        f"SELECT {_TICKET} FROM travel_tickets WHERE booking_id = $1 ORDER BY position FOR UPDATE",
        booking_id,
    )
    return [TicketRow(**dict(r)) for r in records]


async def cancel_passenger(
    conn: Connection, booking_id: str, position: int, at: datetime
) -> BookingRow | None:
    """One passenger of a confirmed booking cancelled on its own: its seat let go of, its live
    ticket void, the booking one seat smaller; None when it was not active."""
    done = await conn.fetchval(
        """
        UPDATE travel_passengers SET cancelled_at = $3, active = false
        WHERE booking_id = $1 AND position = $2 AND cancelled_at IS NULL
        RETURNING 1
        """,
        booking_id,
        position,
        at,
    )
    if done is None:
        return None
    await conn.execute(
        "UPDATE travel_tickets SET status = 'cancelled'"
        " WHERE booking_id = $1 AND position = $2 AND status = 'valid'",
        booking_id,
        position,
    )
    record = await conn.fetchrow(
        f"""
        UPDATE travel_bookings SET seats = seats - 1, updated_at = $2
        WHERE id = $1 AND status = 'confirmed' AND seats > 1
        RETURNING {_BOOKING}
        """,
        booking_id,
        at,
    )
    return _booking(record) if record else None  # the booking cancelled meanwhile: the caller's 409


async def cancel_tickets(conn: Connection, booking_id: str) -> None:
    await conn.execute(
        "UPDATE travel_tickets SET status = 'cancelled' WHERE booking_id = $1 AND status = 'valid'",
        booking_id,
    )
