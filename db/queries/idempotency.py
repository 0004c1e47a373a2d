"""Idempotency-Key records: claimed before the work, completed with the answer after it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bayaffairs.storage import Connection


@dataclass(frozen=True)
class KeyRow:
    fingerprint: bytes
    state: Literal["in_flight", "done"]  # claimed and working, or answered
    status: int | None
    body: bytes | None
    content_type: str | None
    lease_expired: bool
    record_expired: bool


async def claim(
    conn: Connection, principal: str, key: str, fingerprint: bytes, lease_seconds: int, retention_hours: int
) -> bool:
    """Insert an in-flight record; False when one exists already."""
    status = await conn.execute(
        """
        INSERT INTO idempotency_keys (principal, key, fingerprint, state, locked_until, expires_at)
        VALUES ($1, $2, $3, 'in_flight', now() + make_interval(secs => $4),
                now() + make_interval(hours => $5))
        ON CONFLICT (principal, key) DO NOTHING
        """,
        principal,
        key,
        fingerprint,
        lease_seconds,
        retention_hours,
    )
    return status.endswith(" 1")


async def get_for_update(conn: Connection, principal: str, key: str) -> KeyRow | None:
    record = await conn.fetchrow(
        """
        SELECT fingerprint, state, status, body, content_type,
               coalesce(locked_until < now(), true) AS lease_expired,
               expires_at < now() AS record_expired
        FROM idempotency_keys WHERE principal = $1 AND key = $2
        FOR UPDATE
        """,
        principal,
        key,
    )
    return KeyRow(**dict(record)) if record else None


async def restart(
    conn: Connection, principal: str, key: str, fingerprint: bytes, lease_seconds: int, retention_hours: int
) -> None:
    """Take over a record whose holder died (lease over) or which outlived its retention."""
    await conn.execute(
        """
        UPDATE idempotency_keys
        SET fingerprint = $3, state = 'in_flight', status = NULL, body = NULL, content_type = NULL,
            locked_until = now() + make_interval(secs => $4),
            created_at = now(), expires_at = now() + make_interval(hours => $5)
        WHERE principal = $1 AND key = $2
        """,
        principal,
        key,
        fingerprint,
        lease_seconds,
        retention_hours,
    )


async def complete(
    conn: Connection, principal: str, key: str, status: int, body: bytes, content_type: str
) -> None:
    await conn.execute(
        """
        UPDATE idempotency_keys
        SET state = 'done', status = $3, body = $4, content_type = $5, locked_until = NULL
        WHERE principal = $1 AND key = $2
        """,
        principal,
        key,
        status,
        body,
        content_type,
    )


async def release(conn: Connection, principal: str, key: str) -> None:
    await conn.execute(
        "DELETE FROM idempotency_keys WHERE principal = $1 AND key = $2 AND state = 'in_flight'",
        principal,
        key,
    )


async def purge_expired(conn: Connection) -> int:
    status = await conn.execute("DELETE FROM idempotency_keys WHERE expires_at < now()")
    return int(status.split()[-1])
