"""0056_charge_claims.sql: the charges a worker had claimed before it (`charging` on the journeys
row) become claims of their own, dated when the row last changed, and their journeys pending;
the others are left as they are."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from bayaffairs.db.migrate import discover, migrate
from tests.support import START

JOURNEY = """
    INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station,
                          entry_at, fare_amount, fare_currency, fare_rule, charge_status, updated_at)
    VALUES ($1, $2, 'usr_m', 'bus', 'adult', 'completed', 'stop-1', $3, 200, 'CNY', 'flat', $4, $5)
"""


async def test_claims_made_before_0056_move_to_charge_claims_and_their_journeys_are_pending(
    conn: asyncpg.Connection,
) -> None:
    before = [m for m in discover() if m.version < 56]
    await migrate(conn, before)
    await conn.execute("INSERT INTO users (id) VALUES ('usr_m')")
    await conn.execute("INSERT INTO ride_accounts (account_token, user_id) VALUES ($1, 'usr_m')", b"\x01" * 8)
    claimed_at = START + timedelta(minutes=30)
    statuses = {
        "jny_claimed": "charging",
        "jny_pending": "pending",
        "jny_held": "held",
        "jny_done": "charged",
    }
    for journey_id, status in statuses.items():
        await conn.execute(JOURNEY, journey_id, b"\x01" * 8, START, status, claimed_at)

    await migrate(conn)

    claims = await conn.fetch("SELECT journey_id, claimed_at FROM charge_claims")
    assert [(r["journey_id"], r["claimed_at"]) for r in claims] == [("jny_claimed", claimed_at)]
    rows = await conn.fetch("SELECT id, charge_status FROM journeys")
    assert {r["id"]: r["charge_status"] for r in rows} == statuses | {"jny_claimed": "pending"}
