"""Handing buffered jobs to arq after a commit, without letting a Redis outage fail the request.

The API and the worker share one Redis client factory and msgpack as the job serializer. When Redis
does not answer, ``send_jobs`` logs, opens a short circuit breaker (so a dead Redis costs one failed
attempt per few seconds, not one per request) and returns: the outbox sweep re-sends what matters.
"""

from __future__ import annotations

import functools
import logging
import time
from typing import Any

import msgpack
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool
from redis.exceptions import RedisError

from api.db import Job

log = logging.getLogger("scopekeeper.jobs")

QUEUE = "scopekeeper:queue"


def job_serializer(value: dict[str, Any]) -> bytes:
    return msgpack.packb(value, use_bin_type=True)  # type: ignore[no-any-return]


job_deserializer = functools.partial(msgpack.unpackb, raw=False)


def create_redis(url: str, *, timeout: float = 1.0) -> ArqRedis:
    """An arq Redis client that connects lazily and gives up fast when Redis is away."""
    pool = ConnectionPool.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout,
        health_check_interval=30,
        retry_on_timeout=False,
    )
    return ArqRedis(
        connection_pool=pool,
        job_serializer=job_serializer,
        job_deserializer=job_deserializer,
        default_queue_name=QUEUE,
    )


class JobSender:
    """Sends buffered jobs; a failure opens the breaker for ``pause`` seconds."""

    def __init__(self, redis: ArqRedis, pause: float = 3.0) -> None:
        self.redis = redis
        self.pause = pause
        self._closed_until = 0.0

    async def send(self, jobs: list[Job]) -> int:
        sent = 0
        if not jobs or time.monotonic() < self._closed_until:
            return sent
        for function, args, options in jobs:
            try:
                await self.redis.enqueue_job(function, *args, **options)
                sent += 1
            except (RedisError, OSError) as exc:
                self._closed_until = time.monotonic() + self.pause
                log.warning(
                    "could not enqueue %s (%s); the outbox sweep will retry", function, type(exc).__name__
                )
                break
        return sent


async def close_redis(redis: ArqRedis) -> None:
    """Close the client and the connection pool it was given."""
    await redis.aclose()
    await redis.connection_pool.disconnect()
