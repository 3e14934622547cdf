"""Mass assignment: fields the service owns cannot be set through a create or update body.

The bodies are generated from the app itself, so a new body is covered the day it is added:

- every ``data`` parameter of every route is a Struct tree that refuses unknown fields at every level
  (``forbid_unknown_fields=True``);
- for every operation with a JSON body in the OpenAPI document, each field the service owns is sent
  and refused with a 422 problem pointing at it: the names in ``OWNED`` (status, prices, organisation,
  timestamps, ...) that the body does not declare, and every field of the operation's success response
  that the body does not declare (an id, a version, a computed total, ...).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import msgspec
import pytest
from litestar.handlers import HTTPRouteHandler

from api.app import create_app, route_handlers
from api.settings import Settings
from tests.conftest import KeyMaker, bearer, create_client_org

#: Field names that only the service may set, wherever a body does not declare them.
OWNED = (
    "id",
    "status",
    "state",
    "phase",
    "version",
    "revision",
    "created_at",
    "updated_at",
    "deleted_at",
    "client_id",
    "organisation_id",
    "project_id",
    "total",
    "price",
    "current_price",
    "contract_value",
    "accepted_at",
    "accepted_by",
    "sent_at",
    "evidence",
    "due_at",
    "key_hash",
    "secret_hash",
    "role_granted",
    "links",
)

DOCUMENT: dict[str, Any] = create_app(Settings()).openapi_schema.to_schema()


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _properties(schema: dict[str, Any]) -> set[str]:
    """Top-level property names of an object schema (through ``$ref``, ``oneOf`` and ``anyOf``)."""
    schema = _resolve(schema)
    names = set(schema.get("properties", {}))
    for key in ("oneOf", "anyOf", "allOf"):
        for option in schema.get(key, []):
            names |= _properties(option)
    return names


def _roles() -> dict[tuple[str, str], tuple[str, ...]]:
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    for handler in route_handlers():
        assert isinstance(handler, HTTPRouteHandler)
        for path in handler.paths:
            for method in handler.http_methods:
                found[(method, re.sub(r":[a-z]+\}", "}", path))] = tuple(handler.opt.get("roles", ()))
    return found


def body_operations() -> list[tuple[str, str, set[str], set[str]]]:
    """(method, path, declared body fields, fields the service owns) for every JSON body."""
    operations = []
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body is None:
                continue
            declared = _properties(body["schema"])
            owned = {name for name in OWNED if name not in declared}
            for code, response in operation.get("responses", {}).items():
                if code.startswith("2") and "application/json" in response.get("content", {}):
                    owned |= _properties(response["content"]["application/json"]["schema"]) - declared
            operations.append((method.upper(), path, declared, owned))
    return sorted(operations, key=lambda o: (o[1], o[0]))


OPERATIONS = body_operations()
ROLES = _roles()


def test_every_body_is_covered() -> None:
    assert len(OPERATIONS) >= 25
    for method, path, _, owned in OPERATIONS:
        assert (method, path) in ROLES, f"{method} {path} is not in the route table"
        assert {"id", "status", "created_at"} <= owned, f"{method} {path} declares a service-owned field"


def _struct_types(annotation: Any) -> list[msgspec.inspect.StructType]:
    found: list[msgspec.inspect.StructType] = []

    def walk(info: msgspec.inspect.Type) -> None:
        if isinstance(info, msgspec.inspect.StructType):
            if any(existing.cls is info.cls for existing in found):
                return
            found.append(info)
            for field in info.fields:
                walk(field.type)
        elif isinstance(info, msgspec.inspect.Metadata):
            walk(info.type)
        elif isinstance(info, msgspec.inspect.UnionType):
            for option in info.types:
                walk(option)
        elif isinstance(
            info,
            msgspec.inspect.ListType
            | msgspec.inspect.SetType
            | msgspec.inspect.FrozenSetType
            | msgspec.inspect.VarTupleType,
        ):
            walk(info.item_type)
        elif isinstance(info, msgspec.inspect.TupleType):
            for item in info.item_types:
                walk(item)
        elif isinstance(info, msgspec.inspect.DictType):
            walk(info.value_type)

    walk(msgspec.inspect.type_info(annotation))
    return found


def test_every_request_struct_refuses_unknown_fields() -> None:
    bodies = 0
    for handler in route_handlers():
        assert isinstance(handler, HTTPRouteHandler)
        data = handler.parsed_fn_signature.parameters.get("data")
        if data is None:
            continue
        bodies += 1
        structs = _struct_types(data.annotation)
        assert structs, f"{handler} takes a body that is not a Struct"
        for struct in structs:
            assert struct.forbid_unknown_fields, (
                f"{struct.cls.__qualname__} (body of {sorted(handler.paths)}) accepts unknown fields"
            )
    assert bodies == len(OPERATIONS)


@pytest.mark.parametrize(
    ("method", "path", "declared", "owned"), OPERATIONS, ids=[f"{m} {p}" for m, p, _, _ in OPERATIONS]
)
async def test_service_owned_fields_are_refused(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    make_key: KeyMaker,
    method: str,
    path: str,
    declared: set[str],
    owned: set[str],
) -> None:
    roles = ROLES[(method, path)]
    if "staff" in roles:
        headers = staff
    elif "client" in roles:
        org = await create_client_org(client, staff, "Owner")
        headers = bearer(await make_key("client", org["id"]))
    else:
        headers = bearer(await make_key("intake"))
    url = re.sub(r"\{[a-z_]+\}", "00000000-0000-4000-8000-000000000000", path)
    for name in sorted(owned):
        response = await client.request(method, url, json={name: "2026-01-01T00:00:00Z"}, headers=headers)
        assert response.status_code == 422, f"{name}: {response.status_code} {response.text}"
        assert response.headers["content-type"] == "application/problem+json"
        errors = response.json()["errors"]
        assert errors == [{"pointer": f"/{name}", "detail": f"Object contains unknown field `{name}`"}], (
            f"{method} {path} {name}: {errors}"
        )
