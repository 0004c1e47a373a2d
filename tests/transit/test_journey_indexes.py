"""What writing a journey costs in indexes (issue 15, throughput): every index a row belongs to
is written when it is inserted, and an index keyed on a random value (a rider's id or account
token) touches a page of its own each time. The offline drain writes one completed, priced
journey per bus tap, so the indexes such a row belongs to are counted here, and the look-ups that
share one index in place of two are checked to still be index ranges for a rider with a long
history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from bayaffairs.db.queries import fare_products, settlements
from tests.support import START
from tests.transit.test_settlement_queries import Recording, generic_plan

# Of a flat-fare bus journey: written priced and completed at its tap-in, charge pending.
BUS_JOURNEY = """
    INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station,
                          entry_at, fare_amount, fare_currency, fare_rule, charge_status)
    VALUES ($1, $2, $3, 'bus', 'adult', 'completed', 'stop-1', $4, 200, 'CNY', 'flat', 'pending')
"""


class Answering(Recording):
    """Remembers the statements, and answers fetchval and fetchrow with zeros."""

    async def fetchval(self, sql: str, *args: Any) -> int:
        await self.fetch(sql, *args)
        return 0

    async def fetchrow(self, sql: str, *args: Any) -> dict[str, int]:
        await self.fetch(sql, *args)
        return {"journeys": 0, "spent": 0, "discount": 0}


async def rider(pg: asyncpg.Connection, user_id: str, token: bytes) -> None:
    await pg.execute("INSERT INTO users (id) VALUES ($1)", user_id)
    await pg.execute("INSERT INTO ride_accounts (account_token, user_id) VALUES ($1, $2)", token, user_id)


async def indexes_of(pg: asyncpg.Connection, journey_id: str) -> dict[str, str]:
    """{index: its first key column or expression} of the journeys indexes this row is in."""
    indexes = await pg.fetch(
        """
        SELECT c.relname AS name, pg_get_expr(i.indpred, i.indrelid) AS predicate,
               pg_get_indexdef(i.indexrelid, 1, true) AS first_key
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE i.indrelid = 'journeys'::regclass
        """
    )
    out = {}
    for index in indexes:
        where = index["predicate"] or "true"
        sql = f"SELECT EXISTS (SELECT 1 FROM journeys WHERE id = $1 AND ({where}))"
        if await pg.fetchval(sql, journey_id):
            out[index["name"]] = index["first_key"]
    return out


async def test_a_bus_journey_is_written_to_at_most_eight_indexes_four_on_random_keys(
    pg: asyncpg.Connection,
) -> None:
    await rider(pg, "usr_bus", b"\x01" * 8)
    await pg.execute(BUS_JOURNEY, "jny_bus", b"\x01" * 8, "usr_bus", START)

    written = await indexes_of(pg, "jny_bus")

    random_keys = {name for name, key in written.items() if key in ("user_id", "account_token")}
    assert len(written) <= 8, sorted(written)
    assert len(random_keys) <= 4, sorted(random_keys)


async def test_a_riders_month_and_last_leg_are_ranges_of_one_index_by_rider_and_end(
    pg: asyncpg.Connection,
) -> None:
    """A rider with a long history: the month's spend, the previous leg and the double tap read
    the rider's journeys in the window only, through the same index."""
    await rider(pg, "usr_long", b"\x02" * 8)
    await pg.execute(
        """
        INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station,
                              entry_at, fare_amount, fare_currency, fare_rule, charge_status)
        SELECT 'jny_' || g, $1, 'usr_long', CASE WHEN g % 3 = 0 THEN 'metro' ELSE 'bus' END, 'adult',
               'completed', 'stop-1', $2::timestamptz - make_interval(mins => g * 20), 200, 'CNY',
               'flat', 'charged'
        FROM generate_series(1, 3000) g
        """,
        b"\x02" * 8,
        START,
    )
    # and 2,000 other riders with a journey each, so that a rider is a small part of the table
    await pg.execute("INSERT INTO users (id) SELECT 'usr_' || g FROM generate_series(1, 2000) g")
    await pg.execute(
        """
        INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station,
                              entry_at, fare_amount, fare_currency, fare_rule, charge_status)
        SELECT 'jny_other_' || g, int8send(g), 'usr_' || g, 'bus', 'adult', 'completed', 'stop-1',
               $1::timestamptz - make_interval(mins => g), 200, 'CNY', 'flat', 'charged'
        FROM generate_series(1, 2000) g
        """,
        START,
    )
    await pg.execute("ANALYZE journeys")
    recording = Answering()
    month = START - timedelta(days=30)
    await fare_products.month(recording, "usr_long", ["bus"], "pass", month, START)  # type: ignore[arg-type]
    await fare_products.spend(recording, "usr_long", ["bus"], month, START, "jny_1")  # type: ignore[arg-type]
    last_leg = (
        """
        SELECT x.operator, coalesce(x.exit_at, x.entry_at) FROM journeys x
        WHERE x.user_id = $1 AND x.status IN ('completed', 'repaired') AND x.id <> $2
          AND coalesce(x.exit_at, x.entry_at) <= $3
        ORDER BY coalesce(x.exit_at, x.entry_at) DESC LIMIT 1
        """,
        ("usr_long", "jny_x", START - timedelta(days=2)),
    )

    for sql, args in [*recording.statements, last_leg]:
        # a text[] parameter as its literal
        args = tuple("{" + ",".join(a) + "}" if isinstance(a, list) else a for a in args)
        plan = await generic_plan(pg, sql, args)
        journeys = [n for n in plan if n.get("Relation Name") == "journeys"]
        for node in plan:
            if node.get("Node Type") == "Bitmap Index Scan":
                journeys.append(node)
        conds = [n.get("Index Cond", "") for n in journeys]
        assert any("user_id" in c and "COALESCE(" in c for c in conds), (sql, plan)


async def test_a_months_spends_are_index_ranges_of_the_month(
    pg: asyncpg.Connection,
) -> None:
    """The spends of a fare subsidy's month (every rider's, or some riders') read journeys as
    index ranges of the month (by operator, or by rider), the through journeys through an index
    of theirs alone: no index of their own to write per journey."""
    recording = Answering()
    month = START - timedelta(days=30)
    await settlements.month_spends(recording, ["bus", "metro"], month, START)  # type: ignore[arg-type]
    await settlements.month_spends(recording, ["bus"], month, START, ["usr_a", "usr_b"])  # type: ignore[arg-type]

    for sql, args in recording.statements:
        args = tuple("{" + ",".join(a) + "}" if isinstance(a, list) else a for a in args)
        plan = await generic_plan(pg, sql, args)
        indexes = {n["Index Name"]: n.get("Index Cond", "") for n in plan if "Index Name" in n}
        assert not [n for n in plan if n["Node Type"] == "Seq Scan"], (sql, plan)
        through = {"journeys_through_settlement", "journeys_through_changed"}  # share_weights IS NOT NULL
        # a range: its first column bound (journeys_settlement_own's operator, or journeys_rider_ended's
        # rider), then the month
        assert all(
            name in through or ("COALESCE(" in cond and ("(operator = " in cond or "(user_id = " in cond))
            for name, cond in indexes.items()
        ), indexes
        assert len(set(indexes) - through) == 1, indexes  # those without share weights: one range
