"""/metrics shows how far behind the background money and tap work is (ride now, pay later): the
charges due, the refunds due and the offline taps not yet decided, each a count (up to
`[metrics] backlog_limit`) and the age of the oldest, read from PostgreSQL at each scrape. The
times they are measured from (`updated_at`, `received_at`) are written by PostgreSQL's now(), so
the ages are too (tests/support.py, the clock convention, point 4): a test backdates a row by
plain SQL, relative to now(). A scrape with the database out of reach still answers, quickly,
without these figures."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import asyncpg
from prometheus_client.parser import text_string_to_metric_families

from bayaffairs.handlers.keys import CONFIG, WIRING
from bayaffairs.handlers.metrics import Metrics
from bayaffairs.transit.backlog import BacklogFigures
from tests.conftest import AppFactory
from tests.support import START, Api, MovableClock, test_config

BACKLOG = (
    "bayaffairs_charges_due",
    "bayaffairs_charges_due_oldest_age_seconds",
    "bayaffairs_refunds_due",
    "bayaffairs_refunds_due_oldest_age_seconds",
    "bayaffairs_offline_taps_pending",
    "bayaffairs_offline_taps_pending_oldest_age_seconds",
)
SLACK = 30.0  # seconds a slow test machine may take between the backdating and the scrape
CACHE = 5.0  # [metrics] backlog_cache_seconds: a scrape within it shows the last read

JOURNEY = """
    INSERT INTO journeys (id, account_token, user_id, operator, category, status, entry_station,
                          entry_at, fare_amount, fare_currency, fare_rule, charge_status, updated_at)
    VALUES ($1, $2, 'usr_b', 'bus', 'adult', 'completed', 'stop-1', $3, 200, 'CNY', 'flat', $4,
            now() - make_interval(secs => $5))
"""
REFUND = """
    INSERT INTO journey_refunds (id, journey_id, user_id, amount, currency, fare_amount,
                                 fare_currency, reason, status, created_at, updated_at)
    VALUES ($1, 'jny_r', 'usr_b', 100, 'CNY', 100, 'CNY', 'late_tap_out', $2, $3,
            now() - make_interval(secs => $4))
"""
UPLOAD = """
    INSERT INTO tap_uploads (operator, tap_id, gate_id, station, direction, payload, scanned_at,
                             received_at, state, slot)
    VALUES ('bus', $1, 'gate-1', 'stop-1', 'in', 'payload', $2, now() - make_interval(secs => $3),
            $4, $5)
