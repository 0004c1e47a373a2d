"""Ride accounts (the opaque token inside codes) and device credentials."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bayaffairs.storage import Connection


async def current_token(conn: Connection, user_id: str) -> bytes | None:
    token: bytes | None = await conn.fetchval(
        "SELECT account_token FROM ride_accounts WHERE user_id = $1 AND retired_at IS NULL", user_id
    )
    return token


async def current_tokens(conn: Connection, user_ids: Sequence[str]) -> dict[str, bytes]:
    """The users' current tokens (users without one are left out)."""
    records = await conn.fetch(
        "SELECT user_id, account_token FROM ride_accounts"
        " WHERE user_id = ANY($1::text[]) AND retired_at IS NULL",
        list(user_ids),
    )
    return {r["user_id"]: bytes(r["account_token"]) for r in records}


async def create(conn: Connection, user_id: str, token: bytes) -> bytes:
    """The user's current token: `token` if this call created it, else the one that exists."""
    await conn.execute(
        """
        INSERT INTO ride_accounts (account_token, user_id) VALUES ($1, $2)
        ON CONFLICT (user_id) WHERE retired_at IS NULL DO NOTHING
        """,
        token,
        user_id,
    )
    current = await current_token(conn, user_id)
    assert current is not None  # inserted above, or there already
    return current


async def insert_credential(
    conn: Connection,
    *,
    credential_id: bytes,
    account_token: bytes,
    device_public_key: bytes,
    valid_from: datetime,
    valid_until: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO ride_credentials
            (credential_id, account_token, device_public_key, valid_from, valid_until)
        VALUES ($1, $2, $3, $4, $5)
        """,
        credential_id,
        account_token,
        device_public_key,
        valid_from,
        valid_until,
    )


async def revoke_credential(conn: Connection, credential_id: bytes, user_id: str, at: datetime) -> bool:
    """Revoke one of the user's device credentials; False when it is not theirs or not there."""
    status = await conn.execute(
        """
        UPDATE ride_credentials c SET revoked_at = coalesce(c.revoked_at, $3)
        FROM ride_accounts a
        WHERE c.credential_id = $1 AND a.account_token = c.account_token AND a.user_id = $2
        """,
        credential_id,
        user_id,
        at,
    )
    return status == "UPDATE 1"
