"""The app on the real test PostgreSQL and Redis, served over TCP from a thread of its own, for
clients that are synchronous (schemathesis' requests): the test's thread blocks on each call
while the app's event loop answers it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from datetime import timedelta
from typing import Any, TypeVar

import aiohttp
import asyncpg
import redis.asyncio as aioredis
import requests
from aiohttp import web

from bayaffairs.config import Config
from bayaffairs.credentials import ADMIN_SCOPE
from bayaffairs.handlers.app import create_app
from bayaffairs.handlers.keys import SERVICES
from bayaffairs.wiring.jobs import no_jobs
from tests.conftest import empty_tables
from tests.support import FAR_AHEAD, START, MovableClock, test_config
from tests.travel.conftest import HKID, hkid_number

T = TypeVar("T")

# Every kind of credential a request can carry, and none.
KINDS = ("none", "rider", "gate", "operator", "carrier", "counter", "display", "admin")
SEEDED = "fuzz-seeded-rider"
# The scopes of the issued credentials: the seeded rider's centre and carrier.
SCOPES = {"counter": "hengqin_gasc", "display": "hengqin_gasc", "carrier": "hzmb_bus"}
HENGQIN, COMMERCIAL = "hengqin_gasc", "mo_commercial_registration"
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
        self.url = ""
        self.run(self._start())

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> str:
        conn = await asyncpg.connect(self.database_url)
        try:
            tables = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                " AND tablename NOT IN ('schema_migrations', 'schema_functions')"
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
        app = create_app(self.config, clock=self.clock, jobs=no_jobs)  # as make_api: no timer runs a job
        self.app = app
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self.known = await self._known()
        self.known.update(await self._seed())
        return self.url

    async def _known(self) -> dict[str, str]:
        """Path parameters that name something real within the issued credentials' scopes, so
        that the fuzzing reaches past the scope checks (a random operator is only ever 403)."""
        scopes = self.app[SERVICES].credentials.scopes
        carrier = SCOPES["carrier"]
        conn = await asyncpg.connect(self.database_url)
        try:
            departure = await conn.fetchval(
                "SELECT id FROM travel_departures WHERE carrier = $1 ORDER BY departs_at LIMIT 1", carrier
            )
        finally:
            await conn.close()
        known = {
            "operator": sorted(scopes("operator"))[0],
            "date": self.clock.today().isoformat(),
            "kind": "png",
        }
        if departure is not None:
            known["departure_id"] = departure
        return known

    async def _seed(self) -> dict[str, str]:
        """The seeded rider's own things (a document, a consent, a held and a paid booking with its
        ticket, a ride code, an appointment), named by their path parameters: the fuzzing
        reaches the handlers that act on them, as the rider and as the counter or carrier."""
        services = self.app[SERVICES]
        for issuer in ("tickets", "ride_codes", "appointments"):
            await services.transit.issuer_keys.rotate(issuer)
        conn = await asyncpg.connect(self.database_url)
        try:
            departures = await conn.fetch(
                "SELECT id FROM travel_departures WHERE carrier = 'hzmb_bus' AND route = 'hk_macao'"
                " AND departs_at > $1 ORDER BY departs_at LIMIT 2",
                self.clock.now() + timedelta(hours=3),
            )
        finally:
            await conn.close()
        async with aiohttp.ClientSession(self.url) as http:

            async def call(method: str, path: str, body: Any = None, token: str | None = None) -> Any:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                async with http.request(method, path, json=body, headers=headers) as answer:
                    found = await answer.json()
                    assert answer.status in (200, 201), (method, path, answer.status, found)
                    return found

            token = (await call("POST", "/v1/auth/sessions", {"provider": "dev", "code": SEEDED}))["token"]
            await call("PUT", "/v1/me/wallet", {"currency": "HKD", "provider": "demo"}, token)
            document = await call("POST", "/v1/me/documents", {**HKID, "expires": FAR_AHEAD}, token)
            second = await call(
                "POST", "/v1/me/documents", {**HKID, "number": hkid_number(7), "expires": FAR_AHEAD}, token
            )
            consent = await call(
                "POST", "/v1/me/consents", {"destination": "CN", "purpose": "appointment"}, token
            )
            held = await call(
                "POST",
                "/v1/travel/bookings",
                {
                    "departure_id": departures[0]["id"],
                    "fare_class": "standard",
                    "passengers": [{"document_id": document["id"]}, {"document_id": second["id"]}],
                },
                token,
            )
            paid = await call(
                "POST",
                "/v1/travel/bookings",
                {
                    "departure_id": departures[1]["id"],
                    "fare_class": "standard",
                    "passengers": [{"document_id": second["id"]}],
                },
                token,
            )
            paid = await call("POST", f"/v1/travel/bookings/{paid['id']}/payment", None, token)
            code = await call("POST", "/v1/ride-codes", {"city": "shenzhen"}, token)
            day = (self.clock.now() + timedelta(days=1)).date().isoformat()
            slots = await call("GET", f"/v1/centres/{HENGQIN}/slots?service={COMMERCIAL}&date={day}")
            macao_id = {
                "type": "macao_id",
                "holder_name": "Fuzz Rider",
                "number": "1234567(8)",
                "issuing": "MO",
            }
            own = await call("POST", "/v1/me/documents", {**macao_id, "expires": FAR_AHEAD}, token)
            appointment = await call(
                "POST",
                "/v1/appointments",
                {
                    "centre_id": HENGQIN,
                    "service_id": COMMERCIAL,
                    "start": slots["items"][0]["start"],
                    "document_id": own["id"],
                },
                token,
            )
        return {
            "document_id": document["id"],
            "consent_id": consent["id"],
            "booking_id": held["id"],
            "passenger_id": held["passengers"][1]["id"],
            "ticket_id": paid["tickets"][0]["id"],
            "code_id": code["code_id"],
            "appointment_id": appointment["id"],
            "departure_id": departures[0]["id"],
            "centre_id": HENGQIN,
        }

    def token(self, kind: str, *, seeded: bool = True) -> str | None:
        """A fresh credential of `kind` (a session of the seeded rider for "rider", or of a new
        rider if not `seeded`), or None for "none": fresh, so that an earlier example that signed
        out harms no other."""
        if kind == "none":
            return None
        if kind == "rider":
            self.riders += 1
            answer = requests.post(
                f"{self.url}/v1/auth/sessions",
                json={"provider": "dev", "code": SEEDED if seeded else f"fuzz-rider-{self.riders}"},
                timeout=30,
            )
            assert answer.status_code == 201, answer.text
            return str(answer.json()["token"])
        return self.run(self._issue(kind))

    async def _issue(self, kind: str) -> str:
        credentials = self.app[SERVICES].credentials
        scope = ADMIN_SCOPE if kind == "admin" else SCOPES.get(kind, sorted(credentials.scopes(kind))[0])
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
