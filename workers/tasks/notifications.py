"""Sending deliveries: ``deliver_email``, ``deliver_webhook``, and ``sweep_deliveries``.

Each job takes a delivery id, re-reads the row and acts only when the delivery is due (see
``api.domain.notifications.service``): a duplicated or retried job never sends what was delivered.
No database connection is held while a message is on the wire. Whatever an attempt raises while it
sends (a URL stored before a rule existed, a library error) is a failed attempt: recorded, counted
against the endpoint and retried, never a delivery left ``sending``. After a failure the next attempt is
stored in PostgreSQL (``next_attempt_at``) and a job deferred to that time is enqueued; the sweep,
every 30 seconds, enqueues every delivery whose time has come or whose lease ran out, under the same
deterministic job id, so a job Redis lost is found again and a queued one is not doubled.

A webhook endpoint's signing secret that no key of ``WEBHOOK_SECRET_KEYS`` decrypts (its key was
removed) fails the attempt like any other failure: ``last_error`` says "signing secret cannot be
decrypted (key id X not configured)", the delivery is retried with the usual backoff, and the reason
(never the secret) is logged.

Events written here: ``webhook_endpoint.disabled`` (the attempt that reached the limit of consecutive
failures), ``webhook_delivery.failed`` and ``email_delivery.failed`` (a delivery gave up).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID

from api.db import Job, UnitOfWork
from api.domain.events import outbox
from api.domain.notifications import backoff, mail, service
from api.domain.notifications import queries as delivery_queries
from api.domain.notifications.service import JOBS, Claim, Settled, job_for, job_id
from api.domain.notifications.templates import TEMPLATES, Context, Event, Recipient
from api.domain.webhooks import queries as webhook_queries
from api.domain.webhooks import sender, urls
from api.domain.webhooks.sender import Outcome
from api.errors import Invalid
from api.kit.jobs import JobSender
from api.kit.secretbox import SealError
from api.settings import Settings

log = logging.getLogger("scopekeeper.worker.notifications")

SWEEP_BATCH = 1000
#: How long a deferred retry job may wait in Redis (longer than the longest backoff).
RETRY_JOB_TTL = backoff.CAP + timedelta(days=1)
MAX_REPLY = 2048
#: A due delivery whose job arq still holds this long after its time is enqueued under another id.
STUCK_AFTER = timedelta(minutes=2)


async def _send(ctx: dict[str, Any], jobs: list[Job]) -> None:
    """Enqueue after commit; if Redis fails now, the sweeps find the work in PostgreSQL."""
    await JobSender(ctx["redis"]).send(jobs)


def _retry_job(channel: str, held: Claim, settled: Settled) -> list[Job]:
    if settled.state != "pending" or not settled.taken or settled.next_attempt_at is None:
        return []
    delivery_id = held.delivery.id
    return [
        (
            JOBS[channel],
            (str(delivery_id),),
            {
                "_job_id": job_id(delivery_id, held.number),
                "_defer_until": settled.next_attempt_at,
                "_expires": RETRY_JOB_TTL,
            },
        )
    ]


def _lease(settings: Settings) -> timedelta:
    return timedelta(seconds=settings.delivery_lease_seconds)


async def _event(ctx: dict[str, Any], event_id: UUID) -> Event | None:
    found = await delivery_queries.event(ctx["pool"], event_id)
    return None if found is None else found.event


async def deliver_webhook(ctx: dict[str, Any], delivery_id: str) -> str:
    """One attempt of a webhook delivery, if it is due. Returns what became of it."""
    pool = ctx["pool"]
    settings: Settings = ctx["settings"]
    clock = ctx["clock"]
    async with pool.acquire() as conn:
        held = await service.claim(conn, UUID(delivery_id), clock.now(), _lease(settings))
    if held is None:
        return "not due"
    endpoint_id = held.delivery.endpoint_id
    assert endpoint_id is not None
    endpoint = await webhook_queries.target(pool, endpoint_id)
    event = await _event(ctx, held.delivery.event_id)
    if endpoint is None or event is None:
        outcome = Outcome(ok=False, status_code=None, latency_ms=0, response_body=None, error="gone")
    else:
        try:
            secret = webhook_queries.open_secret(
                settings.webhook_secret_keys, endpoint.id, endpoint.secret_sealed
            )
        except SealError as exc:
            reason = f"signing secret cannot be decrypted ({exc})"
            log.error("webhook delivery %s to endpoint %s: %s", held.delivery.id, endpoint_id, reason)
            outcome = Outcome(ok=False, status_code=None, latency_ms=0, response_body=None, error=reason)
        else:
            try:
                outcome = await _post(endpoint.url, secret, event, settings)
            except Exception as exc:  # whatever the send raised, it is a failed attempt, never a stuck one
                log.exception("webhook delivery %s to endpoint %s raised", held.delivery.id, endpoint_id)
                error = f"{type(exc).__name__}: {exc}"[:500]
                outcome = Outcome(ok=False, status_code=None, latency_ms=0, response_body=None, error=error)
    now = clock.now()
    jobs: list[Job] = []
    async with pool.acquire() as conn, conn.transaction():
        uow = UnitOfWork(conn)
        settled = await service.settle(
            conn,
            held,
            ok=outcome.ok,
            now=now,
            latency_ms=outcome.latency_ms,
            status_code=outcome.status_code,
            response_body=outcome.response_body,
            error=outcome.error,
        )
        if settled.taken:
            if outcome.ok:
                await webhook_queries.count_success(conn, endpoint_id)
            else:
                counted = await webhook_queries.count_failure(
                    conn,
                    endpoint_id,
                    limit=settings.webhook_disable_after_failures,
                    reason=f"{settings.webhook_disable_after_failures} consecutive failed attempts",
                    now=now,
                )
                if counted is not None and counted.disabled:
                    await outbox.emit(
                        uow,
                        "webhook_endpoint.disabled",
                        subject_type="webhook_endpoint",
                        subject_id=endpoint_id,
                        data={
                            "endpoint_id": str(endpoint_id),
                            "url": counted.url,
                            "consecutive_failures": counted.consecutive_failures,
                            "last_error": outcome.error,
                        },
                        now=now,
                    )
            if settled.state == "failed" and event is not None:
                await outbox.emit(
                    uow,
                    "webhook_delivery.failed",
                    subject_type="webhook_delivery",
                    subject_id=held.delivery.id,
                    data={
                        "delivery_id": str(held.delivery.id),
                        "endpoint_id": str(endpoint_id),
                        "url": endpoint.url if endpoint else None,
                        "event_id": str(event.id),
                        "event_type": event.type,
                        "attempts": held.number,
                        "last_error": outcome.error,
                    },
                    now=now,
                    client_id=event.client_id,
                    project_id=event.project_id,
                )
        jobs = [*uow.jobs, *_retry_job("webhook", held, settled)]
    await _send(ctx, jobs)
    return settled.state


async def _post(url: str, secret: str, event: Event, settings: Settings) -> Outcome:
    try:
        target = await urls.check(url, settings)
    except Invalid as exc:
        return Outcome(ok=False, status_code=None, latency_ms=0, response_body=None, error=urls.refusal(exc))
    body = sender.payload(event)
    headers = sender.signed_headers(secret, str(event.id), body, sender.now_for_signature())
    return await sender.post(target, body, headers, settings.webhook_timeout)


async def deliver_email(ctx: dict[str, Any], delivery_id: str) -> str:
    """One attempt of an email delivery, if it is due. Returns what became of it."""
    pool = ctx["pool"]
    settings: Settings = ctx["settings"]
    clock = ctx["clock"]
    async with pool.acquire() as conn:
        held = await service.claim(conn, UUID(delivery_id), clock.now(), _lease(settings))
    if held is None:
        return "not due"
    delivery = held.delivery
    event = await _event(ctx, delivery.event_id)
    ok, permanent = False, False
    reply: str | None = None
    error: str | None = None
    latency: int | None = None
    try:
        message = _compose(delivery, event, settings, clock.now())
    except Exception as exc:  # a broken template or a vanished event: retrying cannot help
        log.exception("could not render email delivery %s", delivery.id)
        permanent, error = True, f"could not render the message: {type(exc).__name__}"
    else:
        began = time.perf_counter()
        try:
            reply = (await mail.send(settings, message)).encode()[:MAX_REPLY].decode(errors="ignore")
            ok = True
        except mail.PermanentFailure as exc:
            permanent, error = True, str(exc)[:500]
        except Exception as exc:  # SMTP trouble, timeouts, connection errors: try again later
            error = f"{type(exc).__name__}: {exc}"[:500]
        latency = round((time.perf_counter() - began) * 1000)
    now = clock.now()
    async with pool.acquire() as conn, conn.transaction():
        uow = UnitOfWork(conn)
        settled = await service.settle(
            conn,
            held,
            ok=ok,
            permanent=permanent,
            now=now,
            latency_ms=latency,
            response_body=reply,
            error=error,
        )
        if settled.taken and settled.state == "failed":
            await outbox.emit(
                uow,
                "email_delivery.failed",
                subject_type="email_delivery",
                subject_id=delivery.id,
                data={
                    "delivery_id": str(delivery.id),
                    "event_id": str(delivery.event_id),
                    "event_type": event.type if event else None,
                    "recipient": delivery.recipient,
                    "attempts": held.number,
                    "last_error": error,
                },
                now=now,
                client_id=event.client_id if event else None,
                project_id=event.project_id if event else None,
            )
        jobs = [*uow.jobs, *_retry_job("email", held, settled)]
    await _send(ctx, jobs)
    return settled.state


def _compose(
    delivery: delivery_queries.Delivery, event: Event | None, settings: Settings, at: datetime
) -> EmailMessage:
    if event is None:
        raise LookupError("the event is gone")
    render = TEMPLATES[delivery.template or ""]
    recipient = Recipient(
        email=delivery.recipient,
        name=delivery.recipient_name,
        locale=delivery.locale or "en",
        time_zone=delivery.time_zone,
    )
    context = Context(event, recipient, shop_zone=settings.calendar_time_zone, base_url=settings.base_url)
    return mail.compose(
        render(context),
        recipient,
        mail_from=settings.mail_from,
        delivery_id=delivery.id,
        at=at,
        language=context.language,
    )


async def sweep_deliveries(ctx: dict[str, Any]) -> int:
    """Enqueue deliveries that are due (or whose lease ran out); returns how many arq accepted.

    arq refuses a job id it still holds. That is what keeps a queued job from being doubled, but a job
    whose worker was killed before it claimed its delivery stays held (in progress) until arq's own
    timeout, minutes later. So a delivery still due ``STUCK_AFTER`` past its time is enqueued once
    more under the id ``<job id>:late``; whichever job comes second finds nothing due.
    """
    now = ctx["clock"].now()
    due = await delivery_queries.due(ctx["pool"], now, SWEEP_BATCH)
    redis = ctx["redis"]
    sent = 0
    for item in due:
        function, argument, key = job_for(item)
        job = await redis.enqueue_job(function, argument, _job_id=key)
        if job is None and item.since is not None and now - item.since >= STUCK_AFTER:
            job = await redis.enqueue_job(function, argument, _job_id=f"{key}:late")
        sent += job is not None
    if due:
        log.info("delivery sweep enqueued %d of %d due deliveries", sent, len(due))
    return sent
