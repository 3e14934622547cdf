"""Recomputing live timers when the business calendar changes.

Rules:
- Every running or paused timer counted in business time is recomputed from its start on the new
  calendar (``schedule.plan``), with the paused time it has already accumulated; clock timers do not
  depend on the calendar and are left alone. Timers that have ended (met, breached, cancelled) keep
  their times and history.
- A warning time already reached (fired, or due to fire at the next sweep; for a paused timer, reached
  before the pause) is kept; a new due time that is already past makes the timer breach at the next
  sweep (a new warning time already past makes it warn then).
- Each recomputed timer records the new ``calendar_version``. When its due or warning time moved, its
  log gets a ``recomputed`` entry with the old and new times and ``sla.recomputed`` is emitted; timers
  whose times did not move get no entry and no event.
- Runs in the caller's transaction, which holds the calendar row ``FOR UPDATE``.
"""

from __future__ import annotations

from datetime import datetime

from api.db import UnitOfWork
from api.domain.events import outbox
from api.domain.timers import events, queries, schedule
from api.domain.timers.queries import Recomputed
from api.kit.calendar import BusinessCalendar


async def recompute(
    uow: UnitOfWork, *, calendar: BusinessCalendar, calendar_version: int, now: datetime
) -> int:
    """Recompute every live business timer on ``calendar``; returns how many timers' times moved."""
    timers = await queries.live_business_timers(uow.conn)
    changes: list[Recomputed] = []
    for timer in timers:
        plan = schedule.plan(
            unit=timer.unit,
            measure=timer.measure,
            amount=timer.amount,
            warn_ratio=timer.warn_ratio,
            started_at=timer.started_at,
            paused=timer.paused_total,
            calendar=calendar,
        )
        reached = timer.warned_at is not None or timer.warn_at <= (timer.paused_at or now)
        warn_at = timer.warn_at if reached else plan.warn_at
        moved = plan.due_at != timer.due_at or warn_at != timer.warn_at
        changes.append(
            Recomputed(
                timer_id=timer.id,
                target=plan.target,
                due_at=plan.due_at,
                warn_at=warn_at,
                moved=moved,
                old_due_at=timer.due_at,
                old_warn_at=timer.warn_at,
                old_calendar_version=timer.calendar_version,
            )
        )
    await queries.apply_recompute(uow.conn, changes, calendar_version=calendar_version, now=now)
    moved_count = 0
    for timer, change in zip(timers, changes, strict=True):
        if not change.moved:
            continue
        moved_count += 1
        await outbox.emit(
            uow,
            events.SLA_RECOMPUTED,
            subject_type=events.SUBJECT_TYPE,
            subject_id=timer.id,
            data=events.event_data(
                timer,
                due_at=change.due_at,
                warn_at=change.warn_at,
                old_due_at=change.old_due_at,
                old_warn_at=change.old_warn_at,
                calendar_version=calendar_version,
                previous_calendar_version=timer.calendar_version,
            ),
            now=now,
            client_id=timer.client_id,
            project_id=timer.project_id,
        )
    return moved_count
