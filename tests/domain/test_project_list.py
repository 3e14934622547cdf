"""GET /v1/projects: the page PostgreSQL encodes is the ``Project`` resource the API encodes elsewhere.

The list's items are built as JSON by one SQL statement; each item must equal, field for field and in
the same key order, what msgspec encodes from the ``Project`` struct that ``queries.get`` reads.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import msgspec
import pytest
from litestar import Litestar

from api.domain.projects import queries
from api.domain.projects.schemas import Project
from api.kit.clock import FrozenClock
from api.kit.pagination import Page, encode_cursor
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.project_helpers import ARCHITECTURE, HANDOVER, new_project, post, walk
from tests.domain.quote_helpers import accepted
from tests.domain.test_project_status import counting

EVERY_PHASE = {
    "proposal",
    "discovery",
    "architecture_review",
    "delivery",
    "acceptance",
    "support",
    "closed",
    "on_hold",
    "cancelled",
}


@pytest.fixture
async def org(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    return await create_client_org(client, staff, "Acme")


@pytest.fixture
async def client_key(make_key: KeyMaker, org: dict[str, Any]) -> dict[str, str]:
    return bearer(await make_key("client", org["id"]))


@pytest.fixture
async def beta(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    return await create_client_org(client, staff, "Beta")


@pytest.fixture
async def beta_key(make_key: KeyMaker, beta: dict[str, Any]) -> dict[str, str]:
    return bearer(await make_key("client", beta["id"]))


async def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def list_page(
    http: httpx.AsyncClient, headers: dict[str, str], **params: str
) -> tuple[dict[str, Any], httpx.Response]:
    response = await http.get("/v1/projects", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    msgspec.json.decode(response.content, type=Page[Project], strict=True)
    body: dict[str, Any] = response.json()
    assert list(body) == ["items", "next_cursor"]
    return body, response


async def every_page(http: httpx.AsyncClient, headers: dict[str, str], **params: str) -> list[list[str]]:
    """The ids of each page, following ``next_cursor`` to the end."""
    pages: list[list[str]] = []
    cursor: str | None = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body, _ = await list_page(http, headers, **query)
        pages.append([p["id"] for p in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages
        assert body["items"], "a cursor after an empty page"
        last = body["items"][-1]
        assert cursor == encode_cursor([datetime.fromisoformat(last["created_at"]).isoformat(), last["id"]])


def decoded_cursor(cursor: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


async def struct_document(app: Litestar, project_id: str, now: datetime) -> Any:
    """The project as msgspec encodes the ``Project`` struct read by ``queries.get``."""
    async with app.state.pool.acquire() as conn:
        project = await queries.get(conn, UUID(project_id), now=now)
    assert project is not None
    return json.loads(msgspec.json.encode(project))


async def advance(
    http: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project_id: str,
    actions: list[str],
) -> None:
    """Take a project in discovery through the named actions, in order."""
    steps: dict[str, tuple[dict[str, str], Any]] = {
        "architecture": (staff, ARCHITECTURE),
        "architecture/approve": (client_key, None),
        "handover": (staff, HANDOVER),
        "launch": (staff, None),
    }
    for action in actions:
        headers, body = steps.get(action, (staff, {"reason": f"Reason to {action}"}))
        response = await post(http, project_id, action, headers, body)
        assert response.status_code == 200, response.text


async def projects_in_every_phase(
    http: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    org: dict[str, Any],
    client_key: dict[str, str],
) -> list[str]:
    """Projects covering every phase and every optional part of the resource; returns their ids."""
    ids: list[str] = []

    async def created(**fields: Any) -> str:
        project = await new_project(http, staff, org["id"], **fields)
        ids.append(project["id"])
        # instants with and without trailing zeros in their microseconds
        clock.advance(timedelta(seconds=1, microseconds=120_000))
        return str(project["id"])

    await created(
        name='Ünïcödé "quoted" \\ back\nslash — 🚀',
        description="Line one\nLine two\t\u2028 and \x01 control",
        inquiry_id=str(uuid4()),
        business_hours_support=True,
        currency="USD",
    )
    for phase in ("discovery", "architecture_review", "delivery", "acceptance", "support"):
        await walk(http, app, clock, staff, client_key, await created(), phase)
    closed = await created()
    await walk(http, app, clock, staff, client_key, closed, "support")
    await advance(http, staff, client_key, closed, ["close"])
    held = await created()
    await walk(http, app, clock, staff, client_key, held, "acceptance")
    await advance(http, staff, client_key, held, ["hold"])
    cancelled = await created()
    await walk(http, app, clock, staff, client_key, cancelled, "delivery")
    await advance(http, staff, client_key, cancelled, ["hold", "resume", "cancel"])
    revised = await created()
    await walk(http, app, clock, staff, client_key, revised, "architecture_review")
    clock.advance(timedelta(microseconds=1))
    await advance(http, staff, client_key, revised, ["architecture"])
    # a contract gives the delivery milestone its date
    contracted = await created()
    await accepted(http, staff, client_key, contracted)
    await advance(http, staff, client_key, contracted, ["architecture", "architecture/approve"])
    held_proposal = await created(description="")
    await advance(http, staff, client_key, held_proposal, ["hold"])
    return ids


async def test_every_item_equals_the_encoded_project_struct(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    org: dict[str, Any],
    client_key: dict[str, str],
) -> None:
    ids = await projects_in_every_phase(client, app, clock, staff, org, client_key)
    # late enough for some milestones to be overdue, not for the support window to end
    clock.advance(timedelta(days=7))
    now = clock.now()
    body, _ = await list_page(client, staff, limit="200")
    assert [p["id"] for p in body["items"]] == ids
    assert body["next_cursor"] is None
    assert {p["phase"] for p in body["items"]} == EVERY_PHASE
    for item in body["items"]:
        expected = await struct_document(app, item["id"], now)
        assert item == expected
        # the same keys in the same order, at every depth
        assert json.dumps(item) == json.dumps(expected)
        read = await ok(await client.get(f"/v1/projects/{item['id']}", headers=staff))
        assert json.dumps(item) == json.dumps(read)
    found = {p["id"]: p for p in body["items"]}
    parts = [
        found[ids[0]]["description"],
        found[ids[0]]["inquiry_id"],
        found[ids[7]]["resume_phase"],
        found[ids[7]]["handover"],
        found[ids[6]]["closed_at"],
        found[ids[8]]["cancelled_at"],
        found[ids[10]]["milestones"][2]["due_on"],
    ]
    assert all(part is not None for part in parts), parts
    assert found[ids[9]]["architecture"]["revision"] == 2
    assert found[ids[8]]["milestones"][2]["state"] == "cancelled"
    assert {m["state"] for p in body["items"] for m in p["milestones"]} >= {
        "unscheduled",
        "upcoming",
        "overdue",
        "done",
        "cancelled",
    }
    assert any("." in p["created_at"] for p in body["items"])
    assert any(len(p["phase_history"]) > 5 for p in body["items"])


async def test_pages_follow_each_other_without_gaps_or_repeats(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    org: dict[str, Any],
    beta: dict[str, Any],
) -> None:
    ids: list[str] = []
    for i in range(7):
        ids.append((await new_project(client, staff, (org, beta)[i % 2]["id"], name=f"P{i}"))["id"])
        if i in (1, 4):
            clock.advance(timedelta(microseconds=250))
    # projects created at one instant are ordered by id
    expected = [p["id"] for p in (await list_page(client, staff))[0]["items"]]
    assert sorted(expected) == sorted(ids)
    assert expected[:2] == sorted(ids[:2])
    assert expected[2:5] == sorted(ids[2:5])
    assert expected[5:] == sorted(ids[5:])
    for limit, sizes in {"1": [1] * 7, "3": [3, 3, 1], "6": [6, 1], "7": [7], "50": [7]}.items():
        pages = await every_page(client, staff, limit=limit)
        assert [len(page) for page in pages] == sizes
        assert [i for page in pages for i in page] == expected
    first, _ = await list_page(client, staff, limit="3")
    key = decoded_cursor(first["next_cursor"])
    assert key == [datetime.fromisoformat(first["items"][2]["created_at"]).isoformat(), expected[2]]
    assert key[0].endswith("+00:00")
    # a project added at the end shows up on the next page of a cursor taken earlier
    clock.advance(timedelta(seconds=1))
    late = await new_project(client, staff, org["id"], name="Late")
    rest, _ = await list_page(client, staff, limit="50", cursor=first["next_cursor"])
    assert [p["id"] for p in rest["items"]] == [*expected[3:], late["id"]]


async def test_filters_select_by_client_and_phase(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    org: dict[str, Any],
    client_key: dict[str, str],
    beta: dict[str, Any],
    beta_key: dict[str, str],
) -> None:
    ours = [(await new_project(client, staff, org["id"], name=f"A{i}"))["id"] for i in range(4)]
    theirs = [(await new_project(client, staff, beta["id"], name=f"B{i}"))["id"] for i in range(3)]
    for project_id, key in ((ours[1], client_key), (ours[3], client_key), (theirs[0], beta_key)):
        await walk(client, app, clock, staff, key, project_id, "discovery")
    by_order = [p["id"] for p in (await list_page(client, staff))[0]["items"]]

    def ordered(selected: list[str]) -> list[str]:
        return [i for i in by_order if i in selected]

    cases: list[tuple[dict[str, str], list[str]]] = [
        ({"client_id": org["id"]}, ours),
        ({"client_id": beta["id"]}, theirs),
        ({"phase": "discovery"}, [ours[1], ours[3], theirs[0]]),
        ({"phase": "proposal"}, [ours[0], ours[2], *theirs[1:]]),
        ({"client_id": org["id"], "phase": "discovery"}, [ours[1], ours[3]]),
        ({"client_id": beta["id"], "phase": "proposal"}, theirs[1:]),
        ({"phase": "closed"}, []),
        ({"client_id": str(uuid4())}, []),
    ]
    for params, selected in cases:
        for limit in ("1", "2", "50"):
            pages = await every_page(client, staff, **params, limit=limit)
            assert [i for page in pages for i in page] == ordered(selected), (params, limit)
    empty, response = await list_page(client, staff, phase="closed")
    assert empty == {"items": [], "next_cursor": None}
    assert json.loads(response.content) == {"items": [], "next_cursor": None}


async def test_a_client_key_lists_its_own_organisation_only(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    org: dict[str, Any],
    client_key: dict[str, str],
    beta: dict[str, Any],
) -> None:
    ours = []
    for i in range(3):
        ours.append((await new_project(client, staff, org["id"], name=f"A{i}"))["id"])
        clock.advance(timedelta(seconds=1))
    await new_project(client, staff, beta["id"], name="Theirs")
    await walk(client, app, clock, staff, client_key, ours[2], "discovery")
    assert await every_page(client, client_key, limit="2") == [ours[:2], ours[2:]]
    assert await every_page(client, client_key, client_id=org["id"]) == [ours]
    assert await every_page(client, client_key, phase="discovery") == [[ours[2]]]
    for params in ({"client_id": beta["id"]}, {"client_id": beta["id"], "phase": "proposal"}):
        body, _ = await list_page(client, client_key, **params)
        assert body == {"items": [], "next_cursor": None}
    staff_view, _ = await list_page(client, staff, client_id=org["id"])
    mine, _ = await list_page(client, client_key)
    assert mine == staff_view


async def test_an_empty_list(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    body, response = await list_page(client, staff)
    assert body == {"items": [], "next_cursor": None}
    assert response.headers["content-length"] == str(len(response.content))


async def test_a_cursor_of_another_shape_is_refused(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    for cursor in ("garbage!", encode_cursor([5]), encode_cursor(["2026-11-24T09:30:00+00:00", "x"])):
        response = await client.get("/v1/projects", params={"cursor": cursor}, headers=staff)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"


async def test_a_page_is_one_statement_after_the_key_lookup(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    org: dict[str, Any],
    client_key: dict[str, str],
    beta: dict[str, Any],
) -> None:
    for _ in range(3):
        project = await new_project(client, staff, org["id"])
        await walk(client, app, clock, staff, client_key, project["id"], "delivery")
        clock.advance(timedelta(seconds=1))
    first, _ = await list_page(client, staff, limit="2")
    requests: list[tuple[dict[str, str], dict[str, str]]] = [
        (staff, {}),
        (staff, {"limit": "2", "cursor": first["next_cursor"]}),
        (staff, {"client_id": org["id"], "phase": "delivery"}),
        (client_key, {"phase": "delivery"}),
    ]
    for headers, params in requests:
        async with counting(app) as pool:
            await list_page(client, headers, **params)
        # AUTH_CACHE_SECONDS is 0 here: the key lookup, then the page
        assert len(pool.queries) == 2, pool.queries
        assert "FROM api_keys" in pool.queries[0], pool.queries
        assert "json_agg" in pool.queries[1], pool.queries
    async with counting(app) as pool:
        body, _ = await list_page(client, client_key, client_id=beta["id"])
    assert body == {"items": [], "next_cursor": None}
    assert len(pool.queries) == 1, pool.queries
