from __future__ import annotations

import httpx

from api.app import create_app
from api.kit.clock import FrozenClock
from api.settings import Settings
from tests.conftest import asgi_client, running


async def test_health_and_ready(client: httpx.AsyncClient) -> None:
    assert (await client.get("/health")).json() == {"status": "ok"}
    ready = await client.get("/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "postgres": "ok", "redis": "ok"}


async def test_ready_is_503_when_redis_does_not_answer(env: dict[str, str], clock: FrozenClock) -> None:
    app = create_app(Settings.from_env({**env, "REDIS_URL": "redis://127.0.0.1:1/0"}), clock=clock)
    async with (
        running(app),
        asgi_client(app) as http,
    ):
        response = await http.get("/ready")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["extra"] == {"failing": ["redis"]}
        assert (await http.get("/health")).status_code == 200


def _sample(text: str, name: str) -> float:
    """The value of one sample in Prometheus text (0 when the series does not exist yet)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split(" ", 1)[1])
    return 0.0


async def test_metrics_count_requests(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    series = 'scopekeeper_http_requests_total{method="GET",route="/v1/clients",status="200"}'
    before = _sample((await client.get("/metrics")).text, series)
    await client.get("/v1/clients", headers=staff)
    await client.get("/v1/clients", headers=staff)
    text = (await client.get("/metrics")).text
    assert _sample(text, series) == before + 2
    assert "scopekeeper_http_request_seconds_bucket" in text


async def test_schema_is_served_without_a_key(client: httpx.AsyncClient) -> None:
    document = (await client.get("/schema/openapi.json")).json()
    assert document["openapi"].startswith("3.1")
    assert "/v1/clients" in document["paths"]
    assert (await client.get("/schema")).status_code == 200
