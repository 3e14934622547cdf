"""Post-launch support through the HTTP API: window, first-response timer, conversation, report, roles."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar

from api.db import UnitOfWork
from api.domain.events import outbox
from api.domain.projects.schemas import ProjectStatus
from api.domain.support import service
from api.domain.support.schemas import SupportRequest
from api.kit.auth import Principal
from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.project_helpers import new_project, post, walk

# The projects launch at the conftest's START, Tuesday 2026-11-24 09:30 UTC: the window runs until
# Thursday 2026-12-24 09:30 UTC.
LAUNCHED = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
WINDOW_ENDS = LAUNCHED + timedelta(days=30)
WED_10 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def at(hours: float) -> datetime:
    """``hours`` after Wednesday 2026-11-25 10:00 UTC."""
    return WED_10 + timedelta(hours=hours)


def z(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def problem(response: httpx.Response, status: int, rule: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    if rule is not None:
        assert body["rule"] == rule, body
    return body


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


async def launched_project(
    http: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    client_id: str,
    **fields: Any,
) -> dict[str, Any]:
    """A project walked to launch at the clock's instant."""
    created = await new_project(http, staff, client_id, **fields)
    return await walk(http, app, clock, staff, client_key, created["id"], "support")


@pytest.fixture
async def project(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
) -> dict[str, Any]:
    launched = await launched_project(client, app, clock, staff, client_key, org["id"])
    assert launched["launched_at"] == z(LAUNCHED)
    clock.set(WED_10)
    return launched


