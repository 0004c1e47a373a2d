"""Settlement's statements as PostgreSQL plans them: a page after a cursor is found through the
index (the cursor bounds the scan), not by reading the day from its start and filtering."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from bayaffairs.db.queries import settlements as q
from tests.support import START

SHENZHEN = ZoneInfo("Asia/Shanghai")


class Recording:
    """A connection that remembers the statements it is asked to fetch (and answers nothing)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[Any, ...]]] = []

    async def fetch(self, sql: str, *args: Any, **_: Any) -> list[Any]:
        self.statements.append((sql, args))
        return []


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    out = [plan]
    for child in plan.get("Plans", ()):
        out += _nodes(child)
    return out


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, int):
        return str(value)
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


async def generic_plan(pg: asyncpg.Connection, sql: str, args: tuple[Any, ...]) -> list[dict[str, Any]]:
    """The plan PostgreSQL keeps for the statement once it is prepared and reused (generic: it
    cannot know the parameters), as asyncpg's statement cache reuses it."""
    await pg.execute("SET plan_cache_mode = force_generic_plan")
    await pg.execute("SET enable_seqscan = off")  # an empty test table would be read whole
    await pg.execute(f"PREPARE page AS {sql}")
    try:
        values = ", ".join(_literal(a) for a in args)
        raw = await pg.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE page({values})")
    finally:
        await pg.execute("DEALLOCATE page")
        await pg.execute("RESET plan_cache_mode; RESET enable_seqscan")
    return _nodes(json.loads(raw)[0]["Plan"])


async def test_a_page_after_a_cursor_is_bounded_by_the_index(pg: asyncpg.Connection) -> None:
    day = START.astimezone(SHENZHEN).date()
    start = datetime.combine(day, datetime.min.time(), SHENZHEN)
    conn = Recording()
    cursor = (start + timedelta(hours=20), "jny_cursor")
    await q.day_journeys(conn, "shenzhen_metro", day, start, start + timedelta(days=1), cursor, 1001)  # type: ignore[arg-type]
    [(sql, args)] = conn.statements
    plan = await generic_plan(pg, sql, args)
    journeys = [n for n in plan if n.get("Relation Name") == "journeys"]
    assert journeys and all("Index" in n["Node Type"] for n in journeys), plan
    cursor_param = f"${args.index(cursor[0]) + 1}"
    assert any(cursor_param in n.get("Index Cond", "") for n in journeys), plan
    assert not any("IS NULL" in n.get("Filter", "") for n in journeys), plan


async def test_the_first_page_needs_no_cursor(pg: asyncpg.Connection) -> None:
    day = START.astimezone(SHENZHEN).date()
    start = datetime.combine(day, datetime.min.time(), SHENZHEN)
    conn = Recording()
    await q.day_journeys(conn, "shenzhen_metro", day, start, start + timedelta(days=1), None, 1001)  # type: ignore[arg-type]
    [(sql, args)] = conn.statements
    plan = await generic_plan(pg, sql, args)
    journeys = [n for n in plan if n.get("Relation Name") == "journeys"]
    assert journeys and not any("IS NULL" in n.get("Filter", "") for n in journeys), plan
