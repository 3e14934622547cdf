"""The arq worker, built from ``Settings`` (nothing is read at import time).

Every job states ``max_tries``, ``timeout`` and ``keep_result``. Jobs are serialised with msgpack.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from arq.connections import RedisSettings
from arq.cron import cron
from arq.worker import Function, func

from api.db import create_pool
from api.domain.calendar import service as calendar_service
from api.kit.clock import Clock, SystemClock
from api.kit.jobs import QUEUE, job_deserializer, job_serializer
from api.settings import Settings
from workers.tasks import events, notifications, projects, quotes, timers


def functions() -> list[Function]:
    return [
        func(events.dispatch_event, name="dispatch_event", max_tries=20, timeout=60, keep_result=30),
        # keep_result=0: the sweep may enqueue the same job id again once a run has finished
        func(notifications.deliver_email, name="deliver_email", max_tries=5, timeout=120, keep_result=0),
        func(notifications.deliver_webhook, name="deliver_webhook", max_tries=5, timeout=120, keep_result=0),
    ]


def cron_jobs() -> list[Any]:
    return [
        cron(
            events.sweep_outbox,
            name="sweep_outbox",
            second={5, 35},
            run_at_startup=True,
            unique=True,
            timeout=120,
            max_tries=1,
            keep_result=0,
        ),
        cron(
            notifications.sweep_deliveries,
            name="sweep_deliveries",
            second={20, 50},
            run_at_startup=True,
            unique=True,
            timeout=120,
            max_tries=1,
            keep_result=0,
        ),
        cron(
            timers.sweep_timers,
            name="sweep_timers",
            second=20,
            run_at_startup=True,
            unique=True,
            timeout=50,
            max_tries=3,
            keep_result=60,
        ),
        cron(
            projects.close_ended_support,
            name="close_ended_support",
            minute=set(range(0, 60, 5)),
            second=40,
            run_at_startup=True,
            unique=True,
            timeout=300,
            max_tries=1,
            keep_result=0,
        ),
        cron(
            quotes.expire_quotes,
            name="expire_quotes",
            minute=set(range(2, 60, 5)),
            second=10,
            run_at_startup=True,
            unique=True,
            timeout=300,
            max_tries=1,
            keep_result=0,
        ),
        cron(
            events.purge_idempotency,
            name="purge_idempotency",
            minute=17,
            second=0,
            unique=True,
            timeout=300,
            max_tries=1,
            keep_result=0,
        ),
    ]


def worker_options(settings: Settings, *, clock: Clock | None = None, pool_size: int = 5) -> dict[str, Any]:
    """Keyword arguments for ``arq.Worker``; tests pass ``burst=True, poll_delay=0`` on top."""
    calendar_service.configure(settings)

    async def startup(ctx: dict[str, Any]) -> None:
        # arq puts its own Redis client (with our serializer) in ctx["redis"]
        ctx["pool"] = await create_pool(settings, min_size=1, max_size=pool_size)

    async def shutdown(ctx: dict[str, Any]) -> None:
        if "pool" in ctx:
            await ctx["pool"].close()

    return {
        "functions": functions(),
        "cron_jobs": cron_jobs(),
        "queue_name": QUEUE,
        "redis_settings": RedisSettings.from_dsn(settings.redis_url),
        "job_serializer": job_serializer,
        "job_deserializer": job_deserializer,
        "on_startup": startup,
        "on_shutdown": shutdown,
        "ctx": {"settings": settings, "clock": clock or SystemClock()},
        "max_jobs": 50,
        "job_timeout": 60,
        "keep_result": 30,
        "health_check_interval": 30,
        "retry_jobs": True,
        "timezone": UTC,
    }
