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
        # IPv6 forms that carry a private IPv4 address, and site-local addresses (the probe's finding)
        ("https://[64:ff9b::7f00:1]/hooks", "private"),  # NAT64 of 127.0.0.1
        ("https://[64:ff9b::a9fe:a9fe]/hooks", "private"),  # NAT64 of 169.254.169.254
        ("https://[64:ff9b:1::a00:1]/hooks", "private"),  # local-use NAT64 of 10.0.0.1
        ("https://[::127.0.0.1]/hooks", "private"),  # IPv4-compatible
        ("https://[2002:7f00:1::]/hooks", "private"),  # 6to4 of 127.0.0.1
        ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hooks", "private"),  # Teredo
        ("https://[fec0::1]/hooks", "private"),  # site-local
        # URLs no request can be made to (the probe's port 99999 left a delivery stuck)
        ("https://8.8.8.8:99999/hooks", "port must be 1 to 65535"),
        ("https://8.8.8.8:0/hooks", "port must be 1 to 65535"),
        ("https://exa mple.com/hooks", "not a host name"),
        ("https://-bad-.example.com/hooks", "not a host name"),
        ("https://a..b.example.com/hooks", "not a host name"),
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


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("64:ff9b::808:808", True),  # NAT64 of 8.8.8.8
        ("2002:808:808::1", True),  # 6to4 of 8.8.8.8
        ("::ffff:8.8.8.8", True),
        ("2606:4700::1111", True),
        ("64:ff9b::a00:1", False),  # NAT64 of 10.0.0.1
        ("64:ff9b::6440:1", False),  # NAT64 of 100.64.0.1 (shared)
        ("2002:a9fe:a9fe::", False),  # 6to4 of 169.254.169.254
        ("2002:c0a8:1::1", False),  # 6to4 of 192.168.0.1
        ("::10.0.0.1", False),  # IPv4-compatible
        ("::ffff:169.254.169.254", False),
        ("fec0::1", False),
        ("feff::1", False),
    ],
)
def test_ipv6_addresses_are_judged_by_the_ipv4_addresses_they_carry(address: str, allowed: bool) -> None:
    assert urls.public(ipaddress.ip_address(address)) is allowed
