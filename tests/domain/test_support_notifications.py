"""Support notifications end to end: the API, the timer sweep at chosen instants, the worker, real SMTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar

from api.domain.timers.firing import fire_due
from api.kit.clock import FrozenClock
from api.kit.jobs import create_redis
from api.settings import Settings
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.test_support import WED_10, at, launched_project, open_request, respond
from tests.notify_support import SmtpSink, run_worker_once, text_of

STAFF = "support@shop.com"
CONTACT = "ada@acme.com"

RunWorker = Callable[[], Awaitable[int]]


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpSink) -> dict[str, str]:
    return {
        **env,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "STAFF_EMAILS": STAFF,
        "BASE_URL": "https://sk.example.com",
    }


@pytest.fixture
def run_worker(settings: Settings, clock: FrozenClock) -> RunWorker:
    """A burst worker per call (its cron jobs, the timer sweep included, run once at its start)."""

    async def run() -> int:
        return await run_worker_once(settings, clock)

    return run


@pytest.fixture
async def project(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    make_key: KeyMaker,
    run_worker: RunWorker,
    smtp: SmtpSink,
) -> dict[str, Any]:
    org = await create_client_org(client, staff, "Acme")
    client_key = bearer(await make_key("client", org["id"]))
    launched = await launched_project(client, app, clock, staff, client_key, org["id"])
    await run_worker()
    smtp.messages.clear()
    clock.set(WED_10)
    return {**launched, "client_key": client_key}


async def sweep(app: Litestar, clock: FrozenClock, redis_url: str) -> tuple[int, int]:
    redis = create_redis(redis_url)
    try:
        return await fire_due(app.state.pool, clock, redis=redis)
    finally:
        await redis.aclose()
        await redis.connection_pool.disconnect()


def subjects(smtp: SmtpSink, address: str) -> list[str]:
    return [str(m["Subject"]) for m in smtp.to(address)]


async def test_staff_hear_of_a_request_then_its_warning_at_18_h_and_breach_at_24_h_once_each(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    smtp: SmtpSink,
    run_worker: RunWorker,
    redis_url: str,
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    created = await open_request(client, project["id"], project["client_key"], subject="Empty results")
    await run_worker()
    [opened] = smtp.to(STAFF)
    assert opened["Subject"] == "Support request: Empty results (Recommender)"
    text = text_of(opened)
    assert "Kind: bug" in text
    assert "Client: Acme" in text
    assert "First response due:" in text
    assert f"https://sk.example.com/v1/support-requests/{created['id']}" in text

    clock.set(at(18) - timedelta(minutes=1))
    assert await sweep(app, clock, redis_url) == (0, 0)
    clock.set(at(18))
    assert await sweep(app, clock, redis_url) == (1, 0)
    await run_worker()
    await run_worker()
    clock.set(at(20))
    assert await sweep(app, clock, redis_url) == (0, 0)
    await run_worker()
    assert subjects(smtp, STAFF)[1:] == ["Due soon: first response to Empty results"]

    clock.set(at(24))
    assert await sweep(app, clock, redis_url) == (0, 1)
    await run_worker()
    clock.set(at(30))
    await run_worker()
    assert subjects(smtp, STAFF)[1:] == [
        "Due soon: first response to Empty results",
        "Breached: first response to Empty results",
    ]
    breach = text_of(smtp.to(STAFF)[2])
    assert "The first response to Empty results (Recommender) is overdue." in breach
    rows = await db.fetch(
        "SELECT type FROM domain_events WHERE subject_id = $1 AND type LIKE 'support_request.response_%'",
        created["id"],
    )
    assert sorted(r["type"] for r in rows) == [
        "support_request.response_breached",
        "support_request.response_warning",
    ]
    assert smtp.to(CONTACT) == []


async def test_a_clarifying_question_answers_in_time_and_nothing_fires(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    redis_url: str,
    project: dict[str, Any],
) -> None:
    created = await open_request(client, project["id"], project["client_key"])
    clock.set(at(2))
    await respond(client, created["id"], staff, "Which region?", awaiting_client=True)
    clock.set(at(19))
    await respond(client, created["id"], project["client_key"], "eu-west-1")
    for hours in (18, 24, 48):
        clock.set(at(hours))
        assert await sweep(app, clock, redis_url) == (0, 0)  # the question met the timer


async def test_the_client_hears_each_staff_response_and_not_its_own(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    smtp: SmtpSink,
    run_worker: RunWorker,
    project: dict[str, Any],
) -> None:
    created = await open_request(client, project["id"], project["client_key"], subject="Slow API")
    await run_worker()
    clock.set(at(1))
    await respond(client, created["id"], staff, "Which endpoint is slow?", awaiting_client=True)
    await run_worker()
    clock.set(at(2))
    await respond(client, created["id"], project["client_key"], "GET /recommendations")
    await run_worker()
    clock.set(at(3))
    await respond(client, created["id"], staff, "Fixed: an index was missing.")
    await run_worker()
    mails = smtp.to(CONTACT)
    assert [m["Subject"] for m in mails] == ["Re: Slow API", "Re: Slow API"]
    assert "Which endpoint is slow?" in text_of(mails[0])
    assert "Fixed: an index was missing." in text_of(mails[1])
    assert "we have answered your support request for Recommender" in text_of(mails[1])
    assert subjects(smtp, STAFF) == [
        "Support request: Slow API (Recommender)",
        "Client answered: Slow API (Recommender)",
    ]


async def test_a_feature_request_tells_the_client_it_is_not_covered(
    client: httpx.AsyncClient,
    smtp: SmtpSink,
    run_worker: RunWorker,
    project: dict[str, Any],
) -> None:
    await open_request(
        client, project["id"], project["client_key"], kind="feature_request", subject="CSV export"
    )
    await run_worker()
    [answer] = smtp.to(CONTACT)
    assert answer["Subject"] == "Re: CSV export"
    text = text_of(answer)
    assert "Not covered by post-launch support" in text
    assert "We have drafted one from this request" in text
    assert "/v1" not in text
    assert subjects(smtp, STAFF) == ["Support request: CSV export (Recommender)"]
