from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Response, get, patch, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.domain.clients import queries, service
from api.domain.clients.schemas import Client, ClientCreate, ClientPatch
from api.kit.auth import roles
from api.kit.etag import version_etag
from api.kit.http import Caller, IfMatch, Now, Uow
from api.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, decode_cursor, page_of

TAGS = ["Clients"]


def _with_etag(client: Client, status: int = 200) -> Response[Client]:
    headers = {"ETag": version_etag(client.version)}
    if status == 201:
        headers["Location"] = f"/v1/clients/{client.id}"
    return Response(client, status_code=status, headers=headers)


@post("/v1/clients", opt=roles("staff"), tags=TAGS, summary="Create a client organisation")
async def create_client(
    data: JSONBody[ClientCreate], uow: Uow, principal: Caller, now: Now
) -> Response[Client]:
    """Create an organisation with its contacts. ``email_domain`` must be unique (409 otherwise)."""
    return _with_etag(await service.create(uow, principal, data, now), 201)


@get("/v1/clients", opt=roles("staff", "client"), tags=TAGS, summary="List client organisations")
async def list_clients(
    uow: Uow,
    principal: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    name: Annotated[str | None, QueryParameter(max_length=200, description="Part of the name")] = None,
) -> Page[Client]:
    """Oldest first. A client key sees its own organisation only."""
    after = decode_cursor(cursor, (datetime, UUID))
    rows = await queries.page(
        uow.conn,
        after=(after[0], after[1]) if after else None,
        limit=limit + 1,
        only=principal.client_id if principal.role == "client" else None,
        name=name,
    )
    return page_of(rows, limit, lambda c: [c.created_at.isoformat(), str(c.id)])


@get("/v1/clients/{client_id:uuid}", opt=roles("staff", "client"), tags=TAGS, summary="Read a client")
async def get_client(
    client_id: Annotated[UUID, PathParameter(description="The client's id")], uow: Uow, principal: Caller
) -> Response[Client]:
    """One organisation with its contacts; ``ETag`` carries its version."""
    return _with_etag(await service.get(uow.conn, principal, client_id))


@patch("/v1/clients/{client_id:uuid}", opt=roles("staff"), tags=TAGS, summary="Change a client")
async def update_client(
    client_id: Annotated[UUID, PathParameter(description="The client's id")],
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
    data: JSONBody[ClientPatch | None] = None,
) -> Response[Client]:
    """Change name, email domain or the whole contact list. Send ``If-Match`` to avoid lost updates."""
    data = data or ClientPatch()
    return _with_etag(await service.update(uow, principal, client_id, data, if_match, now))
