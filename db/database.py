"""The one object that owns the asyncpg pool: started once, stopped once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import asyncpg
import orjson
from asyncpg.pool import PoolConnectionProxy

from bayaffairs.config.settings import DatabaseSettings

# A connection of the pool, or one opened on its own (migrations in tests).
PgConnection: TypeAlias = "asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]"

# Errors that mean "the database is not there", as opposed to a bad query.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InterfaceError,
    # A query started between the server's FATAL "terminating connection" and the socket's close
    # (a restart, a terminated backend): the protocol is still consuming that error, and asyncpg
    # refuses to send ("cannot switch to state ...; another operation (2) is in progress").
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.AdminShutdownError,
    # Not outages, but the same answer is right: nothing was written, retrying will work.
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.LockNotAvailableError,
)


def redact(url: str) -> str:
    """The URL with any password hidden, for logs and messages."""
    scheme, sep, rest = url.partition("://")
    userinfo, at, host = rest.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}:***@{host}"


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(
            name, encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's default reset query (RESET ALL, UNLISTEN, unlock all...).

    That query costs a round trip on every release, and this service never leaves session
    state on a pooled connection: settings are SET LOCAL inside transactions, nothing LISTENs,
    and session advisory locks are released by whoever took them. An open transaction is
    still rolled back by asyncpg before this runs.
    """


class Database:
    """Owns the asyncpg pool. Waiters for a connection queue first come, first served: without
    that, a task woken for a freed connection can lose it to a newcomer again and again, which
    showed as a p99 forty times the p50 under load (bench/README.md)."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self.settings = settings
        self._pool: asyncpg.Pool | None = None
        self._turns = asyncio.Semaphore(settings.pool_max)

    async def start(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.settings.url,
            min_size=self.settings.pool_min,
            max_size=self.settings.pool_max,
            command_timeout=self.settings.command_timeout,
            timeout=self.settings.connect_timeout_seconds,  # each (re)connection of the pool
            init=_init_connection,
            reset=_keep_session,
            server_settings={"timezone": "UTC", "application_name": "bayaffairs"},
        )

    async def connect_alone(self, purpose: str) -> asyncpg.Connection:
        """A connection outside the pool, for session state that must last (job owners' locks)."""
        return await asyncpg.connect(
            self.settings.url,
            timeout=self.settings.connect_timeout_seconds,
            command_timeout=self.settings.command_timeout,
            server_settings={"timezone": "UTC", "application_name": f"bayaffairs {purpose}"},
        )

    async def stop(self) -> None:
        if self._pool is not None:
            pool, self._pool = self._pool, None
            await pool.close()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("Database.start() has not run")
        return self._pool

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[PgConnection]:
        async with self._turns, self.pool.acquire() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PgConnection]:
        async with self._turns, self.pool.acquire() as conn, conn.transaction():
            yield conn

    async def ping(self) -> None:
        async with self.pool.acquire(timeout=2) as conn:
            await conn.fetchval("SELECT 1", timeout=2)

    def stats(self) -> dict[str, Any]:
        pool = self._pool
        if pool is None:
            return {"size": 0, "idle": 0, "max": self.settings.pool_max}
        return {"size": pool.get_size(), "idle": pool.get_idle_size(), "max": pool.get_max_size()}
