"""The service under test: its own database and Redis db, its settings, and the credentials
scenarios need from it.

It runs as `bayaffairs serve` in a separate process, exactly as deployed, against
`bayaffairs_bench` (never the application's or the test suite's database) and Redis db 14.
"""

from __future__ import annotations

import asyncio
import functools
import http.client
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import redis

from bench import ROOT
from bench.processes import ProcessError, Processes

if TYPE_CHECKING:
    from bench.transit import Transit

# Another name (BAYAFFAIRS_BENCH_DATABASE) keeps branches with different migrations apart.
BENCH_DATABASE = os.environ.get("BAYAFFAIRS_BENCH_DATABASE", "bayaffairs_bench")
BENCH_REDIS_DB = 14
RIDER_HANDLE = "bench-rider"
CODE_RIDER_HANDLE = "bench-code-rider"  # asks for ride codes and their images

# Rate limits off, so load does not turn into 429s; the access log off, as its cost is measured
# on its own. A variant adds to or replaces these.
BASE_ENV: Mapping[str, str] = {
    "BAYAFFAIRS_PROFILE": "test",
    "BAYAFFAIRS_RATE_LIMITS_READ": "0/1",
    "BAYAFFAIRS_RATE_LIMITS_WRITE": "0/1",
    "BAYAFFAIRS_LOGGING_ACCESS_LOG": "false",
}


@dataclass(frozen=True)
class Variant:
    """Settings one server start runs with: BAYAFFAIRS_* variables on top of BASE_ENV.

    A value of None removes the variable, so the value in config/ applies.
    """

    name: str
    env: Mapping[str, str | None] = field(default_factory=dict)


PLAIN = Variant("plain")


def bench_database_url() -> str:
    """The server of BAYAFFAIRS_DATABASE_URL (else the local default), database bayaffairs_bench."""
    base = os.environ.get("BAYAFFAIRS_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bayaffairs")
    return urlunsplit(urlsplit(base)._replace(path=f"/{BENCH_DATABASE}"))


def bench_redis_url() -> str:
    base = os.environ.get("BAYAFFAIRS_REDIS_URL", "redis://127.0.0.1:6379/0")
    return urlunsplit(urlsplit(base)._replace(path=f"/{BENCH_REDIS_DB}"))


def service_env(variant: Variant) -> dict[str, str]:
    """The caller's environment without its BAYAFFAIRS_* variables (a shell's profile or URLs
    must not leak in), plus the bench settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BAYAFFAIRS_")}
    env.update(BASE_ENV)
    env["BAYAFFAIRS_DATABASE_URL"] = bench_database_url()
    env["BAYAFFAIRS_REDIS_URL"] = bench_redis_url()
    for name, value in variant.env.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def bayaffairs_command() -> list[str]:
    script = Path(sys.executable).parent / "bayaffairs"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bayaffairs.cli.main"]


async def _create_database(url: str, fresh: bool) -> None:
    name = urlsplit(url).path.lstrip("/")
    conn = await asyncpg.connect(urlunsplit(urlsplit(url)._replace(path="/postgres")))
    try:
        if fresh:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def prepare_database(processes: Processes, *, fresh: bool) -> None:
    """Create bayaffairs_bench if missing (dropped first with `fresh`) and migrate it."""
    try:
        asyncio.run(_create_database(bench_database_url(), fresh))
    except (OSError, asyncpg.PostgresError) as exc:
        raise SystemExit(f"bench: cannot prepare {BENCH_DATABASE} on PostgreSQL: {exc}") from None
    processes.run(
        "migrate",
        [*bayaffairs_command(), "migrate", "--quiet"],
        env=service_env(PLAIN),
        cwd=ROOT,
        timeout=120,
    )


def reset_redis() -> None:
    """Empty the bench Redis db, so every server start begins with fresh rate-limit windows."""
    client = redis.Redis.from_url(bench_redis_url())
    try:
        client.flushdb()
    except redis.RedisError as exc:
        raise SystemExit(f"bench: cannot reach Redis at {bench_redis_url()}: {exc}") from None
    finally:
        client.close()


class Fixtures:
    """What scenarios ask of a running server: its address, and credentials made through its API.

    Each credential is made once per server start, on first use, so a scenario that needs none
    costs none. `transit` is shared by every server of a run: the issuer key, riders and gate
    token live in the bench database, not in a server.
    """

    def __init__(self, port: int, transit: Transit) -> None:
        self.port = port
        self.transit = transit

    def call(
        self, method: str, path: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def post_json(self, path: str, data: Any, headers: Mapping[str, str] | None = None) -> Any:
        status, body = self.call(
            "POST", path, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})}
        )
        if status >= 300:
            raise ProcessError(f"POST {path} answered {status}: {body[:500]!r}")
        return json.loads(body)

    @functools.cached_property
    def rider_token(self) -> str:
        """A rider session from the dev sign-in provider (enabled in the test profile)."""
        return str(self.post_json("/v1/auth/sessions", {"provider": "dev", "code": RIDER_HANDLE})["token"])

    @functools.cached_property
    def code_rider_token(self) -> str:
        """A rider with a wallet (HKD, demo), as POST /v1/ride-codes requires.

        The issuer key is made first (if the bench database has none), since issuing signs.
        """
        _ = self.transit.issuer
        token = str(
            self.post_json("/v1/auth/sessions", {"provider": "dev", "code": CODE_RIDER_HANDLE})["token"]
        )
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        body = json.dumps({"currency": "HKD", "provider": "demo"}).encode()
        status, answer = self.call("PUT", "/v1/me/wallet", body, headers)
        if status != 200:
            raise ProcessError(f"PUT /v1/me/wallet answered {status}: {answer[:500]!r}")
        return token
