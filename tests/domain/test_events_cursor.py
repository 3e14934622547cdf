"""``GET /v1/events`` pages with ``cursor`` like every list; ``after`` stays as its older name."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
from litestar import Litestar

from api.kit.clock import FrozenClock
from tests.notify_support import emit


async def page_ids(client: httpx.AsyncClient, staff: dict[str, str], name: str) -> list[str]:
    seen: list[str] = []
    query = ""
    for _ in range(50):
        response = await client.get(f"/v1/events?limit=2{query}", headers=staff)
        assert response.status_code == 200, response.text
        page = response.json()
        if not page["items"]:
            return seen
        seen += [e["id"] for e in page["items"]]
        query = f"&{name}={page['next_cursor']}"
    raise AssertionError("the feed did not end")


async def test_cursor_and_after_page_the_same_feed(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    db: asyncpg.Connection,
) -> None:
    emitted = [str(await emit(app, clock, "client.updated", {"n": n})) for n in range(5)]
    total = await db.fetchval("SELECT count(*) FROM domain_events")
    deadline = time.monotonic() + 10
    while True:  # other databases' transactions on the server may hold the feed back for a moment
        by_cursor = await page_ids(client, staff, "cursor")
        if len(by_cursor) >= total or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert by_cursor[-5:] == emitted
    assert await page_ids(client, staff, "after") == by_cursor

    first = (await client.get("/v1/events?limit=1", headers=staff)).json()["next_cursor"]
    both = await client.get(f"/v1/events?cursor={first}&after={first}", headers=staff)
    assert both.status_code == 422
    assert [e["pointer"] for e in both.json()["errors"]] == ["query:after"]
    bad = await client.get("/v1/events?cursor=nonsense", headers=staff)
    assert [e["pointer"] for e in bad.json()["errors"]] == ["query:cursor"]
