"""API keys and role guards.

- A key looks like ``sk_<prefix>_<secret>``; the 8-character prefix is stored in clear to identify the
  key in lists and logs, the whole key only as its SHA-256 (keys carry 256 bits of randomness, so a
  slow hash adds nothing).
- ``Authorization: Bearer <key>``; missing or unknown → 401; a revoked key is unknown.
- Every ``/v1`` route declares the roles it admits in ``opt["roles"]``; a ``/v1`` route that declares
  none is refused to everyone (fail closed). Routes outside ``/v1`` (health, readiness, metrics, the
  schema) are public. Known key with the wrong role → 403.
- A client key is bound to one client organisation: services scope every read to it and answer 404
  for anything outside it (``visible_client``).
- Each key may make ``RATE_LIMIT_PER_MINUTE`` requests a minute across all API processes (429 with
  ``Retry-After`` beyond; leased permits, see ``api.kit.ratelimit``).
- Verified keys are cached in the process for ``AUTH_CACHE_SECONDS``; a revocation takes effect at once
  in the process that revoked the key and within that many seconds in the others.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from typing import Any, Literal
from uuid import UUID

import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from api.errors import Forbidden, NotFound, Unauthenticated

Role = Literal["staff", "client", "intake"]
ROLES: tuple[Role, ...] = ("staff", "client", "intake")
STAFF: tuple[Role, ...] = ("staff",)


class Principal(msgspec.Struct, frozen=True):
    """Who is calling: the key's id, its role, for a client key its organisation, and the integration the
    key belongs to (the keys of one integration share its duplicates; see ``api.domain.api_keys``)."""

    key_id: UUID
    role: Role
    client_id: UUID | None
    name: str
    integration_id: UUID

    @property
    def is_staff(self) -> bool:
        return self.role == "staff"


def new_key() -> tuple[str, str, bytes]:
    """A fresh key: (the full secret, its visible prefix, its hash)."""
    prefix = secrets.token_hex(4)
    key = f"sk_{prefix}_{secrets.token_urlsafe(32)}"
    return key, prefix, hash_key(key)


def hash_key(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def bearer_token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


class KeyCache:
    """A small LRU of verified keys with a time-to-live."""

    def __init__(self, ttl: float, size: int = 4096) -> None:
        self.ttl = ttl
        self.size = size
        self._items: OrderedDict[bytes, tuple[float, Principal]] = OrderedDict()

    def get(self, digest: bytes) -> Principal | None:
        if self.ttl <= 0:
            return None
        item = self._items.get(digest)
        if item is None:
            return None
        expires, principal = item
        if expires < time.monotonic():
            self._items.pop(digest, None)
            return None
        return principal

    def put(self, digest: bytes, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        self._items[digest] = (time.monotonic() + self.ttl, principal)
        self._items.move_to_end(digest)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def forget(self, key_id: UUID) -> None:
        for digest, (_, principal) in list(self._items.items()):
            if principal.key_id == key_id:
                self._items.pop(digest, None)


class ApiKeyAuthentication(AbstractAuthenticationMiddleware):
    """Resolves the bearer key to a :class:`Principal` and applies the per-key rate limit."""

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        from api.kit.ratelimit import enforce

        token = bearer_token(connection.headers.get("authorization"))
        if token is None:
            raise Unauthenticated("Send Authorization: Bearer <key>.", headers={"WWW-Authenticate": "Bearer"})
        state = connection.app.state
        digest = hash_key(token)
        cache: KeyCache = state.key_cache
        principal = cache.get(digest)
        if principal is None:
            # The acquire is bounded too: with the pool exhausted the request answers 503, not a hang.
            async with state.pool.acquire(timeout=state.settings.db_acquire_timeout) as conn:
                row = await conn.fetchrow(
                    "SELECT id, role, client_id, name, integration_id FROM api_keys"
                    " WHERE secret_hash = $1 AND revoked_at IS NULL",
                    digest,
                    timeout=state.settings.db_acquire_timeout,
                )
            if row is None:
                raise Unauthenticated(
                    "The key is unknown or revoked.", headers={"WWW-Authenticate": "Bearer"}
                )
            principal = Principal(
                key_id=row["id"],
                role=row["role"],
                client_id=row["client_id"],
                name=row["name"],
                integration_id=row["integration_id"],
            )
            cache.put(digest, principal)
        await enforce(
            state.limiter,
            f"key:{principal.key_id}",
            state.settings.rate_limit_per_minute,
            60,
            lease=True,
        )
        return AuthenticationResult(user=principal, auth=None)


async def role_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """The one guard: the caller's role must be among the route's ``opt["roles"]``."""
    roles = handler.opt.get("roles")
    if roles is None:
        if not any(path.startswith("/v1") for path in handler.paths):
            return  # operations and the schema are public
        raise Forbidden("This route admits no role.")
    principal = connection.user
    if not isinstance(principal, Principal):
        raise Unauthenticated("Send Authorization: Bearer <key>.")
    if principal.role not in roles:
        raise Forbidden(
            f"This action needs the {' or '.join(roles)} role; the key has the {principal.role} role."
        )


def roles(*allowed: Role) -> dict[str, Any]:
    """Route option declaring who may call it: ``@get(..., opt=roles("staff", "client"))``."""
    return {"roles": tuple(allowed)}


def visible_client(principal: Principal, client_id: UUID | None, what: str = "resource") -> None:
    """A client key sees only its own organisation; anything else is 404, never 403."""
    if principal.role == "client" and client_id != principal.client_id:
        raise NotFound(f"No such {what}.")
