"""A charging backlog: `python -m bench.charging [--journeys N] [--riders R] [--latency-ms L]`.

Writes N pending journeys of R riders (each with an HKD wallet at the `demo` provider) into a
database of its own (`bayaffairs_bench_charging`, migrated first; not `bayaffairs_bench`, so it
meets no other bench), then runs the charging job (`RideCharges.charge_pending`, as the
periodic job calls it) until nothing is pending, and prints the charges per second and how many
job runs it took. `--latency-ms`: each charge answered this late by the provider (the demo
wallet, which moves no money, answers at once; a real gateway does not), so the provider calls'
concurrency shows. The settings come from config (`[ride_codes] charge_*`) or BAYAFFAIRS_*
variables, e.g. BAYAFFAIRS_RIDE_CODES_CHARGE_CONCURRENCY=8.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from typing import Any

import asyncpg

from bench.service import PLAIN, _create_database, bench_database_url, service_env

DATABASE = "bayaffairs_bench_charging"


def database_url() -> str:
    return bench_database_url().rsplit("/", 1)[0] + "/" + DATABASE


async def seed(journeys: int, riders: int) -> None:
    from bayaffairs.db.migrate import migrate

    await _create_database(database_url(), True)
    conn = await asyncpg.connect(database_url())
    try:
        await migrate(conn)
        await conn.execute(
            """
            INSERT INTO users (id, display_name, category, wallet_currency, wallet_provider)
            SELECT 'bench-rider-' || n, 'bench', 'adult', 'HKD', 'demo' FROM generate_series(1, $1::int) AS n
            """,
            riders,
        )
        await conn.execute(
            """
            INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station,
                entry_at, fare_amount, fare_currency, fare_rule, charge_amount, charge_currency, fx_rate,
                fx_source, charge_status)
            SELECT 'bc' || lpad(n::text, 9, '0'), int8send(n), 'bench-rider-' || (n % $2::int + 1),
                   'shenzhen_bus', 'adult', 'completed', 'bus_stop',
                   now() - make_interval(secs => $1::int - n), 200, 'CNY', 'bench', 218, 'HKD',
                   1.0900000000, 'demo', 'pending'
            FROM generate_series(1, $1::int) AS n
            """,
            journeys,
            riders,
        )
        await conn.execute("ANALYZE journeys")
    finally:
        await conn.close()


class SlowWallet:
    """The demo wallet, answering each charge `latency` seconds late."""

    def __init__(self, inner: Any, latency: float) -> None:
        self.inner = inner
        self.latency = latency

    async def charge(self, request: Any) -> Any:
        await asyncio.sleep(self.latency)
        return await self.inner.charge(request)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def charge_all(latency: float) -> tuple[int, int, float]:
    """(journeys charged, job runs, seconds)."""
    from bayaffairs.config import load_config
    from bayaffairs.wiring.root import assembled

    config = load_config(profile="test", environ=dict(os.environ))
    async with assembled(config) as wiring:
        charges = wiring.services.transit.charges
        lookup = charges.providers
        charges.providers = lambda name: SlowWallet(p, latency) if (p := lookup(name)) else None
        runs = charged = 0
        started = time.perf_counter()
        while done := await charges.charge_pending():
            runs += 1
            charged += done
        seconds = time.perf_counter() - started
    return charged, runs, seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--journeys", type=int, default=100_000)
    parser.add_argument("--riders", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    env = service_env(PLAIN)
    env["BAYAFFAIRS_DATABASE_URL"] = database_url()
    os.environ.update(env)
    started = time.perf_counter()
    asyncio.run(seed(args.journeys, args.riders))
    seeded = time.perf_counter() - started
    print(f"seeded {args.journeys} pending journeys of {args.riders} riders: {seeded:.1f} s")
    charged, runs, seconds = asyncio.run(charge_all(args.latency_ms / 1000))
    print(
        f"charged {charged} in {seconds:.1f} s over {runs} job runs: {charged / seconds:,.0f} charges/s"
        f" (provider latency {args.latency_ms:g} ms)"
    )


if __name__ == "__main__":
    main()
