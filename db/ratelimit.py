"""Fixed-window rate limits in Redis: one round trip (a Lua INCR + EXPIRE) per request."""

from __future__ import annotations

import math
import time

from bayaffairs.config.settings import RateLimit
from bayaffairs.db.redis import Redis

_INCREMENT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RateLimiter:
    def __init__(self, redis: Redis, limits: dict[str, RateLimit]) -> None:
        self.redis = redis
        self.limits = limits
        self._script = redis.client.register_script(_INCREMENT)

    async def hit(self, route_class: str, who: str) -> int | None:
        """Count a request; None when allowed, else the seconds to wait before retrying."""
        limit = self.limits.get(route_class)
        if limit is None or limit.requests == 0:
            return None
        now = time.time()
        window = int(now // limit.per_seconds)
        key = self.redis.key("rl", route_class, who, str(window))
        count = await self._script(keys=[key], args=[limit.per_seconds + 1])
        if int(count) <= limit.requests:
            return None
        return max(1, math.ceil((window + 1) * limit.per_seconds - now))
