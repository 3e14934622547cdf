"""Domain errors and their RFC 9457 problem documents, in one map.

Services raise the errors below (they never import Litestar); ``exception_handlers()`` turns them, and
the framework's own exceptions, into ``application/problem+json`` responses. Each kind of problem has a
stable ``type`` URI (``urn:scopekeeper:problem:<slug>``). A 500 never shows a stack trace.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg
import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    PermissionDeniedException,
    ValidationException,
)

log = logging.getLogger("scopekeeper.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:scopekeeper:problem:"


class FieldError(msgspec.Struct, frozen=True):
    """One validation failure: a JSON Pointer into the request body (or the query parameter name)."""

    pointer: str
    detail: str


class Problem(msgspec.Struct, omit_defaults=True):
    """RFC 9457 problem details, as every error of the API is returned."""

    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None
    rule: str | None = None
    retry_after: int | None = None
    extra: dict[str, Any] | None = None


class DomainError(Exception):
    """An error a caller can act on. ``slug`` names the kind; ``rule`` names a broken business rule."""

    status = 400
    slug = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        rule: str | None = None,
        errors: Sequence[FieldError] | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.rule = rule
        self.errors = list(errors) if errors else None
        self.extra = dict(extra) if extra else None
        self.headers = dict(headers) if headers else {}


class Unauthenticated(DomainError):
    status, slug, title = 401, "unauthenticated", "Authentication required"


class Forbidden(DomainError):
    status, slug, title = 403, "forbidden", "Not allowed for this role"


class NotFound(DomainError):
    status, slug, title = 404, "not-found", "Not found"


class Conflict(DomainError):
    status, slug, title = 409, "conflict", "Conflict with the current state"


class InFlight(DomainError):
    status, slug, title = 409, "request-in-flight", "A request with this Idempotency-Key is in progress"


class PreconditionFailed(DomainError):
    status, slug, title = 412, "precondition-failed", "The resource has changed"


class PreconditionRequired(DomainError):
    status, slug, title = 428, "precondition-required", "If-Match is required"


class PayloadTooLarge(DomainError):
    status, slug, title = 413, "payload-too-large", "Request body too large"


class Invalid(DomainError):
    status, slug, title = 422, "validation-failed", "The request is not valid"


class IdempotencyMismatch(DomainError):
    status, slug, title = 422, "idempotency-key-reused", "Idempotency-Key reused with a different request"


class RateLimited(DomainError):
    status, slug, title = 429, "rate-limited", "Too many requests"


class Unavailable(DomainError):
    status, slug, title = 503, "service-unavailable", "A backing service is unavailable"


def invalid(pointer: str, detail: str) -> Invalid:
    """Shorthand for a 422 about one field."""
    return Invalid(detail, errors=[FieldError(pointer=pointer, detail=detail)])


def problem_response(
    *,
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    instance: str | None = None,
    errors: list[FieldError] | None = None,
    rule: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response[Problem]:
    retry_after = None
    if headers and "Retry-After" in headers:
        retry_after = int(headers["Retry-After"])
    body = Problem(
        type=TYPE_PREFIX + slug,
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        errors=errors,
        rule=rule,
        retry_after=retry_after,
        extra=extra,
    )
    return Response(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=dict(headers or {}))


def _domain(request: Request[Any, Any, Any], exc: DomainError) -> Response[Problem]:
    return problem_response(
        status=exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        errors=exc.errors,
        rule=exc.rule,
        extra=exc.extra,
        headers=exc.headers,
    )


_KEY_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")
_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `([^`]+)`")


def key_to_pointer(key: str | None, message: str) -> str:
    """Turn Litestar's ``lines[0].amount`` into the JSON Pointer ``/lines/0/amount``.

    An unknown or missing field named in the message is appended (``/colour``).
    """
    parts: list[str] = []
    if key and key != "data":
        for name, index in _KEY_PART.findall(key):
            parts.append(name or index)
    named = _NAMED_FIELD.search(message)
    if named:
        parts.append(named.group(1))
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


#: What the framework says when a required request body is missing (the ``data`` argument is absent).
_MISSING_BODY = ("'data'", '"data"')
BODY_REQUIRED = "a JSON body is required"


def _validation(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Problem]:
    """422 with one ``{pointer, detail}`` per problem. A missing body is one problem at the empty
    pointer (the whole document, RFC 6901): "a JSON body is required"."""
    errors: list[FieldError] = []
    for item in exc.extra if isinstance(exc.extra, list) else []:
        if not isinstance(item, dict):
            continue
        message = str(item.get("message", "invalid value"))
        source = item.get("source")
        key = item.get("key")
        source = getattr(source, "value", source)
        if message in _MISSING_BODY and key in (None, "data") and source in (None, "body"):
            errors.append(FieldError(pointer="", detail=BODY_REQUIRED))
            continue
        pointer = key_to_pointer(key, message) if source in (None, "body") else f"{source}:{key}"
        errors.append(FieldError(pointer=pointer, detail=message))
    detail = (
        "; ".join(
            e.detail if e.detail == BODY_REQUIRED else f"{e.pointer or '/'}: {e.detail}" for e in errors
        )
        or "The request is not valid"
    )
    if detail == BODY_REQUIRED:
        detail = "A JSON body is required."
    return problem_response(
        status=422,
        slug="validation-failed",
        title="The request is not valid",
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )


def _http(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Problem]:
    status = exc.status_code
    slug, title = _HTTP_KINDS.get(status, ("http-error", "Request failed"))
    if isinstance(exc, ClientException) and status == 400:
        slug, title = "malformed-request", "The request could not be read"
    headers = dict(exc.headers or {})
    return problem_response(
        status=status,
        slug=slug,
        title=title,
        detail=exc.detail if exc.detail and exc.detail != title else None,
        instance=request.url.path,
        headers=headers,
    )


_HTTP_KINDS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Not allowed for this role"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal-error", "Internal server error"),
    503: ("service-unavailable", "A backing service is unavailable"),
}


def _unavailable(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.warning("backing service unavailable: %s", type(exc).__name__)
    return problem_response(
        status=503,
        slug="service-unavailable",
        title="A backing service is unavailable",
        detail="The database did not answer in time; try again shortly.",
        instance=request.url.path,
        headers={"Retry-After": "1"},
    )


def _postgres(request: Request[Any, Any, Any], exc: asyncpg.PostgresError) -> Response[Problem]:
    if isinstance(exc, asyncpg.CharacterNotInRepertoireError | asyncpg.UntranslatableCharacterError):
        return problem_response(
            status=422,
            slug="validation-failed",
            title="The request is not valid",
            detail="A text field holds a character the service cannot store (such as NUL).",
            instance=request.url.path,
        )
    if isinstance(
        exc, asyncpg.SerializationError | asyncpg.DeadlockDetectedError | asyncpg.UniqueViolationError
    ):
        return problem_response(
            status=409,
            slug="concurrent-update",
            title="A concurrent request changed the same data",
            detail="Another request changed this resource at the same moment; read it again and retry.",
            instance=request.url.path,
        )
    if isinstance(
        exc,
        # statement timeout, shutdown, restart, crash recovery (class 57); a connection lost or refused
        # (class 08, and asyncpg's "connection was closed in the middle of operation"); out of
        # connections or resources (class 53)
        asyncpg.OperatorInterventionError
        | asyncpg.PostgresConnectionError
        | asyncpg.InsufficientResourcesError,
    ):
        return _unavailable(request, exc)
    return _internal(request, exc)


def _internal(request: Request[Any, Any, Any], exc: Exception) -> Response[Problem]:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(
        status=500,
        slug="internal-error",
        title="Internal server error",
        detail="The request failed on the server; it has been logged.",
        instance=request.url.path,
    )


def _auth(request: Request[Any, Any, Any], exc: NotAuthorizedException) -> Response[Problem]:
    return problem_response(
        status=401,
        slug="unauthenticated",
        title="Authentication required",
        detail=exc.detail if exc.detail != "Unauthorized" else "Send Authorization: Bearer <key>.",
        instance=request.url.path,
        headers={"WWW-Authenticate": "Bearer"},
    )


ExceptionHandler = Callable[[Request[Any, Any, Any], Any], Response[Any]]


def exception_handlers() -> dict[type[Exception] | int, ExceptionHandler]:
    """The one map from exceptions to problems, installed on the app."""
    return {
        DomainError: _domain,
        ValidationException: _validation,
        NotAuthorizedException: _auth,
        PermissionDeniedException: _http,
        NotFoundException: _http,
        MethodNotAllowedException: _http,
        HTTPException: _http,
        asyncpg.PostgresError: _postgres,
        asyncpg.InterfaceError: _unavailable,
        asyncio.TimeoutError: _unavailable,
        ConnectionError: _unavailable,
        OSError: _unavailable,
        Exception: _internal,
    }
