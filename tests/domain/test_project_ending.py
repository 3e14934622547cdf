"""Ending a project ends what hangs on it: timers, change requests and quotes, with the project's reason.

And a project launches only once every approved change is done.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar

from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.engagement_helpers import (
    LATENCY,
    WED_10,
    act,
    approved,
    assessed,
    body,
    handed_over,
    in_delivery,
    in_discovery,
    last_event,
    open_timers,
    read,
    submit,
    sweep,
)
from tests.domain.project_helpers import ARCHITECTURE, new_project, post, walk
from tests.domain.quote_helpers import accept, problem, sent

RunWorker = Callable[[], Awaitable[int]]


@pytest.fixture
async def org(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    return await create_client_org(client, staff, "Acme")


@pytest.fixture
async def client_key(make_key: KeyMaker, org: dict[str, Any]) -> dict[str, str]:
    return bearer(await make_key("client", org["id"], name="Acme portal"))


async def test_cancelling_withdraws_open_changes_cancels_approved_ones_and_stops_every_timer(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
    db: asyncpg.Connection,
    redis_url: str,
) -> None:
    project = await in_delivery(client, clock, staff, client_key, org["id"])
    pid = project["id"]
    waiting = await submit(client, client_key, pid, title="Waiting for its assessment")
    deciding = await submit(client, staff, pid, title="Waiting for the client")
    await assessed(client, staff, deciding["id"])
    unstarted = await approved(client, staff, client_key, pid, title="Approved, not started")
    started = await approved(client, staff, client_key, pid, title="Approved and started")
    body(await act(client, started["id"], "start", staff))
    assert await open_timers(db, pid) == [("cr_assessment", "running"), ("cr_client_decision", "running")]

    cancelled = body(await post(client, pid, "cancel", staff, {"reason": "Budget frozen"}))
    assert cancelled["phase"] == "cancelled"

    why = "project cancelled: Budget frozen"
    for cr in (waiting, deciding):
        found = await read(client, staff, f"/v1/change-requests/{cr['id']}")
        assert (found["status"], found["withdrawal_reason"]) == ("withdrawn", why)
        assert found["transitions"][-1]["reason"] == why
    for cr in (unstarted, started):
        found = await read(client, client_key, f"/v1/change-requests/{cr['id']}")
        assert (found["status"], found["cancellation_reason"]) == ("cancelled", why)
        assert found["cancelled_at"] == cancelled["cancelled_at"]
        assert found["amendment_number"] == cr["amendment_number"]
        assert [a["status"] for a in found["assessments"]] == ["approved"]
    # their amendments stay in the ledger as history
    ledger = await read(client, client_key, f"/v1/projects/{pid}/contract")
    assert [(a["number"], a["change_request_id"]) for a in ledger["amendments"]] == [
        (1, unstarted["id"]),
        (2, started["id"]),
    ]
    assert await open_timers(db, pid) == []
    ended = (await last_event(db, "project.cancelled", pid))["ended"]
    assert sorted(ended["change_requests_withdrawn"]) == sorted([waiting["id"], deciding["id"]])
    assert sorted(ended["change_requests_cancelled"]) == sorted([unstarted["id"], started["id"]])
    assert len(ended["timers_cancelled"]) == 0  # each change request cancelled its own timer
    assert (await last_event(db, "change_request.cancelled", unstarted["id"]))["reason"] == why

    status = await read(client, client_key, f"/v1/projects/{pid}/status")
    assert status["change_requests"] == {"open": 0, "awaiting_client_decision": []}
    # nothing falls due about a dead project
    clock.set(WED_10 + timedelta(days=30))
    assert await sweep(app, clock, redis_url) == (0, 0)
    problem(await act(client, unstarted["id"], "start", staff), 409, "change-request-transition")


async def test_cancelling_in_discovery_cancels_the_architecture_review_timer_with_the_reason(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    project = await new_project(client, staff, org["id"])
    quote = await sent(client, staff, project["id"])
    body(await accept(client, client_key, quote["id"]))
    assert await open_timers(db, project["id"]) == [("architecture_review", "running")]
    body(await post(client, project["id"], "hold", staff, {"reason": "Waiting for data access"}))
    body(await post(client, project["id"], "cancel", staff, {"reason": "No data access"}))
    assert await open_timers(db, project["id"]) == []
    row = await db.fetchrow(
        "SELECT state, cancel_reason FROM sla_timers WHERE project_id = $1", project["id"]
    )
    assert row is not None
    assert (row["state"], row["cancel_reason"]) == ("cancelled", "project cancelled: No data access")


async def test_a_sent_quote_is_withdrawn_with_its_project_and_can_no_longer_be_accepted(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    project = await new_project(client, staff, org["id"])
    quote = await sent(client, staff, project["id"])
    body(await post(client, project["id"], "cancel", staff, {"reason": "The client chose another shop"}))

    found = await read(client, client_key, f"/v1/quotes/{quote['id']}")
    assert found["status"] == "withdrawn"
    assert found["withdrawal_reason"] == "project cancelled: The client chose another shop"
    assert found["withdrawn_at"] is not None
    problem(await accept(client, client_key, quote["id"]), 409, "quote-not-open")
    assert (await last_event(db, "quote.withdrawn", quote["id"]))["revision"] == 1
    ended = (await last_event(db, "project.cancelled", project["id"]))["ended"]
    assert ended["quotes_withdrawn"] == [quote["id"]]
    status = await read(client, client_key, f"/v1/projects/{project['id']}/status")
    assert status["quote_awaiting_acceptance"] is None


async def test_closing_early_ends_open_support_timers_and_change_requests(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    project = await new_project(client, staff, org["id"])
    await walk(client, app, clock, staff, client_key, project["id"], "support")
    question = body(
        await client.post(
            f"/v1/projects/{project['id']}/support-requests",
            json={"kind": "question", "subject": "Retraining", "body": "How often is it retrained?"},
            headers=client_key,
        ),
        201,
    )
    change = await submit(client, client_key, project["id"], title="Nightly retraining")
    assert await open_timers(db, project["id"]) == [
        ("cr_assessment", "running"),
        ("support_first_response", "running"),
    ]
    body(await post(client, project["id"], "close", staff, {"reason": "The client's team took over"}))

    assert await open_timers(db, project["id"]) == []
    assert (await read(client, staff, f"/v1/change-requests/{change['id']}"))["status"] == "withdrawn"
    timer = await db.fetchrow(
        "SELECT state, cancel_reason FROM sla_timers WHERE subject_id = $1", question["id"]
    )
    assert timer is not None
    assert (timer["state"], timer["cancel_reason"]) == (
        "cancelled",
        "project closed: The client's team took over",
    )


async def test_the_worker_closing_an_ended_support_window_ends_what_hangs_on_the_project(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
    db: asyncpg.Connection,
    run_worker: RunWorker,
) -> None:
    project = await new_project(client, staff, org["id"])
    launched = await walk(client, app, clock, staff, client_key, project["id"], "support")
    ends = datetime.fromisoformat(launched["support_ends_at"])
    clock.set(ends - timedelta(hours=2))
    change = await submit(client, client_key, project["id"], title="One more report")
    clock.set(ends)
    await run_worker()

    assert (await read(client, staff, f"/v1/projects/{project['id']}"))["phase"] == "closed"
    found = await read(client, staff, f"/v1/change-requests/{change['id']}")
    assert (found["status"], found["withdrawal_reason"]) == (
        "withdrawn",
        "project closed: support window ended",
    )
    assert await open_timers(db, project["id"]) == []


async def test_launch_waits_until_every_approved_change_is_done(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
) -> None:
    project = await in_discovery(client, staff, client_key, org["id"])
    pid = project["id"]
    criterion = body(await client.post(f"/v1/projects/{pid}/criteria", json=LATENCY, headers=staff), 201)
    body(await post(client, pid, "architecture", staff, ARCHITECTURE))
    body(await post(client, pid, "architecture/approve", client_key))
    change = await approved(client, staff, client_key, pid)
    await handed_over(client, staff, pid)
    body(
        await client.post(
            f"/v1/criteria/{criterion['id']}/verifications",
            json={"measured_value": "120", "unit": "ms"},
            headers=staff,
        ),
        201,
    )

    refused = problem(await post(client, pid, "launch", staff), 409, "changes-not-done")
    assert refused["extra"]["rules"] == ["changes-not-done"]
    assert refused["extra"]["blockers"] == ['1 approved change is not done: #1 "CSV export" (approved)']
    body(await act(client, change["id"], "start", staff))
    refused = problem(await post(client, pid, "launch", staff), 409, "changes-not-done")
    assert "(in progress)" in refused["detail"]
    body(await act(client, change["id"], "complete", staff))
    assert body(await post(client, pid, "launch", staff))["phase"] == "support"
