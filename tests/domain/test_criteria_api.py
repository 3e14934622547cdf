"""Acceptance criteria through the HTTP API: definitions, edits and history, verifications, waivers, roles."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.project_helpers import new_project, post
from tests.domain.test_criteria_fixtures import (
    ALERTING,
    FALLBACK,
    LATENCY,
    RECALL,
    SUPPORT,
    add,
    events,
    pointers,
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
async def stranger(client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker) -> dict[str, str]:
    """A client key of another organisation."""
    other = await create_client_org(client, staff, "Other")
    return bearer(await make_key("client", other["id"]))


@pytest.fixture
async def project(client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> dict[str, Any]:
    return await new_project(client, staff, org["id"])


# --- definitions -----------------------------------------------------------------------------------


async def test_a_measurable_criterion_is_created_pending_with_its_sentence(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any], db: asyncpg.Connection
) -> None:
    response = await client.post(f"/v1/projects/{project['id']}/criteria", json=LATENCY, headers=staff)
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["etag"] == '"1"'
    assert response.headers["location"] == f"/v1/criteria/{body['id']}"
    assert body["project_id"] == project["id"]
    assert body["state"] == "pending"
    assert body["version"] == 1
    assert body["sentence"] == "p99 latency < 150 ms for 95% of requests"
    assert body["verify_with"] == "measured_value"
    assert body["threshold"] == "150"
    assert body["qualifiers"] == {"percentile": 99, "share_of_requests": "0.95"}
    assert body["statement"] is None
    assert body["waiver"] is None
    assert body["last_verification"] is None
    stored = await db.fetchval("SELECT threshold FROM acceptance_criteria WHERE id = $1", UUID(body["id"]))
    assert stored == Decimal("150")
    found = await events(db, body["id"])
    assert [e["type"] for e in found] == ["criterion.created"]
    assert found[0]["client_id"] == project["client_id"]
    assert found[0]["project_id"] == project["id"]
    assert found[0]["data"]["sentence"] == body["sentence"]


async def test_threshold_keeps_its_written_scale_and_units_are_canonical(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    recall = await add(client, staff, project["id"], RECALL)
    assert recall["threshold"] == "0.40"
    assert recall["sentence"] == "Recall@10 > 0.40 on the holdout set"
    hours = await add(client, staff, project["id"], {**SUPPORT, "unit": "h"})
    assert hours["unit"] == "hours"
    small = await add(client, staff, project["id"], {**LATENCY, "threshold": "0.0000001", "unit": "s"})
    assert small["threshold"] == "0.0000001"
    assert (await read(client, staff, small["id"]))["threshold"] == "0.0000001"


async def test_a_statement_criterion_is_verified_with_passed(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    body = await add(client, staff, project["id"], FALLBACK)
    assert body["verify_with"] == "passed"
    assert body["sentence"] == FALLBACK["statement"]
    assert body["metric"] is None
    assert body["qualifiers"] is None
    alert = await add(client, staff, project["id"], ALERTING)
    assert alert["verify_with"] == "passed"
    assert alert["sentence"] == "alert when p95 latency > 300 ms for 5 consecutive minutes"


INVALID: list[tuple[dict[str, Any], list[str]]] = [
    (
        {"kind": "performance", "title": "Latency", "metric": "latency"},
        ["/comparator", "/threshold", "/unit"],
    ),
    ({**LATENCY, "statement": "fast enough"}, ["/statement"]),
    ({"kind": "fallback", "title": "Fallback"}, ["/statement"]),
    ({"kind": "functional", "title": "Export", "statement": "   "}, ["/statement"]),
    ({"kind": "functional", "title": "Export", "metric": "exports"}, ["/comparator", "/threshold", "/unit"]),
    (
        {**FALLBACK, "qualifiers": {"window": "5m"}},
        ["/metric", "/comparator", "/threshold", "/unit", "/statement"],
    ),
    ({**LATENCY, "title": "   "}, ["/title"]),
    ({**LATENCY, "threshold": 150}, ["/threshold"]),
    ({**LATENCY, "threshold": "1e3"}, ["/threshold"]),
    ({**LATENCY, "threshold": "NaN"}, ["/threshold"]),
    ({**LATENCY, "comparator": "=<"}, ["/comparator"]),
    ({**LATENCY, "unit": "milli seconds"}, ["/unit"]),
    ({**LATENCY, "kind": "vibes"}, ["/kind"]),
    ({**LATENCY, "colour": "red"}, ["/colour"]),
    ({**LATENCY, "qualifiers": {"share_of_requests": "1.5"}}, ["/qualifiers/share_of_requests"]),
    ({**LATENCY, "qualifiers": {"share_of_requests": "0"}}, ["/qualifiers/share_of_requests"]),
    ({**LATENCY, "qualifiers": {"percentile": 0}}, ["/qualifiers/percentile"]),
    ({**LATENCY, "qualifiers": {"percentile": "100.5"}}, ["/qualifiers/percentile"]),
    ({**LATENCY, "qualifiers": {"window": "5 minutes"}}, ["/qualifiers/window"]),
    ({**LATENCY, "qualifiers": {"consecutive_minutes": 0}}, ["/qualifiers/consecutive_minutes"]),
    ({**LATENCY, "qualifiers": {"dataset": "  "}}, ["/qualifiers/dataset"]),
    ({**LATENCY, "qualifiers": {"colour": "red"}}, ["/qualifiers/colour"]),
]


@pytest.mark.parametrize(("body", "expected"), INVALID)
async def test_invalid_definitions_are_refused_with_pointers(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    project: dict[str, Any],
    body: dict[str, Any],
    expected: list[str],
) -> None:
    response = await client.post(f"/v1/projects/{project['id']}/criteria", json=body, headers=staff)
    assert pointers(problem(response, 422)) == expected


async def test_a_criterion_of_an_unknown_project_is_404(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/projects/00000000-0000-0000-0000-000000000000/criteria", json=LATENCY, headers=staff
    )
    problem(response, 404)


# --- roles -----------------------------------------------------------------------------------------


async def test_role_boundaries(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    stranger: dict[str, str],
    make_key: KeyMaker,
    project: dict[str, Any],
) -> None:
    intake = bearer(await make_key("intake"))
    criterion = await add(client, staff, project["id"], LATENCY)
    cid = criterion["id"]
    pid = project["id"]
    calls: list[tuple[str, str, Any]] = [
        ("POST", f"/v1/projects/{pid}/criteria", LATENCY),
        ("GET", f"/v1/projects/{pid}/criteria", None),
        ("GET", f"/v1/criteria/{cid}", None),
        ("PATCH", f"/v1/criteria/{cid}", {"title": "renamed"}),
        ("DELETE", f"/v1/criteria/{cid}", None),
        ("GET", f"/v1/criteria/{cid}/versions", None),
        ("POST", f"/v1/criteria/{cid}/verifications", {"measured_value": "120"}),
        ("GET", f"/v1/criteria/{cid}/verifications", None),
        ("POST", f"/v1/criteria/{cid}/waive", {"reason": "fine"}),
    ]
    staff_only = {("POST", f"/v1/projects/{pid}/criteria"), ("PATCH", f"/v1/criteria/{cid}")}
    staff_only |= {("DELETE", f"/v1/criteria/{cid}"), ("POST", f"/v1/criteria/{cid}/verifications")}
    for method, path, body in calls:
        kwargs: dict[str, Any] = {"json": body} if body is not None else {}
        assert (await client.request(method, path, **kwargs)).status_code == 401, (method, path)
        assert (await client.request(method, path, headers=intake, **kwargs)).status_code == 403, (
            method,
            path,
        )
        if (method, path) in staff_only:
            problem(await client.request(method, path, headers=client_key, **kwargs), 403)
            problem(await client.request(method, path, headers=stranger, **kwargs), 403)
        elif path.endswith("/waive"):
            problem(await client.request(method, path, headers=staff, **kwargs), 403)
            problem(await client.request(method, path, headers=stranger, **kwargs), 404)
        else:
            problem(await client.request(method, path, headers=stranger, **kwargs), 404)
            assert (await client.request(method, path, headers=client_key)).status_code == 200, (method, path)
    # nothing the refused calls asked for happened
    after = await read(client, staff, cid)
    assert (after["version"], after["state"], after["title"]) == (1, "pending", LATENCY["title"])


async def test_the_owner_client_reads_criteria_of_its_project(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project: dict[str, Any]
) -> None:
    made = await add(client, staff, project["id"], LATENCY)
    listed = (await client.get(f"/v1/projects/{project['id']}/criteria", headers=client_key)).json()
    assert [c["id"] for c in listed["items"]] == [made["id"]]
    assert (await read(client, client_key, made["id"]))["sentence"] == made["sentence"]


# --- listing ---------------------------------------------------------------------------------------


async def test_list_is_oldest_first_paginated_and_filtered(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    made = [await add(client, staff, project["id"], body) for body in (LATENCY, RECALL, FALLBACK, SUPPORT)]
    url = f"/v1/projects/{project['id']}/criteria"
    first = (await client.get(url, params={"limit": 3}, headers=staff)).json()
    assert [c["id"] for c in first["items"]] == [c["id"] for c in made[:3]]
    rest = (await client.get(url, params={"limit": 3, "cursor": first["next_cursor"]}, headers=staff)).json()
    assert [c["id"] for c in rest["items"]] == [made[3]["id"]]
    assert rest["next_cursor"] is None
    quality = (await client.get(url, params={"kind": "quality"}, headers=staff)).json()
    assert [c["id"] for c in quality["items"]] == [made[1]["id"]]
    problem(await client.get(url, params={"state": "bogus"}, headers=staff), 422)
    bad = await client.get(url, params={"cursor": "nonsense"}, headers=staff)
    assert bad.status_code == 422


# --- edits, removal and history --------------------------------------------------------------------


async def test_edit_appends_a_version_and_resets_the_state(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any], db: asyncpg.Connection
) -> None:
    made = await add(client, staff, project["id"], LATENCY)
    assert (await verify(client, staff, made["id"], {"measured_value": "120"})).json()["verdict"] == "met"
    url = f"/v1/criteria/{made['id']}"

    renamed = await client.patch(
        url, json={"title": "p99 latency", "reason": "shorter"}, headers={**staff, "If-Match": '"1"'}
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.headers["etag"] == '"2"'
    assert renamed.json()["state"] == "met"  # a new title keeps the evidence

    stale = await client.patch(url, json={"threshold": "100"}, headers={**staff, "If-Match": '"1"'})
    problem(stale, 412)

    tighter = await client.patch(
        url, json={"threshold": "100", "reason": "client asked"}, headers={**staff, "If-Match": '"2"'}
    )
    body = tighter.json()
    assert body["version"] == 3
    assert body["state"] == "pending"  # the evidence was about 150 ms
    assert body["sentence"] == "p99 latency < 100 ms for 95% of requests"
    assert body["last_verification"]["verdict"] == "met"  # the old verification stays

    same = await client.patch(url, json={"threshold": "100"}, headers=staff)
    assert same.json()["version"] == 3  # nothing changed, no new version

    versions = (await client.get(f"{url}/versions", headers=staff)).json()["items"]
    assert [(v["version"], v["change"], v["reason"]) for v in versions] == [
        (1, "created", None),
        (2, "updated", "shorter"),
        (3, "updated", "client asked"),
    ]
    assert versions[0]["criterion"]["threshold"] == "150"
    assert versions[0]["criterion"]["title"] == LATENCY["title"]
    assert versions[2]["criterion"]["threshold"] == "100"
    assert versions[2]["criterion"]["state"] == "pending"
    assert all(v["actor_role"] == "staff" and v["change_request_id"] is None for v in versions)
    page = (await client.get(f"{url}/versions", params={"limit": 2}, headers=staff)).json()
    nxt = (await client.get(f"{url}/versions", params={"cursor": page["next_cursor"]}, headers=staff)).json()
    assert [v["version"] for v in page["items"] + nxt["items"]] == [1, 2, 3]

    found = await events(db, made["id"])
    assert [e["type"] for e in found] == [
        "criterion.created",
        "criterion.verified",
        "criterion.updated",
        "criterion.updated",
    ]
    assert found[-1]["data"]["changed"] == ["threshold"]
    assert found[-1]["data"]["previous_state"] == "met"


async def test_a_patch_is_validated_as_a_whole(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    made = await add(client, staff, project["id"], {**FALLBACK, "kind": "functional"})
    url = f"/v1/criteria/{made['id']}"
    half = await client.patch(url, json={"metric": "exports per minute"}, headers=staff)
    assert pointers(problem(half, 422)) == ["/comparator", "/threshold", "/unit", "/statement"]
    whole = await client.patch(
        url,
        json={
            "metric": "exports per minute",
            "comparator": ">=",
            "threshold": "10",
            "unit": "count",
            "statement": None,
        },
        headers=staff,
    )
    assert whole.status_code == 200, whole.text
    assert whole.json()["sentence"] == "exports per minute >= 10"
    assert whole.json()["verify_with"] == "measured_value"
    back = await client.patch(
        url,
        json={
            "metric": None,
            "comparator": None,
            "threshold": None,
            "unit": None,
            "statement": "Exports work",
        },
        headers=staff,
    )
    assert back.json()["sentence"] == "Exports work"
    assert back.json()["verify_with"] == "passed"


async def test_removal_keeps_the_criterion_out_of_the_counts(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any], db: asyncpg.Connection
) -> None:
    keep = await add(client, staff, project["id"], LATENCY)
    gone = await add(client, staff, project["id"], RECALL)
    url = f"/v1/criteria/{gone['id']}"
    problem(await client.delete(url, headers={**staff, "If-Match": '"9"'}), 412)
    response = await client.delete(
        url, params={"reason": "out of scope"}, headers={**staff, "If-Match": '"1"'}
    )
    assert response.status_code == 204, response.text
    removed = await read(client, staff, gone["id"])
    assert removed["state"] == "removed"
    assert removed["removed_at"] is not None
    assert removed["version"] == 2
    assert (await client.delete(url, headers=staff)).status_code == 204  # again: nothing changes
    assert (await read(client, staff, gone["id"]))["version"] == 2

    listed = (await client.get(f"/v1/projects/{project['id']}/criteria", headers=staff)).json()["items"]
    assert [c["id"] for c in listed] == [keep["id"]]
    only_removed = await client.get(
        f"/v1/projects/{project['id']}/criteria", params={"state": "removed"}, headers=staff
    )
    assert [c["id"] for c in only_removed.json()["items"]] == [gone["id"]]
    status = (await client.get(f"/v1/projects/{project['id']}/status", headers=staff)).json()
    assert status["acceptance"] == {"total": 1, "met": 0, "not_met": 0, "pending": 1, "waived": 0}

    problem(await client.patch(url, json={"title": "back"}, headers=staff), 409, "criterion-removed")
    problem(await verify(client, staff, gone["id"], {"measured_value": "0.5"}), 409, "criterion-removed")
    versions = (await client.get(f"{url}/versions", headers=staff)).json()["items"]
    assert [(v["change"], v["reason"], v["criterion"]["state"]) for v in versions] == [
        ("created", None, "pending"),
        ("removed", "out of scope", "removed"),
    ]
    assert [e["type"] for e in await events(db, gone["id"])] == ["criterion.created", "criterion.removed"]


# --- verifications ---------------------------------------------------------------------------------


async def test_a_measured_value_is_judged_exactly_at_the_boundary(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any], db: asyncpg.Connection
) -> None:
    made = await add(client, staff, project["id"], LATENCY)
    at = await verify(
        client,
        staff,
        made["id"],
        {"measured_value": "150", "evidence_url": "https://grafana.example.com/d/1"},
    )
    assert at.status_code == 201, at.text
    first = at.json()
    assert (first["verdict"], first["criterion_state"], first["unit"]) == ("not_met", "not_met", "ms")
    assert first["sentence"] == "p99 latency < 150 ms for 95% of requests"
    assert first["criterion_version"] == 1
    assert first["evidence_url"] == "https://grafana.example.com/d/1"
    assert first["verified_by_name"] == "test key"
    assert (await read(client, staff, made["id"]))["state"] == "not_met"

    below = (
        await verify(client, staff, made["id"], {"measured_value": "149.999", "notes": " after caching "})
    ).json()
    assert (below["verdict"], below["criterion_state"], below["notes"]) == ("met", "met", "after caching")
    current = await read(client, staff, made["id"])
    assert current["state"] == "met"
    assert current["version"] == 1  # a verification is no new version of the definition
    assert current["last_verification"]["id"] == below["id"]
    assert current["last_verification"]["measured_value"] == "149.999"

    in_seconds = (await verify(client, staff, made["id"], {"measured_value": "0.15", "unit": "s"})).json()
    assert (in_seconds["verdict"], in_seconds["unit"]) == ("not_met", "s")

    listed = (
        await client.get(f"/v1/criteria/{made['id']}/verifications", params={"limit": 2}, headers=staff)
    ).json()
    assert [v["measured_value"] for v in listed["items"]] == ["150", "149.999"]
    rest = await client.get(
        f"/v1/criteria/{made['id']}/verifications", params={"cursor": listed["next_cursor"]}, headers=staff
    )
    assert [v["measured_value"] for v in rest.json()["items"]] == ["0.15"]
    found = await events(db, made["id"])
    assert [e["type"] for e in found].count("criterion.verified") == 3
    assert found[-1]["data"]["verdict"] == "not_met"
    assert found[-1]["client_id"] == project["client_id"]


async def test_ratio_and_percent_compare_exactly(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    made = await add(client, staff, project["id"], RECALL)
    equal = (await verify(client, staff, made["id"], {"measured_value": "0.4"})).json()
    assert equal["verdict"] == "not_met"  # 0.4 is not above 0.40
    above = (await verify(client, staff, made["id"], {"measured_value": "0.40000000001"})).json()
    assert above["verdict"] == "met"
    percent = (await verify(client, staff, made["id"], {"measured_value": "41", "unit": "%"})).json()
    assert (percent["verdict"], percent["unit"]) == ("met", "percent")


BAD_VERIFICATIONS: list[tuple[dict[str, Any], dict[str, Any], str]] = [
    (LATENCY, {"measured_value": "120", "unit": "ratio"}, "/unit"),
    (LATENCY, {"measured_value": "120", "unit": "requests"}, "/unit"),
    (LATENCY, {"passed": True}, "/passed"),
    (LATENCY, {}, "/measured_value"),
    (LATENCY, {"measured_value": 120}, "/measured_value"),
    (LATENCY, {"measured_value": "1.2e2"}, "/measured_value"),
    (LATENCY, {"measured_value": "120", "passed": True}, "/passed"),
    (LATENCY, {"measured_value": "120", "evidence_url": "ftp://files.example.com/x"}, "/evidence_url"),
    (LATENCY, {"measured_value": "120", "evidence_url": "https:// spaced.example.com"}, "/evidence_url"),
    (LATENCY, {"measured_value": "120", "verdict": "met"}, "/verdict"),
    (FALLBACK, {"measured_value": "1"}, "/measured_value"),
    (FALLBACK, {"passed": True, "unit": "ms"}, "/unit"),
    (FALLBACK, {}, "/passed"),
    (ALERTING, {"measured_value": "350"}, "/measured_value"),
]


@pytest.mark.parametrize(("criterion", "body", "pointer"), BAD_VERIFICATIONS)
async def test_bad_verifications_are_refused_with_a_pointer(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    project: dict[str, Any],
    criterion: dict[str, Any],
    body: dict[str, Any],
    pointer: str,
) -> None:
    made = await add(client, staff, project["id"], criterion)
    assert pointers(problem(await verify(client, staff, made["id"], body), 422)) == [pointer]
    assert (await read(client, staff, made["id"]))["last_verification"] is None


async def test_pass_fail_criteria_follow_the_latest_verification(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    made = await add(client, staff, project["id"], ALERTING)
    fired = (await verify(client, staff, made["id"], {"passed": True, "notes": "drill at 14:00"})).json()
    assert (fired["verdict"], fired["passed"], fired["measured_value"], fired["unit"]) == (
        "met",
        True,
        None,
        None,
    )
    assert (await read(client, staff, made["id"]))["state"] == "met"
    silent = (await verify(client, staff, made["id"], {"passed": False})).json()
    assert silent["verdict"] == "not_met"
    assert (await read(client, staff, made["id"]))["state"] == "not_met"


async def test_verifications_are_append_only_in_the_database(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any], db: asyncpg.Connection
) -> None:
    made = await add(client, staff, project["id"], LATENCY)
    await verify(client, staff, made["id"], {"measured_value": "120"})
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("UPDATE criterion_verifications SET verdict = 'not_met'")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await db.execute("DELETE FROM criterion_versions")


# --- waivers ---------------------------------------------------------------------------------------


async def test_the_client_waives_with_a_reason_and_it_stays_waived(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    made = await add(client, staff, project["id"], RECALL)
    url = f"/v1/criteria/{made['id']}/waive"
    blank = await client.post(url, json={"reason": "  "}, headers=client_key)
    assert pointers(problem(blank, 422, "reason-required")) == ["/reason"]
    problem(await client.post(url, json={}, headers=client_key), 422, "reason-required")
    problem(await client.post(url, json={"reason": "ok"}, headers={**client_key, "If-Match": '"7"'}), 412)

    response = await client.post(
        url, json={"reason": "Quality is judged after launch"}, headers={**client_key, "If-Match": '"1"'}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["state"] == "waived"
    assert body["waiver"]["reason"] == "Quality is judged after launch"
    assert body["waiver"]["waived_at"] is not None
    assert body["waiver"]["waived_by"] is not None
    assert response.headers["etag"] == '"1"'

    problem(await client.post(url, json={"reason": "again"}, headers=client_key), 409, "already-waived")
    later = (await verify(client, staff, made["id"], {"measured_value": "0.1"})).json()
    assert (later["verdict"], later["criterion_state"]) == ("not_met", "waived")
    assert (await read(client, staff, made["id"]))["state"] == "waived"
    found = await events(db, made["id"])
    assert [e["type"] for e in found] == ["criterion.created", "criterion.waived", "criterion.verified"]
    assert found[1]["data"]["reason"] == "Quality is judged after launch"

    # an edit of the definition drops the waiver: it was about the old definition
    edited = await client.patch(f"/v1/criteria/{made['id']}", json={"threshold": "0.35"}, headers=staff)
    assert (edited.json()["state"], edited.json()["waiver"]) == ("pending", None)


async def test_nothing_changes_under_a_cancelled_project(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project: dict[str, Any]
) -> None:
    made = await add(client, staff, project["id"], LATENCY)
    assert (await post(client, project["id"], "cancel", staff, {"reason": "budget cut"})).status_code == 200
    problem(
        await client.post(f"/v1/projects/{project['id']}/criteria", json=RECALL, headers=staff),
        409,
        "project-ended",
    )
    problem(await verify(client, staff, made["id"], {"measured_value": "1"}), 409, "project-ended")
    problem(
        await client.post(f"/v1/criteria/{made['id']}/waive", json={"reason": "x"}, headers=client_key),
        409,
        "project-ended",
    )
    problem(
        await client.patch(f"/v1/criteria/{made['id']}", json={"title": "x"}, headers=staff),
        409,
        "project-ended",
    )
