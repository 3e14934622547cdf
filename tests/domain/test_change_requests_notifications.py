"""Change-request notifications end to end: the API, the timer sweep at chosen instants, real SMTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar

from api.domain.timers.firing import fire_due
from api.kit.clock import FrozenClock
from api.kit.jobs import create_redis
from api.settings import Settings
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.test_change_requests import (
    WED_10,
    act,
    assessed,
    assessment,
    in_discovery,
    sign_off,
    submit,
)
from tests.notify_support import SmtpSink, run_worker_once, text_of

STAFF = "pm@shop.com"
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
    async def run() -> int:
        return await run_worker_once(settings, clock)

    return run


@pytest.fixture
async def project(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    make_key: KeyMaker,
    run_worker: RunWorker,
    smtp: SmtpSink,
) -> dict[str, Any]:
    """A signed-off project; the mail of getting there is cleared and the clock reads WED_10."""
    org = await create_client_org(client, staff, "Acme")
    client_key = bearer(await make_key("client", org["id"]))
    created = await in_discovery(client, staff, client_key, org["id"])
    await sign_off(client, clock, staff, client_key, created["id"])
    await run_worker()
    smtp.messages.clear()
    clock.set(WED_10)
    return {**created, "client_key": client_key}


async def sweep(app: Litestar, clock: FrozenClock, redis_url: str) -> tuple[int, int]:
    redis = create_redis(redis_url)
    try:
        return await fire_due(app.state.pool, clock, redis=redis)
    finally:
        await redis.aclose()
        await redis.connection_pool.disconnect()


def subjects(smtp: SmtpSink, address: str) -> list[str]:
    return [str(m["Subject"]) for m in smtp.to(address)]


async def test_the_client_hears_of_the_assessment_and_its_reminder_and_staff_of_the_decision(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    smtp: SmtpSink,
    run_worker: RunWorker,
    redis_url: str,
    project: dict[str, Any],
) -> None:
    client_key = project["client_key"]
    cr = await submit(client, client_key, project["id"])
    await run_worker()
    # the client's submission is news to staff only; its assessment clock runs
    assert subjects(smtp, STAFF) == ["Change request from the client: CSV export (Recommender)"]
    assert smtp.to(CONTACT) == []
    smtp.messages.clear()

    await assessed(client, staff, cr["id"], assessment("1200.00", 3, risk="low"))
    await run_worker()
    [mail] = smtp.to(CONTACT)
    assert mail["Subject"] == "Change request assessed: CSV export"
    text = text_of(mail)
    assert 'we have assessed "CSV export" for Recommender (assessment 1).' in text
    assert "Price impact: €1,200.00" in text
    assert "Timeline impact: 3 business days" in text
    assert "Risk: low" in text
    # due Wednesday 2 December 10:00 in Warsaw (5 business days)
    assert (
        "Please approve or reject it by Wednesday, December 2, 2026, 10:00\u202fAM CET (Europe/Warsaw)."
        in text
    )
    assert f"https://sk.example.com/v1/change-requests/{cr['id']}" in text
    assert smtp.to(STAFF) == []

    # the reminder fires at 75% of 5 business days (33 h 45 min of working time): Monday 16:45 in Warsaw
    reminder_at = datetime(2026, 11, 30, 15, 45, tzinfo=UTC)
    clock.set(reminder_at - timedelta(minutes=1))
    assert await sweep(app, clock, redis_url) == (0, 0)
    clock.set(reminder_at)
    assert await sweep(app, clock, redis_url) == (1, 0)
    await run_worker()
    assert subjects(smtp, CONTACT) == [
        "Change request assessed: CSV export",
        "Reminder: CSV export awaits your decision",
    ]
    reminder = text_of(smtp.to(CONTACT)[1])
    assert "by Wednesday, December 2, 2026, 10:00\u202fAM CET (Europe/Warsaw)." in reminder

    clock.set(reminder_at + timedelta(hours=1))
    approved = await act(client, cr["id"], "approve", client_key, {"assessment_revision": 1})
    assert approved.status_code == 200, approved.text
    await run_worker()
    [approval] = smtp.to(STAFF)
    assert approval["Subject"] == "Approved: CSV export (Recommender)"
    approval_text = text_of(approval)
    assert 'The client approved "CSV export", assessment 1.' in approval_text
    assert "Price impact: €1,200.00" in approval_text
    assert "Timeline impact: 3 business days" in approval_text
    # met before its due time: no overdue mail follows
    clock.set(datetime(2026, 12, 3, 12, 0, tzinfo=UTC))
    assert await sweep(app, clock, redis_url) == (0, 0)

    rejected_cr = await submit(client, client_key, project["id"], title="PDF report")
    await assessed(client, staff, rejected_cr["id"], assessment("300.00", 1))
    assert (
        await act(client, rejected_cr["id"], "reject", client_key, {"reason": "Too dear"})
    ).status_code == 200
    await run_worker()
    rejection = smtp.to(STAFF)[-1]
    assert rejection["Subject"] == "Rejected: PDF report (Recommender)"
    assert "Reason: Too dear" in text_of(rejection)


async def test_staff_hear_when_an_assessment_is_due_soon_and_overdue(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    smtp: SmtpSink,
    run_worker: RunWorker,
    redis_url: str,
    project: dict[str, Any],
) -> None:
    await submit(client, project["client_key"], project["id"])
    await run_worker()
    smtp.messages.clear()  # staff heard of the submission
    # 2 business days from Wednesday 10:00 in Warsaw: warning after 13 h 30 min of working time
    # (Thursday 14:30), due Friday 10:00
    clock.set(datetime(2026, 11, 26, 13, 30, tzinfo=UTC))
    assert await sweep(app, clock, redis_url) == (1, 0)
    await run_worker()
    clock.set(datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    assert await sweep(app, clock, redis_url) == (0, 1)
    await run_worker()
    assert subjects(smtp, STAFF) == [
        "Due soon: assessment of CSV export (Recommender)",
        "Overdue: assessment of CSV export (Recommender)",
    ]
    assert smtp.to(CONTACT) == []
