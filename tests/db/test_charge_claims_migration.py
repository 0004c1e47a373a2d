"""0056_charge_claims.sql during a rolling deploy: a journey a worker of the code before it was
charging (`charging` on the journeys row) is left as it is, with no claim row, so that worker's
outcome still lands; the new charging job takes it over only once it is stale, as a dead
worker's. The other journeys are left as they are too."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from bayaffairs.db.migrate import discover, migrate
from bayaffairs.handlers.keys import SERVICES
from tests.conftest import AppFactory
from tests.integrations.wallet_gateway.fake_gateway import FakeGateway
from tests.support import START, MovableClock, test_config

JOURNEY = """
    INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station,
                          entry_at, fare_amount, fare_currency, fare_rule, charge_status, updated_at)
    VALUES ($1, $2, 'usr_m', 'bus', 'adult', 'completed', 'stop-1', $3, 200, 'CNY', 'flat', $4, now())
"""

# How a worker of the code before 0056 recorded a charge the provider took (finish_charges at
# 600f172): only a journey still `charging`.
OLD_FINISH = """
    UPDATE journeys SET charge_status = 'charged', charge_reference = $2, charged_at = now(),
                        updated_at = now()
    WHERE id = $1 AND charge_status = 'charging'
"""


@pytest.fixture
async def gateway(clock: MovableClock) -> AsyncIterator[FakeGateway]:
    async with FakeGateway(clock) as fake:
        yield fake


async def test_a_charge_under_way_in_an_old_worker_stays_its_own_until_it_is_stale(
    conn: asyncpg.Connection, empty_database: str, make_api: AppFactory, gateway: FakeGateway
) -> None:
    await migrate(conn, [m for m in discover() if m.version < 56])
    await conn.execute(
        "INSERT INTO users (id, wallet_currency, wallet_provider) VALUES ('usr_m', 'CNY', 'wallet_gateway')"
    )
    await conn.execute("INSERT INTO ride_accounts (account_token, user_id) VALUES ($1, 'usr_m')", b"\x01" * 8)
    statuses = {
        "jny_answered": "charging",  # the old worker's provider call answers after the migration
        "jny_dead": "charging",  # the old worker dies with its call under way
        "jny_pending": "pending",
        "jny_held": "held",
        "jny_done": "charged",
    }
    for journey_id, status in statuses.items():
        await conn.execute(JOURNEY, journey_id, b"\x01" * 8, START, status)

    await migrate(conn)

    assert await conn.fetchval("SELECT count(*) FROM charge_claims") == 0
    rows = await conn.fetch("SELECT id, charge_status FROM journeys")
    assert {r["id"]: r["charge_status"] for r in rows} == statuses
    assert await conn.execute(OLD_FINISH, "jny_answered", "ch_old") == "UPDATE 1"

    # The new code on the migrated database: its charging job, at its stale setting.
    config = test_config(
        {
            "database": {"url": empty_database},
            "adapters": {"wallet_gateway": {"enabled": True, **gateway.settings()}},
        }
    )
    api = await make_api(config)
    charges = api.client.server.app[SERVICES].transit.charges
    await conn.execute("DELETE FROM journeys WHERE id IN ('jny_pending', 'jny_held')")  # not this story's
    assert await charges.charge_pending() == 0  # the old worker's claim is not stale yet
    assert gateway.calls["charge"] == 0

    await conn.execute(
        "UPDATE journeys SET updated_at = now() - make_interval(secs => $1)", charges.stale_seconds + 1
    )
    assert await charges.charge_pending() == 1  # the dead worker's charge, taken over
    assert [e.reference for e in gateway.ledger if e.kind == "charge"] == ["jny_dead"]
    rows = await conn.fetch("SELECT id, charge_status, charge_reference FROM journeys ORDER BY id")
    assert [tuple(r) for r in rows] == [
        ("jny_answered", "charged", "ch_old"),
        ("jny_dead", "charged", gateway.ledger[0].id),
        ("jny_done", "charged", None),
    ]
    assert await conn.fetchval("SELECT count(*) FROM charge_claims") == 0
