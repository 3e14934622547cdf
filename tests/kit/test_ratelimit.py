"""The Redis-counted rate limiter with leased permits, against a real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from api.kit import ratelimit
from api.kit.clock import FrozenClock
from api.kit.ratelimit import RateLimiter, lease_size

WINDOW = 60


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    connection = Redis.from_url(redis_url)
    yield connection
    await connection.aclose()


def counted(limiter: RateLimiter, bucket: str) -> str:
    now = int(limiter.clock.now().timestamp())
    return f"{limiter.prefix}:{bucket}:{now // WINDOW * WINDOW}"


@pytest.mark.parametrize(
    ("limit", "size"), [(5, 1), (127, 1), (128, 2), (600, 9), (640, 10), (10_000, 64), (10**7, 64)]
)
def test_lease_size(limit: int, size: int) -> None:
    assert lease_size(limit) == size


async def test_a_lease_serves_hits_without_redis(redis: Redis, clock: FrozenClock) -> None:
    limiter = RateLimiter(redis, clock)
    assert (await limiter.hit("k", 640, WINDOW, lease=True))[0]
    assert int(await redis.get(counted(limiter, "k")) or 0) == 10
    for _ in range(9):
        assert (await limiter.hit("k", 640, WINDOW, lease=True))[0]
    assert int(await redis.get(counted(limiter, "k")) or 0) == 10
    assert (await limiter.hit("k", 640, WINDOW, lease=True))[0]
    assert int(await redis.get(counted(limiter, "k")) or 0) == 20


async def test_without_lease_every_hit_is_counted(redis: Redis, clock: FrozenClock) -> None:
    limiter = RateLimiter(redis, clock)
    for _ in range(3):
        await limiter.hit("flood", 10_000, WINDOW)
    assert int(await redis.get(counted(limiter, "flood")) or 0) == 3


async def test_one_process_admits_exactly_the_limit(redis: Redis, clock: FrozenClock) -> None:
    limiter = RateLimiter(redis, clock)
    results = [(await limiter.hit("k", 650, WINDOW, lease=True))[0] for _ in range(700)]
    assert results.count(True) == 650
    assert results[:650] == [True] * 650


async def test_processes_never_exceed_the_limit_and_lose_at_most_a_lease_each(
    redis: Redis, clock: FrozenClock
) -> None:
    limit = 640
    limiters = [RateLimiter(redis, clock) for _ in range(3)]
    # concurrent hits spread over three processes, more than the limit
    results = await asyncio.gather(
        *(limiters[n % 3].hit("k", limit, WINDOW, lease=True) for n in range(1000))
    )
    admitted = sum(1 for allowed, _ in results if allowed)
    assert limit - 2 * lease_size(limit) <= admitted <= limit
    refused = [retry for allowed, retry in results if not allowed]
    assert refused
    assert all(1 <= retry <= WINDOW for retry in refused)


async def test_a_quiet_process_keeps_its_lease_and_the_others_stop_short(
    redis: Redis, clock: FrozenClock
) -> None:
    limit = 640
    quiet, busy = RateLimiter(redis, clock), RateLimiter(redis, clock)
    assert (await quiet.hit("k", limit, WINDOW, lease=True))[0]
    admitted = sum([(await busy.hit("k", limit, WINDOW, lease=True))[0] for _ in range(limit)])
    assert admitted == limit - lease_size(limit)
    # the quiet process still spends what it leased, and not one permit more
    spent = sum([(await quiet.hit("k", limit, WINDOW, lease=True))[0] for _ in range(20)])
    assert spent == lease_size(limit) - 1


async def test_a_new_window_starts_afresh_and_drops_old_leases(redis: Redis, clock: FrozenClock) -> None:
    limiter = RateLimiter(redis, clock)
    clock.set(clock.now().replace(second=0, microsecond=0))
    for _ in range(640):
        await limiter.hit("k", 640, WINDOW, lease=True)
    allowed, retry_after = await limiter.hit("k", 640, WINDOW, lease=True)
    assert not allowed
    assert retry_after == WINDOW
    clock.advance(timedelta(seconds=WINDOW))
    assert (await limiter.hit("k", 640, WINDOW, lease=True))[0]
    assert int(await redis.get(counted(limiter, "k")) or 0) == 10


async def test_leftover_permits_of_an_ended_window_are_not_spent(redis: Redis, clock: FrozenClock) -> None:
    limiter = RateLimiter(redis, clock)
    clock.set(clock.now().replace(second=0, microsecond=0))
    assert (await limiter.hit("k", 640, WINDOW, lease=True))[0]  # leases 10, 9 left
    clock.advance(timedelta(seconds=WINDOW))
    assert (await limiter.hit("k", 640, WINDOW, lease=True))[0]
    assert int(await redis.get(counted(limiter, "k")) or 0) == 10


async def test_leased_buckets_are_bounded(
    redis: Redis, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ratelimit, "MAX_LEASED_BUCKETS", 3)
    limiter = RateLimiter(redis, clock)
    for n in range(10):
        await limiter.hit(f"k{n}", 640, WINDOW, lease=True)
    held = limiter._permits[WINDOW]
    assert list(held) == ["k7", "k8", "k9"]


async def test_fails_open_when_redis_is_gone(clock: FrozenClock) -> None:
    gone = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    limiter = RateLimiter(gone, clock)
    try:
        assert await limiter.hit("k", 1, WINDOW, lease=True) == (True, 0)
        assert await limiter.hit("k", 1, WINDOW) == (True, 0)
    finally:
        await gone.aclose()


async def test_a_burst_in_one_process_shares_leases(redis: Redis, clock: FrozenClock) -> None:
    limiter = RateLimiter(redis, clock)
    results = await asyncio.gather(*(limiter.hit("k", 640, WINDOW, lease=True) for _ in range(100)))
    assert all(allowed for allowed, _ in results)
    assert int(await redis.get(counted(limiter, "k")) or 0) == 100


async def test_a_used_up_bucket_is_refused_without_asking_redis(redis: Redis, clock: FrozenClock) -> None:
    limiter = RateLimiter(redis, clock)
    for _ in range(641):
        await limiter.hit("k", 640, WINDOW, lease=True)
    count = int(await redis.get(counted(limiter, "k")) or 0)
    results = await asyncio.gather(*(limiter.hit("k", 640, WINDOW, lease=True) for _ in range(50)))
    assert not any(allowed for allowed, _ in results)
    assert int(await redis.get(counted(limiter, "k")) or 0) == count


async def test_hits_waiting_for_a_lease_fail_open_with_it(clock: FrozenClock) -> None:
    gone = Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    limiter = RateLimiter(gone, clock)
    try:
        results = await asyncio.gather(*(limiter.hit("k", 640, WINDOW, lease=True) for _ in range(20)))
        assert results == [(True, 0)] * 20
    finally:
        await gone.aclose()
