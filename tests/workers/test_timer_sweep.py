"""The SLA timer sweep: warnings and breaches fire once, from one worker or two processes, over the index."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from litestar import Litestar

from api.devenv import ROOT
from api.domain.timers import service as timers
from api.domain.timers.events import SUBJECT_EVENTS
from api.domain.timers.firing import fire_due
from api.domain.timers.queries import CLAIM_DUE
from api.domain.timers.schemas import TIMER_KINDS, TimerKind
from api.kit.clock import FrozenClock
from api.kit.jobs import create_redis
from api.settings import Settings
from tests.timers_support import events_of, log_of, seed_finished, seed_running_due, uow_of
from workers.settings import cron_jobs
from workers.tasks.timers import sweep_timers

RunWorker = Callable[[], Awaitable[int]]
MINUTE = timedelta(minutes=1)


async def test_warning_then_breach_each_once(
    app: Litestar,
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    clock: FrozenClock,
    settings: Settings,
    redis_url: str,
) -> None:
    project, org = uuid4(), uuid4()
    async with uow_of(app) as uow:
        timer = await timers.start(
            uow,
            kind="inquiry_reply",
            subject_type="inquiry",
            subject_id=uuid4(),
            started_at=clock.now(),
            now=clock.now(),
            project_id=project,
            client_id=org,
            data={"name": "Ada Lovelace", "email": "ada@example.com"},
        )
    redis = create_redis(redis_url)
    ctx: dict[str, Any] = {"pool": app.state.pool, "clock": clock, "settings": settings, "redis": redis}
    try:
        assert await sweep_timers(ctx) == {"warned": 0, "breached": 0}
        clock.set(timer.warn_at - MINUTE)
        assert await sweep_timers(ctx) == {"warned": 0, "breached": 0}
        clock.set(timer.warn_at + MINUTE)
        assert await sweep_timers(ctx) == {"warned": 1, "breached": 0}
        assert await sweep_timers(ctx) == {"warned": 0, "breached": 0}
        clock.set(timer.due_at)
        assert await sweep_timers(ctx) == {"warned": 0, "breached": 1}
        clock.set(timer.due_at + 10 * MINUTE)
        assert await sweep_timers(ctx) == {"warned": 0, "breached": 0}
        queued = {j.job_id for j in await redis.queued_jobs(queue_name="scopekeeper:queue")}
    finally:
        await redis.aclose()
        await redis.connection_pool.disconnect()

    row = await db.fetchrow("SELECT state, warned_at, breached_at FROM sla_timers WHERE id = $1", timer.id)
    assert row is not None
    assert (row["state"], row["warned_at"], row["breached_at"]) == (
        "breached",
        timer.warn_at + MINUTE,
        timer.due_at,
    )
    assert [e["event"] for e in await log_of(db, timer.id)] == ["started", "warned", "breached"]
    [warning] = await events_of(db, "sla.warning")
    [subject_warning] = await events_of(db, "inquiry.reply_warning")
    [breach] = await events_of(db, "sla.breached")
    [overdue] = await events_of(db, "inquiry.reply_overdue")
    assert (warning["subject_type"], warning["subject_id"]) == ("sla_timer", timer.id)
    assert (overdue["subject_type"], overdue["subject_id"]) == ("inquiry", timer.subject_id)
    assert warning["data"] == subject_warning["data"]
    data = breach["data"]
    assert data["timer_id"] == str(timer.id)
    assert data["kind"] == "inquiry_reply"
    assert data["subject_id"] == str(timer.subject_id)
    assert (data["project_id"], data["client_id"]) == (str(project), str(org))
    assert (data["due_at"], data["warn_at"]) == ("2026-11-25T09:30:00Z", "2026-11-24T16:15:00Z")
    assert (data["name"], data["email"], data["threshold"]) == ("Ada Lovelace", "ada@example.com", "breach")
    assert warning["data"]["threshold"] == "warning"
    ids = await db.fetch("SELECT id FROM domain_events WHERE type LIKE 'sla.%' OR type LIKE 'inquiry.%'")
    assert {f"event:{r['id']}" for r in ids} <= queued  # delivery jobs were sent after each commit


async def test_met_and_cancelled_timers_do_not_fire(
    app: Litestar, client: httpx.AsyncClient, db: asyncpg.Connection, clock: FrozenClock
) -> None:
    subjects = [uuid4(), uuid4()]
    async with uow_of(app) as uow:
        for subject in subjects:
            await timers.start(
                uow,
                kind="cr_assessment",
                subject_type="change_request",
                subject_id=subject,
                started_at=clock.now(),
                now=clock.now(),
            )
    async with uow_of(app) as uow:
        await timers.meet(uow, kind="cr_assessment", subject_id=subjects[0], at=clock.now() + MINUTE)
        await timers.cancel(
            uow, kind="cr_assessment", subject_id=subjects[1], at=clock.now() + MINUTE, reason="x"
        )
    clock.advance(timedelta(days=30))
    assert await fire_due(app.state.pool, clock, 100) == (0, 0)
    assert (
        await db.fetchval("SELECT count(*) FROM domain_events WHERE type IN ('sla.warning', 'sla.breached')")
        == 0
    )


@pytest.mark.parametrize("kind", TIMER_KINDS)
async def test_each_kind_fires_its_subject_events(
    app: Litestar, client: httpx.AsyncClient, db: asyncpg.Connection, clock: FrozenClock, kind: TimerKind
) -> None:
    async with uow_of(app) as uow:
        timer = await timers.start(
            uow,
            kind=kind,
            subject_type="subject",
            subject_id=uuid4(),
            started_at=clock.now(),
            now=clock.now(),
        )
    clock.set(timer.due_at + MINUTE)
    # both thresholds are past: the warning fires first, then the breach, in one transaction
    assert await fire_due(app.state.pool, clock, 10) == (1, 1)
    rows = await db.fetch(
        "SELECT type FROM domain_events WHERE subject_id = ANY($1) ORDER BY seq", [timer.id, timer.subject_id]
    )
    warning, overdue = SUBJECT_EVENTS[kind]
    assert [r["type"] for r in rows] == ["sla.warning", warning, "sla.breached", overdue]


async def test_cron_job_runs_in_the_worker(
    app: Litestar,
    client: httpx.AsyncClient,
    db: asyncpg.Connection,
    clock: FrozenClock,
    run_worker: RunWorker,
) -> None:
    [job] = [c for c in cron_jobs() if c.name == "sweep_timers"]
    assert (job.unique, job.max_tries, job.timeout_s, job.keep_result_s) == (True, 3, 50, 60)
    async with uow_of(app) as uow:
        timer = await timers.start(
            uow,
            kind="inquiry_reply",
            subject_type="inquiry",
            subject_id=uuid4(),
            started_at=clock.now(),
            now=clock.now(),
        )
    clock.set(timer.due_at + MINUTE)
    await run_worker()  # runs the sweep at start-up, then delivers what it emitted
    assert await db.fetchval("SELECT state FROM sla_timers WHERE id = $1", timer.id) == "breached"
    undelivered = await db.fetchval(
        "SELECT count(*) FROM domain_events WHERE type LIKE 'sla.%' AND dispatched_at IS NULL"
    )
    assert undelivered == 0
    await run_worker()  # a second run (a retry, a restart) fires nothing again
    assert len(await events_of(db, "sla.breached")) == 1


async def test_sweep_works_in_batches(
    app: Litestar, client: httpx.AsyncClient, db: asyncpg.Connection, clock: FrozenClock
) -> None:
    await seed_running_due(db, 25, clock.now())
    assert await fire_due(app.state.pool, clock, 10) == (25, 25)
    assert await db.fetchval("SELECT count(*) FROM sla_timers WHERE state = 'breached'") == 25
    with pytest.raises(ValueError, match="limit"):
        await fire_due(app.state.pool, clock, 0)


CHILD = """
import asyncio, json, sys
from datetime import datetime
import asyncpg
import httpx
from api.db import create_pool
from api.domain.timers.firing import fire_due
from api.kit.clock import FrozenClock
from api.settings import Settings

