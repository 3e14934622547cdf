"""Firing SLA warnings and breaches: the sweep the worker runs every minute.

Rules:
- The sweep claims running timers whose warning (not yet fired) or due time has come, with ``SELECT
  ... FOR UPDATE SKIP LOCKED`` over the partial index ``sla_timers_next_fire`` (running timers only), so
  its cost follows the number of due timers, not the size of the table. It works in batches of
  ``limit`` timers, one transaction each, until a batch comes back short.
- In the transaction of its batch, each timer records what fired (``warned_at``; ``state`` =
  ``breached`` and ``breached_at``), appends ``warned`` / ``breached`` to its log and emits
  ``sla.warning`` / ``sla.breached`` followed by the subject's own event (``events.SUBJECT_EVENTS``).
  A timer past both thresholds fires both, the warning first.
- Exactly once, with several workers and retried jobs: a claimed row is locked, its state is
  re-checked under the lock, and the change of state is what stops it from being claimed again.
- The clock is the caller's (``clock.now()`` once per sweep), so tests move a frozen clock.
- The dispatch jobs of the events are sent after each commit when a Redis client is given; without
  one (or when Redis is down) the outbox sweep finds the events in PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from arq.connections import ArqRedis

from api.db import Job, Pool
from api.domain.events import outbox
from api.domain.events.schemas import NewEvent
from api.domain.timers import events, queries
from api.domain.timers.queries import Fired
from api.kit.clock import Clock
from api.kit.jobs import JobSender

BATCH = 1000


def _events(fired: list[Fired]) -> list[NewEvent]:
    result: list[NewEvent] = []
    for item in fired:
        timer = item.timer
        warning_type, breach_type = events.SUBJECT_EVENTS[timer.kind]
        data = events.event_data(timer)
        steps = [
            (item.warning, events.SLA_WARNING, warning_type),
            (item.breach, events.SLA_BREACHED, breach_type),
        ]
        for happened, sla_type, subject_type in steps:
            if not happened:
                continue
            threshold = "warning" if sla_type == events.SLA_WARNING else "breach"
            payload = {**data, "threshold": threshold}
            result.append(
                NewEvent(
                    type=sla_type,
                    subject_type=events.SUBJECT_TYPE,
                    subject_id=timer.id,
                    client_id=timer.client_id,
                    project_id=timer.project_id,
                    data=payload,
                )
            )
            result.append(
                NewEvent(
                    type=subject_type,
                    subject_type=timer.subject_type,
                    subject_id=timer.subject_id,
                    client_id=timer.client_id,
                    project_id=timer.project_id,
                    data=payload,
                )
            )
    return result


async def fire_batch(pool: Pool, now: datetime, limit: int) -> tuple[list[Fired], list[UUID]]:
    """Claim and fire one batch in one transaction; returns the fired timers and the new event ids."""
    async with pool.acquire() as conn, conn.transaction():
        fired = await queries.claim_due(conn, now, limit)
        event_ids = await outbox.emit_many(conn, _events(fired), now)
    return fired, event_ids


async def fire_due(
    pool: Pool, clock: Clock, limit: int = BATCH, *, redis: ArqRedis | None = None
) -> tuple[int, int]:
    """Fire every warning and breach due at ``clock.now()``; returns (warnings fired, breaches fired)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    now = clock.now()
    sender = JobSender(redis) if redis is not None else None
    warned = breached = 0
    while True:
        fired, event_ids = await fire_batch(pool, now, limit)
        warned += sum(item.warning for item in fired)
        breached += sum(item.breach for item in fired)
        if sender is not None and event_ids:
            jobs: list[Job] = [
                (outbox.DISPATCH_JOB, (str(event_id),), {"_job_id": outbox.dispatch_job_id(event_id)})
                for event_id in event_ids
            ]
            await sender.send(jobs)
        if len(fired) < limit:
            return warned, breached
