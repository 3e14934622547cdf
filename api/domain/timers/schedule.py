"""SLA arithmetic: a timer's target, warning and due instants, without I/O.

Rules:
- ``business_days``: the target is ``amount`` business days (``amount * standard_day``) of business time.
- ``hours``: the target is ``amount`` hours, of clock time (unit ``clock``) or of business time (unit
  ``business``: counted only inside working windows).
- ``end_of_business_day``: due at the last closing of the ``amount``-th working day from the start
  (``BusinessCalendar.end_of_nth_business_day``); the target is the business time from the start to
  that instant.
- Paused time does not count, in the timer's own unit: ``paused`` is added to the time that must run.
  Business timers: ``due = add(started, target + paused)``, ``warn = add(started, ratio * target +
  paused)``; clock timers: ``due = started + target + paused``, ``warn = started + ratio * target +
  paused``. Paused intervals precede the warning when it has not fired yet, so the formula holds for it.
- Everything is computed from the start on the calendar given, so recomputing on a new calendar gives
  the times as if that calendar had always been in force.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from api.domain.timers.schemas import Measure, TimerUnit
from api.kit.calendar import BusinessCalendar

_ZERO = timedelta(0)


class Plan(NamedTuple):
    target: timedelta
    due_at: datetime
    warn_at: datetime


def plan(
    *,
    unit: TimerUnit,
    measure: Measure,
    amount: int,
    warn_ratio: float,
    started_at: datetime,
    paused: timedelta = _ZERO,
    calendar: BusinessCalendar | None,
) -> Plan:
    """The target, due and warning instants of a timer (UTC); ``calendar`` is needed for business units."""
    if not 0 < warn_ratio < 1:
        raise ValueError("warn_ratio must lie strictly between 0 and 1")
    if amount < 1:
        raise ValueError("amount must be at least 1")
    if started_at.tzinfo is None or started_at.utcoffset() is None:
        raise ValueError("started_at must be an aware datetime")
    started_at = started_at.astimezone(UTC)
    if unit == "clock":
        if measure != "hours":
            raise ValueError(f"a {measure} target is counted in business time")
        target = timedelta(hours=amount)
        return Plan(target, started_at + target + paused, started_at + target * warn_ratio + paused)
    if calendar is None:
        raise ValueError("a business timer needs a calendar")
    if measure == "end_of_business_day":
        end = calendar.end_of_nth_business_day(started_at, amount)
        target = calendar.elapsed(started_at, end)
        due = end if paused == _ZERO else calendar.add(started_at, target + paused)
    else:
        target = calendar.business_days(amount) if measure == "business_days" else timedelta(hours=amount)
        due = calendar.add(started_at, target + paused)
    return Plan(target, due, calendar.add(started_at, target * warn_ratio + paused))
