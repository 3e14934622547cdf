"""A project with nothing to judge it by launches only with the staff's explicit waiver."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.engagement_helpers import (
    LATENCY,
    body,
    error_pointers,
    handed_over,
    in_delivery,
    in_discovery,
    read,
)
from tests.domain.project_helpers import ARCHITECTURE, post
from tests.domain.quote_helpers import problem


@pytest.fixture
async def accepting(
    client: httpx.AsyncClient, clock: FrozenClock, staff: dict[str, str], make_key: KeyMaker
) -> dict[str, Any]:
    """A project in acceptance without criteria, with its client's key."""
    org = await create_client_org(client, staff, "Acme")
    client_key = bearer(await make_key("client", org["id"]))
    project = await in_delivery(client, clock, staff, client_key, org["id"])
    await handed_over(client, staff, project["id"])
    return {**project, "client_key": client_key}


async def test_a_project_without_criteria_does_not_launch(
    client: httpx.AsyncClient, staff: dict[str, str], accepting: dict[str, Any]
) -> None:
    refused = problem(await post(client, accepting["id"], "launch", staff), 409, "no-acceptance-criteria")
    assert refused["extra"]["rules"] == ["no-acceptance-criteria"]
    assert "without_criteria_reason" in refused["detail"]
    assert (await read(client, staff, f"/v1/projects/{accepting['id']}"))["phase"] == "acceptance"


async def test_staff_launch_it_with_an_explicit_waiver_kept_on_the_project(
    client: httpx.AsyncClient, staff: dict[str, str], accepting: dict[str, Any]
) -> None:
    blank = await post(client, accepting["id"], "launch", staff, {"without_criteria_reason": "  "})
    assert error_pointers(problem(blank, 422)) == ["/without_criteria_reason"]
    reason = "The client accepts the system on its monitoring dashboards"
    launched = body(await post(client, accepting["id"], "launch", staff, {"without_criteria_reason": reason}))
    assert launched["phase"] == "support"
    assert launched["criteria_waiver_reason"] == reason
    seen = await read(client, accepting["client_key"], f"/v1/projects/{accepting['id']}")
    assert seen["criteria_waiver_reason"] == reason


async def test_a_project_with_criteria_launches_on_them_and_refuses_the_waiver(
    client: httpx.AsyncClient, clock: FrozenClock, staff: dict[str, str], make_key: KeyMaker
) -> None:
    org = await create_client_org(client, staff, "Acme")
    client_key = bearer(await make_key("client", org["id"]))
    project = await in_discovery(client, staff, client_key, org["id"])
    pid = project["id"]
    criterion = body(await client.post(f"/v1/projects/{pid}/criteria", json=LATENCY, headers=staff), 201)
    body(await post(client, pid, "architecture", staff, ARCHITECTURE))
    body(await post(client, pid, "architecture/approve", client_key))
    await handed_over(client, staff, pid)

    waived = await post(client, pid, "launch", staff, {"without_criteria_reason": "Not needed"})
    assert error_pointers(problem(waived, 422)) == ["/without_criteria_reason"]
    problem(await post(client, pid, "launch", staff), 409, "criteria-not-met")
    body(
        await client.post(
            f"/v1/criteria/{criterion['id']}/verifications", json={"measured_value": "120"}, headers=staff
        ),
        201,
    )
    launched = body(await post(client, pid, "launch", staff))
    assert (launched["phase"], launched["criteria_waiver_reason"]) == ("support", None)
