from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

TimerKind = Literal[
    "inquiry_reply", "cr_assessment", "cr_client_decision", "support_first_response", "architecture_review"
]
TIMER_KINDS: tuple[TimerKind, ...] = (
    "inquiry_reply",
    "cr_assessment",
    "cr_client_decision",
    "support_first_response",
    "architecture_review",
)
TimerState = Literal["running", "paused", "met", "breached", "cancelled"]
TimerUnit = Literal["business", "clock"]
Measure = Literal["business_days", "hours", "end_of_business_day"]
LogEvent = Literal["started", "warned", "paused", "resumed", "recomputed", "met", "breached", "cancelled"]

Duration = Annotated[timedelta, msgspec.Meta(description="ISO 8601 duration", examples=["PT32400S"])]


class Timer(msgspec.Struct, kw_only=True):
    """An SLA timer.

    ``state`` is the outcome once the timer ends: ``met`` (stopped in time), ``breached`` (due time
    passed; ``met_at`` or ``cancelled_at`` tell whether and when it was stopped afterwards) or
    ``cancelled`` (stopped before its due time without being met). ``target`` is the length of the
    timer in its ``unit`` (business time inside working windows, or clock time) as computed on
    ``calendar_version``; ``paused_total`` is the paused time not counted, in the same unit.
    """

    id: UUID
    kind: TimerKind
    subject_type: str
    subject_id: UUID
    project_id: UUID | None
    client_id: UUID | None
    state: TimerState
    unit: TimerUnit
    measure: Measure
    amount: int
    target: Duration
    warn_ratio: float
    started_at: datetime
    due_at: datetime
    warn_at: datetime
    warned_at: datetime | None
    breached_at: datetime | None
    met_at: datetime | None
    paused_at: datetime | None
    paused_total: Duration
    cancelled_at: datetime | None
    cancel_reason: str | None
    policy_version: int
    calendar_version: int | None
    data: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    version: int


class TimerLogEntry(msgspec.Struct, kw_only=True):
    """One entry of a timer's append-only log; ``old_*`` are set when a change moved the times."""

    id: int
    event: LogEvent
    at: datetime
    old_due_at: datetime | None
    due_at: datetime
    old_warn_at: datetime | None
    warn_at: datetime
    calendar_version: int | None
    details: dict[str, Any]


class TimerDetail(Timer, kw_only=True):
    """A timer with its log, oldest entry first."""

    log: list[TimerLogEntry]


class DueDates(msgspec.Struct, kw_only=True):
    """When a timer of ``kind`` started at ``from`` would warn and fall due on the calendar in force."""

    kind: TimerKind
    from_: datetime = msgspec.field(name="from")
    warn_at: datetime
    due_at: datetime
    calendar_version: int
    policy_version: int
    unit: TimerUnit
    target: Duration


class KindPolicy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The target of one timer kind.

    ``measure``: ``business_days`` (n times the length of a business day, counted in business time),
    ``hours`` (n hours, counted in clock time or, with ``unit`` = ``business``, inside working windows)
    or ``end_of_business_day`` (the last closing of the n-th working day, day 1 being the start's day
    when it starts before that day's last closing). ``warn_ratio``: the share of the target after
    which the warning fires.
    """

    measure: Measure
    amount: Annotated[int, msgspec.Meta(ge=1, le=1000, examples=[1])]
    unit: TimerUnit = "business"
    warn_ratio: Annotated[float, msgspec.Meta(gt=0, lt=1, examples=[0.75])] = 0.75


class SlaPolicyIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Targets of every timer kind; a PUT stores them as a new policy version."""

    inquiry_reply: KindPolicy
    cr_assessment: KindPolicy
    cr_client_decision: KindPolicy
    support_first_response: KindPolicy
    architecture_review: KindPolicy


class SlaPolicy(SlaPolicyIn, kw_only=True):
    """The policy in force; timers keep the version they were started with."""

    version: int
    created_at: datetime
