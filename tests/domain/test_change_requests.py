"""Change requests through the HTTP API: submission, assessment, the client's decision, the contract."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest

from api.domain.projects.schemas import ProjectStatus
from api.kit.clock import FrozenClock
from tests.conftest import START, KeyMaker, bearer, create_client_org
from tests.domain.project_helpers import ARCHITECTURE, HANDOVER, new_project, post
from tests.domain.quote_helpers import accepted, eur, pointers, problem

# START is Tuesday 2026-11-24 09:30 UTC (10:30 in Warsaw). The quote is accepted then; the delivery
# date is Wednesday 2026-12-23, the day before the PL holidays of 24, 25 and 26 December.
DELIVERY = "2026-12-23"
QUOTE = {"valid_until": "2026-12-01", "delivery_date": DELIVERY}
SIGNED_AT = START + timedelta(minutes=30)  # the architecture sign-off: 11:00 in Warsaw
WED_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wednesday 10:00 in Warsaw

CSV = {"title": "CSV export", "description": "A weekly CSV export of the recommendations."}
LATENCY = {
    "kind": "performance",
    "title": "Recommendation latency",
    "metric": "latency",
    "comparator": "<",
    "threshold": "150",
    "unit": "ms",
}
EXPORT = {"kind": "functional", "title": "CSV export", "statement": "A CSV file lands in S3 every Monday"}


def z(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- fixtures and helpers --------------------------------------------------------------------------


@pytest.fixture
async def org(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    return await create_client_org(client, staff, "Acme")


@pytest.fixture
async def client_key(make_key: KeyMaker, org: dict[str, Any]) -> dict[str, str]:
    return bearer(await make_key("client", org["id"], name="Acme portal"))


@pytest.fixture
async def stranger(client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker) -> dict[str, str]:
    """A client key of another organisation."""
    other = await create_client_org(client, staff, "Other")
    return bearer(await make_key("client", other["id"]))


@pytest.fixture
async def intake(make_key: KeyMaker) -> dict[str, str]:
    return bearer(await make_key("intake"))


async def in_discovery(
    http: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], client_id: str
) -> dict[str, Any]:
    """A project whose quote (20,000.00 EUR, delivery 2026-12-23) the client accepted at START."""
    project = await new_project(http, staff, client_id)
    await accepted(http, staff, client_key, project["id"], **QUOTE)
    return project


async def sign_off(
    http: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project_id: str,
) -> None:
    """Architecture submitted and signed off by the client at SIGNED_AT: the scope freezes."""
    assert (await post(http, project_id, "architecture", staff, ARCHITECTURE)).status_code == 200
    clock.set(SIGNED_AT)
    response = await post(http, project_id, "architecture/approve", client_key)
    assert response.status_code == 200, response.text


@pytest.fixture
async def project(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
) -> dict[str, Any]:
    """A project in delivery, signed off at SIGNED_AT; the clock then reads Wednesday 10:00 in Warsaw."""
    created = await in_discovery(client, staff, client_key, org["id"])
    await sign_off(client, clock, staff, client_key, created["id"])
    clock.set(WED_10)
    return created


async def submit(
    http: httpx.AsyncClient, headers: dict[str, str], project_id: str, **fields: Any
) -> dict[str, Any]:
    response = await http.post(
        f"/v1/projects/{project_id}/change-requests", json={**CSV, **fields}, headers=headers
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def assessment(price: str = "1200.00", days: int = 3, **fields: Any) -> dict[str, Any]:
    return {
        "price_impact": eur(price),
        "timeline_impact_days": days,
        "risk": "medium",
        "notes": "One more batch job.",
        **fields,
    }


async def assess(
    http: httpx.AsyncClient, staff: dict[str, str], cr_id: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await http.post(
        f"/v1/change-requests/{cr_id}/assessment", json=body or assessment(), headers=staff
    )


async def assessed(
    http: httpx.AsyncClient, staff: dict[str, str], cr_id: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await assess(http, staff, cr_id, body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def act(
    http: httpx.AsyncClient,
    cr_id: str,
    action: str,
    headers: dict[str, str],
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    return await http.post(f"/v1/change-requests/{cr_id}/{action}", json=body or {}, headers=headers)


async def read(http: httpx.AsyncClient, headers: dict[str, str], cr_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/change-requests/{cr_id}", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def contract(http: httpx.AsyncClient, headers: dict[str, str], project_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/projects/{project_id}/contract", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def status_of(http: httpx.AsyncClient, headers: dict[str, str], project_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/projects/{project_id}/status", headers=headers)
    assert response.status_code == 200, response.text
    msgspec.json.decode(response.content, type=ProjectStatus, strict=True)
    result: dict[str, Any] = response.json()
    return result


async def timers_of(db: asyncpg.Connection, cr_id: str) -> list[tuple[str, str]]:
    """(kind, state) of the request's SLA timers, oldest first."""
    rows = await db.fetch(
        "SELECT kind, state FROM sla_timers WHERE subject_id = $1 ORDER BY created_at, kind", cr_id
    )
    return [(r["kind"], r["state"]) for r in rows]


