"""Fan-out of an event to its deliveries, and the life of one delivery.

Fan-out (``fan_out``, run by the ``dispatch_event`` job): in one transaction, with the event row
locked, resolve the email recipients (``rules.py``) and the subscribed webhook endpoints, insert one
delivery per (event, channel, recipient) with ``ON CONFLICT DO NOTHING``, and mark the event
dispatched. Running it twice changes nothing. The jobs that send are enqueued after the commit, with
the deterministic id ``notify:<delivery id>:<attempts made>``; the sweep enqueues the same ids for
deliveries whose time has come, so a job lost by Redis is found again from PostgreSQL.

A delivery: ``pending`` (with ``next_attempt_at``; none while its endpoint is disabled) → ``sending``
(under a lease) → ``delivered`` | ``pending`` again (a failure, next time from ``backoff.py``) |
``failed`` (the three-day window closed, or the mail server refused for good) | ``cancelled`` (its
endpoint was deleted). A job re-reads the row and does nothing unless the delivery is due: a
delivered one is never sent again.

At-least-once window: the row is marked ``sending`` and committed before the message leaves. If the
worker dies after the receiver accepted the message but before ``delivered`` is committed, the lease
(``DELIVERY_LEASE_SECONDS``) runs out and the sweep sends it again: a duplicate with the same ``webhook-id`` (the event
id) or the same email ``Message-ID``. Without the lease the duplicate would come from every retry of
the job instead of from a worker's death only.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from api.db import Conn
from api.domain.notifications import backoff, queries, recipients
from api.domain.notifications.queries import Delivery, Due
from api.domain.webhooks import queries as webhook_queries
from api.settings import Settings

JOBS = {"email": "deliver_email", "webhook": "deliver_webhook"}


def job_id(delivery_id: UUID | str, attempts: int) -> str:
    """The arq job id of the next attempt of a delivery (``attempts`` made so far)."""
    return f"notify:{delivery_id}:{attempts}"


def job_for(due: Due) -> tuple[str, str, str]:
    """(function, argument, job id) of the job that makes the next attempt of ``due``."""
    return JOBS[due.channel], str(due.id), job_id(due.id, due.attempts)


def _about_endpoint(data: dict[str, object]) -> UUID | None:
    value = data.get("endpoint_id")
    if isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            return None
    return None


async def fan_out(conn: Conn, event_id: UUID, settings: Settings, now: datetime) -> tuple[bool, list[Due]]:
    """Create the event's deliveries and mark it dispatched, once; returns (dispatched now, due jobs)."""
    async with conn.transaction():
        found = await queries.event(conn, event_id, for_update=True)
        if found is None:
            return False, []
        event, dispatched = found.event, found.dispatched
        if not dispatched:
            expires_at = now + backoff.WINDOW
            planned = await recipients.resolve(conn, event, settings)
            await queries.insert_emails(conn, event.id, planned, now, expires_at)
            await webhook_queries.insert_deliveries(
                conn, event.id, found.seq, event.type, _about_endpoint(event.data), now, expires_at
            )
            await queries.mark_dispatched(conn, event.id, now)
    return not dispatched, await queries.due_for_event(conn, event_id)


class Claim:
    """A delivery this worker holds for one attempt."""

    __slots__ = ("delivery", "number", "started_at")

    def __init__(self, delivery: Delivery, number: int, started_at: datetime) -> None:
        self.delivery = delivery
        self.number = number
        self.started_at = started_at


def is_due(delivery: Delivery, now: datetime) -> bool:
    if delivery.state == "pending":
        return delivery.next_attempt_at is not None and delivery.next_attempt_at <= now
    if delivery.state == "sending":
        return delivery.lease_until is not None and delivery.lease_until <= now
    return False


async def claim(conn: Conn, delivery_id: UUID, now: datetime, lease: timedelta) -> Claim | None:
    """Take a due delivery for one attempt (``sending`` until ``now + lease``); ``None`` when not due."""
    async with conn.transaction():
        delivery = await queries.lock(conn, delivery_id)
        if delivery is None or not is_due(delivery, now):
            return None
        if delivery.endpoint_id is not None:
            endpoint = await webhook_queries.target(conn, delivery.endpoint_id)
            if endpoint is None or endpoint.status == "deleted":
                await queries.cancel(conn, delivery.id, "the endpoint was deleted", now)
                return None
            if endpoint.status == "disabled":
                await queries.park(conn, delivery.id)
                return None
        number = await queries.start_attempt(conn, delivery.id, now + lease)
    return Claim(delivery, number, now)


class Settled:
    """What became of an attempt: the delivery's new state, and its next time when it will retry."""

    __slots__ = ("next_attempt_at", "state", "taken")

    def __init__(self, state: str, next_attempt_at: datetime | None, taken: bool) -> None:
        self.state = state
        self.next_attempt_at = next_attempt_at
        self.taken = taken


async def settle(
    conn: Conn,
    held: Claim,
    *,
    ok: bool,
    permanent: bool = False,
    now: datetime,
    latency_ms: int | None,
    status_code: int | None = None,
    response_body: str | None = None,
    error: str | None = None,
) -> Settled:
    """Log the attempt and move the delivery on (call inside a transaction)."""
    delivery = held.delivery
    await queries.record_attempt(
        conn,
        delivery.id,
        held.number,
        started_at=held.started_at,
        latency_ms=latency_ms,
        status_code=status_code,
        response_body=response_body,
        error=error,
        succeeded=ok,
    )
    next_at: datetime | None = None
    if ok:
        state = "delivered"
    elif permanent:
        state = "failed"
    else:
        window_start = delivery.expires_at - backoff.WINDOW
        next_at = backoff.next_attempt(window_start, held.number, now)
        state = "pending" if next_at is not None else "failed"
    taken = await queries.finish(
        conn, delivery.id, held.number, state=state, next_attempt_at=next_at, error=error, now=now
    )
    return Settled(state, next_at, taken)
