"""What a rider's export reads directly, and the background exports' rows (`data_exports`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bayaffairs.storage import Connection

_COLUMNS = (
    "id, user_id, credential_id, format, numbers, language, status, done, total, content_type,"
    " size_bytes, attempts, created_at, updated_at, expires_at"
)


@dataclass(frozen=True)
class ExportRow:
    id: str
    user_id: str
    credential_id: str
    format: str
    numbers: str
    language: str
    status: str
    done: int
    total: int
    content_type: str | None
    size_bytes: int | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime


def _row(record: Any) -> ExportRow:
    return ExportRow(**dict(record))


async def counts(conn: Connection, user_id: str) -> dict[str, int]:
    """How many records of each kind the rider has: an export's size before it is built."""
    record = await conn.fetchrow(
        """
        SELECT
            (SELECT count(*) FROM documents WHERE user_id = $1) AS documents,
            (SELECT count(*) FROM consents WHERE user_id = $1) AS consents,
            (SELECT count(*) FROM data_transfers WHERE user_id = $1) AS data_transfers,
            (SELECT count(*) FROM personal_data_access WHERE user_id = $1) AS access_log,
            (SELECT count(*) FROM journeys WHERE user_id = $1) AS journeys,
            (SELECT count(*) FROM travel_bookings WHERE user_id = $1) AS bookings,
            (SELECT count(*) FROM appointments WHERE user_id = $1) AS appointments
        """,
        user_id,
    )
    assert record is not None
    return {k: int(v) for k, v in dict(record).items()}


async def identities(conn: Connection, user_id: str) -> list[dict[str, Any]]:
    records = await conn.fetch(
        """
        SELECT provider, subject, created_at, last_login_at FROM user_identities
        WHERE user_id = $1 ORDER BY created_at, provider
        """,
        user_id,
    )
    return [dict(r) for r in records]


async def category_history(conn: Connection, user_id: str) -> list[dict[str, Any]]:
    """Each fare category the rider has had and since when (0053), oldest first."""
    records = await conn.fetch(
        "SELECT category, since FROM user_categories WHERE user_id = $1 ORDER BY since", user_id
    )
    return [dict(r) for r in records]


async def sessions(conn: Connection, user_id: str, now: datetime) -> list[dict[str, Any]]:
    """The rider's sessions still in force (never their secrets: only hashes are stored)."""
    records = await conn.fetch(
        """
        SELECT id, label AS provider, created_at AS signed_in_at, expires_at FROM credentials
        WHERE kind = 'rider' AND scope = $1 AND revoked_at IS NULL AND expires_at > $2
        ORDER BY created_at, id
        """,
        user_id,
        now,
    )
    return [dict(r) for r in records]


async def ride_accounts(conn: Connection, user_id: str) -> list[dict[str, Any]]:
    """The opaque tokens ride codes carry for the rider, and their phones' offline credentials."""
    records = await conn.fetch(
        """
        SELECT a.account_token, a.created_at, a.retired_at,
               coalesce(jsonb_agg(jsonb_build_object(
                   'credential_id', encode(c.credential_id, 'hex'),
                   'valid_from', c.valid_from, 'valid_until', c.valid_until,
                   'revoked_at', c.revoked_at) ORDER BY c.created_at)
                 FILTER (WHERE c.credential_id IS NOT NULL), '[]') AS device_credentials
        FROM ride_accounts a LEFT JOIN ride_credentials c ON c.account_token = a.account_token
        WHERE a.user_id = $1
        GROUP BY a.account_token, a.created_at, a.retired_at
        ORDER BY a.created_at
        """,
        user_id,
    )
    return [dict(r) for r in records]


