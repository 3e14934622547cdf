"""The rules an endpoint URL must pass, at creation and again before every delivery (DNS may change).

- ``https`` only, unless ``WEBHOOKS_ALLOW_HTTP``; no user name or password in the URL; at most 2,048
  characters; a host is required: an IP address, or a name of dot-separated labels of letters, digits,
  hyphens and underscores (1 to 63 characters each, 253 in all; international names in their IDNA
  form); a port, when given, is 1 to 65535.
- Every address the host resolves to must be public: private, shared (CGNAT), link-local, loopback,
  multicast, reserved, unspecified and documentation addresses are refused, unless
  ``WEBHOOKS_ALLOW_PRIVATE``. IPv6 addresses that carry an IPv4 address are judged by every address
  they carry: IPv4-mapped (``::ffff:a.b.c.d``), IPv4-compatible (``::a.b.c.d``), NAT64 (the well-known
  ``64:ff9b::/96`` and the local-use ``64:ff9b:1::/48``), 6to4 (``2002::/16``) and Teredo
  (``2001::/32``: its server and its client). Site-local addresses (``fec0::/10``, deprecated) are
  refused.
- A host that does not resolve is refused at creation; at delivery time it is a failed attempt.
- The delivery connects to the address that was checked (the request is pinned to it, with the
  original host name kept for ``Host`` and TLS), so a DNS answer that changes between the check and
  the connection cannot redirect the request to a private address. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from typing import NamedTuple

import httpx

from api.errors import Invalid, invalid
from api.settings import Settings

MAX_URL = 2048
MAX_PORT = 65535
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?", re.IGNORECASE)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Target(NamedTuple):
    """A checked URL and the address to connect to."""

    url: httpx.URL
    address: IPAddress


_NAT64 = (ipaddress.IPv6Network("64:ff9b::/96"), ipaddress.IPv6Network("64:ff9b:1::/48"))


def embedded(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (see the module's rules); empty for a plain one."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if any(address in network for network in _NAT64):
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:
        return list(address.teredo)
    if int(address) >> 32 == 0 and int(address) > 1:  # IPv4-compatible ::a.b.c.d (not :: or ::1)
        return [ipaddress.IPv4Address(int(address))]
    return []


def public(address: IPAddress) -> bool:
    """True when ``address``, and every IPv4 address it carries, is a public unicast address."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.is_site_local or not all(public(inner) for inner in embedded(address)):
            return False
        if address.ipv4_mapped is not None:
            return True  # the IPv4 address it maps is the one connected to
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
    if not _host_ok(url.raw_host.decode("ascii", errors="replace")):
        raise invalid(pointer, f"{url.host!r} is not a host name or an IP address")
    if url.port is not None and not 1 <= url.port <= MAX_PORT:
        raise invalid(pointer, f"the port must be 1 to {MAX_PORT}, not {url.port}")
    return url


def _host_ok(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return _HOST.fullmatch(host) is not None
    return True


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