"""


async def scrape(api: Api) -> dict[str, float]:
    status, body = await api.get("/metrics")
    assert status == 200
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }


async def rider(pg: asyncpg.Connection) -> None:
    await pg.execute(
        "INSERT INTO users (id, wallet_currency, wallet_provider) VALUES ('usr_b', 'CNY', 'demo')"
    )
    await pg.execute("INSERT INTO ride_accounts (account_token, user_id) VALUES ($1, 'usr_b')", b"\x02" * 8)


async def journey(pg: asyncpg.Connection, journey_id: str, charge_status: str, seconds_ago: float) -> None:
    await pg.execute(JOURNEY, journey_id, b"\x02" * 8, START, charge_status, seconds_ago)


def close_to(value: float, expected: float) -> bool:
    return expected <= value <= expected + SLACK


async def test_an_empty_backlog_is_zero_with_an_oldest_age_of_zero(make_api: AppFactory) -> None:
    figures = await scrape(await make_api())
    assert {name: figures[name] for name in BACKLOG} == dict.fromkeys(BACKLOG, 0.0)


async def test_charges_due_are_pending_journeys_aged_from_the_oldest(
    make_api: AppFactory, pg: asyncpg.Connection, clock: MovableClock
) -> None:
    api = await make_api()
    await rider(pg)
    await journey(pg, "jny_1", "pending", 600)
    await journey(pg, "jny_2", "pending", 120)
    await journey(pg, "jny_3", "charged", 3600)  # done: not due, however old
    figures = await scrape(api)
    assert figures["bayaffairs_charges_due"] == 2
    assert close_to(figures["bayaffairs_charges_due_oldest_age_seconds"], 600)

    await pg.execute("UPDATE journeys SET charge_status = 'charged' WHERE id = 'jny_1'")
    clock.advance(seconds=CACHE)
    figures = await scrape(api)
    assert figures["bayaffairs_charges_due"] == 1
    assert close_to(figures["bayaffairs_charges_due_oldest_age_seconds"], 120)


async def test_held_and_claimed_journeys_are_due_only_when_the_charging_job_would_take_them(
    make_api: AppFactory, pg: asyncpg.Connection, clock: MovableClock
) -> None:
    api = await make_api()
    hold = api.client.server.app[CONFIG].settings.ride_codes.repair_days * 86400
    await rider(pg)
    await journey(pg, "jny_held", "held", hold - 600)  # inside its repair window: not yet due
    await journey(pg, "jny_claimed", "charging", 60)  # an old worker charging it now
    await journey(pg, "jny_pending", "pending", 30)
    figures = await scrape(api)
    assert figures["bayaffairs_charges_due"] == 1
    assert close_to(figures["bayaffairs_charges_due_oldest_age_seconds"], 30)

    await pg.execute(
        "UPDATE journeys SET updated_at = now() - interval '400 seconds' WHERE id = 'jny_claimed'"
    )
    await pg.execute(
        f"UPDATE journeys SET updated_at = now() - interval '{hold + 900} seconds' WHERE id = 'jny_held'"
    )
    clock.advance(seconds=CACHE)
    figures = await scrape(api)  # the old worker's claim is stale; the hold ended 900 s ago
    assert figures["bayaffairs_charges_due"] == 3
    assert close_to(figures["bayaffairs_charges_due_oldest_age_seconds"], 900)  # due since its hold ended

    await pg.execute(
        "UPDATE journeys SET updated_at = now() - interval '1000 seconds' WHERE id = 'jny_claimed'"
    )
    clock.advance(seconds=CACHE)
    assert close_to((await scrape(api))["bayaffairs_charges_due_oldest_age_seconds"], 1000)


async def test_refunds_due_are_lines_not_yet_refunded_aged_from_their_creation(
    make_api: AppFactory, pg: asyncpg.Connection, clock: MovableClock
) -> None:
    api = await make_api()
    await rider(pg)
    await journey(pg, "jny_r", "charged", 0)
    for refund_id, status, created_ago in [
        ("rfd_1", "pending", 900),
        ("rfd_2", "refunding", 300),
        ("rfd_3", "refunded", 5000),
        ("rfd_4", "failed", 5000),
    ]:  # created by the app's clock; last changed (updated_at, by now()) a minute ago
        await pg.execute(REFUND, refund_id, status, clock.now() - timedelta(seconds=created_ago), 60)
    figures = await scrape(api)
    assert figures["bayaffairs_refunds_due"] == 2
    assert figures["bayaffairs_refunds_due_oldest_age_seconds"] == 900
    assert figures["bayaffairs_charges_due"] == 0


async def test_a_refund_the_provider_did_not_answer_keeps_its_age(
    make_api: AppFactory, pg: asyncpg.Connection, clock: MovableClock
) -> None:
    """The refunding job puts a line it could not get answered back to pending (updated_at moves
    at every try): the age is the rider's wait for the money, so a provider down for hours shows."""
    api = await make_api()
    await rider(pg)
    await journey(pg, "jny_r", "charged", 0)
    await pg.execute(REFUND, "rfd_1", "pending", clock.now(), 0)
    clock.advance(hours=2)
    await pg.execute("UPDATE journey_refunds SET attempts = 40, updated_at = now()")  # the last try
    assert (await scrape(api))["bayaffairs_refunds_due_oldest_age_seconds"] == 7200


async def test_offline_taps_pending_are_aged_from_their_receipt_in_every_slot(
    make_api: AppFactory, pg: asyncpg.Connection
) -> None:
    api = await make_api()
    for tap_id, seconds_ago, state, slot in [
        ("t1", 60, "pending", 0),
        ("t2", 700, "pending", 15),
        ("t3", 200, "pending", 7),
        ("t4", 9000, "recorded", 3),
        ("t5", 9000, "waiting", 3),
    ]:
        await pg.execute(UPLOAD, tap_id, START, seconds_ago, state, slot)
    figures = await scrape(api)
    assert figures["bayaffairs_offline_taps_pending"] == 3
    assert close_to(figures["bayaffairs_offline_taps_pending_oldest_age_seconds"], 700)


async def test_counts_stop_at_the_backlog_limit(make_api: AppFactory, pg: asyncpg.Connection) -> None:
    api = await make_api(test_config({"metrics": {"backlog_limit": 3}}))
    await rider(pg)
    for n in range(5):
        await journey(pg, f"jny_{n}", "pending", 100 * n)
        await pg.execute(UPLOAD, f"t{n}", START, 100 * n, "pending", n)
    figures = await scrape(api)
    assert (figures["bayaffairs_charges_due"], figures["bayaffairs_offline_taps_pending"]) == (3, 3)
    assert close_to(figures["bayaffairs_charges_due_oldest_age_seconds"], 400)  # the age is exact
    assert close_to(figures["bayaffairs_offline_taps_pending_oldest_age_seconds"], 400)


