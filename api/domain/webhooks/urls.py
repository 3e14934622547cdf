"""The rules an endpoint URL must pass, at creation and again before every delivery (DNS may change).

- ``https`` only, unless ``WEBHOOKS_ALLOW_HTTP``; no user name or password in the URL; at most 2,048
  characters; a host is required.
- Every address the host resolves to must be public: private, shared (CGNAT), link-local, loopback,
  multicast, reserved, unspecified and documentation addresses are refused (IPv4-mapped IPv6 addresses
  are judged as the IPv4 address they carry), unless ``WEBHOOKS_ALLOW_PRIVATE``.
- A host that does not resolve is refused at creation; at delivery time it is a failed attempt.
- The delivery connects to the address that was checked (the request is pinned to it, with the
  original host name kept for ``Host`` and TLS), so a DNS answer that changes between the check and
  the connection cannot redirect the request to a private address. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import NamedTuple

import httpx

from api.errors import Invalid, invalid
from api.settings import Settings

MAX_URL = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Target(NamedTuple):
    """A checked URL and the address to connect to."""

    url: httpx.URL
    address: IPAddress


def public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def parse(raw: str, settings: Settings, pointer: str = "/url") -> httpx.URL:
    """Check the URL's form (scheme, host, no credentials); raise a 422 at ``pointer``."""
    if len(raw) > MAX_URL:
        raise invalid(pointer, f"the URL is longer than {MAX_URL} characters")
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise invalid(pointer, "not a valid URL") from None
    allowed = ("https", "http") if settings.webhooks_allow_http else ("https",)
    if url.scheme not in allowed:
        raise invalid(
            pointer, "the URL must use https" if len(allowed) == 1 else "the URL must use https or http"
        )
    if not url.host:
        raise invalid(pointer, "the URL names no host")
    if url.userinfo:
        raise invalid(pointer, "the URL must not carry a user name or password")
    return url


async def resolve(host: str, port: int, seconds: float) -> list[IPAddress]:
    """The addresses of ``host`` (an address literal resolves to itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(seconds):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


async def check(raw: str, settings: Settings, pointer: str = "/url") -> Target:
    """The URL passes every rule; returns it with the address to connect to, else raises a 422."""
    url = parse(raw, settings, pointer)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = await resolve(url.host, port, settings.webhook_timeout)
    except (OSError, TimeoutError, UnicodeError):
        raise invalid(pointer, f"the host {url.host} does not resolve") from None
    if not addresses:
        raise invalid(pointer, f"the host {url.host} does not resolve")
    if not settings.webhooks_allow_private:
        refused = [a for a in addresses if not public(a)]
        if refused:
            raise invalid(
                pointer,
                f"the host {url.host} resolves to a private, loopback, link-local, multicast or reserved "
                f"address ({refused[0]}); such targets are not allowed",
            )
    # IPv4 first: a host with both families is reached where IPv6 has no route too
    return Target(url=url, address=next((a for a in addresses if a.version == 4), addresses[0]))


def refusal(exc: Invalid) -> str:
    """The reason a URL was refused, for an attempt's error."""
    if exc.errors:
        return f"URL refused: {exc.errors[0].detail}"
    return f"URL refused: {exc.detail}"
