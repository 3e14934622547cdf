"""Request bodies: a missing one is named as such, and an operation whose fields are all optional
takes no body at all."""

from __future__ import annotations

import httpx
import msgspec
import pytest
from litestar import Litestar

from api.app import create_app
from api.kit.clock import FrozenClock
from api.settings import Settings
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.engagement_helpers import approved, body, in_delivery, read

PROBLEM = "application/problem+json"


def body_routes() -> list[tuple[str, str, type[msgspec.Struct], bool]]:
    """(method, path, body struct, body optional) of every operation that reads a JSON body."""
    found = []
    app: Litestar = create_app(Settings())
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            parameters = handler.parsed_fn_signature.parameters
            if "data" not in parameters:
                continue
            field = parameters["data"]
            candidates = [field.annotation, *(inner.annotation for inner in field.inner_types)]
            struct = next(
                (t for t in candidates if isinstance(t, type) and issubclass(t, msgspec.Struct)), None
            )
            if struct is None:
                continue
            for method in handler.http_methods:
                found.append((method, route.path, struct, field.is_optional))
    return found


def all_optional(struct: type[msgspec.Struct]) -> bool:
    return all(
        f.default is not msgspec.NODEFAULT or f.default_factory is not msgspec.NODEFAULT
        for f in msgspec.structs.fields(struct)
    )


def test_every_operation_whose_fields_are_all_optional_takes_a_missing_body() -> None:
    routes = body_routes()
    assert len(routes) > 20
    must = sorted(f"{m} {p}" for m, p, struct, optional in routes if all_optional(struct) and not optional)
    assert must == []
    needless = sorted(
        f"{m} {p}" for m, p, struct, optional in routes if optional and not all_optional(struct)
    )
    assert needless == []


async def test_a_missing_required_body_says_a_json_body_is_required(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    for path in ("/v1/clients", "/v1/webhook-endpoints", "/v1/inquiries"):
        response = await client.post(path, headers=staff)
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
        problem = response.json()
        assert problem["detail"] == "A JSON body is required."
        assert problem["errors"] == [{"pointer": "", "detail": "a JSON body is required"}]


async def test_start_and_complete_take_no_body(
    client: httpx.AsyncClient, clock: FrozenClock, staff: dict[str, str], make_key: KeyMaker
) -> None:
    org = await create_client_org(client, staff, "Acme")
    client_key = bearer(await make_key("client", org["id"]))
    project = await in_delivery(client, clock, staff, client_key, org["id"])
    change = await approved(client, staff, client_key, project["id"])
    started = body(await client.post(f"/v1/change-requests/{change['id']}/start", headers=staff))
    assert started["status"] == "in_progress"
    done = body(await client.post(f"/v1/change-requests/{change['id']}/complete", headers=staff))
    assert done["status"] == "done"
    held = await client.post(f"/v1/projects/{project['id']}/hold", headers=staff)
    assert held.status_code == 422
    assert held.json()["rule"] == "reason-required"
    assert held.json()["errors"] == [{"pointer": "/reason", "detail": "a non-blank reason is required"}]
    assert (await read(client, staff, f"/v1/projects/{project['id']}"))["phase"] == "delivery"


@pytest.mark.parametrize("raw", [b"{}", b""])
async def test_a_patch_with_nothing_to_change_changes_nothing(
    client: httpx.AsyncClient, staff: dict[str, str], raw: bytes
) -> None:
    org = await create_client_org(client, staff, "Acme")
    response = await client.patch(
        f"/v1/clients/{org['id']}", content=raw, headers={**staff, "content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Acme"
