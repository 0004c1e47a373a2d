"""Issuers' signing keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bayaffairs.storage import Connection, Record, returned

_COLUMNS = (
    "kid, issuer, key_number, algorithm, public_key, private_key_sealed, created_at, not_before,"
    " retired_at, verifies_until, compromised_at"
)


@dataclass(frozen=True)
class IssuerKeyRow:
    kid: str
    issuer: str
    key_number: int
    algorithm: str
    public_key: bytes
    private_key_sealed: bytes
    created_at: datetime
    not_before: datetime
    retired_at: datetime | None
    verifies_until: datetime | None
    compromised_at: datetime | None


def _row(record: Record) -> IssuerKeyRow:
    return IssuerKeyRow(**dict(record))


async def lock_issuer(conn: Connection, issuer: str) -> None:
    """Serialise rotations of one issuer (transaction-scoped advisory lock)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('issuer_keys:' || $1))", issuer)


async def withdraw_staged(conn: Connection, issuer: str, at: datetime) -> list[str]:
    """Keys of `issuer` that would only sign after `at` never will, and are no longer published
    (kept, so their numbers are never used again)."""
    records = await conn.fetch(
        """
        UPDATE issuer_keys SET retired_at = not_before, verifies_until = $2
        WHERE issuer = $1 AND not_before > $2 RETURNING kid
        """,
        issuer,
        at,
    )
    return [r["kid"] for r in records]


async def retire_signing(
    conn: Connection, issuer: str, at: datetime, until: datetime, verifies_until: datetime
) -> None:
    """Keys of `issuer` that sign at `at` (or would, after a withdrawn staged key) stop at `until`."""
    await conn.execute(
        """
        UPDATE issuer_keys SET retired_at = $3, verifies_until = $4
        WHERE issuer = $1 AND not_before <= $2 AND (retired_at IS NULL OR retired_at > $2)
        """,
        issuer,
        at,
        until,
        verifies_until,
    )


async def next_number(conn: Connection, issuer: str) -> int:
    number: int = await conn.fetchval(
        "SELECT coalesce(max(key_number), 0) + 1 FROM issuer_keys WHERE issuer = $1", issuer
    )
    return number


async def insert(
    conn: Connection,
    *,
    kid: str,
    issuer: str,
    key_number: int,
    algorithm: str,
    public_key: bytes,
    private_key_sealed: bytes,
    created_at: datetime,
    not_before: datetime,
) -> IssuerKeyRow:
    record = await conn.fetchrow(
        f"""
        INSERT INTO issuer_keys
            (kid, issuer, key_number, algorithm, public_key, private_key_sealed, created_at, not_before)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        RETURNING {_COLUMNS}
        """,
        kid,
        issuer,
        key_number,
        algorithm,
        public_key,
        private_key_sealed,
        created_at,
        not_before,
    )
    return _row(returned(record))


async def signing_key(conn: Connection, issuer: str, at: datetime) -> IssuerKeyRow | None:
    """The key that signs for `issuer` at `at`: the newest whose turn has come, not compromised."""
    record = await conn.fetchrow(
        f"""
        SELECT {_COLUMNS} FROM issuer_keys
        WHERE issuer = $1 AND compromised_at IS NULL AND not_before <= $2
          AND (retired_at IS NULL OR retired_at > $2)
        ORDER BY not_before DESC LIMIT 1
        """,
        issuer,
        at,
    )
    return _row(record) if record else None


async def verifying_keys(conn: Connection, at: datetime) -> list[IssuerKeyRow]:
    """Keys that still verify at `at`: not compromised, and current, staged or within their
    presentable horizon."""
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM issuer_keys
        WHERE compromised_at IS NULL AND (verifies_until IS NULL OR verifies_until > $1)
        ORDER BY issuer, key_number
        """,
        at,
    )
    return [_row(r) for r in records]


async def all_keys(conn: Connection) -> list[IssuerKeyRow]:
    records = await conn.fetch(f"SELECT {_COLUMNS} FROM issuer_keys ORDER BY issuer, key_number")
    return [_row(r) for r in records]


async def mark_compromised(conn: Connection, kid: str, at: datetime) -> IssuerKeyRow | None:
    record = await conn.fetchrow(
        f"""
        UPDATE issuer_keys
        SET compromised_at = coalesce(compromised_at, $2), retired_at = coalesce(retired_at, $2),
            verifies_until = least(coalesce(verifies_until, $2), $2)
        WHERE kid = $1
        RETURNING {_COLUMNS}
        """,
        kid,
        at,
    )
    return _row(record) if record else None
