"""Issued ride codes waiting to be rendered as images, in Redis.

Kept an hour past their expiry, so that asking for an expired code's image says 410 (expired)
rather than 404 (never existed).
"""

from __future__ import annotations

from bayaffairs.db.redis import Redis

KEEP_AFTER_EXPIRY = 3600


class RedisCodeStore:
    def __init__(self, redis: Redis) -> None:
        self.redis = redis

    async def put(self, code_id: str, user_id: str, payload: str, expires_at: int) -> None:
        key = self.redis.key("code", user_id, code_id)
        await self.redis.client.set(key, f"{expires_at}|{payload}", exat=expires_at + KEEP_AFTER_EXPIRY)

    async def get(self, code_id: str, user_id: str) -> tuple[str, int] | None:
        value = await self.redis.client.get(self.redis.key("code", user_id, code_id))
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else value  # bytes unless decode_responses
        expires_at, _, payload = text.partition("|")
        return payload, int(expires_at)
