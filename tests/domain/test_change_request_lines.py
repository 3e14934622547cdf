"""Change-request lines carry phase and hours like quote lines, so the blended rate is checked too."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.engagement_helpers import assessment, body, error_pointers, in_delivery, read, submit
from tests.domain.quote_helpers import eur, problem


@pytest.fixture
async def change(
    client: httpx.AsyncClient, clock: FrozenClock, staff: dict[str, str], make_key: KeyMaker
) -> dict[str, Any]:
    org = await create_client_org(client, staff, "Acme")
    client_key = bearer(await make_key("client", org["id"]))
    project = await in_delivery(client, clock, staff, client_key, org["id"])
    return {**(await submit(client, client_key, project["id"])), "client_key": client_key}


async def assess(
    client: httpx.AsyncClient, staff: dict[str, str], cr_id: str, data: dict[str, Any]
) -> httpx.Response:
    return await client.post(f"/v1/change-requests/{cr_id}/assessment", json=data, headers=staff)


async def test_lines_with_hours_report_the_blended_rate_against_the_band(
    client: httpx.AsyncClient, staff: dict[str, str], change: dict[str, Any]
) -> None:
    lines = [
        {"description": "Export job", "phase": "delivery", "hours": 24, "amount": eur("1000.00")},
        {"description": "Tests", "phase": "acceptance", "hours": "4.00", "amount": eur("200.00")},
    ]
    sent = body(await assess(client, staff, change["id"], assessment("1200.00", 2, lines=lines)), 201)
    assert [(line["phase"], line["hours"]) for line in sent["lines"]] == [
        ("delivery", "24.00"),
        ("acceptance", "4.00"),
    ]
    assert sent["total_hours"] == "28.00"
    assert sent["blended_hourly_rate"] == eur("42.86")
    assert sent["rate_within_band"] is True
    assert sent["rate_band"] == {"low": eur("35.00"), "high": eur("55.00")}
    seen = await read(client, change["client_key"], f"/v1/change-requests/{change['id']}")
    assert seen["assessments"][0]["blended_hourly_rate"] == eur("42.86")


async def test_an_expensive_change_is_flagged_outside_the_band_without_being_refused(
    client: httpx.AsyncClient, staff: dict[str, str], change: dict[str, Any]
) -> None:
    lines = [
        {"description": "Export job", "phase": "delivery", "hours": 10, "amount": eur("1500.00")},
        {
            "description": "Drop the PDF report",
            "phase": "delivery",
            "hours": "-2.5",
            "amount": eur("-300.00"),
        },
    ]
    sent = body(await assess(client, staff, change["id"], assessment("1200.00", 2, lines=lines)), 201)
    assert [line["hours"] for line in sent["lines"]] == ["10.00", "-2.50"]
    assert (sent["total_hours"], sent["blended_hourly_rate"]) == ("7.50", eur("160.00"))
    assert sent["rate_within_band"] is False


async def test_lines_need_their_phase_and_hours(
    client: httpx.AsyncClient, staff: dict[str, str], change: dict[str, Any]
) -> None:
    bare = [{"description": "Export job", "amount": eur("1200.00")}]
    refused = problem(await assess(client, staff, change["id"], assessment("1200.00", 2, lines=bare)), 422)
    assert error_pointers(refused) == ["/lines/0/phase"]
    precise = [{"description": "Export job", "phase": "delivery", "hours": "1.005", "amount": eur("1200.00")}]
    refused = problem(await assess(client, staff, change["id"], assessment("1200.00", 2, lines=precise)), 422)
    assert error_pointers(refused) == ["/lines/0/hours"]


async def test_without_lines_there_is_no_rate(
    client: httpx.AsyncClient, staff: dict[str, str], change: dict[str, Any]
) -> None:
    sent = body(await assess(client, staff, change["id"], assessment("1200.00", 2)), 201)
    assert (sent["total_hours"], sent["blended_hourly_rate"], sent["rate_within_band"]) == (None, None, None)
