"""Delivering domain events out of the outbox.

``dispatch_event`` is idempotent: it re-reads the event and marks it dispatched only once; running it
twice (arq delivers at least once) creates no second set of deliveries. The first attempt of each
delivery due now is made by the dispatch job itself, all of them concurrently, right after the fan-out
commits: one job and one queue hop per event instead of one per delivery, which is what keeps an
event's webhook within seconds of its commit under load. An attempt that raises is handed to arq as
its own job (``deliver_email``/``deliver_webhook``), which retries it; a failed attempt schedules its
next one as it always does. ``sweep_outbox`` finds events that
were committed but never dispatched (Redis was down at commit time, or the job was lost) and enqueues
them again under the same job id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

from redis.exceptions import RedisError

from api.domain.events.outbox import DISPATCH_JOB, dispatch_job_id
from api.domain.notifications.service import fan_out, job_for
from workers.tasks.notifications import STUCK_AFTER, deliver_email, deliver_webhook

log = logging.getLogger("scopekeeper.worker.events")

SWEEP_BATCH = 1000

#: The attempt each channel's first try runs (the same function its retry jobs run).
ATTEMPT: dict[str, Callable[[dict[str, Any], str], Awaitable[str]]] = {
    "email": deliver_email,
    "webhook": deliver_webhook,
}


async def dispatch_event(ctx: dict[str, Any], event_id: str) -> bool:
    """Fan the event out to its deliveries and mark it dispatched, in one transaction; then make the
    first attempt of every due delivery. Returns False when it was already dispatched or does not
    exist; a second run still attempts the event's due deliveries (an attempt of a delivery that is
    not due, or held by another worker, does nothing), so a run that died after its commit loses
    nothing."""
    now = ctx["clock"].now()
    async with ctx["pool"].acquire() as conn:
        dispatched, due = await fan_out(conn, UUID(event_id), ctx["settings"], now)
    if not due:
        return dispatched
    attempts = await asyncio.gather(
        *(ATTEMPT[item.channel](ctx, str(item.id)) for item in due), return_exceptions=True
    )
    redis = ctx["redis"]
    for item, outcome in zip(due, attempts, strict=True):
        if not isinstance(outcome, Exception):
            continue
        function, argument, key = job_for(item)
        log.warning(
            "attempt of delivery %s raised %s; handing it to %s", item.id, type(outcome).__name__, key
        )
        try:
            await redis.enqueue_job(function, argument, _job_id=key)
        except (RedisError, OSError):
            log.warning("could not enqueue %s; the delivery sweep will", key)
            break
    return dispatched


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Enqueue undispatched events older than the sweep age; returns how many were handed to arq.

    As for deliveries, arq refuses a job id it still holds, and a dispatch job whose worker was killed
    stays held until arq's own timeout, minutes later; an event still undispatched ``STUCK_AFTER``
    after it occurred is enqueued once more as ``event:<id>:late`` (dispatching is idempotent, so
    whichever job runs second changes nothing).
    """
    pool = ctx["pool"]
    settings = ctx["settings"]
    now = ctx["clock"].now()
    cutoff = now - timedelta(seconds=settings.outbox_sweep_age_seconds)
    rows = await pool.fetch(
        """
        SELECT id, occurred_at FROM domain_events
        WHERE dispatched_at IS NULL AND occurred_at <= $1
        ORDER BY occurred_at
        LIMIT $2
        """,
        cutoff,
        SWEEP_BATCH,
    )
    redis = ctx["redis"]
    sent = 0
    for row in rows:
        key = dispatch_job_id(row["id"])
        job = await redis.enqueue_job(DISPATCH_JOB, str(row["id"]), _job_id=key)
        if job is None and now - row["occurred_at"] >= STUCK_AFTER:
            job = await redis.enqueue_job(DISPATCH_JOB, str(row["id"]), _job_id=f"{key}:late")
        sent += job is not None
    if rows:
        log.info("outbox sweep re-enqueued %d of %d undispatched events", sent, len(rows))
    return sent


async def purge_idempotency(ctx: dict[str, Any]) -> int:
    from api.kit.idempotency import purge_expired

    async with ctx["pool"].acquire() as conn:
        return await purge_expired(conn, ctx["clock"].now())
