"""Two workers recording a tap-in for the same code at the same time: the database lets one win.

The negative control runs the same two overlapping transactions through the same function
without the unique indexes (a copy of it, since ON CONFLICT needs them to exist), and both
"win": that is the race the indexes close.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from bayaffairs.db.queries import journeys as q
from tests.support import START

ACCOUNT = os.urandom(8)


def item(tap: str, journey: str, code_key: str = "1:00112233aabbccdd") -> dict[str, Any]:
    return {
        "idx": 0,
        "tap_id": tap,
        "journey_id": journey,
        "operator": "op",
        "gate_id": tap,
        "station": "s1",
        "direction": "in",
        "code_key": code_key,
        "account": ACCOUNT.hex(),
        "credential": None,
        "scanned_at": START.isoformat(),
        "source": "online",
        "tap_out": True,
        "orphan_exit": "max_fare",
    }


@pytest.fixture
async def two_workers(
    database_url: str, pg: asyncpg.Connection
) -> AsyncIterator[tuple[asyncpg.Connection, ...]]:
    await pg.execute("INSERT INTO users (id, display_name) VALUES ('usr_race', 'race')")
    await pg.execute("INSERT INTO ride_accounts (account_token, user_id) VALUES ($1, 'usr_race')", ACCOUNT)
    first, second = await asyncpg.connect(database_url), await asyncpg.connect(database_url)
    try:
        yield first, second
    finally:
        await first.close()
        await second.close()


# The function file is the definition the database runs (db/migrate.py applies it last).
FUNCTION_FILE = Path(__file__).resolve().parents[2] / "db" / "functions" / "record_scans.sql"


async def call(conn: asyncpg.Connection, function: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if function == "record_scans":
        return await q.record_scans(conn, items)
    if function == "record_fixed_tap_ins":  # tap-ins priced in advance, written set-wise
        fares = {c: [600, "flat fare"] for c in ("adult", "child", "student", "elderly")}
        return await q.record_fixed_tap_ins(conn, [{**i, "fares": fares, "currency": "MOP"} for i in items])
    rows = await conn.fetch(f"SELECT * FROM {function}($1::jsonb)", orjson.dumps(items).decode())
    return [dict(r) for r in rows]


async def waits_on_the_first_or_ends(
    pg: asyncpg.Connection, second: asyncpg.Connection, pending: asyncio.Task[Any]
) -> None:
    """Until the second's statement has ended or waits on a lock (the first's insert): not a
    time to sleep, so the first never commits before the second has read, however late the
    second is scheduled. `pg` watches (pg_stat_activity is read once a transaction)."""
    pid = second.get_server_pid()
    for _ in range(3000):
        if pending.done() or await pg.fetchval("SELECT cardinality(pg_blocking_pids($1)) > 0", pid):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the second worker neither finished nor waited on the first")


async def race(
    pg: asyncpg.Connection,
    first: asyncpg.Connection,
    second: asyncpg.Connection,
    function: str = "record_scans",
) -> list[str]:
    """Both begin and record before either commits; the second's insert waits on the first."""
    tx1, tx2 = first.transaction(), second.transaction()
    await tx1.start()
    await tx2.start()
    one = await call(first, function, [item("tap_a", "jny_a")])
    pending = asyncio.create_task(call(second, function, [item("tap_b", "jny_b")]))
    await waits_on_the_first_or_ends(pg, second, pending)
    await tx1.commit()
    two = await pending
    await tx2.commit()
    return [one[0]["decision"], two[0]["decision"]]


async def test_two_workers_on_one_code_give_one_open(
    two_workers: tuple[asyncpg.Connection, ...], pg: asyncpg.Connection
) -> None:
    decisions = await race(pg, *two_workers)
    assert sorted(decisions) == ["deny", "open"]
    assert await pg.fetchval("SELECT count(*) FROM taps") == 1
    assert await pg.fetchval("SELECT count(*) FROM journeys") == 1


async def test_two_workers_on_one_code_give_one_open_set_wise_too(
    two_workers: tuple[asyncpg.Connection, ...], pg: asyncpg.Connection
) -> None:
    decisions = await race(pg, *two_workers, function="record_fixed_tap_ins")
    assert sorted(decisions) == ["deny", "open"]
    assert await pg.fetchval("SELECT count(*) FROM taps") == 1
    assert await pg.fetchval("SELECT count(*) FROM journeys") == 1
    assert await pg.fetchval("SELECT fare_amount FROM journeys") == 600  # priced as it was written


async def test_negative_control_without_the_unique_indexes_both_open(
    two_workers: tuple[asyncpg.Connection, ...], pg: asyncpg.Connection
) -> None:
    sql = FUNCTION_FILE.read_text()
    function = sql[sql.index("CREATE OR REPLACE FUNCTION record_scans") :]
    unguarded = function.replace("record_scans", "record_scans_unguarded").replace(
        "ON CONFLICT (account_token) WHERE status = 'open' DO NOTHING", ""
    )
    assert unguarded.count("ON CONFLICT (account_token)") == 0
    await pg.execute(unguarded)
    await pg.execute("DROP INDEX taps_code_once; DROP INDEX journeys_one_open")
    try:
        decisions = await race(pg, *two_workers, function="record_scans_unguarded")
        opened = await pg.fetchval("SELECT count(*) FROM taps")
    finally:
        await pg.execute("TRUNCATE taps, journeys CASCADE; DROP FUNCTION record_scans_unguarded(jsonb)")
        await pg.execute(
            "CREATE UNIQUE INDEX taps_code_once ON taps (code_key, direction);"
            "CREATE UNIQUE INDEX journeys_one_open ON journeys (account_token) WHERE status = 'open'"
        )
    assert decisions == ["open", "open"]
    assert opened == 2
