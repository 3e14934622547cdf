"""Projects and their phases, through the HTTP API (discovery starts through the service, as quotes do)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from litestar import Litestar

from api.db import Conn
from api.domain.projects import service
from api.domain.projects.schemas import LaunchIn
from api.errors import Conflict
from api.kit.clock import FrozenClock
from tests.conftest import START, KeyMaker, bearer, create_client_org
from tests.domain.project_helpers import (
    ARCHITECTURE,
    HANDOVER,
    NO_CRITERIA_REASON,
    new_project,
    post,
    start_discovery,
    walk,
)

# START is Tuesday 2026-11-24 10:30 in Warsaw: day 1 of discovery; day 5 is Monday 2026-11-30, whose
# window closes at 18:00 Warsaw = 17:00 UTC.
DISCOVERY_ENDS = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)


@pytest.fixture
async def org(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    return await create_client_org(client, staff, "Acme")


@pytest.fixture
async def client_key(make_key: KeyMaker, org: dict[str, Any]) -> dict[str, str]:
    return bearer(await make_key("client", org["id"]))


@pytest.fixture
async def stranger(client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker) -> dict[str, str]:
    """A client key of another organisation."""
    other = await create_client_org(client, staff, "Other")
    return bearer(await make_key("client", other["id"]))


@pytest.fixture
async def project(client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> dict[str, Any]:
    return await new_project(client, staff, org["id"])


#: The staff's explicit waiver a project without acceptance criteria launches with.
WAIVER = {"without_criteria_reason": NO_CRITERIA_REASON}


def problem(response: httpx.Response, status: int, rule: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    if rule is not None:
        assert body["rule"] == rule, body
    return body


async def events(db: asyncpg.Connection, project_id: str) -> list[tuple[str, str, str]]:
    rows = await db.fetch(
        "SELECT type, client_id, project_id FROM domain_events"
        " WHERE project_id = $1 AND subject_type = 'project' ORDER BY seq",
        UUID(project_id),
    )
    return [(r["type"], str(r["client_id"]), str(r["project_id"])) for r in rows]


async def event_types(db: asyncpg.Connection, project_id: str) -> list[str]:
    return [t for t, _, _ in await events(db, project_id)]


async def timer(db: asyncpg.Connection, project_id: str) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT state, started_at, due_at FROM sla_timers WHERE kind = 'architecture_review' AND subject_id = $1",
        UUID(project_id),
    )
    assert row is not None
    return row


# --- creating and reading -------------------------------------------------------------------------


async def test_create_and_read_project(
    client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any], db: asyncpg.Connection
) -> None:
    inquiry = str(uuid4())
    response = await client.post(
        "/v1/projects",
        json={
            "client_id": org["id"],
            "name": "Recommender",
            "currency": "EUR",
            "description": "Extract recommendations from the monolith",
            "inquiry_id": inquiry,
            "business_hours_support": True,
        },
        headers=staff,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/projects/{created['id']}"
    assert response.headers["etag"] == '"1"'
    assert created["phase"] == "proposal"
    assert created["phase_since"] == "2026-11-24T09:30:00Z"
    assert created["currency"] == "EUR"
    assert created["inquiry_id"] == inquiry
    assert created["business_hours_support"] is True
    assert created["scope_frozen_at"] is None
    assert [m["name"] for m in created["milestones"]] == [
        "discovery_end",
        "architecture_review",
        "delivery",
        "launch",
        "support_end",
    ]
    assert {m["state"] for m in created["milestones"]} == {"unscheduled"}
    assert created["phase_history"] == [
        {
            "from_phase": None,
            "to_phase": "proposal",
            "reason": None,
            "actor_key_id": created["phase_history"][0]["actor_key_id"],
            "actor_role": "staff",
            "at": "2026-11-24T09:30:00Z",
        }
    ]
    read = await client.get(f"/v1/projects/{created['id']}", headers=staff)
    assert read.status_code == 200
    assert read.headers["etag"] == '"1"'
    assert read.json() == created
    assert await events(db, created["id"]) == [("project.created", org["id"], created["id"])]


async def test_business_hours_support_defaults_to_false(
    client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]
) -> None:
    created = await new_project(client, staff, org["id"])
    assert created["business_hours_support"] is False
    assert created["inquiry_id"] is None
    assert created["description"] is None


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"currency": "XYZ"}, "/currency"),
        ({"currency": "eur"}, "/currency"),
        ({"currency": 978}, "/currency"),
        ({"name": ""}, "/name"),
        ({"client_id": "not-a-uuid"}, "/client_id"),
        ({"client_id": "00000000-0000-0000-0000-000000000001"}, "/client_id"),
        ({"inquiry_id": "nope"}, "/inquiry_id"),
        ({"colour": "red"}, "/colour"),
    ],
)
async def test_create_validates_its_fields(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    org: dict[str, Any],
    change: dict[str, Any],
    pointer: str,
) -> None:
    body = {"client_id": org["id"], "name": "Recommender", "currency": "EUR", **change}
    found = problem(await client.post("/v1/projects", json=body, headers=staff), 422)
    assert [e["pointer"] for e in found["errors"]] == [pointer]


async def test_client_reads_only_its_own_projects(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    org: dict[str, Any],
    client_key: dict[str, str],
    stranger: dict[str, str],
) -> None:
    mine = await new_project(client, staff, org["id"], name="Mine")
    other_org = await create_client_org(client, staff, "Third")
    theirs = await new_project(client, staff, other_org["id"], name="Theirs")
    assert (await client.get(f"/v1/projects/{mine['id']}", headers=client_key)).status_code == 200
    problem(await client.get(f"/v1/projects/{theirs['id']}", headers=client_key), 404)
    problem(await client.get(f"/v1/projects/{mine['id']}", headers=stranger), 404)
    listed = (await client.get("/v1/projects", headers=client_key)).json()
    assert [p["id"] for p in listed["items"]] == [mine["id"]]
    asked_for_other = await client.get(
        "/v1/projects", params={"client_id": other_org["id"]}, headers=client_key
    )
    assert asked_for_other.json() == {"items": [], "next_cursor": None}
    problem(await client.post("/v1/projects", json={"client_id": org["id"]}, headers=client_key), 403)


async def test_unknown_project_is_404(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    missing = uuid4()
    for path in ("", "/status", "/history"):
        problem(await client.get(f"/v1/projects/{missing}{path}", headers=staff), 404)
    problem(await post(client, str(missing), "hold", staff, {"reason": "x"}), 404)


async def test_list_filters_and_paginates(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    org: dict[str, Any],
) -> None:
    other = await create_client_org(client, staff, "Beta")
    ours = []
    for i in range(3):
        ours.append((await new_project(client, staff, org["id"], name=f"P{i}"))["id"])
        clock.advance(timedelta(seconds=1))
    theirs = (await new_project(client, staff, other["id"]))["id"]
    await start_discovery(app, clock, ours[1])
    by_client = (await client.get("/v1/projects", params={"client_id": org["id"]}, headers=staff)).json()
    assert [p["id"] for p in by_client["items"]] == ours
    by_phase = (await client.get("/v1/projects", params={"phase": "discovery"}, headers=staff)).json()
    assert [p["id"] for p in by_phase["items"]] == [ours[1]]
    problem(await client.get("/v1/projects", params={"phase": "dreaming"}, headers=staff), 422)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/projects", params=params, headers=staff)).json()
        seen += [p["id"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [*ours, theirs]


# --- discovery ------------------------------------------------------------------------------------


async def test_start_discovery_sets_the_end_and_starts_the_timer(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    project: dict[str, Any],
    org: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    clock.advance(timedelta(minutes=5))
    await start_discovery(app, clock, project["id"], at=START)
    read = (await client.get(f"/v1/projects/{project['id']}", headers=staff)).json()
    assert read["phase"] == "discovery"
    assert read["phase_since"] == "2026-11-24T09:30:00Z"
    assert read["discovery_started_at"] == "2026-11-24T09:30:00Z"
    assert read["discovery_ends_at"] == "2026-11-30T17:00:00Z"
    assert read["version"] == 2
    assert read["milestones"][0] == {
        "name": "discovery_end",
        "due_on": "2026-11-30",
        "done_at": None,
        "state": "upcoming",
    }
    assert read["phase_history"][-1]["from_phase"] == "proposal"
    assert read["phase_history"][-1]["to_phase"] == "discovery"
    assert read["phase_history"][-1]["actor_role"] is None
    running = await timer(db, project["id"])
    assert running["state"] == "running"
    assert running["started_at"] == START
    assert running["due_at"] == DISCOVERY_ENDS
    assert await events(db, project["id"]) == [
        ("project.created", org["id"], project["id"]),
        ("project.discovery_started", org["id"], project["id"]),
    ]


async def test_discovery_starts_only_from_proposal(
    app: Litestar, clock: FrozenClock, project: dict[str, Any]
) -> None:
    await start_discovery(app, clock, project["id"])
    with pytest.raises(Conflict) as refused:
        await start_discovery(app, clock, project["id"])
    assert refused.value.rule == "phase-transition"


# --- architecture ---------------------------------------------------------------------------------


async def test_architecture_submission_moves_to_review_and_meets_the_timer(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    await start_discovery(app, clock, project["id"])
    clock.advance(timedelta(days=2))
    response = await post(client, project["id"], "architecture", staff, ARCHITECTURE)
    assert response.status_code == 200, response.text
    body = response.json()
    assert response.headers["etag"] == '"3"'
    assert body["phase"] == "architecture_review"
    assert body["phase_since"] == "2026-11-26T09:30:00Z"
    assert body["architecture"] == {
        **ARCHITECTURE,
        "revision": 1,
        "submitted_at": "2026-11-26T09:30:00Z",
        "revised_at": "2026-11-26T09:30:00Z",
        "approved_at": None,
    }
    assert body["milestones"][0]["state"] == "done"
    assert body["milestones"][0]["done_at"] == "2026-11-26T09:30:00Z"
    met = await timer(db, project["id"])
    assert met["state"] == "met"
    assert (await event_types(db, project["id"]))[-1] == "project.architecture_submitted"


async def test_architecture_can_be_revised_while_in_review(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    await start_discovery(app, clock, project["id"])
    await post(client, project["id"], "architecture", staff, ARCHITECTURE)
    clock.advance(timedelta(hours=3))
    revised = {**ARCHITECTURE, "document_url": "https://docs.example.com/acme/architecture-v2"}
    body = (await post(client, project["id"], "architecture", staff, revised)).json()
    assert body["phase"] == "architecture_review"
    assert body["phase_since"] == "2026-11-24T09:30:00Z"
    assert body["architecture"]["revision"] == 2
    assert body["architecture"]["document_url"].endswith("-v2")
    assert body["architecture"]["submitted_at"] == "2026-11-24T09:30:00Z"
    assert body["architecture"]["revised_at"] == "2026-11-24T12:30:00Z"
    assert [h["to_phase"] for h in body["phase_history"]] == ["proposal", "discovery", "architecture_review"]
    rows = await db.fetch(
        "SELECT data FROM domain_events WHERE project_id = $1 AND type = 'project.architecture_submitted'"
        " ORDER BY seq",
        UUID(project["id"]),
    )
    assert [(json.loads(r["data"])["revision"], json.loads(r["data"])["resubmitted"]) for r in rows] == [
        (1, False),
        (2, True),
    ]


async def test_architecture_is_refused_outside_discovery(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    found = problem(
        await post(client, project["id"], "architecture", staff, ARCHITECTURE), 409, "phase-transition"
    )
    assert found["extra"] == {"phase": "proposal", "allowed_from": ["discovery", "architecture_review"]}


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"document_url": "ftp://docs.example.com/a"}, "/document_url"),
        ({"document_url": "https:///nohost"}, "/document_url"),
        ({"summary": {**ARCHITECTURE["summary"], "api_design": "  "}}, "/summary/api_design"),  # type: ignore[dict-item]
        ({"summary": {**ARCHITECTURE["summary"], "monitoring_plan": ""}}, "/summary/monitoring_plan"),  # type: ignore[dict-item]
        (
            {"summary": {k: v for k, v in ARCHITECTURE["summary"].items() if k != "data_flow"}},  # type: ignore[attr-defined]
            "/summary/data_flow",
        ),
    ],
)
async def test_architecture_document_is_validated(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    project: dict[str, Any],
    change: dict[str, Any],
    pointer: str,
) -> None:
    await start_discovery(app, clock, project["id"])
    found = problem(await post(client, project["id"], "architecture", staff, {**ARCHITECTURE, **change}), 422)
    assert [e["pointer"] for e in found["errors"]] == [pointer]


async def test_only_the_client_approves_the_architecture(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    stranger: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    await start_discovery(app, clock, project["id"])
    problem(await post(client, project["id"], "architecture/approve", client_key), 409, "phase-transition")
    await post(client, project["id"], "architecture", staff, ARCHITECTURE)
    problem(await post(client, project["id"], "architecture/approve", staff), 403)
    problem(await post(client, project["id"], "architecture/approve", stranger), 404)
    clock.advance(timedelta(hours=1))
    response = await post(client, project["id"], "architecture/approve", client_key)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["phase"] == "delivery"
    assert body["scope_frozen_at"] == "2026-11-24T10:30:00Z"
    assert body["architecture"]["approved_at"] == "2026-11-24T10:30:00Z"
    assert body["milestones"][1]["state"] == "done"
    assert body["phase_history"][-1]["actor_role"] == "client"
    problem(await post(client, project["id"], "architecture/approve", client_key), 409, "phase-transition")
    assert (await event_types(db, project["id"]))[-1] == "project.architecture_approved"


async def test_concurrent_approvals_move_the_project_once(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    await walk(client, app, clock, staff, client_key, project["id"], "architecture_review")
    responses = await asyncio.gather(
        *(post(client, project["id"], "architecture/approve", client_key) for _ in range(5))
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409, 409, 409]
    assert (await event_types(db, project["id"])).count("project.architecture_approved") == 1


# --- handover and launch --------------------------------------------------------------------------


async def test_handover_moves_delivery_to_acceptance(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    await walk(client, app, clock, staff, client_key, project["id"], "architecture_review")
    problem(await post(client, project["id"], "handover", staff, HANDOVER), 409, "phase-transition")
    await post(client, project["id"], "architecture/approve", client_key)
    problem(await post(client, project["id"], "handover", client_key, HANDOVER), 403)
    bad = problem(
        await post(client, project["id"], "handover", staff, {**HANDOVER, "runbook_url": "runbook.pdf"}), 422
    )
    assert [e["pointer"] for e in bad["errors"]] == ["/runbook_url"]
    missing = {k: v for k, v in HANDOVER.items() if k != "monitoring_url"}
    problem(await post(client, project["id"], "handover", staff, missing), 422)
    response = await post(client, project["id"], "handover", staff, HANDOVER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["phase"] == "acceptance"
    assert body["handover"] == {**HANDOVER, "recorded_at": "2026-11-24T09:30:00Z"}
    assert body["milestones"][2]["state"] == "done"
    assert (await event_types(db, project["id"]))[-1] == "project.handover_recorded"


async def test_launch_starts_a_30_day_support_window(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    await walk(client, app, clock, staff, client_key, project["id"], "delivery")
    problem(await post(client, project["id"], "launch", staff), 409, "phase-transition")
    await post(client, project["id"], "handover", staff, HANDOVER)
    problem(await post(client, project["id"], "launch", client_key), 403)
    clock.set(datetime(2027, 2, 1, 12, 0, tzinfo=UTC))
    problem(await post(client, project["id"], "launch", staff), 409, "no-acceptance-criteria")
    response = await post(client, project["id"], "launch", staff, WAIVER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["phase"] == "support"
    assert body["launched_at"] == "2027-02-01T12:00:00Z"
    assert body["support_ends_at"] == "2027-03-03T12:00:00Z"
    assert body["milestones"][3] == {
        "name": "launch",
        "due_on": None,
        "done_at": "2027-02-01T12:00:00Z",
        "state": "done",
    }
    assert body["milestones"][4] == {
        "name": "support_end",
        "due_on": "2027-03-03",
        "done_at": None,
        "state": "upcoming",
    }
    assert (await event_types(db, project["id"]))[-1] == "project.launched"


async def test_support_window_keeps_the_local_time_across_a_dst_change(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
) -> None:
    await walk(client, app, clock, staff, client_key, project["id"], "acceptance")
    clock.set(datetime(2027, 3, 15, 11, 0, tzinfo=UTC))  # 12:00 CET in Warsaw
    body = (await post(client, project["id"], "launch", staff, WAIVER)).json()
    assert body["support_ends_at"] == "2027-04-14T10:00:00Z"  # 12:00 CEST: clocks went forward on 28 March


async def test_launch_is_refused_while_a_guard_blocks_it(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    await walk(client, app, clock, staff, client_key, project["id"], "acceptance")
    checked: list[UUID] = []

    async def criteria_pending(conn: Conn, project_id: UUID, request: LaunchIn) -> service.Blocker | None:
        checked.append(project_id)
        return service.Blocker("criteria-not-met", "2 acceptance criteria are neither met nor waived")

    async def passes(conn: Conn, project_id: UUID, request: LaunchIn) -> service.Blocker | None:
        return None

    monkeypatch.setattr(service, "LAUNCH_GUARDS", [passes, criteria_pending])
    found = problem(await post(client, project["id"], "launch", staff), 409, "criteria-not-met")
    assert found["extra"] == {
        "blockers": ["2 acceptance criteria are neither met nor waived"],
        "rules": ["criteria-not-met"],
    }
    assert checked == [UUID(project["id"])]
    read = (await client.get(f"/v1/projects/{project['id']}", headers=staff)).json()
    assert read["phase"] == "acceptance"
    assert read["launched_at"] is None
    monkeypatch.setattr(service, "LAUNCH_GUARDS", [passes])
    assert (await post(client, project["id"], "launch", staff)).status_code == 200


# --- hold, resume, cancel, close ------------------------------------------------------------------


async def test_hold_remembers_the_phase_and_resume_returns_to_it(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    await walk(client, app, clock, staff, client_key, project["id"], "delivery")
    problem(await post(client, project["id"], "hold", client_key, {"reason": "x"}), 403)
    clock.advance(timedelta(hours=1))
    held = await post(client, project["id"], "hold", staff, {"reason": "Budget review"})
    assert held.status_code == 200, held.text
    assert held.json()["phase"] == "on_hold"
    assert held.json()["resume_phase"] == "delivery"
    assert held.json()["phase_history"][-1]["reason"] == "Budget review"
    problem(await post(client, project["id"], "hold", staff, {"reason": "again"}), 409, "phase-transition")
    problem(await post(client, project["id"], "handover", staff, HANDOVER), 409, "phase-transition")
    problem(await post(client, project["id"], "resume", client_key), 403)
    resumed = await post(client, project["id"], "resume", staff, {"reason": "Budget approved"})
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["phase"] == "delivery"
    assert resumed.json()["resume_phase"] is None
    assert resumed.json()["phase_since"] == "2026-11-24T10:30:00Z"
    problem(await post(client, project["id"], "resume", staff), 409, "phase-transition")
    types = await event_types(db, project["id"])
    assert types[-2:] == ["project.on_hold", "project.resumed"]


async def test_a_proposal_can_be_held_and_resumed_without_a_reason(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    await post(client, project["id"], "hold", staff, {"reason": "Waiting for the client"})
    resumed = await post(client, project["id"], "resume", staff, {})
    assert resumed.json()["phase"] == "proposal"
    assert resumed.json()["phase_history"][-1]["reason"] is None


@pytest.mark.parametrize("action", ["hold", "cancel", "close"])
@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}, {"reason": None}])
async def test_reason_is_required(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any], action: str, body: Any
) -> None:
    found = problem(await post(client, project["id"], action, staff, body), 422, "reason-required")
    assert [e["pointer"] for e in found["errors"]] == ["/reason"]


async def test_cancel_from_discovery_cancels_the_timer(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    await start_discovery(app, clock, project["id"])
    problem(await post(client, project["id"], "cancel", {}, {"reason": "x"}), 401)
    response = await post(client, project["id"], "cancel", staff, {"reason": "The client went elsewhere"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["phase"] == "cancelled"
    assert body["cancelled_at"] == "2026-11-24T09:30:00Z"
    assert {m["state"] for m in body["milestones"]} == {"cancelled"}
    assert (await timer(db, project["id"]))["state"] == "cancelled"
    for action, payload in [
        ("cancel", {"reason": "twice"}),
        ("hold", {"reason": "x"}),
        ("resume", {}),
        ("architecture", ARCHITECTURE),
        ("close", {"reason": "x"}),
    ]:
        problem(await post(client, project["id"], action, staff, payload), 409, "phase-transition")
    assert (await event_types(db, project["id"]))[-1] == "project.cancelled"


async def test_cancel_while_on_hold_from_discovery_cancels_the_timer(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    await start_discovery(app, clock, project["id"])
    await post(client, project["id"], "hold", staff, {"reason": "Paused"})
    body = (await post(client, project["id"], "cancel", staff, {"reason": "Stopped"})).json()
    assert body["phase"] == "cancelled"
    assert body["resume_phase"] is None
    assert (await timer(db, project["id"]))["state"] == "cancelled"


async def test_close_early_from_support_only(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    await walk(client, app, clock, staff, client_key, project["id"], "acceptance")
    problem(await post(client, project["id"], "close", staff, {"reason": "Done"}), 409, "phase-transition")
    await post(client, project["id"], "launch", staff, WAIVER)
    problem(await post(client, project["id"], "close", client_key, {"reason": "Done"}), 403)
    clock.advance(timedelta(days=3))
    response = await post(
        client, project["id"], "close", staff, {"reason": "The client needs no more support"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["phase"] == "closed"
    assert body["closed_at"] == "2026-11-27T09:30:00Z"
    assert body["milestones"][4]["state"] == "done"
    problem(await post(client, project["id"], "hold", staff, {"reason": "x"}), 409, "phase-transition")
    problem(await post(client, project["id"], "cancel", staff, {"reason": "x"}), 409, "phase-transition")
    row = await db.fetchrow(
        "SELECT data, actor_role FROM domain_events WHERE project_id = $1 AND type = 'project.closed'",
        UUID(project["id"]),
    )
    assert row is not None
    assert row["actor_role"] == "staff"
    assert json.loads(row["data"])["early"] is True
    assert json.loads(row["data"])["reason"] == "The client needs no more support"


# --- preconditions, roles, history ----------------------------------------------------------------


async def test_stale_if_match_is_412(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    stale = await post(client, project["id"], "hold", {**staff, "If-Match": '"7"'}, {"reason": "x"})
    found = problem(stale, 412)
    assert found["extra"] == {"current_etag": '"1"'}
    held = await post(client, project["id"], "hold", {**staff, "If-Match": '"1"'}, {"reason": "x"})
    assert held.status_code == 200
    assert held.headers["etag"] == '"2"'
    problem(await post(client, project["id"], "resume", {**staff, "If-Match": '"1"'}), 412)


async def test_every_transition_writes_history_and_an_event(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    org: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    await walk(client, app, clock, staff, client_key, project["id"], "support")
    await post(client, project["id"], "hold", staff, {"reason": "Pause"})
    await post(client, project["id"], "resume", staff)
    body = (await post(client, project["id"], "close", staff, {"reason": "Early"})).json()
    assert [(h["from_phase"], h["to_phase"]) for h in body["phase_history"]] == [
        (None, "proposal"),
        ("proposal", "discovery"),
        ("discovery", "architecture_review"),
        ("architecture_review", "delivery"),
        ("delivery", "acceptance"),
        ("acceptance", "support"),
        ("support", "on_hold"),
        ("on_hold", "support"),
        ("support", "closed"),
    ]
    assert await events(db, project["id"]) == [
        (t, org["id"], project["id"])
        for t in [
            "project.created",
            "project.discovery_started",
            "project.architecture_submitted",
            "project.architecture_approved",
            "project.handover_recorded",
            "project.launched",
            "project.on_hold",
            "project.resumed",
            "project.closed",
        ]
    ]
    assert body["version"] == 9


async def test_history_lists_events_newest_first(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    stranger: dict[str, str],
    project: dict[str, Any],
) -> None:
    await walk(client, app, clock, staff, client_key, project["id"], "delivery")
    url = f"/v1/projects/{project['id']}/history"
    full = (await client.get(url, headers=staff)).json()
    assert [e["type"] for e in full["items"]] == [
        "project.architecture_approved",
        "project.architecture_submitted",
        "sla.met",
        "project.discovery_started",
        "project.created",
    ]
    assert full["next_cursor"] is None
    assert full["items"][0]["actor_role"] == "client"
    assert full["items"][0]["subject_id"] == project["id"]
    # the client reads the same history without the staff-only timer event
    mine = (await client.get(url, headers=client_key)).json()
    assert [e["id"] for e in mine["items"]] == [e["id"] for e in full["items"] if e["type"] != "sla.met"]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, params=params, headers=staff)).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [e["id"] for e in full["items"]]
    problem(await client.get(url, headers=stranger), 404)
    problem(await client.get(url, params={"cursor": "garbage!"}, headers=staff), 422)


async def test_role_boundaries_on_every_project_route(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    stranger: dict[str, str],
    make_key: KeyMaker,
    project: dict[str, Any],
) -> None:
    await walk(client, app, clock, staff, client_key, project["id"], "architecture_review")
    intake = bearer(await make_key("intake"))
    base = f"/v1/projects/{project['id']}"
    reads = [base, f"{base}/status", f"{base}/history"]
    for url in [*reads, "/v1/projects"]:
        problem(await client.get(url), 401)
        problem(await client.get(url, headers=intake), 403)
    for url in reads:
        problem(await client.get(url, headers=stranger), 404)
    staff_actions = ["architecture", "handover", "launch", "hold", "resume", "cancel", "close"]
    for action in [*staff_actions, "architecture/approve"]:
        problem(await post(client, project["id"], action, {}, {}), 401)
        problem(await post(client, project["id"], action, intake, {}), 403)
    for action in staff_actions:
        problem(await post(client, project["id"], action, client_key, {"reason": "x"}), 403)
        problem(await post(client, project["id"], action, stranger, {"reason": "x"}), 403)
    problem(await post(client, project["id"], "architecture/approve", stranger), 404)
    problem(await post(client, project["id"], "architecture/approve", staff), 403)
    read = (await client.get(base, headers=staff)).json()
    assert read["phase"] == "architecture_review"
    assert read["version"] == 3


async def test_idempotent_transition_is_replayed(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any], db: asyncpg.Connection
) -> None:
    headers = {**staff, "Idempotency-Key": "hold-1"}
    first = await post(client, project["id"], "hold", headers, {"reason": "Pause"})
    again = await post(client, project["id"], "hold", headers, {"reason": "Pause"})
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert (await event_types(db, project["id"])).count("project.on_hold") == 1
