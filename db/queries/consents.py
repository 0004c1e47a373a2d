"""Consents to send personal data to another jurisdiction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bayaffairs.storage import Connection, Record, returned

_COLUMNS = "id, user_id, destination, purpose, notice_version, given_at, withdrawn_at"


@dataclass(frozen=True)
class ConsentRow:
    id: str
    user_id: str
    destination: str
    purpose: str
    notice_version: str
    given_at: datetime
    withdrawn_at: datetime | None


def _row(record: Record) -> ConsentRow:
    return ConsentRow(**dict(record))


async def give(
    conn: Connection,
    *,
    id: str,
    user_id: str,
    destination: str,
    purpose: str,
    notice_version: str,
    at: datetime,
) -> tuple[ConsentRow, bool]:
    """The active consent for (user, destination, purpose), and whether this call created it."""
    record = await conn.fetchrow(
        f"""
        INSERT INTO consents (id, user_id, destination, purpose, notice_version, given_at)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (user_id, destination, purpose) WHERE withdrawn_at IS NULL DO NOTHING
        RETURNING {_COLUMNS}
        """,
        id,
        user_id,
        destination,
        purpose,
        notice_version,
        at,
    )
    if record:
        return _row(record), True
    existing = await conn.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM consents
        WHERE user_id = $1 AND destination = $2 AND purpose = $3 AND withdrawn_at IS NULL
        """,
        user_id,
        destination,
        purpose,
    )
    return _row(returned(existing)), False


async def list_for_user(conn: Connection, user_id: str, *, after: str | None, limit: int) -> list[ConsentRow]:
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM consents
        WHERE user_id = $1 AND ($2::text IS NULL OR id > $2)
        ORDER BY id LIMIT $3
        """,
        user_id,
        after,
        limit,
    )
    return [_row(r) for r in records]


async def withdraw(conn: Connection, user_id: str, consent_id: str, at: datetime) -> ConsentRow | None:
    record = await conn.fetchrow(
        f"""
        UPDATE consents SET withdrawn_at = coalesce(withdrawn_at, $3)
        WHERE user_id = $1 AND id = $2
        RETURNING {_COLUMNS}
        """,
        user_id,
        consent_id,
        at,
    )
    return _row(record) if record else None


async def active(conn: Connection, user_id: str, destination: str, purpose: str) -> ConsentRow | None:
    record = await conn.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM consents
        WHERE user_id = $1 AND destination = $2 AND purpose = $3 AND withdrawn_at IS NULL
        """,
        user_id,
        destination,
        purpose,
    )
    return _row(record) if record else None
