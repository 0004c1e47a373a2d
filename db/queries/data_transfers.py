"""Records of personal data sent to another jurisdiction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bayaffairs.storage import Connection, Record

_COLUMNS = (
    "id, user_id, subject, subject_name, origin, destination, recipient, recipient_name, purpose,"
    " fields, legal_basis, consent_id, reference, transferred_at, retain_until"
)


@dataclass(frozen=True)
class TransferRow:
    id: str
    user_id: str
    subject: str
    subject_name: str
    origin: str
    destination: str
    recipient: str
    recipient_name: str
    purpose: str
    fields: list[str]
    legal_basis: str
    consent_id: str | None
    reference: str
    transferred_at: datetime
    retain_until: datetime


def _row(record: Record) -> TransferRow:
    return TransferRow(**dict(record))


async def insert_many(conn: Connection, rows: Sequence[TransferRow]) -> int:
    """Insert the records; one already there for (reference, subject, recipient) is kept as is,
    so recording a retried hand-over twice leaves one record. Returns how many were new."""
    if not rows:
        return 0
    result = await conn.fetchval(
        """
        WITH new AS (
            INSERT INTO data_transfers (id, user_id, subject, subject_name, origin, destination,
                recipient, recipient_name, purpose, fields, legal_basis, consent_id, reference,
                transferred_at, retain_until)
            SELECT t.id, t.user_id, t.subject, t.subject_name, t.origin, t.destination,
                t.recipient, t.recipient_name, t.purpose, string_to_array(t.fields, ','),
                t.legal_basis, t.consent_id, t.reference, t.transferred_at, t.retain_until
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                $12::text[], $13::text[], $14::timestamptz[], $15::timestamptz[])
                AS t(id, user_id, subject, subject_name, origin, destination, recipient,
                     recipient_name, purpose, fields, legal_basis, consent_id, reference,
                     transferred_at, retain_until)
            ON CONFLICT (reference, subject, recipient) DO NOTHING
            RETURNING 1
        )
        SELECT count(*) FROM new
        """,
        [r.id for r in rows],
        [r.user_id for r in rows],
        [r.subject for r in rows],
        [r.subject_name for r in rows],
        [r.origin for r in rows],
        [r.destination for r in rows],
        [r.recipient for r in rows],
        [r.recipient_name for r in rows],
        [r.purpose for r in rows],
        # unnest flattens a 2-D array, so the field lists travel as one comma-joined string each
        [",".join(r.fields) for r in rows],
        [r.legal_basis for r in rows],
        [r.consent_id for r in rows],
        [r.reference for r in rows],
        [r.transferred_at for r in rows],
        [r.retain_until for r in rows],
    )
    return int(result)


async def list_for_user(
    conn: Connection, user_id: str, *, after: str | None, limit: int
) -> list[TransferRow]:
    """Newest first; the cursor is the id of the last record of the previous page."""
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM data_transfers
        WHERE user_id = $1 AND ($2::text IS NULL OR id < $2)
        ORDER BY id DESC LIMIT $3
        """,
        user_id,
        after,
        limit,
    )
    return [_row(r) for r in records]


async def to_destination(conn: Connection, user_id: str, destination: str) -> list[TransferRow]:
    """Everything of the rider's sent to `destination`, oldest first."""
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM data_transfers
        WHERE user_id = $1 AND destination = $2
        ORDER BY transferred_at, id
        """,
        user_id,
        destination,
    )
    return [_row(r) for r in records]


async def for_reference(conn: Connection, reference: str) -> list[TransferRow]:
    records = await conn.fetch(
        f"SELECT {_COLUMNS} FROM data_transfers WHERE reference = $1 ORDER BY id", reference
    )
    return [_row(r) for r in records]


async def purge_expired(conn: Connection, now: datetime) -> int:
    """Delete records past their retention date; returns how many."""
    status = await conn.execute("DELETE FROM data_transfers WHERE retain_until < $1", now)
    return int(status.split()[-1])
