"""Webhook endpoints and the manual retry of a delivery.

Rules:
- Staff only. ``url`` must pass ``urls.py`` (422 at ``/url`` otherwise); ``event_types`` is a list of
  exact event types or ``"*"`` (a list containing ``"*"`` means all); duplicates are dropped.
- The signing secret is generated here (``whsec_`` + 32 random bytes, per Standard Webhooks) and
  returned in the 201 only; it is in no other response, no event, no audit entry and no log. It must be
  read back to sign, so it cannot be hashed: the database holds it only sealed with AES-256-GCM under
  the first key of ``WEBHOOK_SECRET_KEYS``, bound to the endpoint's id (generated here, before the
  insert), so a sealed secret copied onto another endpoint does not decrypt. The worker decrypts it
  for each attempt; one that no configured key opens fails the attempt (retried with the usual backoff)
  with ``last_error`` "signing secret cannot be decrypted (key id X not configured)".
  ``python -m api reencrypt-webhook-secrets`` seals every secret again under the first key (rotation).
- ``DELETE`` removes the endpoint: its waiting deliveries are cancelled, its log stays in the database.
  A deleted endpoint is 404 from then on.
- An endpoint is disabled after ``WEBHOOK_DISABLE_AFTER_FAILURES`` consecutive failed attempts (any
  success resets the count); staff hear of it (``webhook_endpoint.disabled``). Events for a disabled
  endpoint wait; ``POST /v1/webhook-endpoints/{id}/enable`` re-activates it and sends what waited.
- A retry makes a ``pending`` or ``failed`` delivery due now, with a fresh three-day window. A
  ``delivered`` one is not sent again (409), neither is one being sent right now (409) nor one whose
  endpoint is disabled (409: enable the endpoint) or was deleted (404).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from api.db import Conn, UnitOfWork
from api.domain.events import outbox
from api.domain.notifications import backoff
from api.domain.notifications import queries as delivery_queries
from api.domain.notifications.service import JOBS, job_id
from api.domain.webhooks import queries, sender, urls
from api.domain.webhooks.schemas import Endpoint, EndpointCreate, EndpointCreated, WebhookDelivery
from api.errors import Conflict, NotFound
from api.kit.auth import Principal
from api.settings import Settings


def event_types(value: list[str] | str) -> list[str]:
    if isinstance(value, str) or queries.ALL in value:
        return [queries.ALL]
    return list(dict.fromkeys(value))


async def create(
    uow: UnitOfWork, actor: Principal, data: EndpointCreate, settings: Settings, now: datetime
) -> EndpointCreated:
    target = await urls.check(data.url, settings)
    secret = sender.new_secret()
    endpoint = await queries.insert(
        uow.conn,
        endpoint_id=uuid4(),
        url=str(target.url),
        description=data.description,
        event_types=event_types(data.event_types),
        secret=secret,
        keys=settings.webhook_secret_keys,
        created_by=actor.key_id,
        now=now,
    )
    details = {"url": endpoint.url, "event_types": endpoint.event_types}
    await outbox.audit(
        uow,
        "webhook_endpoint.created",
        actor=actor,
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        details=details,
        now=now,
    )
    await outbox.emit(
        uow,
        "webhook_endpoint.created",
        subject_type="webhook_endpoint",
        subject_id=endpoint.id,
        data={**details, "endpoint_id": str(endpoint.id)},
        now=now,
        actor=actor,
    )
    return EndpointCreated(**{f: getattr(endpoint, f) for f in endpoint.__struct_fields__}, secret=secret)


async def get(conn: Conn, endpoint_id: UUID) -> Endpoint:
    endpoint = await queries.get(conn, endpoint_id)
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    return endpoint


async def delete(uow: UnitOfWork, actor: Principal, endpoint_id: UUID, now: datetime) -> None:
    endpoint = await queries.get(uow.conn, endpoint_id, for_update=True)
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    await queries.mark_deleted(uow.conn, endpoint_id, now)
    details = {"url": endpoint.url, "endpoint_id": str(endpoint_id)}
    await outbox.audit(
        uow,
        "webhook_endpoint.deleted",
        actor=actor,
        subject_type="webhook_endpoint",
        subject_id=endpoint_id,
        details=details,
        now=now,
    )
    await outbox.emit(
        uow,
        "webhook_endpoint.deleted",
        subject_type="webhook_endpoint",
        subject_id=endpoint_id,
        data=details,
        now=now,
        actor=actor,
    )


async def enable(uow: UnitOfWork, actor: Principal, endpoint_id: UUID, now: datetime) -> Endpoint:
    endpoint = await queries.get(uow.conn, endpoint_id, for_update=True)
    if endpoint is None:
        raise NotFound("No such webhook endpoint.")
    if endpoint.status == "active":
        return endpoint
    resumed = await queries.enable(uow.conn, endpoint_id, now, now + backoff.WINDOW)
    for delivery_id in resumed:
        uow.enqueue(
            JOBS["webhook"], str(delivery_id), _job_id=job_id(delivery_id, 0) + f":e{int(now.timestamp())}"
        )
    details = {"url": endpoint.url, "endpoint_id": str(endpoint_id), "resumed_deliveries": len(resumed)}
    await outbox.audit(
        uow,
        "webhook_endpoint.enabled",
        actor=actor,
        subject_type="webhook_endpoint",
        subject_id=endpoint_id,
        details=details,
        now=now,
    )
    await outbox.emit(
        uow,
        "webhook_endpoint.enabled",
        subject_type="webhook_endpoint",
        subject_id=endpoint_id,
        data=details,
        now=now,
        actor=actor,
    )
    return await get(uow.conn, endpoint_id)


async def retry(uow: UnitOfWork, actor: Principal, delivery_id: UUID, now: datetime) -> WebhookDelivery:
    current = await queries.delivery(uow.conn, delivery_id)
    if current is None:
        raise NotFound("No such webhook delivery.")
    endpoint = await queries.get(uow.conn, current.endpoint_id)
    if endpoint is None:
        raise NotFound("No such webhook delivery.")
    if endpoint.status == "disabled":
        raise Conflict(
            "The endpoint is disabled; enable it first (its waiting deliveries resume then).",
            rule="endpoint-disabled",
        )
    if current.state == "delivered":
        raise Conflict("The delivery succeeded already; it is not sent again.", rule="already-delivered")
    if current.state == "sending":
        raise Conflict("The delivery is being attempted right now.", rule="delivery-in-flight")
    if current.state == "cancelled":
        raise Conflict("The delivery was cancelled.", rule="delivery-cancelled")
    requeued = await delivery_queries.requeue(uow.conn, delivery_id, now, now + backoff.WINDOW)
    if requeued is None:
        raise Conflict("The delivery changed state meanwhile; read it again.", rule="delivery-in-flight")
    uow.enqueue(
        JOBS["webhook"],
        str(delivery_id),
        _job_id=job_id(delivery_id, requeued.attempts) + f":r{int(now.timestamp())}",
    )
    details = {
        "endpoint_id": str(endpoint.id),
        "event_id": str(current.event_id),
        "previous_state": current.state,
    }
    await outbox.audit(
        uow,
        "webhook_delivery.retried",
        actor=actor,
        subject_type="webhook_delivery",
        subject_id=delivery_id,
        details=details,
        now=now,
    )
    await outbox.emit(
        uow,
        "webhook_delivery.retried",
        subject_type="webhook_delivery",
        subject_id=delivery_id,
        data=details,
        now=now,
        actor=actor,
    )
    found = await queries.delivery(uow.conn, delivery_id)
    assert found is not None
    return found