async def open_request(
    http: httpx.AsyncClient,
    project_id: str,
    headers: dict[str, str],
    kind: str = "bug",
    subject: str = "Recommendations are empty",
    body: str = "Since 9:00 the endpoint returns an empty list for user 42.",
) -> dict[str, Any]:
    response = await http.post(
        f"/v1/projects/{project_id}/support-requests",
        json={"kind": kind, "subject": subject, "body": body},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def respond(
    http: httpx.AsyncClient,
    request_id: str,
    headers: dict[str, str],
    message: str = "Looking into it.",
    **fields: Any,
) -> httpx.Response:
    return await http.post(
        f"/v1/support-requests/{request_id}/responses", json={"message": message, **fields}, headers=headers
    )


async def act(
    http: httpx.AsyncClient, request_id: str, action: str, headers: dict[str, str], body: Any = None
) -> httpx.Response:
    return await http.post(
        f"/v1/support-requests/{request_id}/{action}", json=body if body is not None else {}, headers=headers
    )


async def read(http: httpx.AsyncClient, request_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = await http.get(f"/v1/support-requests/{request_id}", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def events(
    db: asyncpg.Connection, request_id: str, prefix: str = "support_request."
) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT type, actor_role, client_id, project_id, data FROM domain_events"
        " WHERE subject_id = $1 AND type LIKE $2 || '%' ORDER BY seq",
        UUID(request_id),
        prefix,
    )
    return [{**dict(r), "data": json.loads(r["data"])} for r in rows]


async def timer_log(db: asyncpg.Connection, request_id: str) -> list[str]:
    rows = await db.fetch(
        "SELECT e.event FROM sla_timer_events e JOIN sla_timers t ON t.id = e.timer_id"
        " WHERE t.subject_id = $1 ORDER BY e.id",
        UUID(request_id),
    )
    return [r["event"] for r in rows]


# --- opening and the first-response timer ---------------------------------------------------------


async def test_a_request_opened_at_10_is_due_at_10_the_next_day(
    client: httpx.AsyncClient,
    client_key: dict[str, str],
    staff: dict[str, str],
    org: dict[str, Any],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    response = await client.post(
        f"/v1/projects/{project['id']}/support-requests",
        json={"kind": "bug", "subject": "  Recommendations are empty ", "body": "User 42 gets []."},
        headers=client_key,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert response.headers["location"] == f"/v1/support-requests/{created['id']}"
    assert response.headers["etag"] == '"1"'
    assert created["status"] == "open"
    assert created["opened_at"] == "2026-11-25T10:00:00Z"
    assert created["first_response_due_at"] == "2026-11-26T10:00:00Z"
    assert created["subject"] == "Recommendations are empty"
    assert created["opened_by"] == "client"
    assert created["project_id"] == project["id"]
    assert created["client_id"] == org["id"]
    assert created["first_response_at"] is None
    assert created["change_request_id"] is None
    assert created["conversation"] == []
    assert created["responses"] == 0
    timer = created["timer"]
    assert timer["state"] == "running"
    assert timer["unit"] == "clock"
    assert timer["started_at"] == "2026-11-25T10:00:00Z"
    assert timer["warn_at"] == "2026-11-26T04:00:00Z"
    assert timer["due_at"] == "2026-11-26T10:00:00Z"
    assert timer["paused_seconds"] == 0
    assert await read(client, created["id"], staff) == created

    row = await db.fetchrow(
        "SELECT kind, subject_type, project_id, client_id, data FROM sla_timers WHERE subject_id = $1",
        UUID(created["id"]),
    )
    assert row is not None
    assert (row["kind"], row["subject_type"]) == ("support_first_response", "support_request")
    assert (str(row["project_id"]), str(row["client_id"])) == (project["id"], org["id"])
    assert json.loads(row["data"]) == {
        "project_name": "Recommender",
        "client_name": "Acme",
        "subject": "Recommendations are empty",
        "request_kind": "bug",
    }
    [opened] = await events(db, created["id"])
    assert opened["type"] == "support_request.opened"
    assert opened["actor_role"] == "client"
    assert (str(opened["client_id"]), str(opened["project_id"])) == (org["id"], project["id"])
    data = opened["data"]
    assert data["project_name"] == "Recommender"
    assert data["client_name"] == "Acme"
    assert data["kind"] == "bug"
    assert data["subject"] == "Recommendations are empty"
    assert data["body"] == "User 42 gets []."
    assert data["first_response_due_at"] == "2026-11-26T10:00:00Z"


async def test_staff_may_open_a_request_for_the_client(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    created = await open_request(client, project["id"], staff, kind="question", subject="How to retrain?")
    assert created["opened_by"] == "staff"
    assert created["kind"] == "question"
    assert created["first_response_due_at"] == "2026-11-26T10:00:00Z"


async def test_the_first_staff_response_meets_the_timer(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    created = await open_request(client, project["id"], client_key)
    clock.set(at(1))
    more = await respond(client, created["id"], client_key, "It also fails for user 7.")
    assert more.status_code == 201, more.text
    assert more.json()["timer"]["state"] == "running"
    assert more.json()["first_response_at"] is None
    clock.set(at(3))
    answered = await respond(client, created["id"], staff, "Fixed: the cache was stale.")
    assert answered.status_code == 201, answered.text
    body = answered.json()
    assert answered.headers["etag"] == '"3"'
    assert body["status"] == "open"
    assert body["first_response_at"] == z(at(3))
    assert body["timer"]["state"] == "met"
    assert body["timer"]["met_at"] == z(at(3))
    clock.set(at(4))
    again = (await respond(client, created["id"], staff, "Deployed to production.")).json()
    assert again["first_response_at"] == z(at(3))
    conversation = again["conversation"]
    assert [(m["by"], m["first_response"], m["created_at"]) for m in conversation] == [
        ("client", False, z(at(1))),
        ("staff", True, z(at(3))),
        ("staff", False, z(at(4))),
    ]
    assert conversation[0]["author_name"] == "Acme portal"
    assert conversation[1]["author_name"] == "test key"
    assert conversation[1]["message"] == "Fixed: the cache was stale."
    assert not any(m["automatic"] or m["awaiting_client"] for m in conversation)
    assert again["responses"] == 3
    assert await timer_log(db, created["id"]) == ["started", "met"]
    responded = [e for e in await events(db, created["id"]) if e["type"] == "support_request.responded"]
    assert [(e["data"]["by"], e["data"]["first_response"], e["actor_role"]) for e in responded] == [
        ("client", False, "client"),
        ("staff", True, "staff"),
        ("staff", False, "staff"),
    ]
    assert responded[1]["data"]["message"] == "Fixed: the cache was stale."
    assert responded[1]["data"]["responder_role"] == "staff"
    assert responded[1]["data"]["project_name"] == "Recommender"


async def test_a_clarifying_question_is_the_first_response_and_the_client_answers_it(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    created = await open_request(client, project["id"], client_key)
    clock.set(at(2))
    asked = await respond(client, created["id"], staff, "Which region?", awaiting_client=True)
    assert asked.status_code == 201, asked.text
    body = asked.json()
    assert body["status"] == "awaiting_client"
    # a public question to the client is the shop's first response, as service desks count it
    assert body["first_response_at"] == z(at(2))
    assert body["timer"]["state"] == "met"
    assert body["conversation"][0]["awaiting_client"] is True
    assert body["conversation"][0]["first_response"] is True
    clock.set(at(7))
    answered = (await respond(client, created["id"], client_key, "eu-west-1")).json()
    assert (answered["status"], answered["timer"]["state"]) == ("open", "met")
    assert await timer_log(db, created["id"]) == ["started", "met"]
    seconds = await db.fetchval(
        "SELECT first_response_seconds FROM support_requests WHERE id = $1", UUID(created["id"])
    )
    assert seconds == 2 * 3600


async def test_a_second_question_is_no_second_first_response(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    created = await open_request(client, project["id"], client_key)
    clock.set(at(1))
    await respond(client, created["id"], staff, "Can you send logs?", awaiting_client=True)
    clock.set(at(4))
    again = (await respond(client, created["id"], staff, "Still need them.", awaiting_client=True)).json()
    assert again["status"] == "awaiting_client"
    assert again["first_response_at"] == z(at(1))
    assert [m["first_response"] for m in again["conversation"]] == [True, False]
    assert await timer_log(db, created["id"]) == ["started", "met"]
    report = (await client.get(f"/v1/projects/{project['id']}/sla-report", headers=staff)).json()
    assert report["median_first_response_seconds"] == 3600
    assert report["paused_seconds"] == 0


async def test_awaiting_client_after_the_first_response_leaves_the_timer_alone(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    created = await open_request(client, project["id"], client_key)
    clock.set(at(1))
    await respond(client, created["id"], staff, "We are on it.")
    clock.set(at(2))
    asked = (await respond(client, created["id"], staff, "Did the fix work?", awaiting_client=True)).json()
    assert asked["status"] == "awaiting_client"
    assert asked["timer"]["state"] == "met"
    clock.set(at(30))
    back = (await respond(client, created["id"], client_key, "Yes, thanks.")).json()
    assert back["status"] == "open"
    assert back["timer"]["state"] == "met"
    assert await timer_log(db, created["id"]) == ["started", "met"]


async def test_concurrent_staff_responses_meet_the_timer_once(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    created = await open_request(client, project["id"], client_key)
    clock.set(at(1))
    answers = await asyncio.gather(*(respond(client, created["id"], staff, f"Answer {i}") for i in range(8)))
    assert [r.status_code for r in answers] == [201] * 8
    body = await read(client, created["id"], staff)
    assert len(body["conversation"]) == 8
    assert [m["first_response"] for m in body["conversation"]] == [True] + [False] * 7
    assert body["version"] == 9
    assert await timer_log(db, created["id"]) == ["started", "met"]
    firsts = [e for e in await events(db, created["id"]) if e["data"].get("first_response")]
    assert len(firsts) == 1


async def test_the_conversation_is_append_only(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    created = await open_request(client, project["id"], client_key)
    await respond(client, created["id"], staff, "On it.")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("UPDATE support_responses SET message = 'edited'")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("DELETE FROM support_responses")


async def test_a_late_first_response_keeps_the_breach(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
) -> None:
    created = await open_request(client, project["id"], client_key)
    clock.set(at(25))
    body = (await respond(client, created["id"], staff, "Sorry for the delay.")).json()
    assert body["timer"]["state"] == "breached"
    assert body["timer"]["breached_at"] == z(at(25))
    assert body["timer"]["met_at"] == z(at(25))
    assert body["first_response_at"] == z(at(25))
    assert body["conversation"][0]["first_response"] is True


async def test_only_staff_responses_wait_on_the_client(
    client: httpx.AsyncClient, client_key: dict[str, str], project: dict[str, Any]
) -> None:
    created = await open_request(client, project["id"], client_key)
    refused = problem(await respond(client, created["id"], client_key, "Hm?", awaiting_client=True), 422)
    assert [e["pointer"] for e in refused["errors"]] == ["/awaiting_client"]
    assert (await read(client, created["id"], client_key))["conversation"] == []


async def test_business_hours_support_counts_working_time(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
) -> None:
    project = await launched_project(
        client, app, clock, staff, client_key, org["id"], business_hours_support=True
    )
    # Wednesday 10:00 Warsaw: 8 h on Wednesday, 9 h on Thursday, 7 h on Friday → Friday 16:00 Warsaw
    clock.set(datetime(2026, 11, 25, 9, 0, tzinfo=UTC))
    created = await open_request(client, project["id"], client_key)
    assert created["timer"]["unit"] == "business"
    assert created["first_response_due_at"] == "2026-11-27T15:00:00Z"
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))  # Thursday 10:00 Warsaw: 9 business hours later
    await respond(client, created["id"], staff, "Answered.")
    report = (await client.get(f"/v1/projects/{project['id']}/sla-report", headers=client_key)).json()
    assert report["unit"] == "business"
    assert report["median_first_response_seconds"] == 9 * 3600


# --- the support window ---------------------------------------------------------------------------


async def test_a_project_that_never_launched_refuses_requests(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], org: dict[str, Any]
) -> None:
    created = await new_project(client, staff, org["id"])
    response = await client.post(
        f"/v1/projects/{created['id']}/support-requests",
        json={"kind": "question", "subject": "Hello", "body": "Is support on?"},
        headers=client_key,
    )
    body = problem(response, 409, "outside-support-window")
    assert body["extra"] == {"window_starts_at": None, "window_ends_at": None}
    assert "not launched" in body["detail"]


async def test_a_request_on_day_31_is_refused_with_the_windows_end(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    clock.set(WINDOW_ENDS - timedelta(seconds=1))
    last = await open_request(client, project["id"], client_key, subject="Last minute")
    assert last["first_response_due_at"] == z(WINDOW_ENDS + timedelta(hours=24, seconds=-1))
    for instant in (WINDOW_ENDS, LAUNCHED + timedelta(days=30, hours=5)):
        clock.set(instant)
        response = await client.post(
            f"/v1/projects/{project['id']}/support-requests",
            json={"kind": "bug", "subject": "Late", "body": "Broken again"},
            headers=client_key,
        )
        body = problem(response, 409, "outside-support-window")
        assert body["extra"] == {
            "window_starts_at": "2026-11-24T09:30:00Z",
            "window_ends_at": "2026-12-24T09:30:00Z",
        }
        assert "2026-11-24T09:30:00Z" in body["detail"]
        assert "2026-12-24T09:30:00Z" in body["detail"]
    count = await db.fetchval(
        "SELECT count(*) FROM support_requests WHERE project_id = $1", UUID(project["id"])
    )
    assert count == 1
    # a request opened inside the window is still answered after it ends
    answered = await respond(client, last["id"], client_key, "Any news?")
    assert answered.status_code == 201


async def test_closing_the_project_early_ends_the_window(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
) -> None:
    closed = await post(client, project["id"], "close", staff, {"reason": "Client ended the contract"})
    assert closed.status_code == 200, closed.text
    clock.set(at(1))
    response = await client.post(
        f"/v1/projects/{project['id']}/support-requests",
        json={"kind": "bug", "subject": "Late", "body": "Broken"},
        headers=client_key,
    )
    body = problem(response, 409, "outside-support-window")
    assert body["extra"]["window_ends_at"] == z(WED_10)
    assert "closed" in body["detail"]
    status = (await client.get(f"/v1/projects/{project['id']}/status", headers=client_key)).json()
    assert status["support"]["window_ends_at"] == z(WED_10)


async def test_a_project_on_hold_inside_its_window_takes_requests(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project: dict[str, Any]
) -> None:
    held = await post(client, project["id"], "hold", staff, {"reason": "Budget review"})
    assert held.status_code == 200, held.text
    created = await open_request(client, project["id"], client_key)
    assert created["status"] == "open"


# --- feature requests -----------------------------------------------------------------------------


async def test_a_feature_request_is_answered_as_not_covered(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    created = await open_request(
        client, project["id"], client_key, kind="feature_request", subject="Add a CSV export", body="Weekly."
    )
    assert created["status"] == "redirected"
    draft = await db.fetchrow(
        "SELECT status, title FROM change_requests WHERE id = $1", UUID(created["change_request_id"])
    )
    assert draft is not None
    assert (draft["status"], draft["title"]) == ("submitted", "Add a CSV export")
    assert created["first_response_at"] == z(WED_10)
    assert created["timer"]["state"] == "met"
    assert created["timer"]["met_at"] == z(WED_10)
    [answer] = created["conversation"]
    assert answer["by"] == "staff"
    assert answer["automatic"] is True
    assert answer["first_response"] is True
    assert answer["author_key_id"] is None
    assert "not covered" in answer["message"].lower()
    types = [e["type"] for e in await events(db, created["id"])]
    assert types == ["support_request.opened", "support_request.responded", "support_request.redirected"]
    redirected = (await events(db, created["id"]))[2]
    assert redirected["data"]["title"] == "Add a CSV export"
    assert redirected["data"]["description"] == "Weekly."
    assert redirected["data"]["support_request_id"] == created["id"]
    assert redirected["data"]["change_request_id"] == created["change_request_id"]
    assert redirected["data"]["opened_by"] == "client"
    assert redirected["data"]["client_id"] == org["id"]
    responded = (await events(db, created["id"]))[1]
    assert responded["data"]["by"] == "staff"
    assert responded["data"]["automatic"] is True
    # the client may not argue it back into support; staff may
    refused = problem(await act(client, created["id"], "reopen", client_key), 409, "not-covered-by-support")
    assert refused["extra"] == {"change_request_id": created["change_request_id"]}
    reopened = await act(client, created["id"], "reopen", staff, {"message": "This is a bug after all."})
    assert reopened.status_code == 200, reopened.text
    assert reopened.json()["status"] == "open"
    assert reopened.json()["timer"]["state"] == "running"  # reopened: it waits for an answer again


async def test_a_registered_hook_links_a_draft_change_request(
    client: httpx.AsyncClient, client_key: dict[str, str], project: dict[str, Any], db: asyncpg.Connection
) -> None:
    draft = uuid4()
    seen: list[tuple[SupportRequest, Principal, datetime]] = []

    async def create_draft_from_support(
        uow: UnitOfWork, request: SupportRequest, opener: Principal, now: datetime
    ) -> UUID | None:
        seen.append((request, opener, now))
        await outbox.emit(
            uow,
            "change_request.submitted",
            subject_type="change_request",
            subject_id=draft,
            data={"support_request_id": str(request.id)},
            now=now,
        )
        return draft

    async def second(
        uow: UnitOfWork, request: SupportRequest, opener: Principal, now: datetime
    ) -> UUID | None:
        return uuid4()

    service.ON_FEATURE_REQUEST[:0] = [create_draft_from_support, second]  # ahead of the change-request hook
    try:
        created = await open_request(client, project["id"], client_key, kind="feature_request")
    finally:
        service.ON_FEATURE_REQUEST.remove(create_draft_from_support)
        service.ON_FEATURE_REQUEST.remove(second)
    assert created["change_request_id"] == str(draft)
    assert created["status"] == "redirected"
    assert created["conversation"][0]["message"] == service.NOT_COVERED_WITH_DRAFT
    assert "/v1" not in created["conversation"][0]["message"]
    [(request, opener, now)] = seen
    assert (str(request.id), request.kind, request.status) == (created["id"], "feature_request", "open")
    assert opener.role == "client"
    assert now == WED_10
    assert (
        await db.fetchval(
            "SELECT count(*) FROM domain_events WHERE type = 'change_request.submitted' AND subject_id = $1",
            draft,
        )
        == 1
    )
    redirected = [e for e in await events(db, created["id"]) if e["type"] == "support_request.redirected"]
    assert redirected[0]["data"]["change_request_id"] == str(draft)


async def test_a_failing_hook_rolls_the_request_back(
    client: httpx.AsyncClient, client_key: dict[str, str], project: dict[str, Any], db: asyncpg.Connection
) -> None:
    async def broken(
        uow: UnitOfWork, request: SupportRequest, opener: Principal, now: datetime
    ) -> UUID | None:
        raise RuntimeError("change requests are down")

    service.ON_FEATURE_REQUEST.append(broken)
    try:
        response = await client.post(
            f"/v1/projects/{project['id']}/support-requests",
            json={"kind": "feature_request", "subject": "Export", "body": "CSV"},
            headers=client_key,
        )
    finally:
        service.ON_FEATURE_REQUEST.remove(broken)
    problem(response, 500)
    assert await db.fetchval("SELECT count(*) FROM support_requests") == 0
    assert await db.fetchval("SELECT count(*) FROM sla_timers WHERE kind = 'support_first_response'") == 0
    assert await db.fetchval("SELECT count(*) FROM domain_events WHERE type LIKE 'support_request.%'") == 0


# --- resolve and reopen ---------------------------------------------------------------------------


async def test_resolve_with_a_last_message_and_reopen(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    created = await open_request(client, project["id"], client_key)
    clock.set(at(2))
    problem(await act(client, created["id"], "resolve", client_key), 403)
    resolved = await act(client, created["id"], "resolve", staff, {"message": "Fixed in 1.4.2."})
    assert resolved.status_code == 200, resolved.text
    body = resolved.json()
    assert body["status"] == "resolved"
    assert body["resolved_at"] == z(at(2))
    assert body["first_response_at"] == z(at(2))
    assert body["timer"]["state"] == "met"
    assert [(m["by"], m["first_response"]) for m in body["conversation"]] == [("staff", True)]
    problem(await act(client, created["id"], "resolve", staff), 409, "support-request-closed")
    problem(await respond(client, created["id"], client_key, "Broken again"), 409, "support-request-closed")
    clock.set(at(30))
    reopened = await act(client, created["id"], "reopen", client_key, {"message": "Broken again."})
    assert reopened.status_code == 200, reopened.text
    body = reopened.json()
    assert body["status"] == "open"
    assert body["reopened_at"] == z(at(30))
    assert body["resolved_at"] is None
    # a new first-response timer starts at the reopening; the first answer stays on record
    assert body["timer"]["state"] == "running"
    assert body["timer"]["started_at"] == z(at(30))
    assert body["first_response_due_at"] == z(at(54))
    assert body["first_response_at"] == z(at(2))
    assert [(m["by"], m["message"]) for m in body["conversation"]][1] == ("client", "Broken again.")
    assert await timer_log(db, created["id"]) == ["started", "met", "started"]
    problem(await act(client, created["id"], "reopen", client_key), 409, "support-request-not-closed")
    types = [e["type"] for e in await events(db, created["id"])]
    assert types == [
        "support_request.opened",
        "support_request.responded",
        "support_request.resolved",
        "support_request.responded",
        "support_request.reopened",
    ]


async def test_resolving_without_a_response_meets_the_timer(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
) -> None:
    created = await open_request(client, project["id"], client_key)
    clock.set(at(1))
    await respond(client, created["id"], client_key, "More details: it happens on Mondays.")
    clock.set(at(4))
    body = (await act(client, created["id"], "resolve", staff)).json()
    assert body["status"] == "resolved"
    assert body["conversation"][-1]["first_response"] is False
    assert body["timer"]["state"] == "met"
    assert body["timer"]["met_at"] == z(at(4))
    assert body["first_response_at"] == z(at(4))


async def test_reopen_only_inside_the_window(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
) -> None:
    created = await open_request(client, project["id"], client_key)
    await act(client, created["id"], "resolve", staff)
    clock.set(WINDOW_ENDS + HOUR)
    body = problem(await act(client, created["id"], "reopen", client_key), 409, "outside-support-window")
    assert body["extra"]["window_ends_at"] == z(WINDOW_ENDS)
    assert (await read(client, created["id"], client_key))["status"] == "resolved"


async def test_stale_if_match_is_412(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project: dict[str, Any]
) -> None:
    created = await open_request(client, project["id"], client_key)
    first = await respond(client, created["id"], {**staff, "If-Match": '"1"'}, "On it.")
    assert first.status_code == 201
    assert first.headers["etag"] == '"2"'
    stale = await act(client, created["id"], "resolve", {**staff, "If-Match": '"1"'})
    problem(stale, 412)
    assert (await act(client, created["id"], "resolve", {**staff, "If-Match": '"2"'})).status_code == 200


async def test_opening_is_idempotent_with_a_key(
    client: httpx.AsyncClient, client_key: dict[str, str], project: dict[str, Any], db: asyncpg.Connection
) -> None:
    headers = {**client_key, "Idempotency-Key": "support-1"}
    body = {"kind": "bug", "subject": "Down", "body": "500s"}
    url = f"/v1/projects/{project['id']}/support-requests"
    first = await client.post(url, json=body, headers=headers)
    again = await client.post(url, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await db.fetchval("SELECT count(*) FROM support_requests") == 1


# --- validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"kind": "bug", "subject": "   ", "body": "x"}, "/subject"),
        ({"kind": "bug", "subject": "x", "body": " \n "}, "/body"),
        ({"kind": "complaint", "subject": "x", "body": "x"}, "/kind"),
        ({"kind": "bug", "subject": "x" * 201, "body": "x"}, "/subject"),
        ({"kind": "bug", "subject": "x", "body": "x", "priority": "high"}, "/priority"),
        ({"kind": "bug", "subject": "x"}, "/body"),
    ],
)
async def test_bad_requests_are_422_with_a_pointer(
    client: httpx.AsyncClient,
    client_key: dict[str, str],
    project: dict[str, Any],
    body: dict[str, Any],
    pointer: str,
) -> None:
    response = await client.post(
        f"/v1/projects/{project['id']}/support-requests", json=body, headers=client_key
    )
    refused = problem(response, 422)
    assert pointer in [e["pointer"] for e in refused["errors"]], refused


async def test_blank_and_unknown_response_fields_are_422(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project: dict[str, Any]
) -> None:
    created = await open_request(client, project["id"], client_key)
    blank = problem(await respond(client, created["id"], staff, "   "), 422)
    assert [e["pointer"] for e in blank["errors"]] == ["/message"]
    extra = problem(await respond(client, created["id"], staff, "x", internal=True), 422)
    assert [e["pointer"] for e in extra["errors"]] == ["/internal"]
    blank_resolve = problem(await act(client, created["id"], "resolve", staff, {"message": ""}), 422)
    assert [e["pointer"] for e in blank_resolve["errors"]] == ["/message"]


# --- lists, reads and roles -----------------------------------------------------------------------


async def test_list_filters_and_paginates(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
) -> None:
    ids = []
    for i, kind in enumerate(["bug", "question", "feature_request", "bug", "question"]):
        clock.set(at(i))
        ids.append((await open_request(client, project["id"], client_key, kind=kind, subject=f"#{i}"))["id"])
    await act(client, ids[3], "resolve", staff)
    url = f"/v1/projects/{project['id']}/support-requests"
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(url, params=params, headers=client_key)).json()
        seen.extend(item["id"] for item in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    items = (await client.get(url, headers=staff)).json()["items"]
    assert "conversation" not in items[0]
    assert items[2]["responses"] == 1
    assert items[0]["first_response_due_at"] == z(at(24))
    bugs = (await client.get(url, params={"kind": "bug"}, headers=staff)).json()["items"]
    assert [i["id"] for i in bugs] == [ids[0], ids[3]]
    resolved = (await client.get(url, params={"status": "resolved"}, headers=staff)).json()["items"]
    assert [i["id"] for i in resolved] == [ids[3]]
    redirected = (await client.get(url, params={"status": "redirected"}, headers=staff)).json()["items"]
    assert [i["id"] for i in redirected] == [ids[2]]
    problem(await client.get(url, params={"status": "closed"}, headers=staff), 422)
    problem(await client.get(url, params={"cursor": "not-a-cursor"}, headers=staff), 422)


async def test_unknown_ids_are_404(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    missing = uuid4()
    problem(await client.get(f"/v1/support-requests/{missing}", headers=staff), 404)
    problem(await respond(client, str(missing), staff), 404)
    problem(await client.get(f"/v1/projects/{missing}/support-requests", headers=staff), 404)
    problem(await client.get(f"/v1/projects/{missing}/sla-report", headers=staff), 404)
    problem(
        await client.post(
            f"/v1/projects/{missing}/support-requests",
            json={"kind": "bug", "subject": "x", "body": "y"},
            headers=staff,
        ),
        404,
    )


async def test_role_boundaries_on_every_support_route(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    stranger: dict[str, str],
    make_key: KeyMaker,
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    created = await open_request(client, project["id"], client_key)
    intake = bearer(await make_key("intake"))
    rid, pid = created["id"], project["id"]
    body = {"kind": "bug", "subject": "x", "body": "y"}
    routes: list[tuple[str, str, Any]] = [
        ("POST", f"/v1/projects/{pid}/support-requests", body),
        ("GET", f"/v1/projects/{pid}/support-requests", None),
        ("GET", f"/v1/support-requests/{rid}", None),
        ("POST", f"/v1/support-requests/{rid}/responses", {"message": "hello"}),
        ("POST", f"/v1/support-requests/{rid}/resolve", {}),
        ("POST", f"/v1/support-requests/{rid}/reopen", {}),
        ("GET", f"/v1/projects/{pid}/sla-report", None),
    ]
    for method, url, payload in routes:
        problem(await client.request(method, url, json=payload), 401)
        problem(await client.request(method, url, json=payload, headers=intake), 403)
        expected = 403 if url.endswith("/resolve") else 404
        problem(await client.request(method, url, json=payload, headers=stranger), expected)
    problem(await act(client, rid, "resolve", client_key), 403)
    for method, url, _ in routes:
        if method == "GET":
            assert (await client.get(url, headers=client_key)).status_code == 200
    after = await read(client, rid, staff)
    assert after["version"] == 1
    assert after["conversation"] == []
    assert await db.fetchval("SELECT count(*) FROM support_requests") == 1


# --- the SLA report and the status document -------------------------------------------------------


async def test_sla_report_and_status_figures(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
) -> None:
    url = f"/v1/projects/{project['id']}/sla-report"
    empty = (await client.get(url, headers=client_key)).json()
    assert empty == {
        "project_id": project["id"],
        "unit": "clock",
        "window_starts_at": z(LAUNCHED),
        "window_ends_at": z(WINDOW_ENDS),
        "requests": 0,
        "open_requests": 0,
        "met": 0,
        "breached": 0,
        "pending": 0,
        "met_ratio": None,
        "first_responses": 0,
        "median_first_response_seconds": None,
        "p90_first_response_seconds": None,
        "paused_seconds": 0,
        "generated_at": z(WED_10),
    }
    a, b, c, d = [(await open_request(client, project["id"], client_key, subject=s))["id"] for s in "ABCD"]
    e = (await open_request(client, project["id"], client_key, kind="feature_request"))["id"]
    clock.set(at(1))
    await respond(client, a, staff, "A answered after 1 h")
    clock.set(at(2))
    await respond(client, b, staff, "B asked which user after 2 h: the first response", awaiting_client=True)
    clock.set(at(7))
    await respond(client, b, client_key, "User 42")
    clock.set(at(8))
    await respond(client, b, staff, "Fixed for user 42")
    clock.set(at(10))
    await respond(client, c, staff, "C answered after 10 h")
    clock.set(at(25))
    await respond(client, d, staff, "D answered after 25 h: breached")
    f = (await open_request(client, project["id"], client_key, subject="F"))["id"]
    await act(client, a, "resolve", staff)
    report = (await client.get(url, headers=client_key)).json()
    assert report["requests"] == 6
    assert report["open_requests"] == 4  # b, c, d, f (a resolved, e redirected)
    assert (report["met"], report["breached"], report["pending"]) == (4, 1, 1)  # e's automatic answer met
    assert report["met_ratio"] == "0.8000"
    assert report["first_responses"] == 4
    # durations 3600, 7200, 36000, 90000 seconds
    assert report["median_first_response_seconds"] == pytest.approx(21600)
    assert report["p90_first_response_seconds"] == pytest.approx(73800)
    assert report["paused_seconds"] == 0
    assert report["generated_at"] == z(at(25))
    status = await client.get(f"/v1/projects/{project['id']}/status", headers=client_key)
    assert status.json()["support"] == {
        "window_starts_at": z(LAUNCHED),
        "window_ends_at": z(WINDOW_ENDS),
        "open_requests": 4,
        "first_response": {"met": 4, "breached": 1, "met_ratio": "0.8000"},
    }
    msgspec.json.decode(status.content, type=ProjectStatus, strict=True)
    assert {a, b, c, d, e, f}


async def test_status_support_part_before_any_request(
    client: httpx.AsyncClient, client_key: dict[str, str], project: dict[str, Any]
) -> None:
    status = (await client.get(f"/v1/projects/{project['id']}/status", headers=client_key)).json()
    assert status["support"] == {
        "window_starts_at": z(LAUNCHED),
        "window_ends_at": z(WINDOW_ENDS),
        "open_requests": 0,
        "first_response": {"met": 0, "breached": 0, "met_ratio": None},
    }


async def test_reports_are_per_project(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
    project: dict[str, Any],
) -> None:
    await open_request(client, project["id"], client_key)
    clock.set(LAUNCHED)
    other = await launched_project(client, app, clock, staff, client_key, org["id"], name="Search")
    report = (await client.get(f"/v1/projects/{other['id']}/sla-report", headers=staff)).json()
    assert report["requests"] == 0
    status = (await client.get(f"/v1/projects/{other['id']}/status", headers=staff)).json()
    assert status["support"]["open_requests"] == 0
