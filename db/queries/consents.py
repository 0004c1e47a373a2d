"""Consents to send personal data to another jurisdiction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bayaffairs.storage import Connection, Record

_COLUMNS = "id, user_id, destination, purpose, notice_version, given_at, withdrawn_at, document_id"


@dataclass(frozen=True)
class ConsentRow:
    id: str
    user_id: str
    destination: str
    purpose: str
    notice_version: str
    given_at: datetime
    withdrawn_at: datetime | None
    document_id: str | None = None  # given on behalf of this document's holder; None: the rider's own


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
    document_id: str | None = None,
) -> tuple[ConsentRow, bool]:
    """The active consent for (user, destination, purpose, on behalf of `document_id`'s holder
    or the rider's own), and whether this call created it."""
    record = await conn.fetchrow(
        f"""
        INSERT INTO consents (id, user_id, destination, purpose, notice_version, given_at, document_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        ON CONFLICT (user_id, destination, purpose, coalesce(document_id, '')) WHERE withdrawn_at IS NULL
        DO NOTHING
        RETURNING {_COLUMNS}
        """,
        id,
        user_id,
        destination,
        purpose,
        notice_version,
        at,
        document_id,
    )
    if record:
        return _row(record), True
    existing = await active(conn, user_id, destination, purpose, document_id)
    if existing is None:
        raise LookupError("neither inserted nor found: withdrawn meanwhile")
    return existing, False


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


async def active(
    conn: Connection, user_id: str, destination: str, purpose: str, document_id: str | None = None
) -> ConsentRow | None:
    """The active consent of the rider's own (`document_id` None) or on behalf of a document's holder."""
    record = await conn.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM consents
        WHERE user_id = $1 AND destination = $2 AND purpose = $3 AND withdrawn_at IS NULL
          AND document_id IS NOT DISTINCT FROM $4
        """,
        user_id,
        destination,
        purpose,
        document_id,
    )
    return _row(record) if record else None
