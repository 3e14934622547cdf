"""Helpers of the quote and contract tests: a priced quote body, and driving a quote to a state."""

from __future__ import annotations

import copy
from typing import Any

import httpx


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


# 500 hours for 20,000.00 EUR: a blended rate of 40.00 EUR per hour, inside the default band 35-55.
LINES: list[dict[str, Any]] = [
    {"description": "Discovery week", "phase": "discovery", "hours": 40, "amount": eur("0.00")},
    {
        "description": "Architecture review",
        "phase": "architecture_review",
        "hours": 16,
        "amount": eur("800.00"),
    },
    {"description": "Recommender service", "phase": "delivery", "hours": 400, "amount": eur("18000.00")},
    {"description": "Acceptance tests", "phase": "acceptance", "hours": "24.00", "amount": eur("1200.00")},
    {"description": "Post-launch support", "phase": "support", "hours": 20, "amount": eur("0.00")},
]
SCHEDULE = [
    {"name": "On acceptance", "share": "0.30"},
    {"name": "On delivery", "share": "0.50"},
    {"name": "On launch", "share": "0.20"},
]
# A Friday, well after the default validity (sent 2026-11-24, valid until 2026-12-24).
DELIVERY_DATE = "2027-03-05"


def quote_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "lines": copy.deepcopy(LINES),
        "assumptions": ["The shop's event stream is available through Kafka."],
        "exclusions": ["Mobile applications."],
        "payment_schedule": copy.deepcopy(SCHEDULE),
        "delivery_date": DELIVERY_DATE,
    }
    body.update(overrides)
    return body


async def draft(
    http: httpx.AsyncClient, staff: dict[str, str], project_id: str, **overrides: Any
) -> dict[str, Any]:
    response = await http.post(
        f"/v1/projects/{project_id}/quotes", json=quote_body(**overrides), headers=staff
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def send(http: httpx.AsyncClient, staff: dict[str, str], quote_id: str) -> dict[str, Any]:
    response = await http.post(f"/v1/quotes/{quote_id}/send", headers=staff)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def sent(
    http: httpx.AsyncClient, staff: dict[str, str], project_id: str, **overrides: Any
) -> dict[str, Any]:
    """A draft created and sent."""
    created = await draft(http, staff, project_id, **overrides)
    return await send(http, staff, created["id"])


async def accept(
    http: httpx.AsyncClient, client_key: dict[str, str], quote_id: str, name: str = "Ada Client"
) -> httpx.Response:
    return await http.post(
        f"/v1/quotes/{quote_id}/accept",
        json={"accepted_by_name": name},
        headers={**client_key, "User-Agent": "portal/1.0"},
    )


async def accepted(
    http: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project_id: str,
    **overrides: Any,
) -> dict[str, Any]:
    """A quote sent and accepted by the client: the project has its contract and is in discovery."""
    quote = await sent(http, staff, project_id, **overrides)
    response = await accept(http, client_key, quote["id"])
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def problem(response: httpx.Response, status: int, rule: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    if rule is not None:
        assert body.get("rule") == rule, body
    return body


def pointers(response: httpx.Response) -> list[str]:
    return [e["pointer"] for e in response.json().get("errors") or []]
