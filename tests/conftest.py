"""Shared fixtures: the real test PostgreSQL database and Redis, apps and clients on them."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bayaffairs.config import Config
from bayaffairs.db.migrate import migrate
from bayaffairs.handlers.app import create_app
from bayaffairs.wiring.jobs import no_jobs
from tests import support
from tests.support import (
    INSTANTS,
    START,
    Api,
    MovableClock,
    create_database,
    drop_database,
    test_config,
    with_database,
)

AppFactory = Callable[..., Awaitable[Api]]


@pytest.fixture(scope="session")
def base_config() -> Config:
    return test_config()


@pytest.fixture(scope="session")
def run_id() -> str:
    """Names this run's database and Redis keys, so two runs at once never meet."""
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="session")
def config(base_config: Config, database_url: str, run_id: str) -> Config:
    """The test configuration, pointing at this run's own database and Redis key prefix."""
    prefix = f"{base_config.settings.redis.key_prefix.rstrip(':')}-{run_id}:"
    support.RUN_OVERRIDES.update({"database": {"url": database_url}, "redis": {"key_prefix": prefix}})
    return test_config()


def database_name(config: Config) -> str:
    return urlsplit(config.settings.database.url).path.lstrip("/")


@pytest.fixture(scope="session")
async def database_url(base_config: Config, run_id: str) -> AsyncIterator[str]:
    """A database of this run's own (the configured test database's name plus a random suffix),
    built from the migrations, and dropped at the end: two runs at once never share one."""
    base = base_config.settings.database.url
    url = with_database(base, f"{database_name(base_config)}_{run_id}")
    await create_database(url)
    conn = await asyncpg.connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    yield url
    await drop_database(url)


async def empty_tables(conn: asyncpg.Connection, tables: list[str]) -> None:
    """DELETE every row, with foreign keys and triggers (the append-only ones too) switched off
    for this transaction: on a few rows it takes ~2 ms, where TRUNCATE of every table cost
    ~460 ms a test (new files for each table). Without superuser rights, TRUNCATE it is."""
    try:
        async with conn.transaction():
            await conn.execute(
                "SET LOCAL session_replication_role = replica;"
                + "".join(f'DELETE FROM "{t}";' for t in tables)
            )
    except asyncpg.InsufficientPrivilegeError:
        await conn.execute("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE")


@pytest.fixture
async def pg(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test database; every table is emptied before the test."""
    conn = await asyncpg.connect(database_url)
    tables = await conn.fetch(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        " AND tablename NOT IN ('schema_migrations', 'schema_functions')"
    )
    if tables:
        await empty_tables(conn, [t["tablename"] for t in tables])
    try:
        yield conn
    finally:
        await conn.close()


@pytest.fixture
async def redis_client(config: Config) -> AsyncIterator[aioredis.Redis]:
    """Redis with every key under the test prefix removed before the test."""
    client = aioredis.from_url(config.settings.redis.url)
    prefix = config.settings.redis.key_prefix
    keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
    if keys:
        await client.delete(*keys)
    try:
        yield client
    finally:
        await client.aclose()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "at_two_instants: run each test that uses `clock` at both of tests.support.INSTANTS",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests of a module marked `at_two_instants` run once per instant (tests/support.py)."""
    if metafunc.definition.get_closest_marker("at_two_instants") and "clock" in metafunc.fixturenames:
        metafunc.parametrize("clock", list(INSTANTS.values()), ids=list(INSTANTS), indirect=True)


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> MovableClock:
    """The test clock, at `START` or, in a module marked `at_two_instants`, at each instant."""
    return MovableClock(getattr(request, "param", START))


@pytest.fixture
async def make_api(
    config: Config, pg: asyncpg.Connection, redis_client: aioredis.Redis, clock: MovableClock
) -> AsyncIterator[AppFactory]:
    """Start the real app (real PostgreSQL, real Redis) behind a real HTTP server. It runs no
    periodic job unless the test asks (`jobs=`): their timers fire on the wall clock, so a job the
    app ran itself (a charge, a drain, a sweep) would land between two steps of the test wherever
    the machine's load put it; a test runs each job's work itself, when its story needs it."""
    clients: list[TestClient] = []

    async def factory(
        app_config: Config | None = None, *, routes: web.RouteTableDef | None = None, **kwargs: Any
    ) -> Api:
        kwargs.setdefault("clock", clock)
        kwargs.setdefault("jobs", no_jobs)
        app = create_app(app_config or config, **kwargs)
        if routes is not None:
            app.add_routes(routes)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return Api(client)

    yield factory
    for client in clients:
        await client.close()


@pytest.fixture
async def api(make_api: AppFactory) -> Api:
    return await make_api()


@pytest.fixture
def cli_env(config: Config, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BAYAFFAIRS_")}
    env.update(
        BAYAFFAIRS_PROFILE="test",
        BAYAFFAIRS_DATABASE_URL=database_url,
        BAYAFFAIRS_REDIS_URL=config.settings.redis.url,
    )
    return env
