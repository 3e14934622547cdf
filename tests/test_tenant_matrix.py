"""The tenant matrix, generated from the app's route table so that no route can escape it.

For every ``/v1`` route:
- without a key → 401;
- with a key whose role the route does not admit → 403;
- for routes with a path id that admit client keys: called by a client key of another organisation on
  an object of this organisation → 404, never 403 and never the object.

Objects are made by ``FACTORIES`` (keyed by path parameter name) and bodies by ``BODIES`` (keyed by
method and path). A new route whose parameter or body is missing here fails the test by name.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from litestar.handlers import HTTPRouteHandler

from api.app import route_handlers
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain import project_helpers, quote_helpers

ROLES = ("staff", "client", "intake")


def v1_routes() -> list[tuple[str, str, tuple[str, ...]]]:
    found: list[tuple[str, str, tuple[str, ...]]] = []
    for handler in route_handlers():
        assert isinstance(handler, HTTPRouteHandler)
        roles: tuple[str, ...] = tuple(handler.opt.get("roles", ()))
        for path in handler.paths:
            if not path.startswith("/v1"):
                continue
            found.extend((method, path, roles) for method in sorted(handler.http_methods))
    return sorted(found)


ROUTES = v1_routes()


def concrete(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + ":uuid}", value)
    return path


def path_params(path: str) -> list[str]:
    return [part[1:].split(":")[0] for part in path.split("/") if part.startswith("{")]


async def call(
    http: httpx.AsyncClient, method: str, path: str, headers: dict[str, str], body: Any = None
) -> httpx.Response:
    if method in ("GET", "DELETE", "HEAD"):
        return await http.request(method, path, headers=headers)
    return await http.request(method, path, headers=headers, json=body if body is not None else {})


Factory = Callable[[httpx.AsyncClient, dict[str, str], dict[str, Any]], Awaitable[str]]


async def _client_id(http: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> str:
    return str(org["id"])


async def _project_id(http: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> str:
    body = {"client_id": org["id"], "name": "Matrix project", "currency": "EUR"}
    response = await http.post("/v1/projects", json=body, headers=staff)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _client_key(http: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> dict[str, str]:
    body = {"role": "client", "name": "matrix owner", "client_id": org["id"]}
    response = await http.post("/v1/api-keys", json=body, headers=staff)
    assert response.status_code == 201, response.text
    return bearer(response.json()["key"])


async def _quote_id(http: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> str:
    project_id = await _project_id(http, staff, org)
    quote = await quote_helpers.sent(http, staff, project_id)
    return str(quote["id"])


async def _criterion_id(http: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> str:
    project_id = await _project_id(http, staff, org)
    body = {"kind": "functional", "title": "Matrix criterion", "statement": "It works"}
    response = await http.post(f"/v1/projects/{project_id}/criteria", json=body, headers=staff)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _launched_project(http: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> str:
    project_id = await _project_id(http, staff, org)
    owner = await _client_key(http, staff, org)
    await quote_helpers.accepted(http, staff, owner, project_id)
    steps = [
        ("architecture", staff, project_helpers.ARCHITECTURE),
        ("architecture/approve", owner, {}),
        ("handover", staff, project_helpers.HANDOVER),
        ("launch", staff, {"without_criteria_reason": project_helpers.NO_CRITERIA_REASON}),
    ]
    for action, headers, body in steps:
        response = await project_helpers.post(http, project_id, action, headers, body)
        assert response.status_code == 200, response.text
    return project_id


async def _support_request_id(http: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> str:
    project_id = await _launched_project(http, staff, org)
    body = {"kind": "question", "subject": "Matrix", "body": "Does it work?"}
    response = await http.post(f"/v1/projects/{project_id}/support-requests", json=body, headers=staff)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _change_request_id(http: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> str:
    project_id = await _project_id(http, staff, org)
    await quote_helpers.accepted(http, staff, await _client_key(http, staff, org), project_id)
    body = {"title": "Matrix change", "description": "One more thing"}
    response = await http.post(f"/v1/projects/{project_id}/change-requests", json=body, headers=staff)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


FACTORIES: dict[str, Factory] = {
    "client_id": _client_id,
    "project_id": _project_id,
    "quote_id": _quote_id,
    "criterion_id": _criterion_id,
    "support_request_id": _support_request_id,
    "change_request_id": _change_request_id,
}

BODIES: dict[tuple[str, str], Any] = {
    ("PATCH", "/v1/clients/{client_id:uuid}"): {"name": "renamed"},
    ("POST", "/v1/projects/{project_id:uuid}/architecture/approve"): {},
    ("POST", "/v1/quotes/{quote_id:uuid}/accept"): {"accepted_by_name": "Matrix"},
    ("POST", "/v1/quotes/{quote_id:uuid}/decline"): {"reason": "no"},
    ("POST", "/v1/criteria/{criterion_id:uuid}/waive"): {"reason": "matrix"},
    ("POST", "/v1/projects/{project_id:uuid}/support-requests"): {"kind": "bug", "subject": "x", "body": "y"},
    ("POST", "/v1/projects/{project_id:uuid}/change-requests"): {
        "title": "More",
        "description": "More things",
    },
    ("POST", "/v1/support-requests/{support_request_id:uuid}/responses"): {"message": "hello"},
    ("POST", "/v1/support-requests/{support_request_id:uuid}/reopen"): {},
    ("POST", "/v1/change-requests/{change_request_id:uuid}/approve"): {"assessment_revision": 1},
    ("POST", "/v1/change-requests/{change_request_id:uuid}/reject"): {"reason": "no"},
    ("POST", "/v1/change-requests/{change_request_id:uuid}/withdraw"): {"reason": "no"},
}


@pytest.mark.parametrize(("method", "path", "roles"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_no_key_is_401(
    client: httpx.AsyncClient, method: str, path: str, roles: tuple[str, ...]
) -> None:
    ids = {name: str(uuid.uuid4()) for name in path_params(path)}
    response = await call(client, method, concrete(path, ids), {})
    assert response.status_code == 401, response.text


@pytest.mark.parametrize(("method", "path", "roles"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_roles_not_admitted_get_403(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    make_key: KeyMaker,
    method: str,
    path: str,
    roles: tuple[str, ...],
) -> None:
    assert roles, f"{method} {path} declares no roles"
    org = await create_client_org(client, staff, "Matrix")
    keys = {
        "staff": staff,
        "client": bearer(await make_key("client", org["id"])),
        "intake": bearer(await make_key("intake")),
    }
    ids = {name: str(uuid.uuid4()) for name in path_params(path)}
    for role in ROLES:
        if role in roles:
            continue
        response = await call(client, method, concrete(path, ids), keys[role], BODIES.get((method, path)))
        assert response.status_code == 403, (
            f"{role} on {method} {path}: {response.status_code} {response.text}"
        )


CLIENT_ROUTES_WITH_IDS = [(m, p, r) for m, p, r in ROUTES if "client" in r and path_params(p)]


@pytest.mark.parametrize(
    ("method", "path", "roles"),
    CLIENT_ROUTES_WITH_IDS,
    ids=[f"{m} {p}" for m, p, _ in CLIENT_ROUTES_WITH_IDS],
)
async def test_other_organisation_gets_404(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    make_key: KeyMaker,
    method: str,
    path: str,
    roles: tuple[str, ...],
) -> None:
    ours = await create_client_org(client, staff, "Ours")
    theirs = await create_client_org(client, staff, "Theirs")
    ids = {}
    for name in path_params(path):
        assert name in FACTORIES, f"add a factory for path parameter {name!r} ({method} {path})"
        ids[name] = await FACTORIES[name](client, staff, ours)
    if method not in ("GET", "DELETE"):
        assert (method, path) in BODIES, f"add a valid body for {method} {path}"
    intruder = bearer(await make_key("client", theirs["id"]))
    response = await call(client, method, concrete(path, ids), intruder, BODIES.get((method, path)))
    assert response.status_code == 404, f"{method} {path}: {response.status_code} {response.text}"
    assert response.headers["content-type"] == "application/problem+json"
    owner = bearer(await make_key("client", ours["id"]))
    if method == "GET":
        assert (await call(client, method, concrete(path, ids), owner)).status_code == 200
