"""Operations: liveness, readiness, metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from litestar import Response, get
from litestar.datastructures import State
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api.errors import Unavailable

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
async def metrics(state: State) -> Response[Any]:
    """Request counts and latencies in the Prometheus text format."""
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
