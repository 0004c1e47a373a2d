"""The one object that owns the Redis connection pool."""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bayaffairs.config.settings import RedisSettings

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError)


class WaitingPool(aioredis.ConnectionPool):
    """redis-py's pool, except that a command finding every connection in use waits for one to
    be released (first come, first served, up to `wait` seconds) instead of failing at once.
    Below the limit it is the plain pool, at the plain pool's cost."""

    def __init__(self, *, wait: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.wait = wait
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    async def get_connection(self, *args: Any, **kwargs: Any) -> Any:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        while True:
            if not self._waiters:  # nobody queued before this one
                try:
                    return await super().get_connection()
                except MaxConnectionsError:
                    if self.wait <= 0:
                        raise
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise MaxConnectionsError("No Redis connection freed in time")
            turn = loop.create_future()
            self._waiters.append(turn)
            try:
                await asyncio.wait_for(turn, remaining)
            except TimeoutError:
                raise MaxConnectionsError("No Redis connection freed in time") from None
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(turn)
            try:
                return await super().get_connection()
            except MaxConnectionsError:
                continue

    async def release(self, connection: Any) -> None:
        await super().release(connection)
        while self._waiters:
            turn = self._waiters.popleft()
            if not turn.done():
                turn.set_result(None)
                break


class Redis:
    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        self.prefix = settings.key_prefix
        self._client: aioredis.Redis | None = None

    async def start(self) -> None:
        self._client = aioredis.Redis.from_pool(self._pool())  # the client closes its pool

    def _pool(self) -> aioredis.ConnectionPool:
        """A burst waits for a free connection, up to `pool_timeout_seconds` (then the request is
        a 503, like Redis down); 0 means "do not wait" (redis-py's pool as it is, which fails at
        once with MaxConnectionsError when all `max_connections` are in use)."""
        return WaitingPool.from_url(
            self.settings.url,
            wait=self.settings.pool_timeout_seconds,
            max_connections=self.settings.max_connections,
            socket_connect_timeout=2,
            socket_timeout=2,
            health_check_interval=30,
        )

    async def stop(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise RuntimeError("Redis.start() has not run")
        return self._client

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def ping(self) -> None:
        await self.client.ping()
