"""Projects: closing those whose 30-day support window has ended.

``close_ended_support`` (cron, every 5 minutes and at start-up) closes every project in ``support`` whose
``support_ends_at`` is at or before the clock's now, each with its phase history row and its
``project.closed`` event, in batches of one transaction each. It is idempotent: the phase is the guard
(a closed project no longer matches) and rows locked by another worker are skipped, so two workers or
a retry never close a project twice.
"""

from __future__ import annotations

import logging
from typing import Any

from api.db import UnitOfWork
from api.domain.projects import service
from api.kit.jobs import JobSender

log = logging.getLogger("scopekeeper.worker.projects")

BATCH = 100


async def close_ended_support(ctx: dict[str, Any]) -> int:
    """Close the projects whose support window has ended; returns how many were closed."""
    pool = ctx["pool"]
    now = ctx["clock"].now()
    sender = JobSender(ctx["redis"])
    total = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(conn)
            closed = await service.close_ended_support(uow, now=now, limit=BATCH)
        await sender.send(uow.jobs)
        total += len(closed)
        if len(closed) < BATCH:
            break
    if total:
        log.info("closed %d projects whose support window ended", total)
    return total
