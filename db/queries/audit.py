"""The audit log (`audit_log`): inserted and read, never changed (the database refuses it)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bayaffairs.storage import Connection, Record

_COLUMNS = "id, at, actor, actor_kind, scope, action, target, status, request_id, code"


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    actor: str
    actor_kind: str
    scope: str
    action: str
    target: str
    status: int
    request_id: str
    code: str | None


def _row(record: Record) -> AuditRow:
    return AuditRow(**dict(record))


async def insert(
    conn: Connection,
    *,
    at: datetime,
    actor: str,
    actor_kind: str,
    scope: str,
    action: str,
    target: str,
    status: int,
    request_id: str,
    code: str | None = None,
) -> None:
    await conn.execute(
        "INSERT INTO audit_log (at, actor, actor_kind, scope, action, target, status, request_id, code)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        at,
        actor,
        actor_kind,
        scope,
        action,
        target,
        status,
        request_id,
        code,
    )


async def since(conn: Connection, *, since: datetime | None, after_id: int, limit: int) -> list[AuditRow]:
    """Entries at or after `since`, in the order written, after the entry `after_id`."""
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM audit_log
        WHERE ($1::timestamptz IS NULL OR at >= $1) AND id > $2
        ORDER BY id
        LIMIT $3
        """,
        since,
        after_id,
        limit,
    )
    return [_row(r) for r in records]
