"""Fixtures of the fault tests: a private PostgreSQL and a private Redis (tests/faults/servers.py)
that the tests stop and start, and the app served on them.

They never use the machine's servers (5432, 6379), nor the suite's shared test database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bayaffairs.config import Config
from bayaffairs.db.migrate import migrate
from bayaffairs.handlers.app import create_app
from bayaffairs.wiring.jobs import no_jobs
from tests.faults.servers import PrivatePostgres, PrivateRedis, find_pg_bindir, missing_binaries
from tests.support import START, Api, MovableClock, test_config


@dataclass
class Servers:
    postgres: PrivatePostgres
    redis: PrivateRedis


@pytest.fixture(scope="session")
async def private_servers() -> AsyncIterator[Servers]:
    """A PostgreSQL cluster (initdb) and a redis-server of this run's own, on spare ports."""
    reason = missing_binaries()
    if reason is not None:
        pytest.skip(f"fault tests need private servers from the system binaries: {reason}")
    bindir = find_pg_bindir()
    assert bindir is not None
    postgres = PrivatePostgres(bindir)
    redis = PrivateRedis()
    try:
        postgres.create()
        await postgres.start()
        await redis.start()
        yield Servers(postgres, redis)
    finally:
        await redis.remove()
        postgres.remove()


@pytest.fixture
async def servers(private_servers: Servers) -> AsyncIterator[Servers]:
    """The private servers, both running when the test starts (whatever the last test left)."""
    if not await private_servers.postgres.accepts():
        await private_servers.postgres.start()
    if private_servers.redis.process is None:
        await private_servers.redis.start()
    yield private_servers


TEMPLATE = "bayaffairs_faults_template"


async def _create_database(servers: Servers, name: str, template: str | None = None) -> str:
    admin = await asyncpg.connect(servers.postgres.url(), timeout=10)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    finally:
        await admin.close()
    return servers.postgres.url(name)


@pytest.fixture(scope="session")
async def migrated_template(private_servers: Servers) -> str:
    """A database built from the migrations once, copied for each test (a copy takes ~0.1 s)."""
    url = await _create_database(private_servers, TEMPLATE)
    conn = await asyncpg.connect(url, timeout=10)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return TEMPLATE


@pytest.fixture
async def fault_database(servers: Servers, migrated_template: str) -> str:
    """A new database on the private server, migrated, for one test."""
    return await _create_database(servers, f"bayaffairs_faults_{uuid.uuid4().hex[:8]}", migrated_template)


@pytest.fixture
async def make_fault_api(
    servers: Servers, fault_database: str
) -> AsyncIterator[Callable[..., Awaitable[tuple[Api, Config]]]]:
    """The real app on the private servers (with `overrides` of the test configuration)."""
    clients: list[TestClient] = []

    async def factory(
        overrides: dict[str, Any] | None = None, *, routes: web.RouteTableDef | None = None
    ) -> tuple[Api, Config]:
        config = test_config(
            {
                **(overrides or {}),
                "database": {"url": fault_database, "pool_min": 1, "pool_max": 10},
                "redis": {"url": servers.redis.url(), "key_prefix": "bya-faults:"},
            }
        )
        app = create_app(config, clock=MovableClock(START), jobs=no_jobs)  # as make_api: none
        if routes is not None:
            app.add_routes(routes)
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return Api(client), config

    yield factory
    # The servers may be down if the test failed half-way: cleanup must not hang on them.
    if not await servers.postgres.accepts():
        await servers.postgres.start()
    if servers.redis.process is None:
        await servers.redis.start()
    for client in clients:
        await client.close()
