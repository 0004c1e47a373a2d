"""Helpers for tests: the test configuration, the test clock, an HTTP client wrapper.

The test clock: the convention every test follows
-------------------------------------------------
A test never reads the wall clock, so the suite gives the same answers on any date at any hour.

1. Every test runs on a `MovableClock` started at a fixed instant: the `clock` fixture (which
   `make_api` hands to the app) starts at `START`, a Wednesday 10:00 in Hong Kong; a test that
   needs another instant builds `MovableClock(instant)` or calls `clock.set(instant)`. Tests,
   fakes of partners and helpers never read the wall clock (`datetime.now`, `time.time`,
   `date.today`, a `SystemClock`): a fake partner takes the test's clock (`FakeCarrier(clock)`).
   `time.monotonic` for "this took less than a second" is fine: it measures, it dates nothing.
2. Data dates are relative to that clock: `clock.today(zone) + timedelta(days=2)`,
   `next_weekday(day, "sun")`, `clock.now() + timedelta(hours=3)`, `FAR_AHEAD` for a document
   valid through any test. A calendar date written in tests/ is either long past (a birth date,
   a document that expired years ago) or the subject of its test, and then its line says
   `# date under test`; tests/test_clock_convention.py fails on any other date from the test
   epoch on, and on wall-clock reads (the check CI's reviewers run flags dates near today).
3. Behaviour that depends on the hour or on an expiry (fares by time of day, holds, slots,
   check-in, code and token expiries) is tested at two instants, `WEEKDAY_10H` and `WEEKDAY_01H`
   (01:00 is a night fare, and the local date is not the UTC date): a module marks itself with
   `pytestmark = pytest.mark.at_two_instants` and each of its tests that uses `clock` (itself or
   through a fixture such as `ride`, `trip`, `desk`) runs once at each instant. Write its
   expectations from the clock (the first day-fare departure, the next opening day), not from
   one instant's numbers.
4. The application reads the time only through its injected clock. A query that compares times
   the clock wrote takes the clock's time as a parameter; PostgreSQL's `now()` only ever meets
   times that `now()` wrote (a lease, a retry age).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import asyncpg
from aiohttp.test_utils import TestClient

from bayaffairs.config import Config, load_config
from bayaffairs.config.files import deep_merge


def test_database_url() -> str:
    """BAYAFFAIRS_TEST_DATABASE_URL, else the user's server with the database `bayaffairs_test`."""
    if os.environ.get("BAYAFFAIRS_TEST_DATABASE_URL"):
        return os.environ["BAYAFFAIRS_TEST_DATABASE_URL"]
    base = os.environ.get("BAYAFFAIRS_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bayaffairs")
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path="/bayaffairs_test"))


def test_redis_url() -> str:
    if os.environ.get("BAYAFFAIRS_TEST_REDIS_URL"):
        return os.environ["BAYAFFAIRS_TEST_REDIS_URL"]
    base = os.environ.get("BAYAFFAIRS_REDIS_URL", "redis://127.0.0.1:6379/0")
    return urlunsplit(urlsplit(base)._replace(path="/15"))


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


# This run's own database and Redis key prefix, set once by the session fixture `config`, so
# that every configuration a test builds points at them.
RUN_OVERRIDES: dict[str, Any] = {}


def test_config(overrides: Mapping[str, Any] | None = None) -> Config:
    base = deep_merge(
        {"database": {"url": test_database_url()}, "redis": {"url": test_redis_url()}}, RUN_OVERRIDES
    )
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BAYAFFAIRS_")}
    return load_config(profile="test", environ=environ, overrides=deep_merge(base, overrides or {}))


async def create_database(url: str) -> None:
    """Create the database named in `url` if it does not exist yet."""
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(with_database(url, "postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


HONG_KONG = ZoneInfo("Asia/Hong_Kong")

# The two instants tests start at (see the module's docstring). Both are on an ordinary
# Wednesday with no public holiday in the weeks around it in any jurisdiction's config.
WEEKDAY_10H = datetime(2025, 3, 12, 10, 0, tzinfo=HONG_KONG)  # date under test: the epoch
WEEKDAY_01H = datetime(2025, 3, 12, 1, 0, tzinfo=HONG_KONG)  # date under test: the epoch
START = WEEKDAY_10H
INSTANTS = {"weekday-10h": WEEKDAY_10H, "weekday-01h": WEEKDAY_01H}
# Dates a year and years after any test's clock: a visa valid for the coming months, a document
# valid through every test.
A_YEAR_AHEAD = (START + timedelta(days=365)).date().isoformat()
FAR_AHEAD = (START + timedelta(days=6 * 365)).date().isoformat()

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class MovableClock:
    """The test clock: starts at a fixed instant (`START` unless told) and moves only when the
    test moves it."""

    def __init__(self, start: datetime = START) -> None:
        self.set(start)

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("the test clock takes timezone-aware instants")
        self._now = instant.astimezone(UTC)

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)

    def local(self, zone: tzinfo = HONG_KONG) -> datetime:
        return self._now.astimezone(zone)

    def today(self, zone: tzinfo = HONG_KONG) -> date:
        """The clock's date in `zone` (Hong Kong's by default: UTC+8 like all of the Bay Area)."""
        return self.local(zone).date()

    def timestamp(self) -> int:
        return int(self._now.timestamp())


def next_weekday(day: date, weekday: str) -> date:
    """The first `weekday` ("mon".."sun") strictly after `day`."""
    ahead = (WEEKDAYS.index(weekday) - day.weekday() - 1) % 7 + 1
    return day + timedelta(days=ahead)


class Api:
    """A test client that knows a bearer token and answers (status, json)."""

    def __init__(self, client: TestClient, token: str | None = None) -> None:
        self.client = client
        self.token = token

    def as_(self, token: str | None) -> Api:
        return Api(self.client, token)

    async def call(
        self,
        method: str,
        path: str,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> tuple[int, Any]:
        all_headers = dict(headers or {})
        if self.token:
            all_headers.setdefault("Authorization", f"Bearer {self.token}")
        async with self.client.request(method, path, json=json, headers=all_headers, **kwargs) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, await resp.read()

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.call("POST", path, json=json, **kw)

    async def put(self, path: str, json: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.call("PUT", path, json=json, **kw)

    async def delete(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("DELETE", path, **kw)

    async def sign_in(self, handle: str, **claims: Any) -> Api:
        status, body = await self.post("/v1/auth/sessions", {"provider": "dev", "code": handle, **claims})
        assert status == 201, body
        return self.as_(body["token"])


# These helpers are named for what they serve, not tests themselves.
for _helper in (test_config, test_database_url, test_redis_url):
    _helper.__test__ = False  # type: ignore[attr-defined]
