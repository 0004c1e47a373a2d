"""Repairs of unfinished journeys: applied at once, or waiting for the operator's decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bayaffairs.storage import Connection, Record

_COLUMNS = "id, journey_id, user_id, operator, exit_station, status, created_at, decided_at"


@dataclass(frozen=True)
class RepairRow:
    id: str
    journey_id: str
    user_id: str
    operator: str
    exit_station: str
    status: str  # applied | pending | approved | refused | superseded
    created_at: datetime
    decided_at: datetime | None


def _row(record: Record) -> RepairRow:
    return RepairRow(**dict(record))


async def lock_rider(conn: Connection, user_id: str, operator: str) -> None:
    """Call in a transaction: a rider's repairs at one operator are counted and written in turn."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtext('repairs'), hashtext($1 || '/' || $2))", user_id, operator
    )


async def count_since(conn: Connection, user_id: str, operator: str, since: datetime) -> int:
    """Repairs the rider asked at the operator since `since` (refused and superseded ones too:
    asking is what the allowance counts)."""
    count: int = await conn.fetchval(
        "SELECT count(*) FROM journey_repairs WHERE user_id = $1 AND operator = $2 AND created_at >= $3",
        user_id,
        operator,
        since,
    )
    return count


async def for_journey(conn: Connection, journey_id: str) -> RepairRow | None:
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM journey_repairs WHERE journey_id = $1 AND status <> 'superseded'",
        journey_id,
    )
    return _row(record) if record else None


async def insert(
    conn: Connection,
    *,
    repair_id: str,
    journey_id: str,
    user_id: str,
    operator: str,
    exit_station: str,
    status: str,
    at: datetime,
) -> RepairRow:
    record = await conn.fetchrow(
        f"""
        INSERT INTO journey_repairs (id, journey_id, user_id, operator, exit_station, status, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {_COLUMNS}
        """,
        repair_id,
        journey_id,
        user_id,
        operator,
        exit_station,
        status,
        at,
    )
    assert record is not None
    return _row(record)


async def get(conn: Connection, operator: str, repair_id: str, *, lock: bool = False) -> RepairRow | None:
    record = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM journey_repairs WHERE operator = $1 AND id = $2"
        + (" FOR UPDATE" if lock else ""),
        operator,
        repair_id,
    )
    return _row(record) if record else None


async def decide(
    conn: Connection, repair_id: str, *, status: str, at: datetime, decided_by: str | None
) -> RepairRow:
    record = await conn.fetchrow(
        f"""
        UPDATE journey_repairs SET status = $2, decided_at = $3, decided_by = $4
        WHERE id = $1 RETURNING {_COLUMNS}
        """,
        repair_id,
        status,
        at,
        decided_by,
    )
    assert record is not None
    return _row(record)


async def list_for_operator(
    conn: Connection, operator: str, *, status: str | None, after: str | None, limit: int
) -> list[RepairRow]:
    records = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM journey_repairs
        WHERE operator = $1 AND ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR id > $3)
        ORDER BY id LIMIT $4
        """,
        operator,
        status,
        after,
        limit,
    )
    return [_row(r) for r in records]
