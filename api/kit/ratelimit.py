"""Rate limits counted in Redis, so they hold across API processes.

A fixed window per bucket. Redis holds, per bucket and window, how many permits the API processes have
taken between them (``INCRBY`` then ``EXPIRE NX`` in one pipeline); no process admits a request without
a permit, so the limit is never exceeded, however many processes serve the API.

A bucket hit with ``lease=True`` (the per-key limit on every request) takes its permits in leases, so
most requests need no Redis round trip: a process takes
``lease_size(limit)`` permits at a time (1/64 of the limit, at least 1, at most 64) and spends them
locally; while a process waits for a bucket's lease, its other requests for that bucket wait for the
same lease instead of taking their own. A lease is cut to what is left under the limit, and limits under 128 lease one permit at a
time, so they are counted exactly. Once Redis grants a process nothing, the bucket is used up for the
window (permits are never handed back) and the process refuses it locally until the window ends. The
price: permits leased by a process that then goes quiet are
not spent by the others, so a caller spread over several processes may be refused up to
``(processes - 1) * lease_size(limit)`` requests before the limit (at the default 600 a minute on two
processes: 9 requests, 1.5 %). The process's leases are forgotten when their window ends, and it holds
leases for at most ``MAX_LEASED_BUCKETS`` buckets (the oldest is forgotten first). Buckets without
``lease`` (the per-address inquiry flood counter: many buckets, small limits) take one permit per hit.

Over the limit → 429 with ``Retry-After`` (seconds until the window ends). If Redis does not answer
the limiter lets requests through (fail open): availability of the API matters more than counting
during a Redis outage.
"""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from api.errors import RateLimited
from api.kit.clock import Clock

log = logging.getLogger("scopekeeper.ratelimit")

#: A lease is at most this share of the limit ...
LEASE_DIVISOR = 64
#: ... and never more than this many permits.
MAX_LEASE = 64
#: Marks a bucket whose window is used up: permits are never returned, so it stays refused until the
#: window ends, without asking Redis again.
EXHAUSTED = -1
#: Buckets whose unspent permits a process remembers per window.
MAX_LEASED_BUCKETS = 4096


def lease_size(limit: int) -> int:
    """Permits a process takes from Redis at a time for a bucket with this limit."""
    return max(1, min(MAX_LEASE, limit // LEASE_DIVISOR))


class RateLimiter:
    def __init__(self, redis: Redis, clock: Clock, prefix: str = "rl") -> None:
        self.redis = redis
        self.clock = clock
        self.prefix = prefix
        self._window_start: dict[int, int] = {}
        # unspent leased permits of the current window, per window length and bucket
        self._permits: dict[int, dict[str, int]] = {}
        # leases being taken from Redis right now, per window start and bucket
        self._leasing: dict[tuple[int, str], asyncio.Future[int | None]] = {}

    async def hit(self, bucket: str, limit: int, window: int, *, lease: bool = False) -> tuple[bool, int]:
        """Count one hit; return (allowed, seconds until the window resets)."""
        now = int(self.clock.now().timestamp())
        window_start = now // window * window
        retry_after = max(1, window_start + window - now)
        size = lease_size(limit) if lease else 1
        if size == 1:
            taken = await self._take(bucket, window_start, window, 1, limit)
            return (True, 0) if taken is None else (taken > 0, retry_after)
        while True:
            permits = self._current(window, window_start)
            left = permits.get(bucket, 0)
            if left > 0:
                permits[bucket] = left - 1
                return True, retry_after
            if left == EXHAUSTED:
                return False, retry_after
            pending = self._leasing.get((window_start, bucket))
            if pending is None:
                break
            if await asyncio.shield(pending) is None:
                return True, 0  # the lease found Redis down: fail open as it did
        taken = await self._lease(bucket, window_start, window, size, limit)
        if taken is None:
            return True, 0
        permits[bucket] = permits.get(bucket, 0) + taken - 1 if taken else EXHAUSTED
        if len(permits) > MAX_LEASED_BUCKETS:
            del permits[next(iter(permits))]
        return taken > 0, retry_after

    async def _lease(self, bucket: str, window_start: int, window: int, size: int, limit: int) -> int | None:
        """One lease at a time per bucket in this process; concurrent hits wait for its outcome."""
        done: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._leasing[(window_start, bucket)] = done
        taken: int | None = None
        try:
            taken = await self._take(bucket, window_start, window, size, limit)
            return taken
        finally:
            del self._leasing[(window_start, bucket)]
            done.set_result(taken)

    def _current(self, window: int, window_start: int) -> dict[str, int]:
        """This window's unspent permits; those of a window that ended are dropped."""
        if self._window_start.get(window) != window_start:
            self._window_start[window] = window_start
            self._permits[window] = {}
        return self._permits[window]

    async def _take(self, bucket: str, window_start: int, window: int, wanted: int, limit: int) -> int | None:
        """Take up to ``wanted`` permits from Redis; how many were granted, or None if Redis is down."""
        key = f"{self.prefix}:{bucket}:{window_start}"
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.incrby(key, wanted)
                pipe.expire(key, window + 1, nx=True)
                total, _ = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("rate limiter unavailable, letting the request through: %s", type(exc).__name__)
            return None
        before = int(total) - wanted
        return max(0, min(wanted, limit - before))


async def enforce(limiter: RateLimiter, bucket: str, limit: int, window: int, *, lease: bool = False) -> None:
    allowed, retry_after = await limiter.hit(bucket, limit, window, lease=lease)
    if not allowed:
        raise RateLimited(
            f"More than {limit} requests in {window} seconds; retry after {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )
