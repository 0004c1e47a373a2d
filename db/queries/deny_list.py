"""The deny list as an append-only log: gates fetch what changed since their cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bayaffairs.storage import Connection


@dataclass(frozen=True)
class DenyChange:
    seq: int
    kind: str
    value: str
    action: str
    reason: str | None
    at: datetime


async def append(conn: Connection, kind: str, value: str, action: str, reason: str | None) -> int:
    """Call in a transaction. Appends take turns (a transaction-scoped advisory lock), so they
    commit in sequence order and a gate that has read up to N never misses an N-1 committed later."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('deny_list'))")
    seq: int = await conn.fetchval(
        "INSERT INTO deny_list (kind, value, action, reason) VALUES ($1, $2, $3, $4) RETURNING seq",
        kind,
        value,
        action,
        reason,
    )
    return seq


async def changes_since(conn: Connection, cursor: int, limit: int) -> list[DenyChange]:
    records = await conn.fetch(
        """
        SELECT seq, kind, value, action, reason, at FROM deny_list
        WHERE seq > $1 ORDER BY seq LIMIT $2
        """,
        cursor,
        limit,
    )
    return [DenyChange(**dict(r)) for r in records]


async def current(conn: Connection, kind: str, value: str) -> bool:
    """Whether (kind, value) is on the list now: its latest change is an add."""
    action: str | None = await conn.fetchval(
        "SELECT action FROM deny_list WHERE kind = $1 AND value = $2 ORDER BY seq DESC LIMIT 1",
        kind,
        value,
    )
    return action == "add"
