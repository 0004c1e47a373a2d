"""Retention: the records each kind keeps past its time, counted (a dry run) or dealt with in
batches (anonymised, unlinked or deleted). Every statement picks its rows with
`FOR UPDATE SKIP LOCKED`, so two workers running retention at once never take the same rows,
and each is idempotent: a record dealt with no longer matches.

What the law keeps (payments and the bookings they belong to, journeys a settlement adds up,
transfer records) is only ever deleted after its own period, `payments_and_settlements` (7
years) or the record's `retain_until` (3 years); before that, personal data in it is removed and
the rest stays, so a settlement of any day still in its period adds up to the same lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from bayaffairs.db.queries import appointments
from bayaffairs.storage import Connection

# The holder of records retention anonymises: a users row with `erased_at` set, no identity, no
# credential (as an account deletion's pseudonym is).
ANONYMOUS = "usr_anonymous"
NO_TOKEN = b""  # an unlinked journey's account token: matches no ride account


async def ensure_anonymous(conn: Connection, at: datetime) -> None:
    await conn.execute(
        """
        INSERT INTO users (id, display_name, category, created_at, updated_at, erased_at)
        VALUES ($1, NULL, 'adult', $2, $2, $2) ON CONFLICT (id) DO NOTHING
        """,
        ANONYMOUS,
        at,
    )


@dataclass(frozen=True)
class Cutoffs:
    """Records older than these are due (times, except the documents' expiry date)."""

    documents_expired_before: date
    travelled_before: datetime
    visited_before: datetime
    journeys_ended_before: datetime
    books_before: datetime  # payments, settlements and what they need: 7 years
    now: datetime  # transfer records carry their own retain_until
    accessed_before: datetime
    deletions_finished_before: datetime


# Each kind: the rows due (a SELECT of ids), then what is done to a batch of them.
_DUE = {
    # A document an appointment not yet over was booked with (a renewal is booked with the one
    # that ran out) stays until the visit; anonymising the appointment lets it go at the latest.
    "documents": """
        SELECT d.id FROM documents d WHERE d.expires < $1
          AND NOT EXISTS (SELECT 1 FROM appointments a WHERE a.document_id = d.id
                          AND a.status IN ('booked', 'checked_in', 'called'))
    """,
    "bookings": f"""
        SELECT b.id FROM travel_bookings b JOIN travel_departures d ON d.id = b.departure_id
        WHERE d.departs_at < $1 AND b.user_id <> '{ANONYMOUS}'
          AND b.status IN ('confirmed', 'cancelled', 'released')
          AND NOT EXISTS (SELECT 1 FROM travel_refunds r
                          WHERE r.booking_id = b.id AND r.status IN ('pending', 'stuck'))
    """,
    "appointments": f"""
        SELECT id FROM appointments WHERE starts_at < $1 AND user_id <> '{ANONYMOUS}'
    """,
    # Debts (a charge failed or still running) stay with their rider until paid.
    "journeys": f"""
        SELECT id FROM journeys WHERE coalesce(exit_at, entry_at) < $1 AND user_id <> '{ANONYMOUS}'
          AND status <> 'open' AND charge_status IN ('none', 'charged')
    """,
    "payments": f"""
        SELECT b.id FROM travel_bookings b JOIN travel_departures d ON d.id = b.departure_id
        WHERE d.departs_at < $1 AND b.user_id = '{ANONYMOUS}'
    """,
    "settled_journeys": """
        SELECT id FROM journeys WHERE coalesce(exit_at, entry_at) < $1 AND status <> 'open'
    """,
    "data_transfers": "SELECT id FROM data_transfers WHERE retain_until < $1",
    "access_log": "SELECT id FROM personal_data_access WHERE accessed_at < $1",
    "deletion_records": "SELECT id FROM account_deletions WHERE status = 'done' AND finished_at < $1",
}

_TABLE = {
    "documents": "documents",
    "bookings": "travel_bookings",
    "appointments": "appointments",
    "journeys": "journeys",
    "payments": "travel_bookings",
    "settled_journeys": "journeys",
    "data_transfers": "data_transfers",
    "access_log": "personal_data_access",
    "deletion_records": "account_deletions",
}

_APPLY: dict[str, tuple[str, ...]] = {
    "documents": ("DELETE FROM documents WHERE id = ANY($1::text[])",),
    "bookings": (
        """
        UPDATE travel_passengers SET holder_name = '', document_id = '', fingerprint = NULL,
            number_masked = '', onward_flight = NULL, onward_departs_at = NULL
        WHERE booking_id = ANY($1::text[])
        """,
        "UPDATE travel_charge_intents SET account = '' WHERE booking_id = ANY($1::text[])",
        f"""
        UPDATE travel_bookings SET user_id = '{ANONYMOUS}', request_key = NULL
        WHERE id = ANY($1::text[])
        """,
    ),
    "appointments": (
        "UPDATE agency_outbox SET payload = payload - 'fields' WHERE appointment_id = ANY($1::text[])",
        "DELETE FROM appointment_notices WHERE appointment_id = ANY($1::text[])",  # long sent or dropped
        f"""
        UPDATE appointments SET user_id = '{ANONYMOUS}', holder_name = '', number_masked = NULL,
            document_id = NULL, person_key = NULL, person_keys = NULL
        WHERE id = ANY($1::text[])
        """,
    ),
    "journeys": (
        "UPDATE taps SET account_token = '\\x'::bytea WHERE journey_id = ANY($1::text[])",
        f"""
        UPDATE journeys SET user_id = '{ANONYMOUS}', account_token = '\\x'::bytea, charge_reference = NULL
        WHERE id = ANY($1::text[])
        """,
        f"UPDATE journey_refunds SET user_id = '{ANONYMOUS}' WHERE journey_id = ANY($1::text[])",
        f"UPDATE journey_repairs SET user_id = '{ANONYMOUS}' WHERE journey_id = ANY($1::text[])",
        f"UPDATE ride_debts SET user_id = '{ANONYMOUS}' WHERE journey_id = ANY($1::text[])",
    ),
    # Books of account past their seven years: the booking and everything hanging off it.
    "payments": (
        "SET LOCAL bayaffairs.retention = 'on'",  # travel_payments is otherwise append-only
        "DELETE FROM travel_refunds WHERE booking_id = ANY($1::text[])",
        "DELETE FROM travel_payments WHERE booking_id = ANY($1::text[]) AND charge_id IS NOT NULL",
        "DELETE FROM travel_payments WHERE booking_id = ANY($1::text[])",
        "DELETE FROM travel_charge_intents WHERE booking_id = ANY($1::text[])",
        "DELETE FROM travel_carrier_releases WHERE booking_id = ANY($1::text[])",
        "DELETE FROM travel_tickets WHERE booking_id = ANY($1::text[])",
        "DELETE FROM travel_passengers WHERE booking_id = ANY($1::text[])",
        "DELETE FROM travel_bookings WHERE id = ANY($1::text[])",
    ),
    "settled_journeys": (
        "DELETE FROM taps WHERE journey_id = ANY($1::text[])",
        "DELETE FROM journey_refunds WHERE journey_id = ANY($1::text[])",
        "DELETE FROM journey_repairs WHERE journey_id = ANY($1::text[])",
        "DELETE FROM ride_debts WHERE journey_id = ANY($1::text[])",
        "DELETE FROM journeys WHERE id = ANY($1::text[])",
    ),
    "data_transfers": ("DELETE FROM data_transfers WHERE id = ANY($1::text[])",),
    "access_log": ("DELETE FROM personal_data_access WHERE id = ANY($1::text[])",),
    "deletion_records": ("DELETE FROM account_deletions WHERE id = ANY($1::text[])",),
}

KINDS = tuple(_DUE)


def cutoff_of(kind: str, cutoffs: Cutoffs) -> date | datetime:
    return {
        "documents": cutoffs.documents_expired_before,
        "bookings": cutoffs.travelled_before,
        "appointments": cutoffs.visited_before,
        "journeys": cutoffs.journeys_ended_before,
        "payments": cutoffs.books_before,
        "settled_journeys": cutoffs.books_before,
        "data_transfers": cutoffs.now,
        "access_log": cutoffs.accessed_before,
        "deletion_records": cutoffs.deletions_finished_before,
    }[kind]


async def count_due(conn: Connection, kind: str, cutoff: date | datetime) -> int:
    return int(await conn.fetchval(f"SELECT count(*) FROM ({_DUE[kind]}) due", cutoff) or 0)


async def apply_batch(
    conn: Connection,
    kind: str,
    cutoff: date | datetime,
    batch: int,
    next_change: appointments.NextChange | None = None,
) -> int:
    """Deal with up to `batch` due records of `kind` (in the caller's transaction); how many.
    `next_change`: how anonymised appointments take their centres' change numbers."""
    ids = [
        r[0]
        for r in await conn.fetch(
            f"""
            SELECT id FROM {_TABLE[kind]} WHERE id IN ({_DUE[kind]})
            ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
            """,
            cutoff,
            batch,
        )
    ]
    if not ids:
        return 0
    for statement in _APPLY[kind]:
        if "$1" in statement:
            await conn.execute(statement, ids)
        else:
            await conn.execute(statement)
    if kind == "appointments":  # names scrubbed: counters' cached days and `since` pulls see it
        await appointments.renumber(conn, ids, next_change)
    return len(ids)
