"""Issued ride codes waiting to be rendered as images: in Redis, for as long as they are good."""

from __future__ import annotations

from bayaffairs.db.redis import Redis


class RedisCodeStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def put(self, code_id: str, user_id: str, payload: str, ttl_seconds: int) -> None:
        await self.redis.client.set(self.redis.key("code", user_id, code_id), payload, ex=ttl_seconds)

    async def get(self, code_id: str, user_id: str) -> str | None:
        value = await self.redis.client.get(self.redis.key("code", user_id, code_id))
        return value.decode() if value is not None else None
