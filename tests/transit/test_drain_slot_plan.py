"""take_slot's check for uploads due, as PostgreSQL runs it on a table with many decided uploads
and a burst of pending ones not yet settled (received less than `settle_seconds` ago): it finds a
slot's settled uploads through an index on their receipt time, instead of reading every pending
upload of the slot in scan order and dropping the unsettled ones (issue 15, throughput; 0054).

Run in a transaction rolled back at the end: ANALYZE's statistics are transactional, so the test
database's planner is left as it was."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import orjson

from bayaffairs.db.queries import tap_uploads as q
from tests.support import START

DECIDED = 20_000  # recorded and refused uploads, over every slot
UNSETTLED = 4_000  # pending, received just now, over every slot
LATE_SLOT = 5  # the one slot with an upload due: behind the unsettled ones in scan order


class Explaining:
    """A connection that answers take_slot's statement with nothing, keeping its executed plan."""

    def __init__(self, pg: asyncpg.Connection) -> None:
        self.pg = pg
        self.plan: dict[str, Any] = {}

    async def fetchval(self, sql: str, *args: Any) -> None:
        raw = await self.pg.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql, *args)
        self.plan = orjson.loads(raw)[0]["Plan"]


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan] + [n for child in plan.get("Plans", ()) for n in nodes(child)]


async def populated(pg: asyncpg.Connection) -> None:
    await pg.execute(
        """
        INSERT INTO tap_uploads (operator, tap_id, gate_id, station, direction, payload, scanned_at,
                                 received_at, state, processed_at, slot)
        SELECT 'shenzhen_bus', 'd' || g, 'g1', 's1', 'in', 'payload',
               $1::timestamptz - make_interval(secs => g),
               now() - interval '1 day', CASE WHEN g % 10 = 0 THEN 'refused' ELSE 'recorded' END,
               now() - interval '1 day', g % 16
        FROM generate_series(1, $2) g
        """,
        START - timedelta(days=1),
        DECIDED,
    )
    await pg.execute(
        """
        INSERT INTO tap_uploads (operator, tap_id, gate_id, station, direction, payload, scanned_at, slot)
        SELECT 'shenzhen_bus', 'u' || g, 'g1', 's1', 'in', 'payload',
               $1::timestamptz + make_interval(secs => g), g % 16
        FROM generate_series(1, $2) g
        """,
        START - timedelta(hours=2),
        UNSETTLED,
    )
    await pg.execute(
        """
        INSERT INTO tap_uploads (operator, tap_id, gate_id, station, direction, payload, scanned_at,
                                 received_at, slot)
        VALUES ('shenzhen_bus', 'due', 'g1', 's1', 'in', 'payload', $1, now() - interval '1 hour', $2)
        """,
        START,
        LATE_SLOT,
    )
    await pg.execute("ANALYZE tap_uploads")


async def test_the_due_check_reads_settled_uploads_only(pg: asyncpg.Connection) -> None:
    window = START - timedelta(days=7)
    transaction = pg.transaction()
    await transaction.start()
    try:
        await populated(pg)
        order = list(range(q.SLOTS))
        explaining = Explaining(pg)
        await q.take_slot(explaining, order, 30, window)  # type: ignore[arg-type]
        # What it answers is unchanged: the one slot with an upload due.
        assert await q.take_slot(pg, order, 30, window) == LATE_SLOT  # type: ignore[arg-type]
    finally:
        await transaction.rollback()

    [pending] = [
        n
        for n in nodes(explaining.plan)
        if n.get("Relation Name") == "tap_uploads" and "pending" in n.get("Index Name", "")
    ]
    assert "received_at" in pending.get("Index Cond", ""), pending  # the index bounds the check
    # Not one unsettled upload read and dropped (before 0054: every one of slots 0 to 5).
    assert pending.get("Rows Removed by Filter", 0) == 0, pending