async def events_of(db: asyncpg.Connection, cr_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        SELECT type, client_id, project_id, actor_role, data FROM domain_events
        WHERE subject_type = 'change_request' AND subject_id = $1 ORDER BY seq
        """,
        cr_id,
    )
    return [
        {
            **dict(r),
            "client_id": str(r["client_id"]),
            "project_id": str(r["project_id"]),
            "data": json.loads(r["data"]),
        }
        for r in rows
    ]


# --- submitting ------------------------------------------------------------------------------------


async def test_a_client_submits_and_the_assessment_clock_starts(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    response = await client.post(
        f"/v1/projects/{project['id']}/change-requests",
        json={**CSV, "title": "  CSV export ", "reason": "Marketing needs weekly reports."},
        headers=client_key,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/change-requests/{created['id']}"
    assert response.headers["etag"] == '"1"'
    assert created["number"] == 1
    assert created["title"] == "CSV export"
    assert created["reason"] == "Marketing needs weekly reports."
    assert created["status"] == "submitted"
    assert created["requested_by"] == "client"
    assert created["submitted_by_name"] == "Acme portal"
    assert created["project_id"] == project["id"]
    assert created["client_id"] == org["id"]
    assert created["assessment_revision"] is None
    assert created["price_impact"] is None
    assert created["decision_due_at"] is None
    assert created["assessments"] == []
    assert created["submitted_at"] == z(WED_10)
    # 2 business days of 9 hours from Wednesday 10:00 in Warsaw: Friday 10:00
    assert created["assessment_due_at"] == "2026-11-27T09:00:00Z"
    [transition] = created["transitions"]
    assert (transition["from_status"], transition["to_status"], transition["actor_role"]) == (
        None,
        "submitted",
        "client",
    )
    assert await timers_of(db, created["id"]) == [("cr_assessment", "running")]
    [event] = await events_of(db, created["id"])
    assert event["type"] == "change_request.submitted"
    assert (event["client_id"], event["project_id"]) == (org["id"], project["id"])
    assert event["data"]["title"] == "CSV export"
    assert event["data"]["project_name"] == "Recommender"

    by_staff = await submit(client, staff, project["id"], title="Faster batch")
    assert (by_staff["number"], by_staff["requested_by"]) == (2, "staff")
    assert await read(client, client_key, by_staff["id"]) == by_staff


async def test_blank_fields_are_refused_with_pointers(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    url = f"/v1/projects/{project['id']}/change-requests"
    blank = await client.post(url, json={**CSV, "title": "  "}, headers=staff)
    problem(blank, 422)
    assert pointers(blank) == ["/title"]
    assert pointers(await client.post(url, json={**CSV, "description": " "}, headers=staff)) == [
        "/description"
    ]
    assert pointers(await client.post(url, json={"title": "x"}, headers=staff)) == ["/description"]
    assert pointers(await client.post(url, json={**CSV, "colour": "red"}, headers=staff)) == ["/colour"]


async def test_no_change_request_before_a_quote_is_accepted_nor_after_the_project_ended(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
) -> None:
    proposal = await new_project(client, staff, org["id"])
    url = f"/v1/projects/{proposal['id']}/change-requests"
    problem(await client.post(url, json=CSV, headers=client_key), 409, "no-accepted-quote")

    running = await in_discovery(client, staff, client_key, org["id"])
    cr = await submit(client, client_key, running["id"])
    cancelled = await post(client, running["id"], "cancel", staff, {"reason": "Budget cut"})
    assert cancelled.status_code == 200, cancelled.text
    url = f"/v1/projects/{running['id']}/change-requests"
    problem(await client.post(url, json=CSV, headers=client_key), 409, "project-ended")
    # the cancellation withdrew the open request with the project's reason: nothing more happens to it
    ended = await read(client, client_key, cr["id"])
    assert (ended["status"], ended["withdrawal_reason"]) == ("withdrawn", "project cancelled: Budget cut")
    problem(await assess(client, staff, cr["id"], assessment("0.00")), 409, "change-request-transition")


async def test_list_filters_by_status_and_pages_by_number(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project: dict[str, Any]
) -> None:
    made = [await submit(client, client_key, project["id"], title=f"Change {n}") for n in range(1, 4)]
    await assessed(client, staff, made[1]["id"])
    url = f"/v1/projects/{project['id']}/change-requests"
    first = (await client.get(url, params={"limit": 2}, headers=client_key)).json()
    assert [c["number"] for c in first["items"]] == [1, 2]
    assert first["items"][1]["price_impact"] == eur("1200.00")
    assert first["items"][1]["assessment_revision"] == 1
    second = (
        await client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=client_key)
    ).json()
    assert [c["number"] for c in second["items"]] == [3]
    assert second["next_cursor"] is None
    only = (await client.get(url, params={"status": "assessed"}, headers=staff)).json()
    assert [c["id"] for c in only["items"]] == [made[1]["id"]]
    bad = await client.get(url, params={"status": "pending"}, headers=staff)
    assert bad.status_code == 422
    problem(await client.get(url, params={"cursor": "nope"}, headers=staff), 422)


# --- assessing -------------------------------------------------------------------------------------


async def test_an_assessment_is_sent_to_the_client_and_starts_the_decision_clock(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    cr = await submit(client, client_key, project["id"])
    clock.set(WED_10 + timedelta(hours=1))
    body = assessment(
        "1200.00",
        3,
        lines=[
            {"description": "Export job", "phase": "delivery", "hours": 30, "amount": eur("1500.00")},
            {
                "description": "Drop the PDF report",
                "phase": "delivery",
                "hours": -6,
                "amount": eur("-300.00"),
            },
        ],
        risk="low",
    )
    response = await assess(client, staff, cr["id"], body)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == f"/v1/change-requests/{cr['id']}"
    sent = response.json()
    assert sent["revision"] == 1
    assert sent["status"] == "awaiting_decision"
    assert sent["price_impact"] == eur("1200.00")
    assert sent["timeline_impact_days"] == 3
    assert [line["amount"] for line in sent["lines"]] == [eur("1500.00"), eur("-300.00")]
    assert sent["risk"] == "low"
    assert sent["assessed_at"] == "2026-11-25T10:00:00Z"
    # 5 business days of 9 hours from Wednesday 11:00 in Warsaw: the next Wednesday 11:00
    assert sent["decision_due_at"] == "2026-12-02T10:00:00Z"

    after = await read(client, client_key, cr["id"])
    assert (after["status"], after["assessment_revision"], after["version"]) == ("assessed", 1, 2)
    assert after["price_impact"] == eur("1200.00")
    assert after["decision_due_at"] == sent["decision_due_at"]
    assert await timers_of(db, cr["id"]) == [("cr_assessment", "met"), ("cr_client_decision", "running")]
    event = (await events_of(db, cr["id"]))[-1]
    assert event["type"] == "change_request.assessed"
    for field in (
        "project_name",
        "title",
        "assessment_revision",
        "price_impact",
        "timeline_impact_days",
        "risk",
    ):
        assert (
            event["data"][field]
            == {
                "project_name": "Recommender",
                "title": "CSV export",
                "assessment_revision": 1,
                "price_impact": eur("1200.00"),
                "timeline_impact_days": 3,
                "risk": "low",
            }[field]
        )
    assert event["data"]["decision_due_at"] == "2026-12-02T10:00:00Z"

    status = await status_of(client, client_key, project["id"])
    assert status["change_requests"] == {
        "open": 1,
        "awaiting_client_decision": [
            {
                "id": cr["id"],
                "title": "CSV export",
                "assessment_revision": 1,
                "price_impact": eur("1200.00"),
                "timeline_impact_days": 3,
                "decision_due_at": "2026-12-02T10:00:00Z",
            }
        ],
    }
    assert status["contract"]["pending_changes"] == eur("1200.00")
    assert status["contract"]["current_price"] == eur("20000.00")


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        (assessment(price_impact={"amount": "10.00", "currency": "USD"}), "/price_impact/currency"),
        (assessment(price_impact={"amount": 10, "currency": "EUR"}), "/price_impact/amount"),
        (assessment(price_impact=eur("10.5")), "/price_impact/amount"),
        (
            assessment(
                lines=[{"description": "Job", "phase": "delivery", "hours": 20, "amount": eur("1000.00")}]
            ),
            "/lines",
        ),
        (
            assessment(
                lines=[
                    {
                        "description": "Job",
                        "phase": "delivery",
                        "hours": 20,
                        "amount": {"amount": "1200.00", "currency": "USD"},
                    }
                ]
            ),
            "/lines/0/amount/currency",
        ),
        (
            assessment(
                lines=[{"description": " ", "phase": "delivery", "hours": 20, "amount": eur("1200.00")}]
            ),
            "/lines/0/description",
        ),
        (assessment(risk="extreme"), "/risk"),
        (assessment(timeline_impact_days=1.5), "/timeline_impact_days"),
        ({k: v for k, v in assessment().items() if k != "notes"}, "/notes"),
        (assessment(colour="red"), "/colour"),
        (
            assessment(
                criteria_changes=[{"op": "remove", "criterion_id": "9d6a7c1e-6c43-4c1b-9e0b-6b2b0b8a9f00"}]
            ),
            "/criteria_changes/0/criterion_id",
        ),
        (
            assessment(criteria_changes=[{"op": "add", "criterion": {**EXPORT, "statement": " "}}]),
            "/criteria_changes/0/criterion/statement",
        ),
        (assessment(criteria_changes=[{"op": "add"}]), "/criteria_changes/0/criterion"),
    ],
)
async def test_a_bad_assessment_is_422_with_a_pointer_and_changes_nothing(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
    body: dict[str, Any],
    pointer: str,
) -> None:
    cr = await submit(client, client_key, project["id"])
    response = await assess(client, staff, cr["id"], body)
    problem(response, 422)
    assert pointer in pointers(response)
    assert (await read(client, staff, cr["id"]))["status"] == "submitted"
    assert await timers_of(db, cr["id"]) == [("cr_assessment", "running")]


async def test_changes_raised_before_the_sign_off_are_free(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
) -> None:
    created = await in_discovery(client, staff, client_key, org["id"])
    early = await submit(client, client_key, created["id"], title="Early idea")
    refused = problem(
        await assess(client, staff, early["id"], assessment("500.00")), 409, "free-before-sign-off"
    )
    assert refused["extra"]["pointer"] == "/price_impact"
    assert refused["extra"]["scope_frozen_at"] is None
    assert pointers_of(refused) == ["/price_impact"]
    problem(await assess(client, staff, early["id"], assessment("-500.00")), 409, "free-before-sign-off")
    free = await assessed(client, staff, early["id"], assessment("0.00", 2))
    assert free["price_impact"] == eur("0.00")

    raised_before = await submit(client, client_key, created["id"], title="Raised in discovery")
    await sign_off(client, clock, staff, client_key, created["id"])
    clock.set(WED_10)
    # assessed after the sign-off, but raised before it: still free
    refused = problem(
        await assess(client, staff, raised_before["id"], assessment("500.00")), 409, "free-before-sign-off"
    )
    assert refused["extra"]["scope_frozen_at"] == z(SIGNED_AT).replace("Z", "+00:00")
    assert (await assessed(client, staff, raised_before["id"], assessment("0.00")))["revision"] == 1
    # raised after the sign-off: priced
    late = await submit(client, client_key, created["id"], title="Raised in delivery")
    assert (await assessed(client, staff, late["id"], assessment("500.00")))["price_impact"] == eur("500.00")


def pointers_of(problem_body: dict[str, Any]) -> list[str]:
    return [e["pointer"] for e in problem_body.get("errors") or []]


async def test_a_reassessment_is_a_new_revision_and_restarts_the_decision_clock(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    cr = await submit(client, client_key, project["id"])
    first = await assessed(client, staff, cr["id"], assessment("1200.00", 3))
    clock.set(WED_10 + timedelta(days=1))  # Thursday 10:00 in Warsaw
    second = await assessed(client, staff, cr["id"], assessment("900.00", 2, risk="high"))
    assert second["revision"] == 2
    assert second["decision_due_at"] == "2026-12-03T09:00:00Z"  # the next Thursday 10:00
    assert first["decision_due_at"] != second["decision_due_at"]
    detail = await read(client, client_key, cr["id"])
    assert [(a["revision"], a["status"], a["price_impact"]["amount"]) for a in detail["assessments"]] == [
        (1, "superseded", "1200.00"),
        (2, "awaiting_decision", "900.00"),
    ]
    assert detail["assessments"][0]["decision_due_at"] == first["decision_due_at"]
    assert (detail["assessment_revision"], detail["price_impact"], detail["risk"]) == (
        2,
        eur("900.00"),
        "high",
    )
    assert [(t["from_status"], t["to_status"], t["assessment_revision"]) for t in detail["transitions"]] == [
        (None, "submitted", None),
        ("submitted", "assessed", 1),
        ("assessed", "assessed", 2),
    ]
    assert await timers_of(db, cr["id"]) == [
        ("cr_assessment", "met"),
        ("cr_client_decision", "cancelled"),
        ("cr_client_decision", "running"),
    ]
    status = await status_of(client, staff, project["id"])
    assert status["contract"]["pending_changes"] == eur("900.00")
    assert [
        (a["price_impact"], a["decision_due_at"])
        for a in status["change_requests"]["awaiting_client_decision"]
    ] == [(eur("900.00"), "2026-12-03T09:00:00Z")]
    types = [e["type"] for e in await events_of(db, cr["id"])]
    assert types == ["change_request.submitted", "change_request.assessed", "change_request.assessed"]


# --- the client's decision ----------------------------------------------------------------------------


async def test_approval_moves_the_contract_over_the_weekend_and_the_holidays(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    cr = await submit(client, client_key, project["id"])
    await assessed(client, staff, cr["id"], assessment("1200.00", 3))
    problem(await act(client, cr["id"], "approve", staff, {"assessment_revision": 1}), 403)
    response = await act(client, cr["id"], "approve", client_key, {"assessment_revision": 1})
    assert response.status_code == 200, response.text
    approved = response.json()
    assert response.headers["etag"] == f'"{approved["version"]}"'
    assert (approved["status"], approved["decided_revision"], approved["amendment_number"]) == (
        "approved",
        1,
        1,
    )
    assert approved["decided_at"] == z(WED_10)
    assert approved["assessments"][0]["status"] == "approved"

    terms = await contract(client, client_key, project["id"])
    assert terms["baseline_delivery_date"] == "2026-12-23"  # a Wednesday
    # +3 business days on the PL calendar: Thu 24 (Christmas Eve), Fri 25 and Sat 26 (Christmas) are
    # holidays, Sun 27 a Sunday; Mon 28 is day 1, Tue 29 day 2, Wed 30 day 3.
    assert terms["current_delivery_date"] == "2026-12-30"
    assert terms["current_price"] == eur("21200.00")
    [amendment] = terms["amendments"]
    assert (amendment["number"], amendment["change_request_id"]) == (1, cr["id"])
    assert (amendment["price_impact"], amendment["timeline_impact_days"]) == (eur("1200.00"), 3)

    status = await status_of(client, client_key, project["id"])
    assert status["change_requests"] == {"open": 1, "awaiting_client_decision": []}
    assert status["contract"]["pending_changes"] == eur("0.00")
    assert status["contract"]["approved_changes"] == eur("1200.00")
    assert status["contract"]["current_delivery_date"] == "2026-12-30"
    assert await timers_of(db, cr["id"]) == [("cr_assessment", "met"), ("cr_client_decision", "met")]
    event = (await events_of(db, cr["id"]))[-1]
    assert event["type"] == "change_request.approved"
    assert event["actor_role"] == "client"
    assert event["data"]["assessment_revision"] == 1
    assert event["data"]["price_impact"] == eur("1200.00")
    assert event["data"]["timeline_impact_days"] == 3
    assert event["data"]["amendment_number"] == 1
    assert event["data"]["current_delivery_date"] == "2026-12-30"
    # decided once
    again = problem(await act(client, cr["id"], "approve", client_key, {"assessment_revision": 1}), 409)
    assert again["rule"] == "change-request-transition"
    assert len((await contract(client, staff, project["id"]))["amendments"]) == 1


async def test_criteria_changes_apply_on_approval_with_their_history(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
) -> None:
    created = await in_discovery(client, staff, client_key, org["id"])
    latency = await client.post(f"/v1/projects/{created['id']}/criteria", json=LATENCY, headers=staff)
    assert latency.status_code == 201, latency.text
    latency_id = latency.json()["id"]
    await sign_off(client, clock, staff, client_key, created["id"])
    clock.set(WED_10)
    cr = await submit(client, client_key, created["id"])
    changes = [
        {"op": "modify", "criterion_id": latency_id, "criterion": {**LATENCY, "threshold": "200"}},
        {"op": "add", "criterion": EXPORT},
    ]
    sent = await assessed(client, staff, cr["id"], assessment("1200.00", 3, criteria_changes=changes))
    assert [c["op"] for c in sent["criteria_changes"]] == ["modify", "add"]
    # assessed but not approved: the criteria stand as they were
    listed = (await client.get(f"/v1/projects/{created['id']}/criteria", headers=staff)).json()["items"]
    assert [(c["title"], c["threshold"]) for c in listed] == [("Recommendation latency", "150")]

    approved = await act(client, cr["id"], "approve", client_key, {"assessment_revision": 1})
    assert approved.status_code == 200, approved.text
    listed = (await client.get(f"/v1/projects/{created['id']}/criteria", headers=client_key)).json()["items"]
    assert [(c["title"], c["threshold"], c["state"]) for c in listed] == [
        ("Recommendation latency", "200", "pending"),
        ("CSV export", None, "pending"),
    ]
    versions = (await client.get(f"/v1/criteria/{latency_id}/versions", headers=staff)).json()["items"]
    assert [(v["version"], v["change"], v["change_request_id"]) for v in versions] == [
        (1, "created", None),
        (2, "updated", cr["id"]),
    ]
    assert versions[1]["reason"] == "Change request 1: CSV export"
    added = (await client.get(f"/v1/criteria/{listed[1]['id']}/versions", headers=staff)).json()["items"]
    assert [(v["change"], v["change_request_id"]) for v in added] == [("created", cr["id"])]
    [amendment] = (await contract(client, staff, created["id"]))["amendments"]
    assert [c["op"] for c in amendment["criteria_changes"]] == ["modify", "add"]


async def test_an_approval_whose_criteria_changes_no_longer_apply_changes_nothing(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
) -> None:
    created = await in_discovery(client, staff, client_key, org["id"])
    latency = await client.post(f"/v1/projects/{created['id']}/criteria", json=LATENCY, headers=staff)
    latency_id = latency.json()["id"]
    await sign_off(client, clock, staff, client_key, created["id"])
    clock.set(WED_10)
    dropping = await submit(client, client_key, created["id"], title="Drop the latency target")
    tightening = await submit(client, client_key, created["id"], title="Tighten the latency target")
    await assessed(
        client,
        staff,
        dropping["id"],
        assessment("-500.00", 0, criteria_changes=[{"op": "remove", "criterion_id": latency_id}]),
    )
    modify = {"op": "modify", "criterion_id": latency_id, "criterion": {**LATENCY, "threshold": "100"}}
    await assessed(client, staff, tightening["id"], assessment("700.00", 2, criteria_changes=[modify]))
    assert (
        await act(client, dropping["id"], "approve", client_key, {"assessment_revision": 1})
    ).status_code == 200
    refused = await act(client, tightening["id"], "approve", client_key, {"assessment_revision": 1})
    problem(refused, 409, "criteria-changes-stale")
    assert pointers(refused) == ["/criteria_changes/0/criterion_id"]
    terms = await contract(client, staff, created["id"])
    assert [a["change_request_id"] for a in terms["amendments"]] == [dropping["id"]]
    assert terms["current_price"] == eur("19500.00")
    assert (await read(client, staff, tightening["id"]))["status"] == "assessed"
    # a reassessment without the stale change can be approved
    await assessed(client, staff, tightening["id"], assessment("700.00", 2))
    assert (
        await act(client, tightening["id"], "approve", client_key, {"assessment_revision": 2})
    ).status_code == 200


async def test_approving_a_stale_revision_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    created = await in_discovery(client, staff, client_key, org["id"])
    latency = await client.post(f"/v1/projects/{created['id']}/criteria", json=LATENCY, headers=staff)
    latency_id = latency.json()["id"]
    await sign_off(client, clock, staff, client_key, created["id"])
    clock.set(WED_10)
    cr = await submit(client, client_key, created["id"])
    modify = [{"op": "modify", "criterion_id": latency_id, "criterion": {**LATENCY, "threshold": "300"}}]
    await assessed(client, staff, cr["id"], assessment("1200.00", 3, criteria_changes=modify))
    clock.set(WED_10 + timedelta(hours=2))
    await assessed(client, staff, cr["id"], assessment("800.00", 1))
    before = {
        "contract": await contract(client, staff, created["id"]),
        "request": await read(client, staff, cr["id"]),
        "criterion": (await client.get(f"/v1/criteria/{latency_id}", headers=staff)).json(),
        "timers": await timers_of(db, cr["id"]),
        "events": await db.fetchval("SELECT count(*) FROM domain_events"),
    }
    clock.set(WED_10 + timedelta(hours=3))
    refused = problem(
        await act(client, cr["id"], "approve", client_key, {"assessment_revision": 1}),
        409,
        "stale-assessment",
    )
    assert refused["extra"] == {"assessment_revision": 1, "current_revision": 2}
    after = {
        "contract": await contract(client, staff, created["id"]),
        "request": await read(client, staff, cr["id"]),
        "criterion": (await client.get(f"/v1/criteria/{latency_id}", headers=staff)).json(),
        "timers": await timers_of(db, cr["id"]),
        "events": await db.fetchval("SELECT count(*) FROM domain_events"),
    }
    assert after["contract"] | {"as_of": None} == before["contract"] | {"as_of": None}
    assert after["contract"]["current_price"] == eur("20000.00")
    assert after["contract"]["current_delivery_date"] == DELIVERY
    assert after["request"] == before["request"]
    assert after["request"]["status"] == "assessed"
    assert after["criterion"] == before["criterion"]
    assert after["criterion"]["threshold"] == "150"
    assert (
        after["timers"]
        == before["timers"]
        == [
            ("cr_assessment", "met"),
            ("cr_client_decision", "cancelled"),
            ("cr_client_decision", "running"),
        ]
    )
    assert after["events"] == before["events"]
    problem(
        await act(client, cr["id"], "reject", client_key, {"reason": "Too dear", "assessment_revision": 1}),
        409,
        "stale-assessment",
    )
    # the current revision is approved with its own figures
    approved = await act(client, cr["id"], "approve", client_key, {"assessment_revision": 2})
    assert approved.status_code == 200, approved.text
    terms = await contract(client, staff, created["id"])
    assert (terms["current_price"], terms["current_delivery_date"]) == (eur("20800.00"), "2026-12-28")
    assert (await client.get(f"/v1/criteria/{latency_id}", headers=staff)).json()["threshold"] == "150"


async def test_twenty_concurrent_approvals_make_one_amendment(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    cr = await submit(client, client_key, project["id"])
    await assessed(client, staff, cr["id"], assessment("1200.00", 3))
    responses = await asyncio.gather(
        *(act(client, cr["id"], "approve", client_key, {"assessment_revision": 1}) for _ in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19, [r.text for r in responses if r.status_code not in (200, 409)]
    for refused in (r for r in responses if r.status_code == 409):
        assert refused.json()["rule"] == "change-request-transition"
    terms = await contract(client, staff, project["id"])
    assert len(terms["amendments"]) == 1
    assert terms["current_price"] == eur("21200.00")
    assert terms["current_delivery_date"] == "2026-12-30"
    assert (
        await db.fetchval("SELECT count(*) FROM contract_amendments WHERE change_request_id = $1", cr["id"])
        == 1
    )
    approvals = await db.fetchval(
        "SELECT count(*) FROM domain_events WHERE type = 'change_request.approved' AND subject_id = $1",
        cr["id"],
    )
    assert approvals == 1
    assert (
        await db.fetchval(
            "SELECT count(*) FROM change_request_transitions WHERE change_request_id = $1 AND to_status = 'approved'",
            cr["id"],
        )
        == 1
    )


async def test_a_rejection_needs_a_reason_and_moves_nothing(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    cr = await submit(client, client_key, project["id"])
    problem(
        await act(client, cr["id"], "reject", client_key, {"reason": "Too dear"}),
        409,
        "change-request-transition",
    )
    await assessed(client, staff, cr["id"])
    for body in ({}, {"reason": "  "}):
        refused = await act(client, cr["id"], "reject", client_key, body)
        problem(refused, 422, "reason-required")
        assert pointers(refused) == ["/reason"]
    problem(await act(client, cr["id"], "reject", staff, {"reason": "No"}), 403)
    rejected = await act(client, cr["id"], "reject", client_key, {"reason": " Too dear for now "})
    assert rejected.status_code == 200, rejected.text
    body = rejected.json()
    assert (body["status"], body["rejection_reason"], body["decided_revision"]) == (
        "rejected",
        "Too dear for now",
        1,
    )
    assert body["assessments"][0]["status"] == "rejected"
    assert body["transitions"][-1]["reason"] == "Too dear for now"
    terms = await contract(client, staff, project["id"])
    assert (terms["current_price"], terms["amendments"]) == (eur("20000.00"), [])
    assert await timers_of(db, cr["id"]) == [("cr_assessment", "met"), ("cr_client_decision", "met")]
    event = (await events_of(db, cr["id"]))[-1]
    assert (event["type"], event["data"]["reason"], event["data"]["assessment_revision"]) == (
        "change_request.rejected",
        "Too dear for now",
        1,
    )
    problem(
        await act(client, cr["id"], "approve", client_key, {"assessment_revision": 1}),
        409,
        "change-request-transition",
    )
    problem(await act(client, cr["id"], "withdraw", staff, {"reason": "x"}), 409, "change-request-transition")
    status = await status_of(client, staff, project["id"])
    assert status["change_requests"] == {"open": 0, "awaiting_client_decision": []}


# --- withdrawing, starting, completing ----------------------------------------------------------------


async def test_withdrawal_before_a_decision_only_and_by_the_requester_or_staff(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    submitted = await submit(client, client_key, project["id"], title="Submitted only")
    refused = await act(client, submitted["id"], "withdraw", client_key, {"reason": ""})
    problem(refused, 422, "reason-required")
    assert pointers(refused) == ["/reason"]
    withdrawn = await act(client, submitted["id"], "withdraw", client_key, {"reason": "Not needed"})
    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["status"], withdrawn.json()["withdrawal_reason"]) == ("withdrawn", "Not needed")
    assert withdrawn.json()["withdrawn_at"] == z(WED_10)
    assert await timers_of(db, submitted["id"]) == [("cr_assessment", "cancelled")]
    assert (await events_of(db, submitted["id"]))[-1]["type"] == "change_request.withdrawn"
    problem(await assess(client, staff, submitted["id"]), 409, "change-request-transition")

    assessed_cr = await submit(client, client_key, project["id"], title="Assessed")
    await assessed(client, staff, assessed_cr["id"])
    by_staff = await act(client, assessed_cr["id"], "withdraw", staff, {"reason": "Superseded by CR 3"})
    assert by_staff.status_code == 200, by_staff.text
    assert by_staff.json()["assessments"][0]["status"] == "withdrawn"
    assert await timers_of(db, assessed_cr["id"]) == [
        ("cr_assessment", "met"),
        ("cr_client_decision", "cancelled"),
    ]
    assert (await status_of(client, staff, project["id"]))["contract"]["pending_changes"] == eur("0.00")

    shops = await submit(client, staff, project["id"], title="The shop's idea")
    problem(await act(client, shops["id"], "withdraw", client_key, {"reason": "No"}), 403, "not-requester")

    decided = await submit(client, client_key, project["id"], title="Approved")
    await assessed(client, staff, decided["id"])
    assert (
        await act(client, decided["id"], "approve", client_key, {"assessment_revision": 1})
    ).status_code == 200
    for headers in (client_key, staff):
        problem(
            await act(client, decided["id"], "withdraw", headers, {"reason": "Late"}),
            409,
            "change-request-transition",
        )


async def test_work_starts_only_after_approval(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    cr = await submit(client, client_key, project["id"])
    problem(await act(client, cr["id"], "start", staff), 409, "change-request-transition")
    await assessed(client, staff, cr["id"])
    problem(await act(client, cr["id"], "start", staff), 409, "change-request-transition")
    problem(await act(client, cr["id"], "complete", staff), 409, "change-request-transition")
    assert (await act(client, cr["id"], "approve", client_key, {"assessment_revision": 1})).status_code == 200
    problem(await act(client, cr["id"], "complete", staff), 409, "change-request-transition")
    problem(await act(client, cr["id"], "start", client_key), 403)
    clock.set(WED_10 + timedelta(hours=1))
    started = await act(client, cr["id"], "start", staff, {"note": "Sprint 4"})
    assert started.status_code == 200, started.text
    assert (started.json()["status"], started.json()["started_at"]) == ("in_progress", "2026-11-25T10:00:00Z")
    assert (await status_of(client, staff, project["id"]))["change_requests"]["open"] == 1
    problem(await act(client, cr["id"], "start", staff), 409, "change-request-transition")
    problem(await act(client, cr["id"], "complete", client_key), 403)
    clock.set(WED_10 + timedelta(days=2))
    done = await act(client, cr["id"], "complete", staff)
    assert done.status_code == 200, done.text
    assert (done.json()["status"], done.json()["completed_at"]) == ("done", "2026-11-27T09:00:00Z")
    assert [(t["from_status"], t["to_status"], t["reason"]) for t in done.json()["transitions"]][-2:] == [
        ("approved", "in_progress", "Sprint 4"),
        ("in_progress", "done", None),
    ]
    problem(await act(client, cr["id"], "complete", staff), 409, "change-request-transition")
    assert (await status_of(client, staff, project["id"]))["change_requests"]["open"] == 0
    types = [e["type"] for e in await events_of(db, cr["id"])]
    assert types == [
        "change_request.submitted",
        "change_request.assessed",
        "change_request.approved",
        "change_request.started",
        "change_request.completed",
    ]


async def test_if_match_guards_every_action(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project: dict[str, Any]
) -> None:
    cr = await submit(client, client_key, project["id"])
    stale = {**staff, "If-Match": '"7"'}
    problem(
        await client.post(f"/v1/change-requests/{cr['id']}/assessment", json=assessment(), headers=stale), 412
    )
    fresh = {**staff, "If-Match": '"1"'}
    assert (
        await client.post(f"/v1/change-requests/{cr['id']}/assessment", json=assessment(), headers=fresh)
    ).status_code == 201
    problem(
        await act(client, cr["id"], "approve", {**client_key, "If-Match": '"1"'}, {"assessment_revision": 1}),
        412,
    )
    assert (
        await act(client, cr["id"], "approve", {**client_key, "If-Match": '"2"'}, {"assessment_revision": 1})
    ).status_code == 200


# --- roles -------------------------------------------------------------------------------------------


async def test_role_boundaries(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    stranger: dict[str, str],
    intake: dict[str, str],
    project: dict[str, Any],
) -> None:
    cr = await submit(client, client_key, project["id"])
    project_url = f"/v1/projects/{project['id']}/change-requests"
    cr_url = f"/v1/change-requests/{cr['id']}"
    # no key: 401
    for method, url in (
        ("POST", project_url),
        ("GET", project_url),
        ("GET", cr_url),
        ("POST", f"{cr_url}/approve"),
    ):
        assert (await client.request(method, url, json={})).status_code == 401
    # intake: 403 everywhere
    problem(await client.post(project_url, json=CSV, headers=intake), 403)
    problem(await client.get(project_url, headers=intake), 403)
    problem(await client.get(cr_url, headers=intake), 403)
    problem(await act(client, cr["id"], "withdraw", intake, {"reason": "x"}), 403)
    # staff-only routes with a client key: 403
    problem(await assess(client, client_key, cr["id"]), 403)
    problem(await act(client, cr["id"], "start", client_key), 403)
    problem(await act(client, cr["id"], "complete", client_key), 403)
    # another organisation: 404, never the object
    problem(await client.post(project_url, json=CSV, headers=stranger), 404)
    problem(await client.get(project_url, headers=stranger), 404)
    problem(await client.get(cr_url, headers=stranger), 404)
    await assessed(client, staff, cr["id"])
    problem(await act(client, cr["id"], "approve", stranger, {"assessment_revision": 1}), 404)
    problem(await act(client, cr["id"], "reject", stranger, {"reason": "no"}), 404)
    problem(await act(client, cr["id"], "withdraw", stranger, {"reason": "no"}), 404)
    assert (await read(client, staff, cr["id"]))["status"] == "assessed"
    problem(await client.get("/v1/change-requests/9d6a7c1e-6c43-4c1b-9e0b-6b2b0b8a9f00", headers=staff), 404)


# --- support feature requests ----------------------------------------------------------------------


async def test_a_support_feature_request_becomes_a_draft_change_request(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    pid = project["id"]
    assert (await post(client, pid, "handover", staff, HANDOVER)).status_code == 200
    launched = await post(client, pid, "launch", staff, {"without_criteria_reason": "Judged on dashboards"})
    assert launched.status_code == 200, launched.text
    response = await client.post(
        f"/v1/projects/{pid}/support-requests",
        json={"kind": "feature_request", "subject": "Add a CSV export", "body": "Weekly, per category."},
        headers=client_key,
    )
    assert response.status_code == 201, response.text
    opened = response.json()
    assert opened["status"] == "redirected"
    draft_id = opened["change_request_id"]
    assert draft_id is not None
    assert "We have drafted one from this request" in opened["conversation"][0]["message"]
    draft = await read(client, client_key, draft_id)
    assert (draft["status"], draft["requested_by"], draft["support_request_id"]) == (
        "submitted",
        "client",
        opened["id"],
    )
    assert (draft["title"], draft["description"]) == ("Add a CSV export", "Weekly, per category.")
    assert draft["project_id"] == pid
    assert await timers_of(db, draft_id) == [("cr_assessment", "running")]
    [event] = await events_of(db, draft_id)
    assert event["type"] == "change_request.submitted"
    assert event["data"]["support_request_id"] == opened["id"]
    listed = (await client.get(f"/v1/projects/{pid}/change-requests", headers=staff)).json()["items"]
    assert [c["id"] for c in listed] == [draft_id]
    # the draft goes the usual way
    assert (await assessed(client, staff, draft_id, assessment("600.00", 1)))["revision"] == 1
