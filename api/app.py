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
from api.domain.calendar import routes as calendar
from api.domain.calendar import service as calendar_service
from api.domain.change_requests import routes as change_requests
from api.domain.clients import routes as clients
from api.domain.contracts import routes as contracts
from api.domain.criteria import routes as criteria
from api.domain.events import routes as events
from api.domain.inquiries import routes as inquiries
from api.domain.ops import routes as ops
from api.domain.projects import routes as projects
from api.domain.quotes import routes as quotes
from api.domain.support import routes as support
from api.domain.timers import routes as timers
from api.domain.webhooks import routes as webhooks
from api.errors import exception_handlers
from api.kit import idempotency
from api.kit.auth import ApiKeyAuthentication, KeyCache, role_guard
from api.kit.clock import Clock, SystemClock
from api.kit.http import DEPENDENCIES, ApiRequest, capture_response, request_context
from api.kit.jobs import JobSender, close_redis, create_redis
from api.kit.observability import AccessLog, Metrics, observe
from api.kit.ratelimit import RateLimiter
from api.openapi_doc import document_optional_bodies, document_problems
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
        inquiries.create_inquiry,
        inquiries.list_inquiries,
        inquiries.get_inquiry,
        inquiries.reply_inquiry,
        inquiries.close_inquiry,
        inquiries.release_inquiry,
        inquiries.convert_inquiry,
        projects.create_project,
        projects.list_projects,
        projects.get_project,
        projects.project_status,
        projects.project_history,
        projects.submit_architecture,
        projects.approve_architecture,
        projects.record_handover,
        projects.launch_project,
        projects.hold_project,
        projects.resume_project,
        projects.cancel_project,
        projects.close_project,
        quotes.create_quote,
        quotes.list_quotes,
        quotes.get_quote,
        quotes.get_quote_document,
        quotes.update_quote,
        quotes.send_quote,
        quotes.revise_quote,
        quotes.accept_quote,
        quotes.decline_quote,
        contracts.get_contract,
        criteria.create_criterion,
        criteria.list_criteria,
        criteria.get_criterion,
        criteria.update_criterion,
        criteria.remove_criterion,
        criteria.criterion_versions,
        criteria.verify_criterion,
        criteria.list_verifications,
        criteria.waive_criterion,
        change_requests.submit_change_request,
        change_requests.list_change_requests,
        change_requests.get_change_request,
        change_requests.assess_change_request,
        change_requests.approve_change_request,
        change_requests.reject_change_request,
        change_requests.withdraw_change_request,
        change_requests.start_change_request,
        change_requests.complete_change_request,
        support.open_support_request,
        support.list_support_requests,
        support.get_support_request,
        support.respond_to_support_request,
        support.resolve_support_request,
        support.reopen_support_request,
        support.sla_report,
        calendar.get_calendar,
        calendar.put_calendar,
        timers.list_timers,
        timers.get_timer,
        timers.get_due_dates,
        timers.get_policy,
        timers.put_policy,
        events.list_events,
        webhooks.create_endpoint,
        webhooks.list_endpoints,
        webhooks.get_endpoint,
        webhooks.delete_endpoint,
        webhooks.enable_endpoint,
        webhooks.list_deliveries,
        webhooks.retry_delivery,
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
    access_log = AccessLog()
    calendar_service.configure(settings)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        # Connections come from the settings in the app's state when it starts, so one built app can
        # serve several runs (the test suite starts the same app against each test's database).
        current: Settings = app.state.settings
        calendar_service.configure(current)
        app.state.pool = await create_pool(current)
        app.state.redis = create_redis(current.redis_url)
        app.state.jobs = JobSender(app.state.redis)
        app.state.limiter = RateLimiter(app.state.redis, app.state.clock)
        try:
            async with access_log.flushing():
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
        middleware=[observe(metrics, access_log), request_context, auth],
        exception_handlers=handlers,
        after_request=capture_response,
        request_max_body_size=settings.max_body_bytes,
        request_class=ApiRequest,
        openapi_config=openapi,
        cors_config=cors,
        debug=False,
    )
    document_problems(app)
    document_optional_bodies(app)
    return app
