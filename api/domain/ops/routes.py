"""Operations: liveness, readiness, metrics.

``/health`` and ``/ready`` answer anyone. ``/metrics`` answers a request that carries
``Authorization: Bearer <METRICS_TOKEN>`` or comes from a network of ``METRICS_ALLOW_FROM`` (the client
address as ``TRUSTED_PROXIES`` resolves it); with neither setting it answers outside production only.
Anything else is a 401 (no or a wrong token) or 403 problem.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.errors import Forbidden, Unauthenticated, Unavailable
from api.kit.auth import bearer_token
from api.kit.http import client_address
from api.settings import Settings

TAGS = ["Operations"]
PUBLIC = {"public": True}


class Health(msgspec.Struct):
    status: str


class Readiness(msgspec.Struct):
    status: str
    postgres: str
    redis: str


@get("/health", opt=PUBLIC, tags=TAGS, summary="Liveness", exclude_from_auth=True)
async def health() -> Health:
    """The process answers. Touches no backing service."""
    return Health(status="ok")


@get("/ready", opt=PUBLIC, tags=TAGS, summary="Readiness", exclude_from_auth=True)
async def ready(state: State) -> Readiness:
    """PostgreSQL and Redis both answer within a second; otherwise a 503 problem naming which does not."""
    failing: list[str] = []
    try:
        await asyncio.wait_for(state.pool.fetchval("SELECT 1"), timeout=1.0)
    except Exception:
        failing.append("postgres")
    try:
        await asyncio.wait_for(state.redis.ping(), timeout=1.0)
    except Exception:
        failing.append("redis")
    if failing:
        raise Unavailable(
            f"Not ready: {', '.join(failing)} did not answer.",
            headers={"Retry-After": "1"},
            extra={"failing": failing},
        )
    return Readiness(status="ready", postgres="ok", redis="ok")


@get(
    "/metrics",
    opt=PUBLIC,
    tags=TAGS,
    summary="Prometheus metrics",
    exclude_from_auth=True,
    media_type=CONTENT_TYPE_LATEST,
)
async def metrics(state: State, request: Request[Any, Any, State]) -> Response[Any]:
    """Request counts and latencies in the Prometheus text format. Send `Authorization: Bearer
    <METRICS_TOKEN>`, or call from a network of `METRICS_ALLOW_FROM` (401 or 403 otherwise)."""
    _admit_metrics(request, state.settings)
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _admit_metrics(request: Request[Any, Any, State], settings: Settings) -> None:
    token = bearer_token(request.headers.get("authorization"))
    if settings.metrics_token is not None and token is not None:
        if hmac.compare_digest(token.encode(), settings.metrics_token.encode()):
            return
        raise Unauthenticated("The metrics token is wrong.", headers={"WWW-Authenticate": "Bearer"})
    if settings.metrics_allow_from:
        address = client_address(request, settings.trusted_proxies)
        try:
            peer: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(address or "")
        except ValueError:
            peer = None
        if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
            peer = peer.ipv4_mapped
        if peer is not None and any(
            peer in ipaddress.ip_network(item, strict=False) for item in settings.metrics_allow_from
        ):
            return
    elif settings.metrics_token is None and not settings.is_production:
        return
    if settings.metrics_token is not None:
        raise Unauthenticated(
            "Send Authorization: Bearer <METRICS_TOKEN>.", headers={"WWW-Authenticate": "Bearer"}
        )
    raise Forbidden("Metrics are not served to this address (METRICS_ALLOW_FROM, METRICS_TOKEN).")
