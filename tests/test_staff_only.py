"""Routes that must stay staff-only, written down by hand.

The tenant matrix (``tests/test_tenant_matrix.py``) derives the 403s it expects from the route table,
so widening a route's roles widens the matrix with it and nothing fails. This list does not follow the
route table: admitting a client or intake key on any route below fails here, and so does removing or
renaming one (change the list on purpose, in the same commit).
"""

from __future__ import annotations

import uuid

import httpx
from litestar.handlers import HTTPRouteHandler

from api.app import route_handlers
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.test_tenant_matrix import BODIES, call, concrete, path_params

STAFF_ONLY: tuple[tuple[str, str], ...] = (
    # the event feed carries every event, staff-only ones included
    ("GET", "/v1/events"),
    # keys, webhooks and their delivery logs: secrets, addresses, raw errors
    ("POST", "/v1/api-keys"),
    ("GET", "/v1/api-keys"),
    ("DELETE", "/v1/api-keys/{key_id:uuid}"),
    ("POST", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints/{endpoint_id:uuid}"),
    ("DELETE", "/v1/webhook-endpoints/{endpoint_id:uuid}"),
    ("POST", "/v1/webhook-endpoints/{endpoint_id:uuid}/enable"),
    ("GET", "/v1/webhook-endpoints/{endpoint_id:uuid}/deliveries"),
    ("POST", "/v1/webhook-deliveries/{delivery_id:uuid}/retry"),
    # inquiries: other people's names, addresses and messages
    ("GET", "/v1/inquiries"),
    ("POST", "/v1/inquiries/{inquiry_id:uuid}/reply"),
    ("POST", "/v1/inquiries/{inquiry_id:uuid}/close"),
    ("POST", "/v1/inquiries/{inquiry_id:uuid}/release"),
    ("POST", "/v1/inquiries/{inquiry_id:uuid}/convert"),
    # the shop's configuration and SLA internals
    ("GET", "/v1/calendar"),
    ("PUT", "/v1/calendar"),
    ("GET", "/v1/sla-policy"),
    ("PUT", "/v1/sla-policy"),
    ("GET", "/v1/sla-timers"),
    ("GET", "/v1/sla-timers/{timer_id:uuid}"),
    # organisations and projects are set up and moved by staff
    ("POST", "/v1/clients"),
    ("PATCH", "/v1/clients/{client_id:uuid}"),
    ("POST", "/v1/projects"),
    ("POST", "/v1/projects/{project_id:uuid}/architecture"),
    ("POST", "/v1/projects/{project_id:uuid}/handover"),
    ("POST", "/v1/projects/{project_id:uuid}/launch"),
    ("POST", "/v1/projects/{project_id:uuid}/hold"),
    ("POST", "/v1/projects/{project_id:uuid}/resume"),
    ("POST", "/v1/projects/{project_id:uuid}/cancel"),
    ("POST", "/v1/projects/{project_id:uuid}/close"),
    # quotes are written and sent by staff (clients accept or decline)
    ("POST", "/v1/projects/{project_id:uuid}/quotes"),
    ("PATCH", "/v1/quotes/{quote_id:uuid}"),
    ("POST", "/v1/quotes/{quote_id:uuid}/send"),
    ("POST", "/v1/quotes/{quote_id:uuid}/revise"),
    # criteria and their verdicts (clients read and waive)
    ("POST", "/v1/projects/{project_id:uuid}/criteria"),
    ("PATCH", "/v1/criteria/{criterion_id:uuid}"),
    ("DELETE", "/v1/criteria/{criterion_id:uuid}"),
    ("POST", "/v1/criteria/{criterion_id:uuid}/verifications"),
    # change requests are assessed and worked on by staff
    ("POST", "/v1/change-requests/{change_request_id:uuid}/assessment"),
    ("POST", "/v1/change-requests/{change_request_id:uuid}/start"),
    ("POST", "/v1/change-requests/{change_request_id:uuid}/complete"),
    ("POST", "/v1/support-requests/{support_request_id:uuid}/resolve"),
)


def _declared() -> dict[tuple[str, str], tuple[str, ...]]:
    found: dict[tuple[str, str], tuple[str, ...]] = {}
    for handler in route_handlers():
        assert isinstance(handler, HTTPRouteHandler)
        for path in handler.paths:
            for method in handler.http_methods:
                found[(method, path)] = tuple(handler.opt.get("roles", ()))
    return found


def test_the_listed_routes_exist_and_declare_staff_alone() -> None:
    declared = _declared()
    assert len(set(STAFF_ONLY)) == len(STAFF_ONLY)
    wrong = {route: declared.get(route) for route in STAFF_ONLY if declared.get(route) != ("staff",)}
    assert not wrong, f"routes that must stay staff-only declare other roles (None: gone): {wrong}"


async def test_client_and_intake_keys_are_refused(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker
) -> None:
    org = await create_client_org(client, staff, "Outsider")
    keys = {"client": bearer(await make_key("client", org["id"])), "intake": bearer(await make_key("intake"))}
    admitted = []
    for method, path in STAFF_ONLY:
        ids = {name: str(uuid.uuid4()) for name in path_params(path)}
        for role, headers in keys.items():
            response = await call(client, method, concrete(path, ids), headers, BODIES.get((method, path)))
            if response.status_code != 403:
                admitted.append(f"{role} on {method} {path}: {response.status_code} {response.text}")
    assert not admitted, "\n".join(admitted)
