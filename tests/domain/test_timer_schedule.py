"""SLA arithmetic (``api.domain.timers.schedule``) as properties over the default calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from api.domain.timers import schedule
from api.kit.calendar import BusinessCalendar, CalendarSpec

CALENDAR = BusinessCalendar(CalendarSpec())
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
ratios = st.floats(min_value=0.05, max_value=0.95)
pauses = st.integers(min_value=0, max_value=40 * 3600).map(lambda s: timedelta(seconds=s))


@settings(max_examples=200, deadline=None)
@given(start=instants, amount=st.integers(1, 10), ratio=ratios, paused=pauses)
def test_business_timer_runs_its_target_plus_pauses_inside_windows(
    start: Any, amount: int, ratio: float, paused: timedelta
) -> None:
    plan = schedule.plan(
        unit="business",
        measure="business_days",
        amount=amount,
        warn_ratio=ratio,
        started_at=start,
        paused=paused,
        calendar=CALENDAR,
    )
    assert plan.target == CALENDAR.business_days(amount)
    assert CALENDAR.elapsed(start, plan.due_at) == plan.target + paused
    assert start <= plan.warn_at < plan.due_at


@settings(max_examples=200, deadline=None)
@given(start=instants, amount=st.integers(1, 100), ratio=ratios, paused=pauses)
def test_clock_timer_is_plain_arithmetic(start: Any, amount: int, ratio: float, paused: timedelta) -> None:
    plan = schedule.plan(
        unit="clock",
        measure="hours",
        amount=amount,
        warn_ratio=ratio,
        started_at=start,
        paused=paused,
        calendar=None,
    )
    assert plan.due_at - start == timedelta(hours=amount) + paused
    assert plan.warn_at < plan.due_at


@settings(max_examples=100, deadline=None)
@given(start=instants, amount=st.integers(1, 10))
def test_end_of_business_day_is_a_closing(start: Any, amount: int) -> None:
    plan = schedule.plan(
        unit="business",
        measure="end_of_business_day",
        amount=amount,
        warn_ratio=0.75,
        started_at=start,
        calendar=CALENDAR,
    )
    assert plan.due_at == CALENDAR.end_of_nth_business_day(start, amount)
    assert CALENDAR.elapsed(start, plan.due_at) == plan.target
    assert plan.warn_at <= plan.due_at
