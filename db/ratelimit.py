"""Fixed-window rate limits in Redis: one round trip (a Lua INCR + EXPIRE) per request.

Windows are counted on the service's clock, not the machine's, so a test (or anything run
on a clock of its own) decides which window a request falls in."""

from __future__ import annotations

import math
from dataclasses import dataclass

from bayaffairs.clock import Clock
from bayaffairs.config.settings import RateLimit
from bayaffairs.db.redis import Redis

_INCREMENT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""
# Take back one count of a window still kept (an expired window is not brought back).
_REFUND = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('DECR', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Attempt:
    """A counted request: `retry_after` None when allowed; `key` its window's counter (None:
    the class is not limited)."""

    retry_after: int | None
    key: str | None = None


class RateLimiter:
    def __init__(self, redis: Redis, limits: dict[str, RateLimit], clock: Clock) -> None:
        self.redis = redis
        self.limits = limits
        self.clock = clock
        self._script = redis.client.register_script(_INCREMENT)
        self._refund = redis.client.register_script(_REFUND)

    def limits_any(self, rate_class: str | None, method: str) -> bool:
        """Whether a request of this route class (None: read or write by its method) is
        counted at all: a class at 0 requests (gates' scans) costs nothing to check."""
        route_class = rate_class or ("read" if method in ("GET", "HEAD") else "write")
        limit = self.limits.get(route_class)
        return limit is not None and limit.requests != 0

    async def hit(self, route_class: str, who: str) -> int | None:
        """Count a request; None when allowed, else the seconds to wait before retrying."""
        return (await self.attempt(route_class, who)).retry_after

    async def attempt(self, route_class: str, who: str) -> Attempt:
        """Count a request that may be taken back by `refund` (an attempt that turned out
        not to count, such as a sign-in with a good token)."""
        limit = self.limits.get(route_class)
        if limit is None or limit.requests == 0:
            return Attempt(None)
        now = self.clock.now().timestamp()
        window = int(now // limit.per_seconds)
        key = self.redis.key("rl", route_class, who, str(window))
        count = await self._script(keys=[key], args=[limit.per_seconds + 1])
        if int(count) <= limit.requests:
            return Attempt(None, key)
        return Attempt(max(1, math.ceil((window + 1) * limit.per_seconds - now)), key)

    async def refund(self, attempt: Attempt) -> None:
        if attempt.key is not None:
            await self._refund(keys=[attempt.key])
