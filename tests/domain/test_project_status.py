"""GET /v1/projects/{id}/status: one document, two statements at most, ETag and 304."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar

from api.db import Conn, Pool
from api.domain.projects.schemas import ProjectStatus
from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.project_helpers import ARCHITECTURE, HANDOVER, new_project, post, start_discovery, walk


@pytest.fixture
async def org(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    return await create_client_org(client, staff, "Acme")


@pytest.fixture
async def client_key(make_key: KeyMaker, org: dict[str, Any]) -> dict[str, str]:
    return bearer(await make_key("client", org["id"]))


@pytest.fixture
async def project(client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> dict[str, Any]:
    return await new_project(client, staff, org["id"], currency="USD")


def url(project: dict[str, Any]) -> str:
    return f"/v1/projects/{project['id']}/status"


class CountingPool:
    """The app's pool, with every statement the app runs on its connections recorded.

    Each acquired connection carries an asyncpg query logger (``Connection.add_query_logger``) while the
    app holds it; the pool's own reset of a released connection is not the app's statement.
    """

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.queries: list[str] = []

    def _log(self, record: Any) -> None:
        self.queries.append(record.query)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)

    @asynccontextmanager
    async def acquire(self, **options: Any) -> AsyncIterator[Conn]:
        async with self.pool.acquire(**options) as conn:
            conn.add_query_logger(self._log)
            try:
                yield conn
            finally:
                conn.remove_query_logger(self._log)

    async def fetchrow(self, query: str, *args: Any, **options: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchrow(query, *args, **options)

    async def fetchval(self, query: str, *args: Any, **options: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetchval(query, *args, **options)

    async def fetch(self, query: str, *args: Any, **options: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.fetch(query, *args, **options)

    async def execute(self, query: str, *args: Any, **options: Any) -> Any:
        async with self.acquire() as conn:
            return await conn.execute(query, *args, **options)


@asynccontextmanager
async def counting(app: Litestar) -> AsyncIterator[CountingPool]:
    original = app.state.pool
    counter = CountingPool(original)
    app.state.pool = counter
    try:
        yield counter
    finally:
        app.state.pool = original


async def test_status_of_a_new_project(
    client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any], project: dict[str, Any]
) -> None:
    response = await client.get(url(project), headers=staff)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body == {
        "project": {
            "id": project["id"],
            "name": "Recommender",
            "currency": "USD",
            "phase": "proposal",
            "phase_since": "2026-11-24T09:30:00Z",
        },
        "client": {"id": org["id"], "name": "Acme"},
        "contract": {
            "baseline_price": None,
            "approved_changes": None,
            "pending_changes": None,
            "current_price": None,
            "baseline_delivery_date": None,
            "current_delivery_date": None,
            "scope_change_ratio": None,
        },
        "quote_awaiting_acceptance": None,
        "milestones": [
            {"name": name, "due_on": None, "done_at": None, "state": "unscheduled"}
            for name in ("discovery_end", "architecture_review", "delivery", "launch", "support_end")
        ],
        "acceptance": {"total": 0, "met": 0, "not_met": 0, "pending": 0, "waived": 0},
        "change_requests": {"open": 0, "awaiting_client_decision": []},
        "support": {
            "window_starts_at": None,
            "window_ends_at": None,
            "open_requests": 0,
            "first_response": {"met": 0, "breached": 0, "met_ratio": None},
        },
        "updated_at": "2026-11-24T09:30:00Z",
    }
    msgspec.json.decode(response.content, type=ProjectStatus, strict=True)


async def test_status_answers_from_at_most_two_statements(
    client: httpx.AsyncClient, app: Litestar, staff: dict[str, str], project: dict[str, Any]
) -> None:
    async with counting(app) as pool:
        response = await client.get(url(project), headers=staff)
    assert response.status_code == 200
    assert len(pool.queries) <= 2, pool.queries
    # AUTH_CACHE_SECONDS is 0 here: the key lookup is one of the two, the status document the other
    assert any("FROM api_keys" in q for q in pool.queries), pool.queries
    assert sum("json_build_object" in q for q in pool.queries) == 1, pool.queries
    async with counting(app) as pool:
        not_modified = await client.get(
            url(project), headers={**staff, "If-None-Match": response.headers["etag"]}
        )
    assert not_modified.status_code == 304
    assert len(pool.queries) <= 2, pool.queries


async def test_if_none_match_answers_304_until_something_changes(
    client: httpx.AsyncClient, clock: FrozenClock, staff: dict[str, str], project: dict[str, Any]
) -> None:
    first = await client.get(url(project), headers=staff)
    etag = first.headers["etag"]
    assert etag.startswith('"')
    clock.advance(timedelta(minutes=1))
    same = await client.get(url(project), headers={**staff, "If-None-Match": etag})
    assert same.status_code == 304
    assert same.content == b""
    assert same.headers["etag"] == etag
    other = await client.get(url(project), headers={**staff, "If-None-Match": '"something-else"'})
    assert other.status_code == 200
    assert other.content == first.content
    await post(client, project["id"], "hold", staff, {"reason": "Pause"})
    changed = await client.get(url(project), headers={**staff, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.json()["project"]["phase"] == "on_hold"
    assert changed.json()["updated_at"] == "2026-11-24T09:31:00Z"


async def test_status_is_visible_to_the_projects_client_only(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    make_key: KeyMaker,
    project: dict[str, Any],
) -> None:
    mine = await client.get(url(project), headers=client_key)
    assert mine.status_code == 200
    assert mine.content == (await client.get(url(project), headers=staff)).content
    other = await create_client_org(client, staff, "Other")
    stranger = bearer(await make_key("client", other["id"]))
    foreign = await client.get(url(project), headers=stranger)
    assert foreign.status_code == 404
    assert foreign.headers["content-type"] == "application/problem+json"
    assert (await client.get(url(project))).status_code == 401
    assert (await client.get(url(project), headers=bearer(await make_key("intake")))).status_code == 403


async def test_milestones_follow_the_project(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
) -> None:
    async def milestones() -> dict[str, dict[str, Any]]:
        body = (await client.get(url(project), headers=client_key)).json()
        return {m.pop("name"): m for m in body["milestones"]}

    await start_discovery(app, clock, project["id"])
    found = await milestones()
    assert found["discovery_end"] == {"due_on": "2026-11-30", "done_at": None, "state": "upcoming"}
    assert found["architecture_review"] == {"due_on": "2026-11-30", "done_at": None, "state": "upcoming"}
    assert found["delivery"] == {"due_on": None, "done_at": None, "state": "unscheduled"}
    clock.set(datetime(2026, 11, 30, 17, 0, 1, tzinfo=UTC))
    found = await milestones()
    assert found["discovery_end"]["state"] == "overdue"
    await post(client, project["id"], "architecture", staff, ARCHITECTURE)
    found = await milestones()
    assert found["discovery_end"] == {
        "due_on": "2026-11-30",
        "done_at": "2026-11-30T17:00:01Z",
        "state": "done",
    }
    assert found["architecture_review"]["state"] == "overdue"
    clock.advance(timedelta(days=1))
    await post(client, project["id"], "architecture/approve", client_key)
    await post(client, project["id"], "handover", staff, HANDOVER)
    launched = await post(client, project["id"], "launch", staff, {"without_criteria_reason": "Dashboards"})
    assert launched.status_code == 200, launched.text
    body = (await client.get(url(project), headers=client_key)).json()
    found = {m.pop("name"): m for m in body["milestones"]}
    assert found["architecture_review"]["done_at"] == "2026-12-01T17:00:01Z"
    assert found["delivery"]["state"] == "done"
    assert found["launch"] == {"due_on": None, "done_at": "2026-12-01T17:00:01Z", "state": "done"}
    assert found["support_end"] == {"due_on": "2026-12-31", "done_at": None, "state": "upcoming"}
    assert body["support"]["window_starts_at"] == "2026-12-01T17:00:01Z"
    assert body["support"]["window_ends_at"] == "2026-12-31T17:00:01Z"
    assert body["project"]["phase"] == "support"
    msgspec.json.decode(
        (await client.get(url(project), headers=client_key)).content, type=ProjectStatus, strict=True
    )


async def test_updated_at_follows_the_latest_event(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    await walk(client, app, clock, staff, client_key, project["id"], "discovery")
    clock.advance(timedelta(hours=2))
    await db.execute(
        "INSERT INTO domain_events (type, subject_type, subject_id, client_id, project_id, data, occurred_at)"
        " VALUES ('criterion.created', 'criterion', gen_random_uuid(), $1, $2, '{}', $3)",
        project["client_id"],
        project["id"],
        clock.now(),
    )
    body = (await client.get(url(project), headers=staff)).json()
    assert body["updated_at"] == "2026-11-24T11:30:00Z"