async def find_running(conn: Connection, user_id: str, format: str, numbers: str) -> ExportRow | None:
    record = await conn.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM data_exports
        WHERE user_id = $1 AND format = $2 AND numbers = $3 AND status IN ('queued', 'running')
        ORDER BY created_at DESC LIMIT 1
        """,
        user_id,
        format,
        numbers,
    )
    return _row(record) if record else None


async def insert(
    conn: Connection,
    *,
    id: str,
    user_id: str,
    credential_id: str,
    format: str,
    numbers: str,
    language: str,
    total: int,
    at: datetime,
    expires_at: datetime,
) -> ExportRow:
    record = await conn.fetchrow(
        f"""
        INSERT INTO data_exports (id, user_id, credential_id, format, numbers, language, status, total,
                                  created_at, updated_at, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $8, $8, $9)
        RETURNING {_COLUMNS}
        """,
        id,
        user_id,
        credential_id,
        format,
        numbers,
        language,
        total,
        at,
        expires_at,
    )
    return _row(record)


async def lock_user(conn: Connection, user_id: str) -> None:
    """Serialise a rider's export requests (call in a transaction)."""
    await conn.execute("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", user_id)


async def get_for_user(conn: Connection, user_id: str, export_id: str) -> ExportRow | None:
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM data_exports WHERE id = $1 AND user_id = $2", export_id, user_id
    )
    return _row(record) if record else None


async def content(conn: Connection, export_id: str) -> bytes | None:
    value = await conn.fetchval("SELECT content FROM data_exports WHERE id = $1", export_id)
    return bytes(value) if value is not None else None


async def claim(
    conn: Connection, now: datetime, lease_until: datetime, max_attempts: int
) -> ExportRow | None:
    """Take the oldest export waiting to be built (or left by a worker that died): one builder
    at a time, whatever the number of workers (SKIP LOCKED, then a lease)."""
    record = await conn.fetchrow(
        f"""
        UPDATE data_exports SET status = 'running', lease_until = $2, attempts = attempts + 1,
                                updated_at = $1
        WHERE id = (
            SELECT id FROM data_exports
            WHERE status IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < $1)
              AND attempts < $3
            ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED
        )
        RETURNING {_COLUMNS}
        """,
        now,
        lease_until,
        max_attempts,
    )
    return _row(record) if record else None


async def fail_exhausted(conn: Connection, now: datetime, max_attempts: int) -> None:
    """Exports whose last attempt died with its worker (the lease ran out): failed."""
    await conn.execute(
        """
        UPDATE data_exports SET status = 'failed', lease_until = NULL, updated_at = $1
        WHERE status = 'running' AND lease_until < $1 AND attempts >= $2
        """,
        now,
        max_attempts,
    )


async def progress(conn: Connection, export_id: str, done: int, at: datetime) -> None:
    await conn.execute(
        "UPDATE data_exports SET done = $2, updated_at = $3 WHERE id = $1 AND status = 'running'",
        export_id,
        done,
        at,
    )


async def finish(
    conn: Connection, export_id: str, *, content: bytes, content_type: str, size: int, at: datetime
) -> None:
    await conn.execute(
        """
        UPDATE data_exports SET status = 'ready', content = $2, content_type = $3, size_bytes = $4,
                                done = total, lease_until = NULL, updated_at = $5
        WHERE id = $1
        """,
        export_id,
        content,
        content_type,
        size,
        at,
    )


async def give_up(conn: Connection, export_id: str, at: datetime, *, failed: bool) -> None:
    """Hand the lease back (another try), or mark it failed after the last attempt."""
    await conn.execute(
        """
        UPDATE data_exports SET status = CASE WHEN $3 THEN 'failed' ELSE status END,
                                lease_until = NULL, updated_at = $2
        WHERE id = $1
        """,
        export_id,
        at,
        failed,
    )


async def purge_expired(conn: Connection, now: datetime, limit: int) -> int:
    status = await conn.execute(
        """
        DELETE FROM data_exports WHERE id IN (
            SELECT id FROM data_exports WHERE expires_at < $1 ORDER BY expires_at LIMIT $2
        )
        """,
        now,
        limit,
    )
    return int(status.split()[-1])
