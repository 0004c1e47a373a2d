"""PostgreSQL unreachable (its address drops packets): a request answers 503 within the
configured connect timeout ([database] connect_timeout_seconds), not after asyncpg's 60 s.

A dropped SYN and a server that accepts and never answers the startup look the same to asyncpg:
it waits for the handshake. The test stands a TCP relay between the app and the run's own test
database; "unreachable" closes the pooled connections and leaves new ones accepted and silent.
The machine's PostgreSQL is only ever connected to, through the relay, never stopped."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from aiohttp import web

from bayaffairs.config import Config
from bayaffairs.config.settings import DatabaseSettings
from bayaffairs.db.database import UNAVAILABLE_ERRORS, Database
from bayaffairs.handlers.keys import WIRING
from tests.support import test_config

CONNECT_TIMEOUT = 1.0
# Long enough that asyncpg's own 60 s default would fail the test, short enough not to hang it.
PATIENCE = 15.0


class Relay:
    """Forwards TCP to (host, port) until `unreachable()`; then accepts and says nothing."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.silent = False
        self.pipes: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.pipes.append(writer)
        if self.silent:
            await reader.read()  # the handshake is never answered
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.pipes.append(up_writer)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

    def unreachable(self) -> None:
        self.silent = True
        for writer in self.pipes:
            writer.transport.abort()
        self.pipes.clear()

    async def stop(self) -> None:
        for writer in self.pipes:
            writer.transport.abort()
        if self.server is not None:
            self.server.close()


def through(url: str, port: int) -> str:
    parts = urlsplit(url)
    userinfo, at, _ = parts.netloc.rpartition("@")
    netloc = f"{userinfo}{at}127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def db_route() -> web.RouteTableDef:
    routes = web.RouteTableDef()

    @routes.get("/test/db")
    async def db(request: web.Request) -> web.Response:
        async with request.app[WIRING].db.acquire() as conn:
            return web.json_response({"one": await conn.fetchval("SELECT 1")})

    return routes


def test_the_connect_timeout_is_configured_and_bounded() -> None:
    assert test_config().settings.database.connect_timeout_seconds == 5.0
    config = test_config({"database": {"connect_timeout_seconds": 0.5}})
    assert config.settings.database.connect_timeout_seconds == 0.5
    with pytest.raises(Exception, match="connect_timeout_seconds"):
        test_config({"database": {"connect_timeout_seconds": 600}})


async def test_a_database_that_never_answers_fails_a_connection_within_the_timeout() -> None:
    relay = Relay("127.0.0.1", 9)
    port = await relay.start()
    relay.unreachable()
    db = Database(
        DatabaseSettings(
            url=f"postgresql://nobody@127.0.0.1:{port}/nothing",
            pool_min=0,
            pool_max=1,
            connect_timeout_seconds=CONNECT_TIMEOUT,
        )
    )
    await db.start()
    started = time.monotonic()
    try:
        with pytest.raises(UNAVAILABLE_ERRORS):
            async with asyncio.timeout(PATIENCE):
                async with db.acquire():
                    pass
    finally:
        waited = time.monotonic() - started
        await db.stop()
        await relay.stop()
    assert waited < CONNECT_TIMEOUT + 2, waited


async def test_requests_answer_503_promptly_when_postgres_drops_packets(
    make_api: Any, config: Config
) -> None:
    target = urlsplit(config.settings.database.url)
    relay = Relay(target.hostname or "127.0.0.1", target.port or 5432)
    port = await relay.start()
    overrides = {
        "database": {
            "url": through(config.settings.database.url, port),
            "pool_min": 1,
            "pool_max": 2,
            "connect_timeout_seconds": CONNECT_TIMEOUT,
        }
    }
    app_config = test_config(overrides)  # the run's own database, through the relay
    try:
        api = await make_api(app_config, routes=db_route())
        status, body = await api.get("/test/db")
        assert (status, body) == (200, {"one": 1})  # the control: through the relay, it works
        relay.unreachable()
        for _ in range(3):
            started = time.monotonic()
            status, body = await asyncio.wait_for(api.get("/test/db"), PATIENCE)
            waited = time.monotonic() - started
            assert status == 503, body
            assert body["error"]["code"] == "service_unavailable", body
            assert waited < CONNECT_TIMEOUT + 2, waited
    finally:
        await relay.stop()
