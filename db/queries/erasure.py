"""Account deletion: the request, closing access at once, and the final erasure.

The erasure keeps what the law keeps (payments, settlements through journeys, transfer records
and the consents they rest on) under a pseudonym, a new `users` row with `erased_at` set, and
deletes the rest. `REKEYED` and `DELETED_WITH_ACCOUNT` together name every column that refers
to `users`: a test compares them with the database's foreign keys, so a table added later is
classified before an account can be deleted (and until then the delete fails, keeping all).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bayaffairs.db.queries import appointments
from bayaffairs.storage import Connection

# (table, column): kept, pointed at the pseudonym.
REKEYED = (
    ("consents", "user_id"),
    ("data_transfers", "user_id"),
    ("personal_data_access", "user_id"),
    ("ride_accounts", "user_id"),
    ("journeys", "user_id"),
    ("journey_refunds", "user_id"),
    ("journey_repairs", "user_id"),
    ("ride_debts", "user_id"),
    ("travel_bookings", "user_id"),
    ("appointments", "user_id"),
)
# Deleted with the users row (ON DELETE CASCADE or SET NULL).
DELETED_WITH_ACCOUNT = (
    ("user_identities", "user_id"),
    ("documents", "user_id"),
    ("data_exports", "user_id"),
    ("account_deletions", "user_id"),
    ("user_categories", "user_id"),
)

_REQUEST = (
    "id, user_id, credential_id, status, pseudonym, outcome, attempts, last_error, next_attempt_at,"
    " requested_at, expires_at, started_at, finished_at"
)


@dataclass(frozen=True)
class DeletionRow:
    id: str
    user_id: str | None
    credential_id: str
    status: str
    pseudonym: str | None
    outcome: dict[str, Any]
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    requested_at: datetime
    expires_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


@dataclass(frozen=True)
class ClosedAccess:
    sessions: list[str]  # rider credential ids revoked
    accounts: list[bytes]  # ride account tokens
    device_credentials: list[bytes]  # offline ride credentials still in force


@dataclass(frozen=True)
class OpenBooking:
    id: str
    status: str
    departs_at: datetime


@dataclass(frozen=True)
class OpenAppointment:
    id: str
    starts_at: datetime


def _deletion(record: Any) -> DeletionRow:
    return DeletionRow(**dict(record))


async def lock_user(conn: Connection, user_id: str) -> bool:
    """Lock the rider's row (call in a transaction); False when there is no such rider."""
    found = await conn.fetchval("SELECT 1 FROM users WHERE id = $1 AND erased_at IS NULL FOR UPDATE", user_id)
    return found is not None


