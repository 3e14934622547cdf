"""Limits and exhaustion, in-process: the pool exhausted, page sizes, rate limits across processes.

- With every pooled connection held, a request answers a 503 problem with ``Retry-After`` within the
  acquire timeout (plus a small margin), never hangs; authentication included.
- Every list caps its page size: ``limit`` above 200 is a 422 naming ``query:limit``; the default page
  holds 50 items.
- The per-key rate limit is counted in Redis: two API instances sharing Redis admit exactly the limit
  between them, and refuse the rest with 429 and ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from litestar import Litestar

from api.app import create_app
from api.kit.clock import FrozenClock
from api.settings import Settings
from tests.conftest import KeyMaker, asgi_client, create_client_org, running

ACQUIRE_TIMEOUT = 0.5


class TestPoolExhausted:
    @pytest.fixture
    def env(self, env: dict[str, str]) -> dict[str, str]:
        return {
            **env,
            "DB_POOL_MIN": "1",
            "DB_POOL_MAX": "1",
            "DB_ACQUIRE_TIMEOUT": str(ACQUIRE_TIMEOUT),
        }

    @pytest.mark.parametrize(("method", "path"), [("GET", "/v1/clients"), ("POST", "/v1/clients")])
    async def test_exhausted_pool_answers_503_quickly(
        self, app: Litestar, client: httpx.AsyncClient, staff: dict[str, str], method: str, path: str
    ) -> None:
        assert (await client.get("/v1/clients", headers=staff)).status_code == 200
        async with app.state.pool.acquire():
            started = time.monotonic()
            response = await asyncio.wait_for(
                client.request(
                    method, path, headers=staff, json={"name": "Held"} if method == "POST" else None
                ),
                timeout=ACQUIRE_TIMEOUT * 6,
            )
            elapsed = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["retry-after"] == "1"
        assert elapsed < ACQUIRE_TIMEOUT * 3, elapsed
        assert (await client.get("/v1/clients", headers=staff)).status_code == 200

    async def test_exhausted_pool_does_not_hang_readiness(
        self, app: Litestar, client: httpx.AsyncClient
    ) -> None:
        async with app.state.pool.acquire():
            started = time.monotonic()
            response = await asyncio.wait_for(client.get("/ready"), timeout=5)
            assert time.monotonic() - started < 2.5
        assert response.status_code == 503
        assert response.json()["extra"] == {"failing": ["postgres"]}
        assert (await client.get("/ready")).status_code == 200


def _list_operations() -> list[str]:
    document: dict[str, Any] = create_app(Settings()).openapi_schema.to_schema()
    found = []
    for path, item in document["paths"].items():
        get = item.get("get")
        if get and any(p["name"] == "limit" and p["in"] == "query" for p in get.get("parameters", [])):
            limit = next(p for p in get["parameters"] if p["name"] == "limit")
            assert limit["schema"]["maximum"] == 200, path
            found.append(path)
    return sorted(found)


LISTS = _list_operations()


@pytest.mark.parametrize("path", LISTS)
async def test_page_size_is_capped(client: httpx.AsyncClient, staff: dict[str, str], path: str) -> None:
    url = path
    for name in [part[1:-1] for part in path.split("/") if part.startswith("{")]:
        url = url.replace("{" + name + "}", "00000000-0000-4000-8000-000000000000")
    response = await client.get(url, params={"limit": "201"}, headers=staff)
    assert response.status_code == 422, response.text
    assert [e["pointer"] for e in response.json()["errors"]] == ["query:limit"]
    assert (await client.get(url, params={"limit": "200"}, headers=staff)).status_code != 422


def test_every_list_is_checked() -> None:
    assert len(LISTS) >= 15


async def test_default_page_is_50_and_pages_cover_everything(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    for n in range(51):
        await create_client_org(client, staff, f"Org{n:02d}")
    first = (await client.get("/v1/clients", headers=staff)).json()
    assert len(first["items"]) == 50
    assert first["next_cursor"]
    second = (await client.get("/v1/clients", params={"cursor": first["next_cursor"]}, headers=staff)).json()
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None


class TestRateLimitAcrossProcesses:
    LIMIT = 12

    @pytest.fixture
    def env(self, env: dict[str, str]) -> dict[str, str]:
        return {**env, "RATE_LIMIT_PER_MINUTE": str(self.LIMIT)}

    @pytest.fixture
    async def second(self, settings: Settings, clock: FrozenClock) -> AsyncIterator[httpx.AsyncClient]:
        """A second API instance with its own pool, Redis client and key cache, sharing the servers."""
        other = create_app(settings, clock=clock)
        async with running(other), asgi_client(other) as http:
            yield http

    async def test_two_instances_admit_the_limit_between_them(
        self,
        client: httpx.AsyncClient,
        second: httpx.AsyncClient,
        make_key: KeyMaker,
    ) -> None:
        from tests.conftest import bearer

        headers = bearer(await make_key("staff"))
        statuses: list[int] = []
        for n in range(self.LIMIT * 2):
            http = client if n % 2 == 0 else second
            response = await http.get("/v1/clients", headers=headers)
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert 1 <= int(response.headers["retry-after"]) <= 60
        assert statuses.count(200) == self.LIMIT, statuses
        assert statuses.count(429) == self.LIMIT, statuses
        assert statuses[: self.LIMIT] == [200] * self.LIMIT
