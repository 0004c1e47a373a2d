"""What the online scan's statement costs the database per batch (issue 15, throughput).

A LANGUAGE sql function that PostgreSQL cannot inline (one with a sub-select) is parsed and
planned again in every statement that calls it, before its first row. tap_refusal() was one:
in the set-wise tap-in statement of a batch of one scan it was over a third of the database's
CPU (perf: fmgr_sql -> pg_plan_query), about 0.5 ms a batch. PL/pgSQL keeps the plans of its
statements for the session (db/functions/tap_refusal.sql).
"""

from __future__ import annotations

import re

import asyncpg

from bayaffairs.db.queries import journeys as q


async def own_functions_called(pg: asyncpg.Connection, sql: str) -> dict[str, str]:
    """{name: language} of this database's own functions that `sql` calls."""
    names = set(re.findall(r"\b([a-z_][a-z0-9_]*)\s*\(", sql))
    rows = await pg.fetch(
        """
        SELECT p.proname, l.lanname FROM pg_proc p
        JOIN pg_language l ON l.oid = p.prolang
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND p.proname = ANY($1::text[])
        """,
        sorted(names),
    )
    return {r["proname"]: r["lanname"] for r in rows}


async def test_the_tap_in_statement_calls_no_function_planned_again_per_statement(
    pg: asyncpg.Connection,
) -> None:
    called = await own_functions_called(pg, q._RECORD_FIXED_TAP_INS)

    assert "tap_refusal" in called  # the statement judges the deny list through it
    replanned = {name for name, language in called.items() if language == "sql"}
    assert replanned == set(), f"LANGUAGE sql functions, planned in every statement: {replanned}"


async def test_tap_refusal_keeps_its_plan_for_the_session(pg: asyncpg.Connection) -> None:
    """PL/pgSQL, on its generic plan: left to choose, it planned a custom plan at every call (the
    generic one costed higher on tables without statistics), ~4x the cost of a call."""
    language, config = await pg.fetchrow(
        "SELECT l.lanname, p.proconfig FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
        " WHERE p.proname = 'tap_refusal'"
    )

    assert language == "plpgsql"
    assert config == ["plan_cache_mode=force_generic_plan"]
