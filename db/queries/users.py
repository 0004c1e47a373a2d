"""Users, their sign-in identities and their wallet choice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bayaffairs.storage import Connection, Record, returned

_COLUMNS = "id, display_name, category, wallet_currency, wallet_provider, created_at, updated_at"


@dataclass(frozen=True)
class UserRow:
    id: str
    display_name: str | None
    category: str
    wallet_currency: str | None
    wallet_provider: str | None
    created_at: datetime
    updated_at: datetime


def _row(record: Record) -> UserRow:
    return UserRow(**dict(record))


async def get(conn: Connection, user_id: str) -> UserRow | None:
    record = await conn.fetchrow(f"SELECT {_COLUMNS} FROM users WHERE id = $1", user_id)
    return _row(record) if record else None


async def find_by_identity(conn: Connection, provider: str, subject: str) -> UserRow | None:
    record = await conn.fetchrow(
        f"""
        SELECT {", ".join("u." + c.strip() for c in _COLUMNS.split(","))}
        FROM user_identities i JOIN users u ON u.id = i.user_id
        WHERE i.provider = $1 AND i.subject = $2
        """,
        provider,
        subject,
    )
    return _row(record) if record else None


async def insert(
    conn: Connection, *, id: str, display_name: str | None, category: str, at: datetime
) -> UserRow:
    record = await conn.fetchrow(
        f"""
        INSERT INTO users (id, display_name, category, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $4)
        RETURNING {_COLUMNS}
        """,
        id,
        display_name,
        category,
        at,
    )
    return _row(returned(record))


async def link_identity(conn: Connection, *, provider: str, subject: str, user_id: str, at: datetime) -> bool:
    """Link a provider subject to a user; False if another sign-in linked it first."""
    status = await conn.execute(
        """
        INSERT INTO user_identities (provider, subject, user_id, created_at, last_login_at)
        VALUES ($1, $2, $3, $4, $4)
        ON CONFLICT (provider, subject) DO NOTHING
        """,
        provider,
        subject,
        user_id,
        at,
    )
    return status.endswith(" 1")


async def touch_identity(conn: Connection, *, provider: str, subject: str, at: datetime) -> None:
    await conn.execute(
        "UPDATE user_identities SET last_login_at = $3 WHERE provider = $1 AND subject = $2",
        provider,
        subject,
        at,
    )


async def update_verified(
    conn: Connection, user_id: str, *, display_name: str | None, category: str | None, at: datetime
) -> UserRow:
    """Refresh what the identity provider verified; a None keeps the stored value."""
    record = await conn.fetchrow(
        f"""
        UPDATE users
        SET display_name = coalesce($2, display_name),
            category = coalesce($3, category),
            updated_at = $4
        WHERE id = $1
        RETURNING {_COLUMNS}
        """,
        user_id,
        display_name,
        category,
        at,
    )
    return _row(returned(record))


async def set_wallet(
    conn: Connection, user_id: str, *, currency: str, provider: str, at: datetime
) -> UserRow:
    record = await conn.fetchrow(
        f"""
        UPDATE users SET wallet_currency = $2, wallet_provider = $3, updated_at = $4
        WHERE id = $1
        RETURNING {_COLUMNS}
        """,
        user_id,
        currency,
        provider,
        at,
    )
    return _row(returned(record))
