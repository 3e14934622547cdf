"""Quotes: expiring sent revisions whose validity has ended.

``expire_quotes`` (cron, every 5 minutes and at start-up) marks ``expired`` every sent revision whose
``valid_until`` lies before today's date in the business calendar's time zone (a quote is valid to the
end of its last day there), each with its ``quote.expired`` event (staff are notified), in batches of
one transaction each. The clock is ``ctx["clock"]``. It is idempotent: the status is the guard (an
expired revision no longer matches) and rows locked by another worker or by a client accepting at that
moment are skipped, so two workers or a retry never expire a revision twice.
"""

from __future__ import annotations

import logging
from typing import Any

from api.db import UnitOfWork
from api.domain.quotes import service
from api.kit.jobs import JobSender

log = logging.getLogger("scopekeeper.worker.quotes")

BATCH = 100


async def expire_quotes(ctx: dict[str, Any]) -> int:
    """Expire the sent revisions past their last valid day; returns how many were expired."""
    pool = ctx["pool"]
    now = ctx["clock"].now()
    sender = JobSender(ctx["redis"])
    total = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            uow = UnitOfWork(conn)
            expired = await service.expire_due(uow, now=now, limit=BATCH)
        await sender.send(uow.jobs)
        total += len(expired)
        if len(expired) < BATCH:
            break
    if total:
        log.info("expired %d quote revisions past their validity", total)
    return total
