"""The application factory: composition only. Every piece is built from ``Settings`` passed in."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler

from api.db import create_pool
from api.domain.api_keys import routes as api_keys
from api.domain.clients import routes as clients
from api.domain.ops import routes as ops
from api.errors import exception_handlers
from api.kit import idempotency
from api.kit.auth import ApiKeyAuthentication, KeyCache, role_guard
from api.kit.clock import Clock, SystemClock
from api.kit.http import DEPENDENCIES, capture_response, request_context
from api.kit.jobs import JobSender, close_redis, create_redis
from api.kit.observability import Metrics, observe
from api.kit.ratelimit import RateLimiter
from api.openapi_doc import document_problems
from api.settings import Settings

API_DESCRIPTION = """
Scopekeeper runs a fixed-price engagement from first contact to the end of support: inquiries with a
one-business-day reply promise, projects and their phases, fixed-price quotes, acceptance criteria,
change requests, post-launch support and the SLA timers behind them.

Conventions: `Authorization: Bearer <key>`; RFC 9457 problems for every error; cursor pagination
(`limit`, `cursor`, `next_cursor`); `Idempotency-Key` on POSTs (stored 24 h); `ETag`/`If-Match` on
mutable resources; money as `{"amount": "123.45", "currency": "EUR"}`; rate limits answer 429 with
`Retry-After`; request bodies over 1 MiB answer 413.
"""


def route_handlers() -> list[ControllerRouterHandler]:
    """Every route of the service; the tenant matrix in the tests walks this list."""
    return [
        ops.health,
        ops.ready,
        ops.metrics,
        api_keys.create_key,
        api_keys.list_keys,
        api_keys.revoke_key,
        clients.create_client,
        clients.list_clients,
        clients.get_client,
        clients.update_client,
    ]


def _replay(_: Request[Any, Any, Any], exc: idempotency.Replay) -> Response[Any]:
    stored = exc.stored
    headers = {k: v for k, v in stored.headers.items() if k.lower() != "content-type"}
    headers["Idempotent-Replayed"] = "true"
    return Response(
        stored.body,
        status_code=stored.status,
        headers=headers,
        media_type=stored.headers.get("content-type", "application/json"),
    )


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    extra_handlers: Sequence[ControllerRouterHandler] = (),
) -> Litestar:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        app.state.pool = await create_pool(settings)
        app.state.redis = create_redis(settings.redis_url)
        app.state.jobs = JobSender(app.state.redis)
        app.state.limiter = RateLimiter(app.state.redis, app.state.clock)
        try:
            yield
        finally:
            await close_redis(app.state.redis)
            await app.state.pool.close()

    handlers = exception_handlers()
    handlers[idempotency.Replay] = _replay
    auth = DefineMiddleware(
        ApiKeyAuthentication,
        exclude=["^/schema", "^/health$", "^/ready$", "^/metrics$"],
    )
    openapi = OpenAPIConfig(
        title="Scopekeeper API",
        version="1.0.0",
        description=API_DESCRIPTION.strip(),
        path="/schema",
        render_plugins=[ScalarRenderPlugin()],
        components=Components(
            security_schemes={
                "bearer": SecurityScheme(
                    type="http", scheme="bearer", description="An API key: sk_<prefix>_<secret>"
                )
            }
        ),
        security=[{"bearer": []}],
        use_handler_docstrings=True,
    )
    cors = (
        CORSConfig(
            allow_origins=list(settings.cors_allow_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
            expose_headers=["ETag", "Location", "Retry-After", "X-Request-ID"],
        )
        if settings.cors_allow_origins
        else None
    )
    app = Litestar(
        route_handlers=[*route_handlers(), *extra_handlers],
        lifespan=[lifespan],
        state=State(
            {
                "settings": settings,
                "clock": clock or SystemClock(),
                "metrics": metrics,
                "key_cache": KeyCache(settings.auth_cache_seconds),
            }
        ),
        dependencies=DEPENDENCIES,
        guards=[role_guard],
        middleware=[observe(metrics), request_context, auth],
        exception_handlers=handlers,
        after_request=capture_response,
        request_max_body_size=settings.max_body_bytes,
        openapi_config=openapi,
        cors_config=cors,
        debug=False,
    )
    document_problems(app)
    return app
