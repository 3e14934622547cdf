from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from litestar import Response, delete, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.domain.webhooks import queries, service
from api.domain.webhooks.schemas import Endpoint, EndpointCreate, EndpointCreated, WebhookDelivery
from api.kit.auth import roles
from api.kit.http import Caller, Now, Uow
from api.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, decode_cursor, page_of

TAGS = ["Webhooks"]
EndpointId = Annotated[UUID, PathParameter(description="The webhook endpoint's id")]


@post("/v1/webhook-endpoints", opt=roles("staff"), tags=TAGS, summary="Subscribe a webhook endpoint")
async def create_endpoint(
    data: JSONBody[EndpointCreate], uow: Uow, principal: Caller, now: Now, state: State
) -> Response[EndpointCreated]:
    """Subscribe ``url`` to ``event_types`` (exact types, or ``"*"`` for every event).

    The URL must be https (unless ``WEBHOOKS_ALLOW_HTTP``) and its host must not resolve to a private,
    loopback, link-local, multicast or reserved address (unless ``WEBHOOKS_ALLOW_PRIVATE``): 422 at
    ``/url`` otherwise. The signing secret ``whsec_...`` is in this response only: store it. Deliveries
    are signed per Standard Webhooks (``webhook-id`` = the event id, the same on every attempt;
    ``webhook-timestamp``; ``webhook-signature``) with body ``{"id", "type", "created_at", "data"}``,
    retried with exponential backoff and jitter for up to 3 days; an endpoint is disabled after
    ``WEBHOOK_DISABLE_AFTER_FAILURES`` consecutive failed attempts and staff are told.
    """
    created = await service.create(uow, principal, data, state.settings, now)
    return Response(created, status_code=201, headers={"Location": f"/v1/webhook-endpoints/{created.id}"})


@get("/v1/webhook-endpoints", opt=roles("staff"), tags=TAGS, summary="List webhook endpoints")
async def list_endpoints(uow: Uow, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[Endpoint]:
    """Endpoints oldest first, active and disabled, never with their secrets."""
    after = decode_cursor(cursor, (datetime, UUID))
    rows = await queries.page(uow.conn, after=(after[0], after[1]) if after else None, limit=limit + 1)
    return page_of(rows, limit, lambda e: [e.created_at.isoformat(), str(e.id)])


@get(
    "/v1/webhook-endpoints/{endpoint_id:uuid}",
    opt=roles("staff"),
    tags=TAGS,
    summary="Read a webhook endpoint",
)
async def get_endpoint(endpoint_id: EndpointId, uow: Uow) -> Endpoint:
    """One endpoint with its status and count of consecutive failures; never its secret."""
    return await service.get(uow.conn, endpoint_id)


@delete(
    "/v1/webhook-endpoints/{endpoint_id:uuid}",
    opt=roles("staff"),
    tags=TAGS,
    status_code=204,
    summary="Delete a webhook endpoint",
)
async def delete_endpoint(endpoint_id: EndpointId, uow: Uow, principal: Caller, now: Now) -> None:
    """Stop sending to the endpoint; its waiting deliveries are cancelled. 404 once deleted."""
    await service.delete(uow, principal, endpoint_id, now)


@post(
    "/v1/webhook-endpoints/{endpoint_id:uuid}/enable",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Enable a disabled webhook endpoint",
)
async def enable_endpoint(endpoint_id: EndpointId, uow: Uow, principal: Caller, now: Now) -> Endpoint:
    """Re-activate an endpoint that was disabled after repeated failures: its failure count restarts
    and the deliveries that waited while it was disabled are sent now. Enabling an active endpoint
    changes nothing."""
    return await service.enable(uow, principal, endpoint_id, now)


@get(
    "/v1/webhook-endpoints/{endpoint_id:uuid}/deliveries",
    opt=roles("staff"),
    tags=TAGS,
    summary="The delivery log of a webhook endpoint",
)
async def list_deliveries(
    endpoint_id: EndpointId,
    uow: Uow,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    delivery_state: Annotated[
        Literal["pending", "sending", "delivered", "failed", "cancelled"] | None,
        QueryParameter(name="state", description="Only deliveries in this state"),
    ] = None,
) -> Page[WebhookDelivery]:
    """Deliveries newest first, each with every attempt: when, HTTP status, latency, the first 2 KiB of
    the answer and the error. ``pending`` ones show ``next_attempt_at`` (none while the endpoint is
    disabled)."""
    await service.get(uow.conn, endpoint_id)
    after = decode_cursor(cursor, (datetime, UUID))
    rows = await queries.deliveries(
        uow.conn,
        endpoint_id,
        after=(after[0], after[1]) if after else None,
        state=delivery_state,
        limit=limit + 1,
    )
    return page_of(rows, limit, lambda d: [d.created_at.isoformat(), str(d.id)])


@post(
    "/v1/webhook-deliveries/{delivery_id:uuid}/retry",
    opt=roles("staff"),
    tags=TAGS,
    status_code=202,
    summary="Retry a webhook delivery now",
)
async def retry_delivery(
    delivery_id: Annotated[UUID, PathParameter(description="The delivery's id")],
    uow: Uow,
    principal: Caller,
    now: Now,
) -> WebhookDelivery:
    """Queue a ``failed`` or ``pending`` delivery for an attempt now, with a fresh 3-day retry window.
    409 when it was delivered already, is being attempted, was cancelled, or its endpoint is disabled."""
    return await service.retry(uow, principal, delivery_id, now)
