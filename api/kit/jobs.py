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
from uuid import uuid4

import msgpack
from arq.connections import ArqRedis
from arq.constants import job_key_prefix, result_key_prefix
from arq.jobs import serialize_job
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


# arq's enqueue_job (WATCH the job key, EXISTS job or result, MULTI PSETEX + ZADD EXEC) for many jobs in one
# round trip: a job whose id is queued, running or has a kept result is skipped, as arq skips it.
ENQUEUE_MANY = """
local queue, expires, score = KEYS[1], ARGV[1], ARGV[2]
local added = 0
for i = 2, #KEYS, 2 do
    if redis.call('EXISTS', KEYS[i], KEYS[i + 1]) == 0 then
        local n = i / 2
        redis.call('PSETEX', KEYS[i], expires, ARGV[2 + 2 * n])
        redis.call('ZADD', queue, score, ARGV[1 + 2 * n])
        added = added + 1
    end
end
return added
"""


class JobSender:
    """Sends buffered jobs; a failure opens the breaker for ``pause`` seconds.

    Jobs with no option but ``_job_id`` (all the API's) go to Redis together in one script call, with
    the semantics of ``ArqRedis.enqueue_job``; a job with other options (deferral, expiry) goes through
    ``enqueue_job`` itself.
    """

    def __init__(self, redis: ArqRedis, pause: float = 3.0) -> None:
        self.redis = redis
        self.pause = pause
        self._closed_until = 0.0
        self._enqueue_many = redis.register_script(ENQUEUE_MANY)

    async def send(self, jobs: list[Job]) -> int:
        if not jobs or time.monotonic() < self._closed_until:
            return 0
        plain = [job for job in jobs if set(job[2]) <= {"_job_id"}]
        other = [job for job in jobs if not set(job[2]) <= {"_job_id"}]
        sent = 0
        try:
            if plain:
                await self._send_plain(plain)
                sent += len(plain)
            for function, args, options in other:
                await self.redis.enqueue_job(function, *args, **options)
                sent += 1
        except (RedisError, OSError) as exc:
            self._closed_until = time.monotonic() + self.pause
            log.warning("could not enqueue jobs (%s); the outbox sweep will retry", type(exc).__name__)
        return sent

    async def _send_plain(self, jobs: list[Job]) -> None:
        enqueued_ms = int(time.time() * 1000)
        keys: list[str] = [self.redis.default_queue_name]
        args: list[Any] = [self.redis.expires_extra_ms, enqueued_ms]
        for function, job_args, options in jobs:
            job_id = options.get("_job_id") or uuid4().hex
            keys += [job_key_prefix + job_id, result_key_prefix + job_id]
            args += [
                job_id,
                serialize_job(function, job_args, {}, None, enqueued_ms, serializer=job_serializer),
            ]
        await self._enqueue_many(keys=keys, args=args)


async def close_redis(redis: ArqRedis) -> None:
    """Close the client and the connection pool it was given."""
    await redis.aclose()
    await redis.connection_pool.disconnect()
