"""The scope freeze, change requests' criteria changes, the launch guard and the status counts."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar

from api.db import Pool, unit_of_work
from api.domain.criteria import service
from api.domain.criteria.schemas import CriterionChange
from api.domain.projects.schemas import ProjectStatus
from api.errors import Conflict, Invalid
from api.kit.auth import Principal
from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.project_helpers import new_project, post, walk
from tests.domain.test_criteria_fixtures import (
    ALERTING,
    FALLBACK,
    LATENCY,
    RECALL,
    SENTENCES,
    SUPPORT,
    add,
    events,
    problem,
    read,
    verify,
)


@pytest.fixture
async def org(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    return await create_client_org(client, staff, "Acme")


@pytest.fixture
async def client_key(make_key: KeyMaker, org: dict[str, Any]) -> dict[str, str]:
    return bearer(await make_key("client", org["id"]))


@pytest.fixture
async def project(client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> dict[str, Any]:
    return await new_project(client, staff, org["id"])


@pytest.fixture
def approver(org: dict[str, Any]) -> Principal:
    """The client who approves a change request."""
    return Principal(
        key_id=uuid4(), role="client", client_id=UUID(org["id"]), name="Ada Client", integration_id=uuid4()
    )


def change(
    op: str, criterion_id: str | None = None, criterion: dict[str, Any] | None = None
) -> CriterionChange:
    return msgspec.convert({"op": op, "criterion_id": criterion_id, "criterion": criterion}, CriterionChange)


async def apply(
    app: Litestar,
    clock: FrozenClock,
    project_id: str,
    changes: list[CriterionChange],
    actor: Principal,
    change_request_id: UUID,
) -> None:
    """What approving a change request does: the call, in its own committed unit of work."""
    async with unit_of_work(app.state.pool, transactional=True, acquire_timeout=5) as uow:
        await service.apply_changes(
            uow,
            project_id=UUID(project_id),
            changes=changes,
            change_request_id=change_request_id,
            actor=actor,
            now=clock.now(),
        )
    await app.state.jobs.send(uow.jobs)


async def status_acceptance(
    http: httpx.AsyncClient, headers: dict[str, str], project_id: str
) -> dict[str, int]:
    response = await http.get(f"/v1/projects/{project_id}/status", headers=headers)
    assert response.status_code == 200, response.text
    msgspec.json.decode(response.content, type=ProjectStatus, strict=True)
    acceptance: dict[str, int] = response.json()["acceptance"]
    return acceptance


# --- the freeze ------------------------------------------------------------------------------------


async def test_after_the_sign_off_criteria_change_only_through_a_change_request(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    approver: Principal,
    db: asyncpg.Connection,
) -> None:
    pid = project["id"]
    await walk(client, app, clock, staff, client_key, pid, "architecture_review")
    latency = await add(client, staff, pid, LATENCY)  # still free before the sign-off
    recall = await add(client, staff, pid, RECALL)
    edited = await client.patch(f"/v1/criteria/{recall['id']}", json={"title": "Recall"}, headers=staff)
    assert edited.status_code == 200, edited.text
    assert (await post(client, pid, "architecture/approve", client_key)).status_code == 200
    clock.advance(timedelta(hours=1))

    url = f"/v1/criteria/{latency['id']}"
    refused = problem(await client.patch(url, json={"threshold": "200"}, headers=staff), 409, "scope-frozen")
    assert "change request" in refused["detail"]
    problem(
        await client.post(f"/v1/projects/{pid}/criteria", json=FALLBACK, headers=staff), 409, "scope-frozen"
    )
    problem(await client.delete(f"/v1/criteria/{recall['id']}", headers=staff), 409, "scope-frozen")
    assert (await read(client, staff, latency["id"]))["threshold"] == "150"
    # evidence and waivers are no scope changes
    assert (await verify(client, staff, latency["id"], {"measured_value": "120"})).status_code == 201

    cr = uuid4()
    await apply(
        app,
        clock,
        pid,
        [
            change("modify", latency["id"], {**LATENCY, "threshold": "200"}),
            change("remove", recall["id"]),
            change("add", criterion=FALLBACK),
        ],
        approver,
        cr,
    )
    modified = await read(client, staff, latency["id"])
    assert (modified["threshold"], modified["version"], modified["state"]) == ("200", 2, "pending")
    assert modified["sentence"] == "p99 latency < 200 ms for 95% of requests"
    versions = (await client.get(f"{url}/versions", headers=client_key)).json()["items"]
    assert [(v["version"], v["change"], v["change_request_id"]) for v in versions] == [
        (1, "created", None),
        (2, "updated", str(cr)),
    ]
    assert [v["criterion"]["sentence"] for v in versions] == [
        "p99 latency < 150 ms for 95% of requests",
        "p99 latency < 200 ms for 95% of requests",
    ]
    assert versions[1]["actor_role"] == "client"
    assert versions[1]["actor_key_id"] == str(approver.key_id)
    assert versions[1]["at"] == "2026-11-24T10:30:00Z"

    listed = (await client.get(f"/v1/projects/{pid}/criteria", headers=staff)).json()["items"]
    assert [c["title"] for c in listed] == [LATENCY["title"], FALLBACK["title"]]
    added = listed[1]
    added_versions = (await client.get(f"/v1/criteria/{added['id']}/versions", headers=staff)).json()["items"]
    assert [(v["change"], v["change_request_id"]) for v in added_versions] == [("created", str(cr))]
    assert (await read(client, staff, recall["id"]))["state"] == "removed"
    assert await status_acceptance(client, staff, pid) == {
        "total": 2,
        "met": 0,
        "not_met": 0,
        "pending": 2,
        "waived": 0,
    }

    found = await events(db, latency["id"])
    assert found[-1]["type"] == "criterion.updated"
    assert found[-1]["data"]["change_request_id"] == str(cr)
    assert found[-1]["client_id"] == project["client_id"]
    assert (await events(db, recall["id"]))[-1]["type"] == "criterion.removed"


async def test_stale_changes_are_refused_whole(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    project: dict[str, Any],
    approver: Principal,
) -> None:
    pid = project["id"]
    latency = await add(client, staff, pid, LATENCY)
    recall = await add(client, staff, pid, RECALL)
    assert (await client.delete(f"/v1/criteria/{recall['id']}", headers=staff)).status_code == 204
    with pytest.raises(Conflict) as caught:
        await apply(
            app,
            clock,
            pid,
            [
                change("modify", latency["id"], {**LATENCY, "threshold": "1"}),
                change("modify", recall["id"], RECALL),
            ],
            approver,
            uuid4(),
        )
    assert caught.value.rule == "criteria-changes-stale"
    assert [e.pointer for e in caught.value.errors or []] == ["/criteria_changes/1/criterion_id"]
    assert (await read(client, staff, latency["id"]))["threshold"] == "150"  # nothing applied


async def test_changes_before_the_sign_off_apply_too(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    project: dict[str, Any],
    approver: Principal,
) -> None:
    latency = await add(client, staff, project["id"], LATENCY)
    await apply(app, clock, project["id"], [change("remove", latency["id"])], approver, uuid4())
    assert (await read(client, staff, latency["id"]))["state"] == "removed"


async def test_validate_changes_names_each_problem(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    org: dict[str, Any],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    pid = project["id"]
    latency = await add(client, staff, pid, LATENCY)
    removed = await add(client, staff, pid, RECALL)
    assert (await client.delete(f"/v1/criteria/{removed['id']}", headers=staff)).status_code == 204
    elsewhere = await add(client, staff, (await new_project(client, staff, org["id"]))["id"], LATENCY)
    changes = [
        change("add", criterion=SUPPORT),
        change("add", latency["id"], SUPPORT),
        change("add"),
        change("modify", criterion=LATENCY),
        change("modify", str(uuid4()), LATENCY),
        change("modify", elsewhere["id"], LATENCY),
        change("modify", removed["id"], RECALL),
        change("modify", latency["id"]),
        change("remove", latency["id"], LATENCY),
        change(
            "modify",
            latency["id"],
            {**LATENCY, "statement": "fast", "qualifiers": {"share_of_requests": "1.5"}},
        ),
    ]
    with pytest.raises(Invalid) as caught:
        await service.validate_changes(db, UUID(pid), changes)
    assert [e.pointer for e in caught.value.errors or []] == [
        "/criteria_changes/1/criterion_id",
        "/criteria_changes/2/criterion",
        "/criteria_changes/3/criterion_id",
        "/criteria_changes/4/criterion_id",
        "/criteria_changes/5/criterion_id",
        "/criteria_changes/6/criterion_id",
        "/criteria_changes/7/criterion",
        "/criteria_changes/8/criterion_id",
        "/criteria_changes/8/criterion",
        "/criteria_changes/9/criterion_id",
        "/criteria_changes/9/criterion/statement",
        "/criteria_changes/9/criterion/qualifiers/share_of_requests",
    ]
    ok = await service.validate_changes(
        db, UUID(pid), [change("modify", latency["id"], {**LATENCY, "unit": "s", "threshold": "0.15"})]
    )
    assert ok[0] is not None
    assert (ok[0].unit, ok[0].threshold) == ("s", "0.15")
    assert await service.validate_changes(db, UUID(pid), []) == []


async def test_an_edit_waits_for_a_sign_off_in_progress_and_then_sees_the_freeze(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    pid = project["id"]
    latency = await add(client, staff, pid, LATENCY)
    signing = db.transaction()
    await signing.start()
    await db.execute("SELECT 1 FROM projects WHERE id = $1 FOR UPDATE", UUID(pid))
    edit = asyncio.create_task(
        client.patch(f"/v1/criteria/{latency['id']}", json={"threshold": "200"}, headers=staff)
    )
    await _until_someone_waits_for_a_lock(app.state.pool, edit)
    await db.execute("UPDATE projects SET scope_frozen_at = $2 WHERE id = $1", UUID(pid), clock.now())
    await signing.commit()
    problem(await edit, 409, "scope-frozen")
    assert (await read(client, staff, latency["id"]))["threshold"] == "150"


async def _until_someone_waits_for_a_lock(pool: Pool, task: asyncio.Task[Any]) -> None:
    for _ in range(500):
        assert not task.done(), "the edit did not wait for the project row"
        waiting = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("nobody waited for the project row")


# --- the recommendation feature: sentences, verification, waiver, status and launch --------------


async def test_the_recommendation_feature_from_definition_to_launch(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
) -> None:
    pid = project["id"]
    made = {
        body["title"]: await add(client, staff, pid, body)
        for body in (LATENCY, RECALL, FALLBACK, ALERTING, SUPPORT)
    }
    assert {title: c["sentence"] for title, c in made.items()} == SENTENCES
    assert await status_acceptance(client, client_key, pid) == {
        "total": 5,
        "met": 0,
        "not_met": 0,
        "pending": 5,
        "waived": 0,
    }

    await walk(client, app, clock, staff, client_key, pid, "acceptance")
    refused = problem(await post(client, pid, "launch", staff), 409, "criteria-not-met")
    assert refused["extra"]["blockers"] == [
        "5 acceptance criteria are neither met nor waived: "
        + "; ".join(f'"{title}" (pending)' for title in SENTENCES)
    ]

    latency, recall = made[LATENCY["title"]]["id"], made[RECALL["title"]]["id"]
    fallback, alerting = made[FALLBACK["title"]]["id"], made[ALERTING["title"]]["id"]
    support = made[SUPPORT["title"]]["id"]
    assert (
        await verify(
            client,
            staff,
            latency,
            {"measured_value": "149.999", "evidence_url": "https://grafana.example.com/d/p99"},
        )
    ).json()["verdict"] == "met"
    assert (await verify(client, staff, recall, {"measured_value": "0.4"})).json()["verdict"] == "not_met"
    waived = await client.post(
        f"/v1/criteria/{support}/waive",
        json={"reason": "Support is measured during the support window"},
        headers=client_key,
    )
    assert waived.status_code == 200, waived.text
    assert await status_acceptance(client, client_key, pid) == {
        "total": 5,
        "met": 1,
        "not_met": 1,
        "pending": 2,
        "waived": 1,
    }
    refused = problem(await post(client, pid, "launch", staff), 409, "criteria-not-met")
    assert refused["extra"]["blockers"] == [
        '3 acceptance criteria are neither met nor waived: "Recommendation quality" (not met); '
        '"Low-confidence fallback" (pending); "Latency alert" (pending)'
    ]

    assert (await verify(client, staff, recall, {"measured_value": "0.40000000001"})).json()[
        "verdict"
    ] == "met"
    assert (
        await verify(client, staff, fallback, {"passed": True, "notes": "checked with 40 cold users"})
    ).json()["verdict"] == "met"
    assert (await verify(client, staff, alerting, {"passed": False})).json()["verdict"] == "not_met"
    refused = problem(await post(client, pid, "launch", staff), 409, "criteria-not-met")
    assert refused["extra"]["blockers"] == [
        '1 acceptance criterion is neither met nor waived: "Latency alert" (not met)'
    ]

    assert (await verify(client, staff, alerting, {"passed": True})).json()["verdict"] == "met"
    assert await status_acceptance(client, client_key, pid) == {
        "total": 5,
        "met": 4,
        "not_met": 0,
        "pending": 0,
        "waived": 1,
    }
    launched = await post(client, pid, "launch", staff)
    assert launched.status_code == 200, launched.text
    assert launched.json()["phase"] == "support"