async def test_a_scrape_the_database_cannot_answer_in_time_leaves_the_backlog_out(
    make_api: AppFactory, pg: asyncpg.Connection, clock: MovableClock
) -> None:
    api = await make_api(test_config({"metrics": {"backlog_timeout_seconds": 0.5}}))
    await api.get("/healthz")
    async with pg.transaction():
        await pg.execute("LOCK TABLE journeys IN ACCESS EXCLUSIVE MODE")  # a migration, a stuck DDL
        started = time.monotonic()
        figures = await scrape(api)
        took = time.monotonic() - started
    # 0.5 s asked; without the timeout the scrape waits for [database] command_timeout (10 s).
    # The margin is for a loaded machine: the suite runs on 2 CPUs beside other work.
    assert took < 5.0
    assert not set(BACKLOG) & set(figures)
    assert "bayaffairs_http_requests_total" in figures  # the other metrics are there
    clock.advance(seconds=CACHE)
    assert set(BACKLOG) <= set(await scrape(api))  # back once the database answers


async def test_a_scrape_with_the_database_closed_still_answers_without_the_backlog(
    make_api: AppFactory, clock: MovableClock
) -> None:
    api = await make_api()
    assert set(BACKLOG) <= set(await scrape(api))
    await api.client.server.app[WIRING].db.pool.close()
    clock.advance(seconds=CACHE)
    started = time.monotonic()
    figures = await scrape(api)
    assert time.monotonic() - started < 5.0  # a closed pool is refused at once; margin for load
    assert not set(BACKLOG) & set(figures)
    assert "bayaffairs_db_pool_max" in figures


async def waiting_backlog_reads(pg: asyncpg.Connection) -> int:
    """Statements of other sessions waiting for the lock on journeys this session holds (pg_locks:
    pg_stat_activity is a snapshot taken once per transaction)."""
    count: int = await pg.fetchval(
        "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'journeys'::regclass"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return count


async def test_concurrent_scrapes_share_one_read_of_the_database(
    make_api: AppFactory, pg: asyncpg.Connection
) -> None:
    api = await make_api(test_config({"metrics": {"backlog_timeout_seconds": 1.0}}))
    await api.get("/healthz")
    seen = 0
    async with pg.transaction():
        await pg.execute("LOCK TABLE journeys IN ACCESS EXCLUSIVE MODE")  # the reads wait here
        scrapes = [asyncio.ensure_future(scrape(api)) for _ in range(6)]
        while not all(s.done() for s in scrapes):
            seen = max(seen, await waiting_backlog_reads(pg))
            await asyncio.sleep(0.01)
        for figures in await asyncio.gather(*scrapes):
            assert not set(BACKLOG) & set(figures)
        assert seen == 1  # one statement for the six scrapes, not six pool connections
        # the statement given up on is cancelled in PostgreSQL (its lock wait ends while the lock
        # is still held), not left waiting on a pool connection
        for _ in range(500):
            if await waiting_backlog_reads(pg) == 0:
                break
            await asyncio.sleep(0.01)
        assert await waiting_backlog_reads(pg) == 0


async def test_a_scrape_soon_after_another_reuses_its_figures(
    make_api: AppFactory, pg: asyncpg.Connection, clock: MovableClock
) -> None:
    api = await make_api(test_config({"metrics": {"backlog_cache_seconds": 5.0}}))
    await rider(pg)
    assert (await scrape(api))["bayaffairs_charges_due"] == 0
    await journey(pg, "jny_1", "pending", 60)
    clock.advance(seconds=4.9)
    assert (await scrape(api))["bayaffairs_charges_due"] == 0  # read 4.9 s ago: not read again
    clock.advance(seconds=0.1)
    assert (await scrape(api))["bayaffairs_charges_due"] == 1


async def test_a_read_slow_to_give_up_does_not_hold_the_scrape(clock: MovableClock) -> None:
    """A read that outlives its timeout: asyncpg waits up to [database] command_timeout for
    PostgreSQL to confirm a cancelled statement, and a server that stopped answering never does.
    The scrape answers at its timeout without the backlog; the read ends in the background."""
    confirmed, ended = asyncio.Event(), asyncio.Event()

    async def read() -> BacklogFigures:
        try:
            await asyncio.Event().wait()  # the statement PostgreSQL does not answer
        finally:
            await confirmed.wait()  # the cancellation, not yet confirmed
            ended.set()
        raise AssertionError("a read that never answers")

    metrics = Metrics()
    metrics.watch_backlog(read, limit=10, timeout=0.05, max_age=5.0, now=lambda: clock.now().timestamp())
    scraping = asyncio.ensure_future(metrics.scrape())
    done, _ = await asyncio.wait({scraping}, timeout=5.0)
    confirmed.set()
    await ended.wait()
    assert scraping in done  # answered, not held until the cancellation was confirmed
    assert b"bayaffairs_charges_due" not in await scraping
