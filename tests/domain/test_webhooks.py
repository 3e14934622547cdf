"""Webhook endpoints through the API: the secret shown once, listing, deletion, the log, roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org

URL = "http://127.0.0.1:9/hooks"


async def create(client: httpx.AsyncClient, headers: dict[str, str], **body: Any) -> httpx.Response:
    return await client.post(
        "/v1/webhook-endpoints", json={"url": URL, "event_types": "*", **body}, headers=headers
    )


async def test_secret_is_returned_once_and_never_again(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    response = await create(client, staff, event_types=["quote.sent", "quote.sent", "inquiry.received"])
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["secret"].startswith("whsec_")
    assert len(created["secret"]) == len("whsec_") + 44
    assert created["event_types"] == ["quote.sent", "inquiry.received"]
    assert created["status"] == "active"
    assert response.headers["location"] == f"/v1/webhook-endpoints/{created['id']}"
    secret = created["secret"]

    one = await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=staff)
    listed = await client.get("/v1/webhook-endpoints", headers=staff)
    log = await client.get(f"/v1/webhook-endpoints/{created['id']}/deliveries", headers=staff)
    for reply in (one, listed, log):
        assert reply.status_code == 200, reply.text
        assert secret not in reply.text
        assert "secret" not in reply.text
    assert one.json() == {k: v for k, v in created.items() if k != "secret"}
    assert [e["id"] for e in listed.json()["items"]] == [created["id"]]
    events = await db.fetch("SELECT type, data::text AS data FROM domain_events")
    audit = await db.fetch("SELECT details::text AS details FROM audit_entries")
    assert all(secret not in r["data"] for r in events)
    assert all(secret not in r["details"] for r in audit)
    assert "webhook_endpoint.created" in {r["type"] for r in events}


async def test_every_event_type_or_a_list(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    star = await create(client, staff, event_types="*")
    assert star.json()["event_types"] == "*"
    listed_star = await create(client, staff, event_types=["quote.sent", "*"])
    assert listed_star.json()["event_types"] == "*"


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"event_types": []}, "/event_types"),
        ({"event_types": ["Quote Sent"]}, "/event_types/0"),
        ({"event_types": "all"}, "/event_types"),
        ({"url": "not a url at all"}, "/url"),
        ({"url": "ftp://127.0.0.1/x"}, "/url"),
        ({"url": "http://user:pw@127.0.0.1/x"}, "/url"),
        ({"colour": "red"}, "/colour"),
    ],
)
async def test_bad_bodies_are_refused_with_a_pointer(
    client: httpx.AsyncClient, staff: dict[str, str], body: dict[str, Any], pointer: str
) -> None:
    response = await create(client, staff, **body)
    assert response.status_code == 422, response.text
    assert pointer in [e["pointer"] for e in response.json()["errors"]]


async def test_delete_cancels_waiting_deliveries_and_hides_the_endpoint(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection, clock: FrozenClock
) -> None:
    created = (await create(client, staff)).json()
    event_id = await db.fetchval("SELECT id FROM domain_events ORDER BY seq DESC LIMIT 1")
    await db.execute(
        """
        INSERT INTO deliveries (event_id, channel, recipient, endpoint_id, next_attempt_at, created_at, expires_at)
        VALUES ($1, 'webhook', $2::text, $3::uuid, $4, $4, $5)
        """,
        event_id,
        created["id"],
        created["id"],
        clock.now(),
        clock.now() + timedelta(days=3),
    )
    response = await client.delete(f"/v1/webhook-endpoints/{created['id']}", headers=staff)
    assert response.status_code == 204, response.text
    assert (await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=staff)).status_code == 404
    assert (await client.delete(f"/v1/webhook-endpoints/{created['id']}", headers=staff)).status_code == 404
    assert (await client.get("/v1/webhook-endpoints", headers=staff)).json()["items"] == []
    assert await db.fetchval("SELECT state FROM deliveries") == "cancelled"
    deleted = await db.fetchval("SELECT count(*) FROM domain_events WHERE type = 'webhook_endpoint.deleted'")
    assert deleted == 1


async def test_unknown_ids_are_404(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    nobody = "00000000-0000-0000-0000-000000000000"
    for method, path in [
        ("GET", f"/v1/webhook-endpoints/{nobody}"),
        ("DELETE", f"/v1/webhook-endpoints/{nobody}"),
        ("POST", f"/v1/webhook-endpoints/{nobody}/enable"),
        ("GET", f"/v1/webhook-endpoints/{nobody}/deliveries"),
        ("POST", f"/v1/webhook-deliveries/{nobody}/retry"),
    ]:
        response = await client.request(method, path, headers=staff)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"] == "application/problem+json"


async def test_endpoint_list_and_delivery_log_paginate(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection, clock: FrozenClock
) -> None:
    ids = [(await create(client, staff)).json()["id"] for _ in range(3)]
    first = (await client.get("/v1/webhook-endpoints?limit=2", headers=staff)).json()
    second = (
        await client.get(f"/v1/webhook-endpoints?limit=2&cursor={first['next_cursor']}", headers=staff)
    ).json()
    assert [e["id"] for e in first["items"] + second["items"]] == sorted(ids)  # same instant: by id
    assert second["next_cursor"] is None

    events = [r["id"] for r in await db.fetch("SELECT id FROM domain_events ORDER BY seq")]
    for n, event_id in enumerate(events[:3]):
        await db.execute(
            """
            INSERT INTO deliveries (event_id, channel, recipient, endpoint_id, state, next_attempt_at,
                                    created_at, expires_at)
            VALUES ($1, 'webhook', $2::text, $3::uuid, $5, $4, $4, $4)
            """,
            event_id,
            ids[0],
            ids[0],
            clock.now().replace(second=n),
            "failed" if n == 1 else "pending",
        )
    path = f"/v1/webhook-endpoints/{ids[0]}/deliveries"
    page = (await client.get(f"{path}?limit=2", headers=staff)).json()
    rest = (await client.get(f"{path}?limit=2&cursor={page['next_cursor']}", headers=staff)).json()
    assert [d["event_id"] for d in page["items"] + rest["items"]] == [str(e) for e in reversed(events[:3])]
    assert rest["next_cursor"] is None
    failed = (await client.get(f"{path}?state=failed", headers=staff)).json()["items"]
    assert [d["event_id"] for d in failed] == [str(events[1])]
    bad = await client.get(f"{path}?state=lost", headers=staff)
    assert bad.status_code in {400, 422}
    assert (await client.get(f"{path}?cursor=garbage", headers=staff)).status_code == 422


async def test_retry_refuses_what_cannot_be_retried(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection, clock: FrozenClock
) -> None:
    created = (await create(client, staff)).json()
    event_id = await db.fetchval("SELECT id FROM domain_events ORDER BY seq DESC LIMIT 1")
    rows = {}
    for state in ("delivered", "sending", "cancelled"):
        rows[state] = await db.fetchval(
            """
            INSERT INTO deliveries (event_id, channel, recipient, endpoint_id, state, lease_until,
                                    created_at, expires_at)
            VALUES ($1, 'webhook', $2::text, $3::uuid, $4, $5, $5, $5)
            RETURNING id
            """,
            event_id,
            created["id"] + state,
            created["id"],
            state,
            clock.now(),
        )
    expected = {
        "delivered": "already-delivered",
        "sending": "delivery-in-flight",
        "cancelled": "delivery-cancelled",
    }
    for state, rule in expected.items():
        response = await client.post(f"/v1/webhook-deliveries/{rows[state]}/retry", headers=staff)
        assert response.status_code == 409, response.text
        assert response.json()["rule"] == rule


async def test_enabling_an_active_endpoint_changes_nothing(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    created = (await create(client, staff)).json()
    response = await client.post(f"/v1/webhook-endpoints/{created['id']}/enable", headers=staff)
    assert response.status_code == 200
    assert response.json()["status"] == "active"


ROUTES = [
    ("POST", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints"),
    ("GET", "/v1/webhook-endpoints/{id}"),
    ("DELETE", "/v1/webhook-endpoints/{id}"),
    ("POST", "/v1/webhook-endpoints/{id}/enable"),
    ("GET", "/v1/webhook-endpoints/{id}/deliveries"),
    ("POST", "/v1/webhook-deliveries/{id}/retry"),
    ("GET", "/v1/events"),
]


async def test_only_staff_may_call_these_routes(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker
) -> None:
    created = (await create(client, staff)).json()
    org = await create_client_org(client, staff, "Roles")
    others = [bearer(await make_key("client", org["id"])), bearer(await make_key("intake"))]
    for method, template in ROUTES:
        path = template.replace("{id}", created["id"])
        body = {"url": URL, "event_types": "*"} if method == "POST" else None
        for headers in others:
            response = await client.request(method, path, headers=headers, json=body)
            assert response.status_code == 403, (method, path, response.text)
        response = await client.request(method, path, json=body)
        assert response.status_code == 401, (method, path, response.text)
    # and nothing was changed by the refused calls
    assert (await client.get(f"/v1/webhook-endpoints/{created['id']}", headers=staff)).status_code == 200
