"""The status document answers what the client must decide, with what it needs to decide it."""

from __future__ import annotations

from typing import Any

import httpx
import msgspec
import pytest

from api.domain.projects.schemas import ProjectStatus
from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.engagement_helpers import DELIVERY, act, assessed, assessment, body, in_delivery, submit
from tests.domain.project_helpers import new_project
from tests.domain.quote_helpers import eur, sent


@pytest.fixture
async def org(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    return await create_client_org(client, staff, "Acme")


@pytest.fixture
async def client_key(make_key: KeyMaker, org: dict[str, Any]) -> dict[str, str]:
    return bearer(await make_key("client", org["id"]))


async def status_of(client: httpx.AsyncClient, headers: dict[str, str], project_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/projects/{project_id}/status", headers=headers)
    assert response.status_code == 200, response.text
    msgspec.json.decode(response.content, type=ProjectStatus, strict=True)
    result: dict[str, Any] = response.json()
    return result


async def test_a_pending_decision_names_the_revision_approve_needs(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
) -> None:
    project = await in_delivery(client, clock, staff, client_key, org["id"])
    change = await submit(client, client_key, project["id"])
    await assessed(client, staff, change["id"])
    await assessed(client, staff, change["id"], assessment("900.00", 2))
    [pending] = (await status_of(client, client_key, project["id"]))["change_requests"][
        "awaiting_client_decision"
    ]
    assert (pending["id"], pending["assessment_revision"]) == (change["id"], 2)
    assert pending["price_impact"] == eur("900.00")
    approved = await act(
        client, change["id"], "approve", client_key, {"assessment_revision": pending["assessment_revision"]}
    )
    assert approved.status_code == 200, approved.text


async def test_a_quote_awaiting_acceptance_has_its_own_section(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], org: dict[str, Any]
) -> None:
    project = await new_project(client, staff, org["id"])
    assert (await status_of(client, client_key, project["id"]))["quote_awaiting_acceptance"] is None
    quote = await sent(client, staff, project["id"])
    section = (await status_of(client, client_key, project["id"]))["quote_awaiting_acceptance"]
    assert section == {
        "id": quote["id"],
        "revision": 1,
        "total": eur("20000.00"),
        "valid_until": quote["valid_until"],
        "delivery_date": quote["delivery_date"],
        "sent_at": quote["sent_at"],
    }
    declined = await client.post(f"/v1/quotes/{quote['id']}/decline", headers=client_key)
    assert declined.status_code == 200, declined.text
    assert (await status_of(client, client_key, project["id"]))["quote_awaiting_acceptance"] is None


async def test_the_launch_milestone_is_planned_on_the_delivery_date(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
) -> None:
    project = await in_delivery(client, clock, staff, client_key, org["id"])
    milestones = {m["name"]: m for m in (await status_of(client, client_key, project["id"]))["milestones"]}
    assert milestones["launch"]["due_on"] == DELIVERY
    assert milestones["launch"]["state"] == "upcoming"
    listed = body(await client.get("/v1/projects", headers=client_key))["items"]
    [launch] = [m for m in listed[0]["milestones"] if m["name"] == "launch"]
    assert launch["due_on"] == DELIVERY
