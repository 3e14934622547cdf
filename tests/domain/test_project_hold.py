"""A hold pauses the project's timers in their own unit; resuming moves the delivery date in the ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar

from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.engagement_helpers import (
    DELIVERY,
    WED_10,
    body,
    in_delivery,
    last_event,
    read,
    submit,
    timer_of,
    z,
)
from tests.domain.project_helpers import new_project, post, walk

FRI_10 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # Friday 10:00 in Warsaw


@pytest.fixture
async def org(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    return await create_client_org(client, staff, "Acme")


@pytest.fixture
async def client_key(make_key: KeyMaker, org: dict[str, Any]) -> dict[str, str]:
    return bearer(await make_key("client", org["id"]))


async def test_hold_pauses_timers_and_resume_moves_them_and_the_delivery_date_by_the_days_held(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    project = await in_delivery(client, clock, staff, client_key, org["id"])
    pid = project["id"]
    change = await submit(client, client_key, pid)
    # 2 business days from Wednesday 10:00: Friday 10:00 in Warsaw
    assert change["assessment_due_at"] == z(FRI_10)

    held = body(await post(client, pid, "hold", staff, {"reason": "The client's data team is away"}))
    assert held["phase"] == "on_hold"
    timer = await timer_of(db, change["id"], "cr_assessment")
    assert (timer["state"], timer["paused_at"]) == ("paused", WED_10)
    assert (await last_event(db, "project.on_hold", pid))["timers_paused"] == [str(timer["id"])]

    clock.set(FRI_10)  # held two business days: Wednesday 10:00 to Friday 10:00
    resumed = body(await post(client, pid, "resume", staff))
    assert resumed["phase"] == "delivery"

    # the paused timer moved by the working time held: Friday 10:00 + 2 business days = Tuesday 10:00
    found = await read(client, client_key, f"/v1/change-requests/{change['id']}")
    assert found["assessment_due_at"] == "2026-12-01T09:00:00Z"
    assert (await timer_of(db, change["id"], "cr_assessment"))["state"] == "running"

    ledger = await read(client, client_key, f"/v1/projects/{pid}/contract")
    assert ledger["baseline_delivery_date"] == DELIVERY
    [amendment] = ledger["amendments"]
    assert amendment["kind"] == "hold"
    assert amendment["change_request_id"] is None
    assert amendment["timeline_impact_days"] == 2
    assert amendment["price_impact"] == {"amount": "0.00", "currency": "EUR"}
    assert "The client's data team is away" in amendment["reason"]
    # 23 December + 2 business days: 24-26 December are PL holidays, then a Sunday
    assert amendment["current_delivery_date"] == "2026-12-29"
    assert ledger["current_delivery_date"] == "2026-12-29"
    assert ledger["current_price"] == ledger["baseline_price"]
    status = await read(client, client_key, f"/v1/projects/{pid}/status")
    assert status["contract"]["current_delivery_date"] == "2026-12-29"
    event = await last_event(db, "project.resumed", pid)
    assert (event["business_days_held"], event["amendment_number"]) == (2, 1)


async def test_a_short_hold_moves_the_date_by_a_whole_day_and_a_weekend_hold_by_none(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
) -> None:
    project = await in_delivery(client, clock, staff, client_key, org["id"])
    pid = project["id"]
    body(await post(client, pid, "hold", staff, {"reason": "An hour's question"}))
    clock.advance(timedelta(hours=1))
    body(await post(client, pid, "resume", staff))
    saturday = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    clock.set(saturday)
    body(await post(client, pid, "hold", staff, {"reason": "A weekend pause"}))
    clock.set(saturday + timedelta(days=1))
    body(await post(client, pid, "resume", staff))

    ledger = await read(client, staff, f"/v1/projects/{pid}/contract")
    assert [(a["kind"], a["timeline_impact_days"]) for a in ledger["amendments"]] == [("hold", 1)]
    assert ledger["current_delivery_date"] == "2026-12-28"


async def test_a_hold_in_support_pauses_a_clock_timer_by_clock_time_and_moves_no_date(
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
    opened = body(
        await client.post(
            f"/v1/projects/{project['id']}/support-requests",
            json={"kind": "bug", "subject": "Empty results", "body": "The API answers []."},
            headers=client_key,
        ),
        201,
    )
    due = datetime.fromisoformat(opened["first_response_due_at"])
    body(await post(client, project["id"], "hold", staff, {"reason": "Client asked to pause"}))
    clock.advance(timedelta(hours=5))
    body(await post(client, project["id"], "resume", staff))

    found = await read(client, staff, f"/v1/support-requests/{opened['id']}")
    assert datetime.fromisoformat(found["first_response_due_at"]) == due + timedelta(hours=5)
    timer = await timer_of(db, opened["id"], "support_first_response")
    assert (timer["state"], timer["paused_total"]) == ("running", timedelta(hours=5))
    assert (await read(client, staff, f"/v1/projects/{project['id']}/contract"))["amendments"] == []
    assert (await last_event(db, "project.resumed", project["id"]))["amendment_number"] is None


async def test_a_timer_paused_before_the_hold_is_not_resumed_by_it(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    project = await in_delivery(client, clock, staff, client_key, org["id"])
    change = await submit(client, client_key, project["id"])
    await db.execute(
        "UPDATE sla_timers SET state = 'paused', paused_at = $2 WHERE subject_id = $1",
        change["id"],
        WED_10,
    )
    body(await post(client, project["id"], "hold", staff, {"reason": "Pause"}))
    assert (await last_event(db, "project.on_hold", project["id"]))["timers_paused"] == []
    clock.advance(timedelta(hours=2))
    body(await post(client, project["id"], "resume", staff))
    assert (await timer_of(db, change["id"], "cr_assessment"))["state"] == "paused"
