"""Riders' documents. The number is stored only as ciphertext, fingerprint and masked form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bayaffairs.storage import Connection, Record

_COLUMNS = (
    "id, user_id, type, holder_name, number_ciphertext, number_masked, issuing, expires,"
    " date_of_birth, endorsements, created_at, number_fingerprint, holder"
)


@dataclass(frozen=True)
class DocumentRow:
    id: str
    user_id: str
    type: str
    holder_name: str
    number_ciphertext: bytes
    number_masked: str
    issuing: str
    expires: date
    date_of_birth: date | None
    endorsements: list[dict[str, Any]]
    created_at: datetime
    number_fingerprint: bytes
    holder: str = "self"  # the rider's own document, or `other`: a family member's


def _row(record: Record) -> DocumentRow:
    return DocumentRow(**dict(record))


async def insert(conn: Connection, *, fingerprint: bytes, **values: Any) -> DocumentRow | None:
    """Insert; None when the user already has this document (same type and number)."""
    record = await conn.fetchrow(
        f"""
        INSERT INTO documents (id, user_id, type, holder_name, number_ciphertext, number_fingerprint,
                               number_masked, issuing, expires, date_of_birth, endorsements, created_at,
                               holder)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        ON CONFLICT (user_id, type, number_fingerprint) DO NOTHING
        RETURNING {_COLUMNS}
        """,
        values["id"],
        values["user_id"],
        values["type"],
        values["holder_name"],
        values["number_ciphertext"],
        fingerprint,
        values["number_masked"],
        values["issuing"],
        values["expires"],
        values["date_of_birth"],
        values["endorsements"],
        values["created_at"],
        values.get("holder", "self"),
    )
    return _row(record) if record else None


async def list_for_user(
    conn: Connection, user_id: str, *, after: str | None, limit: int
) -> list[DocumentRow]:
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM documents
        WHERE user_id = $1 AND ($2::text IS NULL OR id > $2)
        ORDER BY id
        LIMIT $3
        """,
        user_id,
        after,
        limit,
    )
    return [_row(r) for r in records]


async def get_for_user(conn: Connection, user_id: str, document_id: str) -> DocumentRow | None:
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM documents WHERE user_id = $1 AND id = $2", user_id, document_id
    )
    return _row(record) if record else None


async def fingerprint_for_user(conn: Connection, user_id: str, document_id: str) -> bytes | None:
    """The keyed fingerprint of the document's number: who the holder is, without the number."""
    value: bytes | None = await conn.fetchval(
        "SELECT number_fingerprint FROM documents WHERE user_id = $1 AND id = $2", user_id, document_id
    )
    return value


async def delete_for_user(conn: Connection, user_id: str, document_id: str) -> bool:
    status = await conn.execute("DELETE FROM documents WHERE user_id = $1 AND id = $2", user_id, document_id)
    return status == "DELETE 1"
