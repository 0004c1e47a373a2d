"""The app on the real test PostgreSQL and Redis, served over TCP from a thread of its own, for
clients that are synchronous (schemathesis' requests): the test's thread blocks on each call
while the app's event loop answers it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg
import redis.asyncio as aioredis
import requests
from aiohttp import web

from bayaffairs.config import Config
from bayaffairs.credentials import ADMIN_SCOPE
from bayaffairs.handlers.app import create_app
from bayaffairs.handlers.keys import SERVICES
from tests.conftest import empty_tables
from tests.support import START, MovableClock, test_config

T = TypeVar("T")

# Every kind of credential a request can carry, and none.
KINDS = ("none", "rider", "gate", "operator", "carrier", "counter", "display", "admin")
NEVER_TRIPS = {k: "1000000/60" for k in ("auth", "read", "write", "scan", "admin")}


class LiveApp:
    def __init__(self, config: Config) -> None:
        self.config = test_config({"rate_limits": NEVER_TRIPS})
        self.database_url = config.settings.database.url
        self.clock = MovableClock(START)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="live-app", daemon=True)
        self.thread.start()
        self.runner: web.AppRunner | None = None
        self.riders = 0
        self.url = self.run(self._start())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> str:
        conn = await asyncpg.connect(self.database_url)
        try:
            tables = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename <> 'schema_migrations'"
            )
            await empty_tables(conn, [t["tablename"] for t in tables])
        finally:
            await conn.close()
        client = aioredis.from_url(self.config.settings.redis.url)
        prefix = self.config.settings.redis.key_prefix
        try:
            keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
            if keys:
                await client.delete(*keys)
        finally:
            await client.aclose()
        app = create_app(self.config, clock=self.clock)
        self.app = app
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.known = await self._known()
        return f"http://{host}:{port}"

    async def _known(self) -> dict[str, str]:
        """Path parameters that name something real within the issued credentials' scopes, so
        that the fuzzing reaches past the scope checks (a random operator is only ever 403)."""
        scopes = self.app[SERVICES].credentials.scopes
        carrier = sorted(scopes("carrier"))[0]
        conn = await asyncpg.connect(self.database_url)
        try:
            departure = await conn.fetchval(
                "SELECT id FROM travel_departures WHERE carrier = $1 ORDER BY departs_at LIMIT 1", carrier
            )
        finally:
            await conn.close()
        known = {
            "operator": sorted(scopes("operator"))[0],
            "centre_id": sorted(scopes("counter"))[0],
            "date": self.clock.today().isoformat(),
            "kind": "png",
        }
        if departure is not None:
            known["departure_id"] = departure
        return known

    def token(self, kind: str) -> str | None:
        """A fresh credential of `kind` (a rider's session for "rider"), or None for "none":
        fresh, so that an earlier example that signed out or deleted its rider harms no other."""
        if kind == "none":
            return None
        if kind == "rider":
            self.riders += 1
            answer = requests.post(
                f"{self.url}/v1/auth/sessions",
                json={"provider": "dev", "code": f"fuzz-rider-{self.riders}"},
                timeout=30,
            )
            assert answer.status_code == 201, answer.text
            return str(answer.json()["token"])
        return self.run(self._issue(kind))

    async def _issue(self, kind: str) -> str:
        credentials = self.app[SERVICES].credentials
        scope = ADMIN_SCOPE if kind == "admin" else sorted(credentials.scopes(kind))[0]
        return (await credentials.issue(kind, scope)).token

    async def _stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def close(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
            self.loop.close()