async def insert_request(
    conn: Connection,
    *,
    id: str,
    user_id: str,
    credential_id: str,
    code_hash: bytes,
    at: datetime,
    expires_at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO account_deletions
            (id, user_id, credential_id, code_hash, status, requested_at, expires_at)
        VALUES ($1, $2, $3, $4, 'requested', $5, $6)
        """,
        id,
        user_id,
        credential_id,
        code_hash,
        at,
        expires_at,
    )


async def confirmable(
    conn: Connection, user_id: str, credential_id: str, code_hash: bytes, now: datetime
) -> DeletionRow | None:
    """The request this session made with this code, still in time (locked)."""
    record = await conn.fetchrow(
        f"""
        SELECT {_REQUEST} FROM account_deletions
        WHERE user_id = $1 AND credential_id = $2 AND code_hash = $3 AND status = 'requested'
          AND expires_at > $4
        FOR UPDATE
        """,
        user_id,
        credential_id,
        code_hash,
        now,
    )
    return _deletion(record) if record else None


async def running(conn: Connection, user_id: str) -> DeletionRow | None:
    record = await conn.fetchrow(
        f"SELECT {_REQUEST} FROM account_deletions WHERE user_id = $1 AND status = 'deleting'", user_id
    )
    return _deletion(record) if record else None


async def start(
    conn: Connection, deletion_id: str, pseudonym: str, at: datetime, retry_at: datetime
) -> DeletionRow:
    """Under way: the job takes it over at `retry_at` if the request has not finished it."""
    record = await conn.fetchrow(
        f"""
        UPDATE account_deletions
        SET status = 'deleting', pseudonym = $2, started_at = $3, next_attempt_at = $4
        WHERE id = $1
        RETURNING {_REQUEST}
        """,
        deletion_id,
        pseudonym,
        at,
        retry_at,
    )
    assert record is not None
    return _deletion(record)


async def close_access(conn: Connection, user_id: str, at: datetime) -> ClosedAccess:
    """No way in from now on: sign-in identities unlinked (a new sign-in is a new rider),
    sessions revoked, ride accounts retired and device credentials revoked."""
    await conn.execute("DELETE FROM user_identities WHERE user_id = $1", user_id)
    sessions = await conn.fetch(
        """
        UPDATE credentials SET revoked_at = $2
        WHERE kind = 'rider' AND scope = $1 AND revoked_at IS NULL AND expires_at > $2
        RETURNING id
        """,
        user_id,
        at,
    )
    accounts = await conn.fetch(
        """
        UPDATE ride_accounts SET retired_at = coalesce(retired_at, $2) WHERE user_id = $1
        RETURNING account_token
        """,
        user_id,
        at,
    )
    tokens = [bytes(r["account_token"]) for r in accounts]
    devices = await conn.fetch(
        """
        UPDATE ride_credentials SET revoked_at = $2
        WHERE account_token = ANY($1::bytea[]) AND revoked_at IS NULL AND valid_until > $2
        RETURNING credential_id
        """,
        tokens,
        at,
    )
    return ClosedAccess(
        [str(r["id"]) for r in sessions], tokens, [bytes(r["credential_id"]) for r in devices]
    )


async def destroy_private(conn: Connection, user_id: str, principal_key: str) -> int:
    """Documents (ciphertext and fingerprint), exports (they may hold numbers in clear) and the
    answers kept under the rider's Idempotency-Keys (they repeat personal data). Returns how
    many documents."""
    status = await conn.execute("DELETE FROM documents WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM data_exports WHERE user_id = $1", user_id)
    await conn.execute("DELETE FROM idempotency_keys WHERE principal = $1", principal_key)
    return int(status.split()[-1])


async def open_bookings(conn: Connection, user_id: str, now: datetime) -> list[OpenBooking]:
    """Held bookings, and confirmed ones whose departure is still ahead."""
    records = await conn.fetch(
        """
        SELECT b.id, b.status, d.departs_at FROM travel_bookings b
        JOIN travel_departures d ON d.id = b.departure_id
        WHERE b.user_id = $1 AND (b.status = 'held' OR (b.status = 'confirmed' AND d.departs_at > $2))
        ORDER BY d.departs_at, b.id
        """,
        user_id,
        now,
    )
    return [OpenBooking(**dict(r)) for r in records]


async def open_appointments(conn: Connection, user_id: str) -> list[OpenAppointment]:
    """Appointments still booked (not yet checked in), started or not."""
    records = await conn.fetch(
        """
        SELECT id, starts_at FROM appointments WHERE user_id = $1 AND status = 'booked'
        ORDER BY starts_at, id
        """,
        user_id,
    )
    return [OpenAppointment(**dict(r)) for r in records]


async def kept_counts(conn: Connection, user_id: str) -> dict[str, int]:
    """What the erasure keeps under the pseudonym."""
    record = await conn.fetchrow(
        """
        SELECT
            (SELECT count(*) FROM travel_payments p JOIN travel_bookings b ON b.id = p.booking_id
             WHERE b.user_id = $1) AS travel_payments,
            (SELECT count(*) FROM journeys WHERE user_id = $1) AS journeys,
            (SELECT count(*) FROM data_transfers WHERE user_id = $1) AS data_transfers,
            (SELECT count(*) FROM consents WHERE user_id = $1) AS consents,
            (SELECT count(*) FROM personal_data_access WHERE user_id = $1) AS access_log
        """,
        user_id,
    )
    assert record is not None
    return {k: int(v) for k, v in dict(record).items()}


async def erase(
    conn: Connection,
    user_id: str,
    pseudonym: str,
    at: datetime,
    next_change: appointments.NextChange | None = None,
) -> None:
    """Call in a transaction. What is kept moves to the pseudonym without the names it held;
    the rest goes with the users row. `next_change`: how the scrubbed appointments take their
    centres' change numbers (see `appointments.renumber`)."""
    await conn.execute(
        """
        INSERT INTO users (id, display_name, category, created_at, updated_at, erased_at)
        SELECT $1, NULL, u.category, $2, $2, $2 FROM users u WHERE u.id = $3
        """,
        pseudonym,
        at,
        user_id,
    )
    args = (user_id, pseudonym)
    await conn.execute(
        """
        UPDATE travel_passengers p
        SET holder_name = '', document_id = '', fingerprint = NULL, number_masked = '',
            onward_flight = NULL, onward_departs_at = NULL
        FROM travel_bookings b WHERE b.id = p.booking_id AND b.user_id = $1
        """,
        user_id,
    )
    await conn.execute(
        """
        UPDATE travel_charge_intents i SET account = $2
        FROM travel_bookings b WHERE b.id = i.booking_id AND b.user_id = $1
        """,
        *args,
    )
    await conn.execute(
        """
        UPDATE agency_outbox o SET payload = o.payload - 'fields'
        FROM appointments a WHERE a.id = o.appointment_id AND a.user_id = $1
        """,
        user_id,
    )
    scrubbed = await conn.fetch(
        """
        UPDATE appointments SET user_id = $2, holder_name = '', number_masked = NULL, document_id = NULL,
            person_key = NULL, person_keys = NULL
        WHERE user_id = $1 RETURNING id
        """,
        *args,
    )
    # A counter's day list (cached by change number) and its `since` pulls must drop the name.
    await appointments.renumber(conn, [r["id"] for r in scrubbed], next_change)
    await conn.execute("UPDATE data_transfers SET user_id = $2, subject_name = '' WHERE user_id = $1", *args)
    await conn.execute(
        """
        UPDATE personal_data_access SET user_id = $2, holder_name = '', number_masked = ''
        WHERE user_id = $1
        """,
        *args,
    )
    for table in (
        "consents",
        "ride_accounts",
        "journeys",
        "journey_refunds",
        "journey_repairs",
        "travel_bookings",
    ):
        await conn.execute(f"UPDATE {table} SET user_id = $2 WHERE user_id = $1", *args)
    # Debts stay owed, on the pseudonym's books, but no automatic retry is left: no wallet is
    # linked to a pseudonym (linking one back would undo the erasure), as for the debt of a ride
    # uploaded after the erasure (bayaffairs/transit/charging.py). A retry under way now plans no
    # next one (debts.unpaid_again).
    await conn.execute(
        """
        UPDATE ride_debts SET user_id = $2,
            next_retry_at = NULL, retries_left = CASE WHEN status = 'paid' THEN retries_left ELSE 0 END
        WHERE user_id = $1
        """,
        *args,
    )
    await conn.execute("DELETE FROM credentials WHERE kind = 'rider' AND scope = $1", user_id)
    await conn.execute("DELETE FROM account_deletions WHERE user_id = $1 AND status = 'requested'", user_id)
    await conn.execute("DELETE FROM users WHERE id = $1", user_id)


async def finish(conn: Connection, deletion_id: str, outcome: dict[str, Any], at: datetime) -> None:
    await conn.execute(
        """
        UPDATE account_deletions
        SET status = 'done', outcome = $2::jsonb, finished_at = $3, next_attempt_at = NULL,
            last_error = NULL
        WHERE id = $1
        """,
        deletion_id,
        outcome,
        at,
    )


async def retry_later(conn: Connection, deletion_id: str, error: str, at: datetime) -> None:
    await conn.execute(
        """
        UPDATE account_deletions SET attempts = attempts + 1, last_error = $2, next_attempt_at = $3
        WHERE id = $1
        """,
        deletion_id,
        error,
        at,
    )


async def claim_due(conn: Connection, now: datetime, lease_until: datetime) -> DeletionRow | None:
    """A deletion waiting for its next try, taken by one worker (SKIP LOCKED, then a lease)."""
    record = await conn.fetchrow(
        f"""
        UPDATE account_deletions SET next_attempt_at = $2
        WHERE id = (
            SELECT id FROM account_deletions
            WHERE status = 'deleting' AND next_attempt_at <= $1
            ORDER BY next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED
        )
        RETURNING {_REQUEST}
        """,
        now,
        lease_until,
    )
    return _deletion(record) if record else None
