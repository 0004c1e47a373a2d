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

    async def put(self, code_id: str, user_id: str, payload: str, expires_at: int, now: int) -> None:
        # A time to live rather than Redis's absolute expiry: the times are the service's clock,
        # which need not be Redis's (a test's clock is not).
        key = self.redis.key("code", user_id, code_id)
        ttl = max(1, expires_at - now + KEEP_AFTER_EXPIRY)
        await self.redis.client.set(key, f"{expires_at}|{payload}", ex=ttl)

    async def get(self, code_id: str, user_id: str) -> tuple[str, int] | None:
        value = await self.redis.client.get(self.redis.key("code", user_id, code_id))
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else value  # bytes unless decode_responses
        expires_at, _, payload = text.partition("|")
        return payload, int(expires_at)
