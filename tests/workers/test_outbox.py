"""The outbox: events commit with their change, leave after the commit, survive a Redis outage."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest
from arq.worker import Worker

from api.app import create_app
from api.kit.clock import FrozenClock
from api.kit.jobs import create_redis
from api.settings import Settings
from tests.conftest import asgi_client, create_client_org, running
from workers.settings import worker_options
from workers.tasks.events import dispatch_event, sweep_outbox

RunWorker = Callable[[], Awaitable[int]]


async def queued_jobs(redis_url: str) -> list[Any]:
    redis = create_redis(redis_url)
    try:
        return list(await redis.queued_jobs(queue_name="scopekeeper:queue"))
    finally:
        await redis.aclose()
        await redis.connection_pool.disconnect()


async def test_event_is_dispatched_after_commit(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    db: asyncpg.Connection,
    redis_url: str,
    run_worker: RunWorker,
) -> None:
    org = await create_client_org(client, staff)
    event = await db.fetchrow("SELECT id, dispatched_at FROM domain_events WHERE subject_id = $1", org["id"])
    assert event is not None
    assert event["dispatched_at"] is None
    jobs = await queued_jobs(redis_url)
    assert [j.job_id for j in jobs if j.function == "dispatch_event"] == [f"event:{event['id']}"]
    await run_worker()
    assert await db.fetchval("SELECT dispatched_at FROM domain_events WHERE id = $1", event["id"]) is not None


async def test_rolled_back_change_leaves_no_event_and_no_job(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection, redis_url: str
) -> None:
    response = await client.post("/v1/_probe/emit-then-fail", headers=staff)
    assert response.status_code == 409
    assert await db.fetchval("SELECT count(*) FROM domain_events WHERE type = 'client.created'") == 0
    assert await db.fetchval("SELECT count(*) FROM clients WHERE name = 'ghost'") == 0
    assert [j for j in await queued_jobs(redis_url) if j.function == "dispatch_event"] == []


async def test_event_committed_while_redis_is_down_is_dispatched_by_the_sweep(
    env: dict[str, str], clock: FrozenClock, db: asyncpg.Connection, make_key: Any, settings: Settings
) -> None:
    down = Settings.from_env({**env, "REDIS_URL": "redis://127.0.0.1:1/0"})  # nothing listens on port 1
    app = create_app(down, clock=clock)
    async with running(app):
        key = await make_key()
        async with asgi_client(app) as http:
            org = await create_client_org(http, {"Authorization": f"Bearer {key}"}, "Offline")
    event_id = await db.fetchval("SELECT id FROM domain_events WHERE subject_id = $1", org["id"])
    assert await db.fetchval("SELECT dispatched_at FROM domain_events WHERE id = $1", event_id) is None
    # Redis is back: the worker's sweep finds the event in PostgreSQL and delivers it
    worker = Worker(**worker_options(settings, clock=clock), burst=True, poll_delay=0, handle_signals=False)
    try:
        await worker.main()
    finally:
        await worker.close()
    assert await db.fetchval("SELECT dispatched_at FROM domain_events WHERE id = $1", event_id) is not None


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "OUTBOX_SWEEP_AGE_SECONDS": "0"}


async def test_dispatch_is_idempotent_and_sweep_skips_dispatched(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    db: asyncpg.Connection,
    settings: Settings,
    clock: FrozenClock,
    redis_url: str,
) -> None:
    from api.db import create_pool

    org = await create_client_org(client, staff)
    event_id = await db.fetchval("SELECT id FROM domain_events WHERE subject_id = $1", org["id"])
    pool = await create_pool(settings, min_size=1, max_size=2)
    redis = create_redis(redis_url)
    ctx = {"pool": pool, "clock": clock, "settings": settings, "redis": redis}
    try:
        assert await dispatch_event(ctx, str(event_id)) is True
        assert await dispatch_event(ctx, str(event_id)) is False
        await redis.flushdb()
        waiting = await db.fetchval("SELECT count(*) FROM domain_events WHERE dispatched_at IS NULL")
        assert waiting >= 1  # the staff key's own event
        assert await sweep_outbox(ctx) == waiting
        job_ids = [j.job_id for j in await redis.queued_jobs(queue_name="scopekeeper:queue")]
        assert f"event:{event_id}" not in job_ids
        assert len(job_ids) == waiting
    finally:
        await pool.close()
        await redis.aclose()
        await redis.connection_pool.disconnect()


async def test_a_dispatch_job_held_by_a_dead_worker_is_enqueued_late(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    db: asyncpg.Connection,
    settings: Settings,
    clock: FrozenClock,
    redis_url: str,
) -> None:
    from datetime import timedelta

    from api.db import create_pool
    from workers.tasks.notifications import STUCK_AFTER

    await create_client_org(client, staff)
    waiting = await db.fetch("SELECT id FROM domain_events WHERE dispatched_at IS NULL")
    pool = await create_pool(settings, min_size=1, max_size=2)
    redis = create_redis(redis_url)
    ctx = {"pool": pool, "clock": clock, "settings": settings, "redis": redis}
    try:
        await redis.flushdb()
        for row in waiting:  # arq still holds each dispatch job id, as for a worker killed mid-run
            await redis.enqueue_job(
                "dispatch_event", str(row["id"]), _job_id=f"event:{row['id']}", _defer_by=3600
            )
        assert await sweep_outbox(ctx) == 0
        clock.advance(STUCK_AFTER - timedelta(seconds=1))
        assert await sweep_outbox(ctx) == 0
        clock.advance(timedelta(seconds=1))
        assert await sweep_outbox(ctx) == len(waiting)
        assert await sweep_outbox(ctx) == 0  # the late job is not doubled either
        job_ids = sorted(str(j.job_id) for j in await redis.queued_jobs(queue_name="scopekeeper:queue"))
        assert job_ids == sorted(
            [f"event:{row['id']}" for row in waiting] + [f"event:{row['id']}:late" for row in waiting]
        )
    finally:
        await pool.close()
        await redis.aclose()
        await redis.connection_pool.disconnect()


#: What each job function reads first, and so must find committed when the job reaches Redis.
JOB_ROWS = {
    "dispatch_event": "SELECT EXISTS (SELECT FROM domain_events WHERE id = $1::uuid)",
    "deliver_email": "SELECT EXISTS (SELECT FROM deliveries WHERE id = $1::uuid)",
    "deliver_webhook": "SELECT EXISTS (SELECT FROM deliveries WHERE id = $1::uuid)",
}


async def test_every_job_is_sent_only_when_its_row_is_committed(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    make_key: Any,
    app: Any,
    clock: FrozenClock,
    database_url: str,
    redis_url: str,
    run_worker: RunWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each job the API or the worker hands to Redis (``JobSender.send``: after a request's commit, after
    a sweep's batch, after a delivery attempt) names a row another connection can already read. A job
    sent inside its transaction would reach a worker that finds nothing, or finds it only by luck."""
    from datetime import timedelta

    from api.domain.timers.firing import fire_due
    from api.kit.jobs import JobSender
    from tests.conftest import bearer
    from tests.domain import quote_helpers
    from tests.notify_support import Receiver

    checker = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    checked: list[tuple[str, str]] = []
    unseen: list[tuple[str, str]] = []
    original = JobSender.send

    async def send_checked(self: JobSender, jobs: list[Any]) -> int:
        for function, args, _ in jobs:
            assert function in JOB_ROWS, f"no row known for job {function}"
            checked.append((function, args[0]))
            if not await checker.fetchval(JOB_ROWS[function], args[0]):
                unseen.append((function, args[0]))
        return await original(self, jobs)

    monkeypatch.setattr(JobSender, "send", send_checked)
    receiver = Receiver(lambda _n: 500)  # failures: each attempt schedules a retry job
    await receiver.start()
    redis = create_redis(redis_url)
    try:
        subscribed = await client.post(
            "/v1/webhook-endpoints", json={"url": receiver.url, "event_types": ["*"]}, headers=staff
        )
        assert subscribed.status_code == 201, subscribed.text
        org = await create_client_org(client, staff, "Committed")
        owner = bearer(await make_key("client", org["id"]))
        project = await client.post(
            "/v1/projects",
            json={"client_id": org["id"], "name": "Committed", "currency": "EUR"},
            headers=staff,
        )
        await quote_helpers.accepted(client, staff, owner, project.json()["id"])
        inquiry = {
            "name": "Ada",
            "email": "ada@lovelace.example.com",
            "message": "A recommender",
            "source": "website",
            "consent": True,
        }
        intake = bearer(await make_key("intake"))
        assert (await client.post("/v1/inquiries", json=inquiry, headers=intake)).status_code == 201
        await run_worker()
        clock.advance(timedelta(days=3))
        await fire_due(app.state.pool, clock, redis=redis)  # warnings and breaches of the timers above
        await run_worker()
    finally:
        await receiver.stop()
        await checker.close()
        await redis.aclose()
        await redis.connection_pool.disconnect()
    assert unseen == [], f"sent before their rows were committed: {unseen}"
    functions = {function for function, _ in checked}
    assert {"dispatch_event", "deliver_webhook"} <= functions, functions
    assert len(checked) >= 15, checked
