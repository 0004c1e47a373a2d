"""Helpers for tests: the test configuration, a clock tests can move, an HTTP client wrapper."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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


class MovableClock:
    """A clock tests can move forward."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> None:
        self._now += timedelta(**delta)


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
