"""Credentials: rider sessions and CLI-issued tokens. Only secret hashes are stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bayaffairs.storage import Connection, Record, returned

if TYPE_CHECKING:  # bayaffairs.credentials imports this module
    from bayaffairs.credentials import CredentialKind

_COLUMNS = "id, kind, scope, secret_hash, label, created_at, expires_at, revoked_at, gate_id, stations"


@dataclass(frozen=True)
class CredentialRow:
    id: str
    kind: CredentialKind
    scope: str
    secret_hash: bytes
    label: str | None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    gate_id: str | None = None  # a gate credential bound to one gate (and maybe stations)
    stations: list[str] | None = None


def _row(record: Record) -> CredentialRow:
    return CredentialRow(**dict(record))


async def insert(
    conn: Connection,
    *,
    id: str,
    kind: str,
    scope: str,
    secret_hash: bytes,
    label: str | None,
    created_at: datetime,
    expires_at: datetime,
    gate_id: str | None = None,
    stations: list[str] | None = None,
) -> CredentialRow:
    record = await conn.fetchrow(
        f"""
        INSERT INTO credentials
            (id, kind, scope, secret_hash, label, created_at, expires_at, gate_id, stations)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING {_COLUMNS}
        """,
        id,
        kind,
        scope,
        secret_hash,
        label,
        created_at,
        expires_at,
        gate_id,
        stations,
    )
    return _row(returned(record))


async def get(conn: Connection, credential_id: str) -> CredentialRow | None:
    record = await conn.fetchrow(f"SELECT {_COLUMNS} FROM credentials WHERE id = $1", credential_id)
    return _row(record) if record else None


async def list_all(
    conn: Connection, *, kind: str | None, include_inactive: bool, now: datetime
) -> list[CredentialRow]:
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM credentials
        WHERE ($1::text IS NULL OR kind = $1)
          AND kind <> 'rider'
          AND ($2 OR (revoked_at IS NULL AND expires_at > $3))
        ORDER BY created_at, id
        """,
        kind,
        include_inactive,
        now,
    )
    return [_row(r) for r in records]


async def revoke(conn: Connection, credential_id: str, at: datetime) -> CredentialRow | None:
    record = await conn.fetchrow(
        f"""
        UPDATE credentials SET revoked_at = coalesce(revoked_at, $2)
        WHERE id = $1
        RETURNING {_COLUMNS}
        """,
        credential_id,
        at,
    )
    return _row(record) if record else None


async def delete_expired(conn: Connection, before: datetime) -> int:
    status = await conn.execute("DELETE FROM credentials WHERE expires_at < $1", before)
    return int(status.split()[-1])
