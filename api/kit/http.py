"""Per-request dependencies: the unit of work, the caller, the clock; and the idempotency hooks.

The unit of work is a generator dependency. Litestar runs the ``after_request`` hook before the
dependency's cleanup, so the response of a POST carrying an ``Idempotency-Key`` is captured by the hook
and stored by the cleanup in the same transaction as the change, right before the commit. Jobs
buffered during the request are sent to arq after the commit.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import AsyncGenerator
from contextvars import ContextVar
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.enums import ScopeType
from litestar.exceptions import SerializationException
from litestar.params import HeaderParameter
from litestar.types import ASGIApp, Receive, Scope, Send

from api.db import UnitOfWork, unit_of_work
from api.kit import idempotency
from api.kit.auth import Principal

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class _Slot:
    """Where the ``after_request`` hook leaves the response for the unit of work to store."""

    __slots__ = ("claim", "response")

    def __init__(self, claim: idempotency.Claim) -> None:
        self.claim = claim
        self.response: idempotency.StoredResponse | None = None


class _Box:
    """Per-request mutable holder, set by ``request_context`` in the request's own task.

    Dependencies may be resolved in child tasks (copies of the context), so they cannot set a context
    variable the ``after_request`` hook would see; they can fill a box that both reference.
    """

    __slots__ = ("slot",)

    def __init__(self) -> None:
        self.slot: _Slot | None = None


_box: ContextVar[_Box | None] = ContextVar("request_box", default=None)


def request_context(app: ASGIApp) -> ASGIApp:
    """ASGI middleware giving every HTTP request a fresh :class:`_Box`."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            _box.set(_Box())
        await app(scope, receive, send)

    return middleware


async def provide_uow(request: Request[Any, Any, State]) -> AsyncGenerator[UnitOfWork, None]:
    state = request.app.state
    transactional = request.method not in SAFE_METHODS
    async with unit_of_work(
        state.pool, transactional=transactional, acquire_timeout=state.settings.db_acquire_timeout
    ) as uow:
        slot: _Slot | None = None
        key = request.headers.get("idempotency-key")
        principal = request.scope.get("user")
        if (
            transactional
            and request.method == "POST"
            and key is not None
            and isinstance(principal, Principal)
        ):
            body = await request.body()
            claim = await idempotency.claim(
                uow.conn,
                principal.integration_id,
                key,
                request.method,
                request.url.path,
                body,
                state.clock.now(),
                state.settings.webhook_secret_keys,
            )
            slot = _Slot(claim)
        box = _box.get()
        if box is not None:
            box.slot = slot
        yield uow
        if slot is not None and slot.response is not None:
            await idempotency.store(
                uow.conn, slot.claim, slot.response, state.clock.now(), state.settings.webhook_secret_keys
            )
    await state.jobs.send(uow.jobs)


async def capture_response(response: Response[Any]) -> Response[Any]:
    """``after_request`` hook: keep the encoded 2xx response of an idempotent POST for storage."""
    box = _box.get()
    slot = box.slot if box is not None else None
    status = response.status_code or 200
    if slot is None or not 200 <= status < 300:
        return response
    media_type = response.media_type if isinstance(response.media_type, str) else "application/json"
    body = response.render(response.content, media_type)
    headers = idempotency.replay_headers(response.headers)
    headers.setdefault("content-type", media_type)
    slot.response = idempotency.StoredResponse(status=status, body=body, headers=headers)
    response.content = body
    return response


@functools.cache
def _trusted(proxies: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in proxies)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address from text (an IPv4-mapped IPv6 address as its IPv4 address); None if it is not one."""
    try:
        address = ipaddress.ip_address(text.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_address(request: Request[Any, Any, Any], trusted_proxies: tuple[str, ...]) -> str | None:
    """The address of the client that sent the request.

    The socket's peer, unless the peer is one of ``trusted_proxies`` (the ``TRUSTED_PROXIES``
    setting): then ``X-Forwarded-For`` is read from the right, past every trusted proxy, and the first
    other address is the client (an address the client wrote further left is never believed). A
    header that names no valid address leaves the last trusted hop as the client.
    """
    peer = request.client.host if request.client else None
    trusted = _trusted(trusted_proxies)
    if peer is None or not trusted:
        return peer
    hop = _address(peer)
    if hop is None or not any(hop in net for net in trusted):
        return peer
    chain = [part for part in request.headers.get("x-forwarded-for", "").split(",") if part.strip()]
    for text in reversed(chain):
        named = _address(text)
        if named is None:
            break
        hop = named
        if not any(hop in net for net in trusted):
            return str(hop)
    return str(hop)


class ApiRequest(Request[Any, Any, State]):
    """The app's request: a JSON body that cannot be read is a 400 ``malformed-request`` problem, like
    any other malformed JSON, also when the decoder fails otherwise than with a syntax error: invalid
    UTF-8 inside a string, or nesting deeper than the decoder goes (a few thousand levels)."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except UnicodeDecodeError:
            raise SerializationException("the JSON body is not valid UTF-8") from None
        except RecursionError:
            raise SerializationException("the JSON body is nested too deeply") from None


def provide_principal(request: Request[Any, Any, State]) -> Principal:
    principal = request.scope.get("user")
    assert isinstance(principal, Principal), "authentication middleware did not run"
    return principal


def provide_now(request: Request[Any, Any, State]) -> datetime:
    now: datetime = request.app.state.clock.now()
    return now


DEPENDENCIES = {
    "uow": Provide(provide_uow),
    "principal": Provide(provide_principal, sync_to_thread=False),
    "now": Provide(provide_now, sync_to_thread=False),
}

IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", description="ETag of the version you read; 412 when it is stale"),
]
IfNoneMatch = Annotated[
    str | None,
    HeaderParameter(name="If-None-Match", description="ETag of the copy you hold; 304 when it is current"),
]

# Handler parameter types of the three dependencies above.
Uow = NamedDependency[UnitOfWork]
Caller = NamedDependency[Principal]
Now = NamedDependency[datetime]
