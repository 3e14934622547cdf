"""Helpers for the calendar and SLA timer tests: a unit of work on the app's pool, seeding, counting."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from litestar import Litestar

from api.db import UnitOfWork, unit_of_work

WARSAW = ZoneInfo("Europe/Warsaw")


def waw(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A Warsaw wall-clock instant."""
    return datetime(year, month, day, hour, minute, tzinfo=WARSAW)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def z(instant: datetime) -> str:
    """The RFC 3339 form the API returns (UTC, ``Z``)."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


@asynccontextmanager
async def uow_of(app: Litestar) -> AsyncIterator[UnitOfWork]:
    """A committed unit of work on the app's pool, its jobs sent after the commit like a request's."""
    async with unit_of_work(app.state.pool, transactional=True, acquire_timeout=5) as uow:
        yield uow
    await app.state.jobs.send(uow.jobs)


async def events_of(db: asyncpg.Connection, event_type: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT subject_type, subject_id, data FROM domain_events WHERE type = $1 ORDER BY seq", event_type
    )
    return [{**dict(r), "data": json.loads(r["data"])} for r in rows]


async def log_of(db: asyncpg.Connection, timer_id: Any) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        SELECT event, at, old_due_at, due_at, old_warn_at, warn_at, calendar_version, details
        FROM sla_timer_events WHERE timer_id = $1 ORDER BY id
        """,
        timer_id,
    )
    return [{**dict(r), "details": json.loads(r["details"])} for r in rows]


SEED_RUNNING = """
INSERT INTO sla_timers (kind, subject_type, subject_id, unit, measure, amount, target, warn_ratio, started_at,
                        due_at, warn_at, policy_version, calendar_version, data, created_at, updated_at)
SELECT 'inquiry_reply', 'inquiry', gen_random_uuid(), 'business', 'business_days', 1, interval '9 hours', 0.75,
       $2::timestamptz - interval '2 days', $2::timestamptz - interval '1 hour',
       $2::timestamptz - interval '3 hours', 1, 0, jsonb_build_object('n', g), $2, $2
FROM generate_series(1, $1) AS g
"""

SEED_FINISHED = """
INSERT INTO sla_timers (kind, subject_type, subject_id, unit, measure, amount, target, warn_ratio, started_at,
                        due_at, warn_at, state, warned_at, met_at, policy_version, calendar_version,
                        created_at, updated_at)
SELECT 'inquiry_reply', 'inquiry', gen_random_uuid(), 'business', 'business_days', 1, interval '9 hours', 0.75,
       $2::timestamptz - make_interval(hours => g % 5000 + 48), $2::timestamptz - make_interval(hours => g % 5000 + 24),
       $2::timestamptz - make_interval(hours => g % 5000 + 30), 'met',
       $2::timestamptz - make_interval(hours => g % 5000 + 30),
       $2::timestamptz - make_interval(hours => g % 5000 + 25), 1, 0, $2, $2
FROM generate_series(1, $1) AS g
"""


async def seed_running_due(db: asyncpg.Connection, count: int, now: datetime) -> None:
    """``count`` running inquiry timers whose warning and due times are both past at ``now``."""
    await db.execute(SEED_RUNNING, count, now)


async def seed_finished(db: asyncpg.Connection, count: int, now: datetime) -> None:
    """``count`` timers met in the past."""
    await db.execute(SEED_FINISHED, count, now)
