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


async def _metrics_as(
    env: dict[str, str], clock: FrozenClock, headers: dict[str, str], **variables: str
) -> int:
    app = create_app(Settings.from_env({**env, **variables}), clock=clock)
    async with running(app), asgi_client(app) as http:
        return (await http.get("/metrics", headers=headers)).status_code


async def test_metrics_need_the_token_or_an_allowed_network(env: dict[str, str], clock: FrozenClock) -> None:
    """The probe's finding: /metrics answered anyone. The test client's address is 127.0.0.1."""
    token = "metrics-token-0123456789"
    with_token = {"METRICS_TOKEN": token}
    assert await _metrics_as(env, clock, {}, **with_token) == 401
    assert (
        await _metrics_as(env, clock, {"Authorization": "Bearer wrong-token-0123456789"}, **with_token) == 401
    )
    assert await _metrics_as(env, clock, {"Authorization": f"Bearer {token}"}, **with_token) == 200
    assert await _metrics_as(env, clock, {}, METRICS_ALLOW_FROM="10.0.0.0/8") == 403
    assert await _metrics_as(env, clock, {}, METRICS_ALLOW_FROM="10.0.0.0/8, 127.0.0.1") == 200
    # a client outside the allowed networks may still send the token
    both = {"METRICS_ALLOW_FROM": "10.0.0.0/8", **with_token}
    assert await _metrics_as(env, clock, {"Authorization": f"Bearer {token}"}, **both) == 200
    assert await _metrics_as(env, clock, {}, **both) == 401
    # production serves no metrics until one of the two is configured
    production = {
        "SCOPEKEEPER_ENV": "production",
        "WEBHOOK_SECRET_KEYS": "k1:" + "A" * 43,
        "WEBHOOKS_ALLOW_HTTP": "false",
        "WEBHOOKS_ALLOW_PRIVATE": "false",
    }
    assert await _metrics_as(env, clock, {}, **production) == 403
    assert (
        await _metrics_as(env, clock, {"Authorization": f"Bearer {token}"}, **production, **with_token) == 200
    )
