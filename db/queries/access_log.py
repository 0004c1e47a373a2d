"""Reads of document numbers in clear (`personal_data_access`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bayaffairs.storage import Connection

_COLUMNS = (
    "id, user_id, document_id, document_type, holder_name, number_masked, reader_kind, reader,"
    " reader_name, purpose, reference, accessed_at"
)


@dataclass(frozen=True)
class AccessRow:
    id: str
    user_id: str
    document_id: str
    document_type: str
    holder_name: str
    number_masked: str
    reader_kind: str
    reader: str
    reader_name: str | None
    purpose: str
    reference: str | None
    accessed_at: datetime


def _row(record: Any) -> AccessRow:
    return AccessRow(**dict(record))


async def insert(conn: Connection, row: AccessRow) -> None:
    await conn.execute(
        f"INSERT INTO personal_data_access ({_COLUMNS})"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        row.id,
        row.user_id,
        row.document_id,
        row.document_type,
        row.holder_name,
        row.number_masked,
        row.reader_kind,
        row.reader,
        row.reader_name,
        row.purpose,
        row.reference,
        row.accessed_at,
    )


async def list_for_user(conn: Connection, user_id: str, *, before: str | None, limit: int) -> list[AccessRow]:
    """Newest first; the cursor is the id of the last record of the previous page."""
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM personal_data_access
        WHERE user_id = $1 AND ($2::text IS NULL OR id < $2)
        ORDER BY id DESC LIMIT $3
        """,
        user_id,
        before,
        limit,
    )
    return [_row(r) for r in records]