async def main(url, instant, limit, lock):
    pool = await create_pool(Settings.from_env({"DATABASE_URL": url}), min_size=1, max_size=2)
    gate = await asyncpg.connect(url)
    try:
        await gate.execute("SELECT pg_advisory_lock_shared($1)", int(lock))
        warned, breached = await fire_due(pool, FrozenClock(datetime.fromisoformat(instant)), int(limit))
    finally:
        await gate.close()
        await pool.close()
    print(json.dumps([warned, breached]))

asyncio.run(main(*sys.argv[1:]))
"""
GATE = 7_340_021


async def test_two_processes_fire_each_of_500_timers_exactly_once(
    db: asyncpg.Connection, database_url: str, clock: FrozenClock
) -> None:
    await seed_running_due(db, 500, clock.now())
    await db.execute("SELECT pg_advisory_lock($1)", GATE)  # holds both processes until both are ready
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            database_url,
            clock.now().isoformat(),
            "40",
            str(GATE),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]
    waiting = 0
    for _ in range(600):  # both children block on the gate: then release them together
        waiting = await db.fetchval(
            """
            SELECT count(*) FROM pg_locks
            WHERE locktype = 'advisory' AND objid = $1 AND NOT granted
              AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
            """,
            GATE,
        )
        if waiting == 2:
            break
        await asyncio.sleep(0.05)
    assert waiting == 2, "the child processes did not reach the gate"
    await db.execute("SELECT pg_advisory_unlock($1)", GATE)
    results = []
    for child in children:
        out, err = await asyncio.wait_for(child.communicate(), timeout=120)
        assert child.returncode == 0, err.decode()
        results.append(json.loads(out))
    assert [sum(r[0] for r in results), sum(r[1] for r in results)] == [500, 500]
    counts = await db.fetchrow(
        """
        SELECT (SELECT count(*) FROM domain_events WHERE type = 'sla.warning') AS warnings,
               (SELECT count(*) FROM domain_events WHERE type = 'sla.breached') AS breaches,
               (SELECT count(*) FROM domain_events WHERE type = 'inquiry.reply_warning') AS subject_warnings,
               (SELECT count(*) FROM domain_events WHERE type = 'inquiry.reply_overdue') AS subject_breaches,
               (SELECT count(DISTINCT subject_id) FROM domain_events WHERE type = 'sla.breached') AS timers,
               (SELECT count(*) FROM sla_timer_events WHERE event = 'warned') AS warned_log,
               (SELECT count(*) FROM sla_timer_events WHERE event = 'breached') AS breached_log,
               (SELECT count(*) FROM sla_timers WHERE state = 'breached') AS breached_timers
        """
    )
    assert counts is not None
    assert dict(counts) == {
        "warnings": 500,
        "breaches": 500,
        "subject_warnings": 500,
        "subject_breaches": 500,
        "timers": 500,
        "warned_log": 500,
        "breached_log": 500,
        "breached_timers": 500,
    }


def _index_names(plan: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(plan, dict):
        if "Index Name" in plan:
            found.add(plan["Index Name"])
        for value in plan.values():
            found |= _index_names(value)
    elif isinstance(plan, list):
        for value in plan:
            found |= _index_names(value)
    return found


async def test_claim_uses_the_partial_index(db: asyncpg.Connection, clock: FrozenClock) -> None:
    await seed_finished(db, 20_000, clock.now())
    await seed_running_due(db, 50, clock.now())
    await db.execute("ANALYZE sla_timers")
    plan = json.loads(await db.fetchval("EXPLAIN (FORMAT JSON) " + CLAIM_DUE, clock.now(), 1000))
    assert "sla_timers_next_fire" in _index_names(plan), json.dumps(plan, indent=1)
