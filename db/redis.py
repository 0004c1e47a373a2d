"""The one object that owns the Redis connection pool."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bayaffairs.config.settings import RedisSettings

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError)


class Redis:
    def __init__(self, settings: RedisSettings) -> None:
        self.settings = settings
        self.prefix = settings.key_prefix
        self._client: aioredis.Redis | None = None

    async def start(self) -> None:
        self._client = aioredis.Redis.from_pool(self._pool())  # the client closes its pool

    def _pool(self) -> aioredis.ConnectionPool:
        """A burst waits for a free connection, up to `pool_timeout_seconds` (then the request is
        a 503, like Redis down); 0 means "do not wait" (redis-py's default pool, which fails at
        once with MaxConnectionsError when all `max_connections` are in use)."""
        options: dict[str, Any] = {
            "max_connections": self.settings.max_connections,
            "socket_connect_timeout": 2,
            "socket_timeout": 2,
            "health_check_interval": 30,
        }
        if self.settings.pool_timeout_seconds <= 0:
            return aioredis.ConnectionPool.from_url(self.settings.url, **options)
        return aioredis.BlockingConnectionPool.from_url(
            self.settings.url, timeout=self.settings.pool_timeout_seconds, **options
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
