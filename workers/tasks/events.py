"""Delivering domain events out of the outbox.

``dispatch_event`` is idempotent: it re-reads the event and marks it dispatched only once; running it
twice (arq delivers at least once) changes nothing the second time. ``sweep_outbox`` finds events that
were committed but never dispatched (Redis was down at commit time, or the job was lost) and enqueues
them again under the same job id.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

from redis.exceptions import RedisError

from api.domain.notifications.service import fan_out, job_for
from api.kit.outbox import DISPATCH_JOB, dispatch_job_id

log = logging.getLogger("scopekeeper.worker.events")

SWEEP_BATCH = 1000


async def dispatch_event(ctx: dict[str, Any], event_id: str) -> bool:
    """Fan the event out to its deliveries and mark it dispatched, in one transaction; then enqueue one
    job per due delivery (ids ``notify:<delivery>:<attempts>``). Returns False when it was already
    dispatched or does not exist; a second run still enqueues the event's due deliveries, so a run that
    died between its commit and its enqueues loses nothing."""
    now = ctx["clock"].now()
    async with ctx["pool"].acquire() as conn:
        dispatched, due = await fan_out(conn, UUID(event_id), ctx["settings"], now)
    redis = ctx["redis"]
    for item in due:
        function, argument, key = job_for(item)
        try:
            await redis.enqueue_job(function, argument, _job_id=key)
        except (RedisError, OSError):
            log.warning("could not enqueue %s; the delivery sweep will", key)
            break
    return dispatched


async def sweep_outbox(ctx: dict[str, Any]) -> int:
    """Enqueue undispatched events older than the sweep age; returns how many were handed to arq."""
    pool = ctx["pool"]
    settings = ctx["settings"]
    cutoff = ctx["clock"].now() - timedelta(seconds=settings.outbox_sweep_age_seconds)
    rows = await pool.fetch(
        """
        SELECT id FROM domain_events
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
        job = await redis.enqueue_job(DISPATCH_JOB, str(row["id"]), _job_id=dispatch_job_id(row["id"]))
        sent += job is not None
    if rows:
        log.info("outbox sweep re-enqueued %d of %d undispatched events", sent, len(rows))
    return sent


async def purge_idempotency(ctx: dict[str, Any]) -> int:
    from api.kit.idempotency import purge_expired

    async with ctx["pool"].acquire() as conn:
        return await purge_expired(conn, ctx["clock"].now())
