"""``GET /v1/events``: cursor pagination in a durable order that never skips a late commit."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
from litestar import Litestar

from api.kit.clock import FrozenClock
from tests.notify_support import emit

Items = list[dict[str, Any]]


async def poll(
    client: httpx.AsyncClient, headers: dict[str, str], until: Callable[[Items], bool], query: str = ""
) -> tuple[Items, str]:
    """Read the feed until ``until`` holds (other databases' transactions on the same server may hold
    it back for a moment; the feed waits for every transaction older than an event to end)."""
    deadline = time.monotonic() + 10
    while True:
        response = await client.get(f"/v1/events{query}", headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["next_cursor"]
        if until(body["items"]) or time.monotonic() > deadline:
            return body["items"], body["next_cursor"]
        await asyncio.sleep(0.05)


async def test_feed_pages_in_order_and_resumes_from_its_cursor(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    db: asyncpg.Connection,
) -> None:
    emitted = [await emit(app, clock, "calendar.updated", {"n": n}) for n in range(5)]
    total = await db.fetchval("SELECT count(*) FROM domain_events")
    everything, _ = await poll(client, staff, lambda items: len(items) == total, "?limit=200")
    assert len(everything) == total
    ids = [e["id"] for e in everything]
    assert ids[-5:] == [str(e) for e in emitted]

    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        body = (await client.get(f"/v1/events?limit=2{cursor}", headers=staff)).json()
        if not body["items"]:
            break
        seen += [e["id"] for e in body["items"]]
        cursor = f"&after={body['next_cursor']}"
    assert seen == ids
    # an empty page still carries a cursor, and polling with it returns only what comes later
    empty = (await client.get(f"/v1/events?limit=2{cursor}", headers=staff)).json()
    assert empty["items"] == []
    assert f"&after={empty['next_cursor']}" == cursor
    later = await emit(app, clock, "calendar.updated", {"n": 5})
    items, _ = await poll(client, staff, lambda items: len(items) >= 1, f"?limit=50{cursor}")
    assert [e["id"] for e in items] == [str(later)]

    item = items[0]
    row = await db.fetchrow("SELECT * FROM domain_events WHERE id = $1", later)
    assert row is not None
    assert item == {
        "id": str(later),
        "type": "calendar.updated",
        "created_at": "2026-11-24T09:30:00Z",
        "subject_type": "test",
        "subject_id": str(row["subject_id"]),
        "client_id": None,
        "project_id": None,
        "data": {"n": 5},
    }


async def test_type_filter(
    client: httpx.AsyncClient, staff: dict[str, str], app: Litestar, clock: FrozenClock
) -> None:
    a = await emit(app, clock, "webhook_endpoint.enabled", {})
    b = await emit(app, clock, "webhook_endpoint.deleted", {})
    await emit(app, clock, "webhook_delivery.retried", {})
    only_a, _ = await poll(client, staff, lambda items: len(items) >= 1, "?type=webhook_endpoint.enabled")
    assert [e["id"] for e in only_a] == [str(a)]
    both, _ = await poll(
        client,
        staff,
        lambda items: len(items) >= 2,
        "?type=webhook_endpoint.enabled&type=webhook_endpoint.deleted",
    )
    assert [e["id"] for e in both] == [str(a), str(b)]


async def test_an_open_transaction_holds_back_later_events_until_it_commits(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    database_url: str,
    db: asyncpg.Connection,
) -> None:
    before = await db.fetchval("SELECT count(*) FROM domain_events")
    _, start = await poll(client, staff, lambda items: len(items) == before)
    slow = await asyncpg.connect(database_url)
    try:
        tx = slow.transaction()
        await tx.start()
        early = await slow.fetchval(
            """
            INSERT INTO domain_events (type, subject_type, subject_id, data, occurred_at)
            VALUES ('calendar.updated', 'test', $1, '{}', $2) RETURNING id
            """,
            uuid.uuid4(),
            clock.now(),
        )
        late = await emit(app, clock, "sla.policy_updated", {})  # committed, but after the open one began
        body = (await client.get(f"/v1/events?after={start}", headers=staff)).json()
        assert body["items"] == []
        assert body["next_cursor"] == start
        await tx.commit()
    finally:
        await slow.close()
    items, _ = await poll(client, staff, lambda items: len(items) >= 2, f"?after={start}")
    assert [e["id"] for e in items] == [str(early), str(late)]


async def test_malformed_cursor_is_422(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    for cursor in ("garbage", "WyJhIiwxXQ", "Wy0xLDFd"):  # not base64 JSON; ["a",1]; [-1,1]
        response = await client.get(f"/v1/events?after={cursor}", headers=staff)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["pointer"] == "query:after"
    assert (await client.get("/v1/events?limit=0", headers=staff)).status_code in (400, 422)
    assert (await client.get("/v1/events?limit=201", headers=staff)).status_code in (400, 422)
