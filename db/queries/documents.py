"""Riders' documents. The number is stored only as ciphertext, fingerprint and masked form."""

from __future__ import annotations

from collections.abc import Sequence
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


async def holder_fingerprints(
    conn: Connection, user_id: str, document_id: str
) -> tuple[list[bytes], str] | None:
    """The document's fingerprint first, then, when it is the rider's own (holder `self`), those
    of the rider's other own documents; and the document's holder. None: no such document."""
    records = await conn.fetch(
        """
        SELECT d.number_fingerprint, asked.holder FROM documents d
        JOIN documents asked ON asked.user_id = $1 AND asked.id = $2
        WHERE d.user_id = $1 AND (d.id = $2 OR (asked.holder = 'self' AND d.holder = 'self'))
        ORDER BY d.id = $2 DESC, d.id
        """,
        user_id,
        document_id,
    )
    if not records:
        return None
    return [bytes(r["number_fingerprint"]) for r in records], records[0]["holder"]


async def delete_for_user(conn: Connection, user_id: str, document_id: str) -> bool:
    status = await conn.execute("DELETE FROM documents WHERE user_id = $1 AND id = $2", user_id, document_id)
    return status == "DELETE 1"


@dataclass(frozen=True)
class SealedNumber:
    id: str
    user_id: str
    type: str
    number_ciphertext: bytes
    number_fingerprint: bytes


async def sealed_after(conn: Connection, after: str, limit: int) -> list[SealedNumber]:
    """The next documents by id, locked, with what re-fingerprinting needs."""
    records = await conn.fetch(
        """
        SELECT id, user_id, type, number_ciphertext, number_fingerprint FROM documents
        WHERE id > $1 ORDER BY id LIMIT $2 FOR UPDATE
        """,
        after,
        limit,
    )
    return [
        SealedNumber(
            r["id"], r["user_id"], r["type"], bytes(r["number_ciphertext"]), bytes(r["number_fingerprint"])
        )
        for r in records
    ]


async def set_fingerprint(conn: Connection, document_id: str, fingerprint: bytes) -> bool:
    """False, changing nothing, when the rider holds another document of the type with that
    fingerprint already (the same document twice, e.g. a permit's booklet and its card)."""
    status = await conn.execute(
        """
        UPDATE documents d SET number_fingerprint = $2 WHERE id = $1 AND NOT EXISTS (
            SELECT 1 FROM documents o
            WHERE o.user_id = d.user_id AND o.type = d.type AND o.number_fingerprint = $2 AND o.id <> d.id
        )
        """,
        document_id,
        fingerprint,
    )
    return status == "UPDATE 1"


async def replace_fingerprints(
    conn: Connection, old: Sequence[bytes], new: Sequence[bytes]
) -> tuple[int, int]:
    """Where documents' old fingerprints are kept (an appointment's person keys, a passenger's
    seat), the new ones instead: `old[i]` becomes `new[i]`. (appointments, passengers) changed."""
    appointments = await conn.execute(
        """
        WITH m AS (SELECT * FROM unnest($1::text[], $2::text[]) AS m (old, new))
        UPDATE appointments a SET
            person_key = coalesce((SELECT m.new FROM m WHERE m.old = a.person_key), a.person_key),
            person_keys = ARRAY(
                SELECT DISTINCT coalesce((SELECT m.new FROM m WHERE m.old = k), k)
                FROM unnest(a.person_keys) AS k
            )
        WHERE a.person_keys && $1::text[]
        """,
        ["doc:" + f.hex() for f in old],
        ["doc:" + f.hex() for f in new],
    )
    passengers = await conn.execute(
        """
        WITH m AS (SELECT * FROM unnest($1::bytea[], $2::bytea[]) AS m (old, new))
        UPDATE travel_passengers p SET fingerprint = m.new FROM m WHERE p.fingerprint = m.old
        """,
        list(old),
        list(new),
    )
    return int(appointments.split()[-1]), int(passengers.split()[-1])
