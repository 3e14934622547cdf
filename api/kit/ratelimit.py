"""Rate limits counted in Redis, so they hold across API processes.

A fixed window per bucket: ``INCR`` then ``EXPIRE NX`` in one pipeline. Over the limit → 429 with
``Retry-After`` (seconds until the window ends). If Redis does not answer the limiter lets requests
through (fail open): availability of the API matters more than counting during a Redis outage.
"""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.errors import RateLimited
from api.kit.clock import Clock

log = logging.getLogger("scopekeeper.ratelimit")


class RateLimiter:
    def __init__(self, redis: Redis, clock: Clock, prefix: str = "rl") -> None:
        self.redis = redis
        self.clock = clock
        self.prefix = prefix

    async def hit(self, bucket: str, limit: int, window: int) -> tuple[bool, int]:
        """Count one hit; return (allowed, seconds until the window resets)."""
        now = int(self.clock.now().timestamp())
        window_start = now // window * window
        key = f"{self.prefix}:{bucket}:{window_start}"
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.incr(key)
                pipe.expire(key, window + 1, nx=True)
                count, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("rate limiter unavailable, letting the request through: %s", type(exc).__name__)
            return True, 0
        retry_after = max(1, window_start + window - now)
        return int(count) <= limit, retry_after


async def enforce(limiter: RateLimiter, bucket: str, limit: int, window: int) -> None:
    allowed, retry_after = await limiter.hit(bucket, limit, window)
    if not allowed:
        raise RateLimited(
            f"More than {limit} requests in {window} seconds; retry after {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )
