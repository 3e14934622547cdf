from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import delete, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.domain.api_keys import queries, service
from api.domain.api_keys.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated
from api.kit.auth import roles
from api.kit.http import Caller, Now, Uow
from api.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, decode_cursor, page_of

TAGS = ["API keys"]


@post("/v1/api-keys", opt=roles("staff"), tags=TAGS, status_code=201, summary="Create an API key")
async def create_key(data: JSONBody[ApiKeyCreate], uow: Uow, principal: Caller, now: Now) -> ApiKeyCreated:
    """Create a key. The secret (``key``) is in this response only; the service keeps its hash.

    Every key belongs to an integration (one CRM, website form or dashboard): without
    ``integration_id`` the key starts a new one; with it the key joins that integration, whose role and
    organisation it must have (422 at ``/integration_id`` otherwise). The keys of an integration share
    its duplicates (Idempotency-Key records, inquiries by ``source`` and ``external_id``): to rotate a
    key, create its successor with the old key's ``integration_id``, then revoke the old one."""
    return await service.create(uow, principal, data, now)


@get("/v1/api-keys", opt=roles("staff"), tags=TAGS, summary="List API keys")
async def list_keys(
    uow: Uow,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    include_revoked: Annotated[bool, QueryParameter(description="Include revoked keys")] = False,
) -> Page[ApiKey]:
    """Keys oldest first, without secrets; revoked keys only with ``include_revoked=true``."""
    after = decode_cursor(cursor, (datetime, UUID))
    rows = await queries.page(
        uow.conn,
        after=(after[0], after[1]) if after else None,
        limit=limit + 1,
        include_revoked=include_revoked,
    )
    return page_of(rows, limit, lambda k: [k.created_at.isoformat(), str(k.id)])


@delete(
    "/v1/api-keys/{key_id:uuid}", opt=roles("staff"), tags=TAGS, summary="Revoke an API key", status_code=204
)
async def revoke_key(
    key_id: Annotated[UUID, PathParameter(description="The key's id")],
    uow: Uow,
    principal: Caller,
    now: Now,
    state: State,
) -> None:
    """Revoke at once (idempotent). The last active staff key cannot be revoked (409), also when two
    staff keys revoke each other at the same moment: one of the two is refused."""
    await service.revoke(uow, principal, key_id, now)
    state.key_cache.forget(key_id)
