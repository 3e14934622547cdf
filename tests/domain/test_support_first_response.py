"""A clarifying question is the shop's first response; a reopened request waits for a new one."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from litestar import Litestar

from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.engagement_helpers import body, read, z
from tests.domain.project_helpers import new_project, walk


@pytest.fixture
async def opened(
    client: httpx.AsyncClient, app: Litestar, clock: FrozenClock, staff: dict[str, str], make_key: KeyMaker
) -> dict[str, Any]:
    """A bug report on a launched project, opened by the client; with the client's key."""
    org = await create_client_org(client, staff, "Acme")
    client_key = bearer(await make_key("client", org["id"]))
    project = await new_project(client, staff, org["id"])
    await walk(client, app, clock, staff, client_key, project["id"], "support")
    created = body(
        await client.post(
            f"/v1/projects/{project['id']}/support-requests",
            json={"kind": "bug", "subject": "Empty results", "body": "The API answers []."},
            headers=client_key,
        ),
        201,
    )
    return {**created, "client_key": client_key}


async def respond(
    client: httpx.AsyncClient, headers: dict[str, str], request_id: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(f"/v1/support-requests/{request_id}/responses", json=fields, headers=headers)
    return body(response, 201)


async def test_a_clarifying_question_meets_the_first_response_timer(
    client: httpx.AsyncClient, clock: FrozenClock, staff: dict[str, str], opened: dict[str, Any]
) -> None:
    clock.advance(timedelta(hours=2))
    asked = await respond(client, staff, opened["id"], message="Which user id?", awaiting_client=True)
    assert asked["status"] == "awaiting_client"
    assert asked["first_response_at"] == z(clock.now())
    assert asked["timer"]["state"] == "met"
    assert asked["conversation"][-1]["first_response"] is True
    answered = await respond(client, opened["client_key"], opened["id"], message="User 42.")
    assert (answered["status"], answered["timer"]["state"]) == ("open", "met")
    report = await read(client, staff, f"/v1/projects/{opened['project_id']}/sla-report")
    assert (report["met"], report["pending"], report["median_first_response_seconds"]) == (1, 0, 7200.0)


async def test_a_reopened_request_starts_a_new_first_response_timer(
    client: httpx.AsyncClient, clock: FrozenClock, staff: dict[str, str], opened: dict[str, Any]
) -> None:
    rid = opened["id"]
    first_answer = await respond(client, staff, rid, message="Fixed in 1.2.3.")
    body(await client.post(f"/v1/support-requests/{rid}/resolve", headers=staff))
    clock.advance(timedelta(hours=30))
    reopened = body(
        await client.post(
            f"/v1/support-requests/{rid}/reopen",
            json={"message": "Empty again."},
            headers=opened["client_key"],
        )
    )
    assert reopened["status"] == "open"
    assert reopened["timer"]["state"] == "running"
    assert datetime.fromisoformat(reopened["first_response_due_at"]) == clock.now() + timedelta(hours=24)
    assert reopened["timer"]["id"] != first_answer["timer"]["id"]

    clock.advance(timedelta(hours=3))
    again = await respond(client, staff, rid, message="A cache issue; flushed.")
    assert again["timer"]["state"] == "met"
    assert again["first_response_at"] == first_answer["first_response_at"]  # the first answer it ever got
    assert [m["first_response"] for m in again["conversation"]] == [True, False, False]
    report = await read(client, staff, f"/v1/projects/{opened['project_id']}/sla-report")
    assert (report["requests"], report["met"], report["breached"], report["pending"]) == (1, 2, 0, 0)
