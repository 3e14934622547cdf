"""Structured request logs and Prometheus metrics, as one thin ASGI middleware.

Each request gets an id (the caller's ``X-Request-ID`` when sane, else a new one), echoed in the
response. One JSON log line per request (logger ``scopekeeper.access``) carries the id, method, route
template, status and latency; headers and paths with their ids are never logged, so neither
``Authorization`` nor any secret reaches the logs.

Access lines are buffered, as web servers buffer access logs: they are written to stderr in whole lines,
in writes of at most ``AccessLog.CHUNK`` bytes (so processes sharing a pipe never interleave within a
line), when the buffer fills, at least every ``AccessLog.FLUSH_SECONDS`` and when the app stops. A
process killed outright loses at most that last second of access lines; every other log line (warnings,
errors) is written at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, TextIO

import msgspec
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


class AccessLog:
    """The buffered access log (see the module's rules)."""

    CHUNK = 4096
    FLUSH_SECONDS = 1.0

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lines: list[str] = []
        self._size = 0
        self._encode = msgspec.json.Encoder().encode

    def record(self, request_id: str, method: str, route: str, status: int, latency_ms: float) -> None:
        line = self._encode(
            {
                "request_id": request_id,
                "method": method,
                "route": route,
                "status": status,
                "latency_ms": latency_ms,
                "event": "request",
                "logger": "scopekeeper.access",
                "level": "info",
                "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            }
        ).decode()
        if self._size + len(line) + 1 > self.CHUNK:
            self.flush()
        self._lines.append(line)
        self._size += len(line) + 1

    def flush(self) -> None:
        """Write what is buffered, in whole lines, ``CHUNK`` bytes at most per write."""
        if not self._lines:
            return
        lines, self._lines, self._size = self._lines, [], 0
        stream = self._stream or sys.stderr
        chunk: list[str] = []
        size = 0
        for line in lines:
            if chunk and size + len(line) + 1 > self.CHUNK:
                stream.write("\n".join(chunk) + "\n")
                stream.flush()
                chunk, size = [], 0
            chunk.append(line)
            size += len(line) + 1
        stream.write("\n".join(chunk) + "\n")
        stream.flush()

    @contextlib.asynccontextmanager
    async def flushing(self) -> AsyncIterator[None]:
        """Flush every ``FLUSH_SECONDS`` while the app runs, and once more when it stops."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(self.FLUSH_SECONDS)
                self.flush()

        task = asyncio.get_running_loop().create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.flush()


def observe(metrics: Metrics, access_log: AccessLog) -> Any:
    """Build the ASGI middleware factory bound to ``metrics`` and ``access_log``."""

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
                    access_log.record(request_id, method, route_name, status, round(elapsed * 1000, 2))

        return middleware

    return factory
