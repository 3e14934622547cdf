"""Structured request logs and Prometheus metrics, as one thin ASGI middleware.

Each request gets an id (the caller's ``X-Request-ID`` when sane, else a new one), echoed in the
response. One JSON log line per request carries the id, method, route, status and latency; headers are
never logged, so neither ``Authorization`` nor any secret reaches the logs.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any

import structlog
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import CollectorRegistry, Counter, Histogram

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_SECRET = re.compile(r"(sk_[0-9a-f]{8}_)[A-Za-z0-9_-]+|(whsec_)[A-Za-z0-9+/=]+|(Bearer\s+)\S+", re.IGNORECASE)


def redact(text: str) -> str:
    """Mask anything shaped like an API key, a webhook secret or a bearer token."""
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "[redacted]", text)


def _redact_processor(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    for key, value in event.items():
        if isinstance(value, str):
            event[key] = redact(value)
    return event


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """JSON logs on stderr for the service and the worker; stdlib loggers go through the same pipe."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _redact_processor,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=[
                *shared,
                structlog.stdlib.add_logger_name,
                structlog.processors.format_exc_info,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access", "httpx", "arq.jobs"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "scopekeeper_http_requests",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "scopekeeper_http_request_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )


access_log = structlog.get_logger("scopekeeper.access")


def observe(metrics: Metrics) -> Any:
    """Build the ASGI middleware factory bound to ``metrics``."""

    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.HTTP:
                await app(scope, receive, send)
                return
            started = time.perf_counter()
            request_id = ""
            for name, value in scope["headers"]:
                if name == b"x-request-id":
                    candidate = value.decode("latin-1")
                    request_id = candidate if _REQUEST_ID.match(candidate) else ""
                    break
            request_id = request_id or uuid.uuid4().hex
            status = 500

            async def send_wrapper(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = list(message.get("headers", []))
                    headers.append((b"x-request-id", request_id.encode()))
                    message["headers"] = headers
                await send(message)

            try:
                await app(scope, receive, send_wrapper)
            except Exception as exc:
                status = int(getattr(exc, "status", 0) or getattr(exc, "status_code", 0) or 500)
                raise
            finally:
                elapsed = time.perf_counter() - started
                handler = scope.get("route_handler")
                route = getattr(handler, "paths", None)
                route_name = sorted(route)[0] if route else "unmatched"
                method = scope.get("method", "")
                metrics.requests.labels(method, route_name, str(status)).inc()
                metrics.latency.labels(method, route_name).observe(elapsed)
                if route_name not in ("/health", "/metrics"):
                    access_log.info(
                        "request",
                        request_id=request_id,
                        method=method,
                        route=route_name,
                        status=status,
                        latency_ms=round(elapsed * 1000, 2),
                    )

        return middleware

    return factory
