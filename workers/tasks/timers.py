"""The SLA timer sweep, run by cron every minute (see ``api.domain.timers.firing`` for its rules).

Running it twice, from two workers at once or as a retry, fires nothing twice: the database state is
the guard. The clock comes from the job context, so tests move a frozen clock instead of sleeping.
"""

from __future__ import annotations

import logging
from typing import Any

from api.domain.timers.firing import BATCH, fire_due

log = logging.getLogger("scopekeeper.worker.timers")

__all__ = ["fire_due", "sweep_timers"]


async def sweep_timers(ctx: dict[str, Any]) -> dict[str, int]:
    """Fire the warnings and breaches due now; returns how many of each fired."""
    warned, breached = await fire_due(ctx["pool"], ctx["clock"], BATCH, redis=ctx.get("redis"))
    if warned or breached:
        log.info("timer sweep fired %d warnings and %d breaches", warned, breached)
    return {"warned": warned, "breached": breached}
