"""Endpoint URL rules when the settings forbid http and private targets (as in production)."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from api.domain.webhooks import urls
from api.errors import Invalid
from api.settings import Settings


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "WEBHOOKS_ALLOW_HTTP": "false", "WEBHOOKS_ALLOW_PRIVATE": "false"}


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://203.0.113.10/hooks", "must use https"),
        ("https://10.0.0.1/hooks", "private"),
        ("https://127.0.0.1/hooks", "private"),
        ("https://localhost:8443/hooks", "private"),
        ("https://169.254.169.254/latest/meta-data", "private"),
        ("https://100.64.0.1/hooks", "private"),
        ("https://224.0.0.1/hooks", "private"),
        ("https://0.0.0.0/hooks", "private"),
        ("https://[::1]/hooks", "private"),
        ("https://[::ffff:10.0.0.1]/hooks", "private"),
        ("https://[fe80::1]/hooks", "private"),
        ("https://user:secret@8.8.8.8/hooks", "user name or password"),
        ("https:///hooks", "no host"),
        ("https://no-such-host.invalid/hooks", "does not resolve"),
    ],
)
async def test_refused_urls_are_422_at_url(
    client: httpx.AsyncClient, staff: dict[str, str], url: str, reason: str
) -> None:
    response = await client.post(
        "/v1/webhook-endpoints", json={"url": url, "event_types": "*"}, headers=staff
    )
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["errors"][0]["pointer"] == "/url"
    assert reason in problem["errors"][0]["detail"]
    assert (await client.get("/v1/webhook-endpoints", headers=staff)).json()["items"] == []


async def test_a_public_https_address_is_accepted(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    response = await client.post(
        "/v1/webhook-endpoints", json={"url": "https://1.1.1.1/hooks", "event_types": "*"}, headers=staff
    )
    assert response.status_code == 201, response.text


async def test_a_host_is_refused_when_any_of_its_addresses_is_private(settings: Settings) -> None:
    with pytest.raises(Invalid):
        await urls.check("https://localhost/hooks", settings)  # resolves to 127.0.0.1 (and maybe ::1)
    assert urls.public(ipaddress.ip_address("8.8.8.8"))
    assert not urls.public(ipaddress.ip_address("::ffff:192.168.1.1"))
    allowed = Settings.from_env({"WEBHOOKS_ALLOW_HTTP": "true", "WEBHOOKS_ALLOW_PRIVATE": "true"})
    target = await urls.check("http://127.0.0.1:8080/x", allowed)
    assert str(target.address) == "127.0.0.1"
