"""The double-tap look-up of the set-wise tap-in statement on a rider with a long history: the
index on (user_id, coalesce(exit_at, entry_at)) gives the first journey of the window in order,
so a rider with thousands of journeys costs a tap no more than one with a few (issue 15).

Planned on a populated, ANALYZEd table, in a transaction rolled back at the end: ANALYZE's
statistics are transactional, so the test database's planner is left as it was."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from bayaffairs.db.queries import journeys as q
from tests.support import START

HISTORY = 4000  # the long-time rider's journeys
OTHERS = 2000  # riders with a few journeys each


def nodes_to(plan: dict[str, Any], found: Any, path: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The nodes from `plan` down to the first one `found` accepts."""
    path = [*path, plan]
    if found(plan):
        return path
    for child in plan.get("Plans", []):
        hit = nodes_to(child, found, path)
        if hit is not None:
            return hit
    return None


async def populated(pg: asyncpg.Connection) -> bytes:
    """A rider with HISTORY bus journeys, one every half hour, and OTHERS riders with three each;
    the long-time rider's account token."""
    await pg.execute(
        """
        INSERT INTO users (id, category, created_at, updated_at)
        SELECT 'usr_' || g, 'adult', now(), now() FROM generate_series(0, $1) g;
        """.replace("$1", str(OTHERS))
    )
    await pg.execute(
        """
        INSERT INTO ride_accounts (account_token, user_id)
        SELECT substr(sha256(('acct' || g)::bytea), 1, 8), 'usr_' || g FROM generate_series(0, $1) g
        """.replace("$1", str(OTHERS))
    )
    await pg.execute(
        """
        INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station,
                              entry_at, fare_amount, fare_currency, charge_status)
        SELECT 'jny_' || lpad(g::text, 8, '0'), substr(sha256(('acct' || u)::bytea), 1, 8), 'usr_' || u,
               'shenzhen_bus', 'adult', 'completed', 's' || (g % 7),
               '$3'::timestamptz - make_interval(mins => 30 * g), 200, 'CNY', 'charged'
        FROM (SELECT g, CASE WHEN g < $1 THEN 0 ELSE 1 + g % $2 END AS u
              FROM generate_series(0, $1 + 3 * $2 - 1) g) s
        """.replace("$1", str(HISTORY))
        .replace("$2", str(OTHERS))
        .replace("$3", START.isoformat())
    )
    await pg.execute("ANALYZE users, ride_accounts, journeys")
    token: bytes = await pg.fetchval("SELECT account_token FROM ride_accounts WHERE user_id = 'usr_0'")
    return token


async def test_the_double_tap_look_up_reads_the_riders_window_in_index_order(pg: asyncpg.Connection) -> None:
    transaction = pg.transaction()
    await transaction.start()
    try:
        token = await populated(pg)
        item = {
            "idx": 0,
            "tap_id": "t0",
            "journey_id": "jny_new",
            "operator": "shenzhen_bus",
            "gate_id": "g1",
            "station": "s3",
            "direction": "in",
            "code_key": "k0",
            "account": token.hex(),
            "credential": None,
            "scanned_at": START.isoformat(),
            "source": "online",
            "double_tap": 60,
            "price": 0,
        }
        prices = [{"currency": "CNY", "fares": {"adult": [200, "flat fare", 0]}, "charges": None}]
        [explained] = await pg.fetch(
            "EXPLAIN (FORMAT JSON) " + q._RECORD_FIXED_TAP_INS,
            orjson.dumps([item]).decode(),
            orjson.dumps(prices).decode(),
        )
        plan = orjson.loads(explained[0])[0]["Plan"]
    finally:
        await transaction.rollback()  # the statistics go with the rows

    # the scan of the rider's journeys at this stop without an exit: the double-tap look-up
    path = nodes_to(
        plan,
        lambda n: n.get("Relation Name") == "journeys" and "exit_station IS NULL" in n.get("Filter", ""),
        [],
    )
    assert path is not None, plan
    scan = path[-1]
    assert scan.get("Index Name") == "journeys_rider_ended", scan  # 0050 (was journeys_last_leg)
    assert "COALESCE(exit_at, entry_at) >=" in scan["Index Cond"], scan  # the window, not all of them
    # LIMIT 1 stops at the first row the index gives: nothing sorts the rider's journeys first
    limit = max(i for i, n in enumerate(path) if n["Node Type"] == "Limit")
    assert [n["Node Type"] for n in path[limit + 1 : -1]] in ([], ["Result"]), path[limit:]
