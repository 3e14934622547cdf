"""SLA timers: the service other capabilities call, and the reads behind the timer routes.

Rules:
- One table of timers is the truth. A subject has at most one *open* timer of a kind: one that has been
  neither met nor cancelled (running, paused, or breached and not yet stopped). ``start`` for a subject
  that has one returns it unchanged (so a retried request does not restart the clock); to start afresh,
  cancel it first.
- ``start`` takes the kind's current policy (and records its version) and, for business timers, the
  calendar in force (its version too). ``business_hours`` chooses the unit of a kind measured in hours
  (``support_first_response``: clock hours by default); kinds measured in business days are always
  counted in business time (``business_hours=False`` for them is a programming error: ``ValueError``).
- The warning fires once when ``warn_ratio`` of the target has elapsed, the breach once at ``due_at``
  (the sweep, ``api.domain.timers.firing``); both are also the timer's log entries.
- ``meet``, ``pause``, ``resume`` and ``cancel`` act on the open timer of (kind, subject) and return it,
  or None when the subject has no open timer (so they are idempotent): a timer that was met or cancelled
  changes no more.
- Outcome (``state``) once a timer ends: ``met`` when met at or before ``due_at``; ``breached`` when the
  due time passed first, whether it is later met (``met_at`` set) or cancelled (``cancelled_at`` set):
  stopping late keeps the breach. ``cancelled`` only for a timer cancelled before it fell due.
- A running timer stopped or paused after its due time, before the sweep noticed, is breached first
  (``breached`` log entry, ``sla.breached`` with ``noticed_when_stopped``; the subject's own overdue
  event is left out because the subject is being dealt with at that moment). Pausing or resuming a
  breached timer changes nothing.
- Pause: the clock stops at ``at``. Resume: the paused span, measured in the timer's unit (business
  time inside working windows for business timers, clock time otherwise), is added to
  ``paused_total``, and due and warning times are recomputed from the start (a warning time reached
  before the pause, fired or not, is kept). A pause of 5 clock hours moves a clock timer by 5 hours; a
  pause over a night moves a business timer only by the working time it covered.
- A project's timers (those started with its ``project_id``) can be acted on together:
  ``cancel_all_of_project`` (the project ended), ``pause_all_of_project`` (it went on hold: only running
  timers pause, and the ones paused are returned so that the hold can remember them) and
  ``resume_of_project`` (the hold ended: only the timers named, and only if they are still paused).
  Each timer is changed exactly as the single-timer call would, with its log entry and event.
- Every change appends to the timer's log and emits its event (``sla.met``, ``sla.paused``,
  ``sla.resumed``, ``sla.cancelled``, ``sla.breached``) in the caller's transaction.
- Every change takes a share lock of the calendar row before it locks a timer (the order a calendar
  change takes: the calendar row, then its timers), so a concurrent calendar change either sees the new
  or changed timer and recomputes it, or the timer is computed on the new calendar; and the two never
  deadlock.
- ``start_and_emit`` is ``start`` followed by ``api.domain.events.outbox.emit`` of an event built from the timer,
  for the hot paths (inquiry intake): when the subject has no open timer it writes the timer, its log
  entry and the event in one statement. It computes the times from the policy and calendar context
  last seen in this process for the kind (the calendar's arithmetic itself is cached per calendar
  version by ``api.domain.calendar.service``). That cache is never trusted: the statement share-locks
  the calendar row and writes only if the calendar in force (version and version id) and the kind's
  latest policy (version and targets) are the ones the times were computed on; otherwise it writes
  nothing, returns the context in force, and the times are computed again on it. A calendar or policy
  changed by this process, another instance or another process is therefore used by the very next
  timer, and a stale one is never stored. ``event`` may be called more than once and must not have
  side effects.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

import msgspec

from api.db import Conn, UnitOfWork
from api.domain.calendar import queries as calendar_queries
from api.domain.calendar import service as calendar_service
from api.domain.events import outbox
from api.domain.events.schemas import NewEvent
from api.domain.timers import events, queries, schedule
from api.domain.timers.queries import Context
from api.domain.timers.schemas import (
    DueDates,
    KindPolicy,
    SlaPolicy,
    SlaPolicyIn,
    Timer,
    TimerDetail,
    TimerKind,
    TimerUnit,
)
from api.errors import NotFound, invalid
from api.kit.auth import Principal
from api.kit.calendar import BusinessCalendar
from api.kit.etag import check_if_match
from api.settings import Settings

_ZERO = timedelta(0)
#: The subject id of events about the SLA policy (a single resource).
POLICY_SUBJECT = uuid5(NAMESPACE_URL, "urn:scopekeeper:sla-policy")

__all__ = [
    "Announcement",
    "DueDates",
    "Timer",
    "TimerKind",
    "cancel",
    "cancel_all_of_project",
    "due_dates",
    "get_for_subject",
    "meet",
    "pause",
    "pause_all_of_project",
    "resume",
    "resume_of_project",
    "start",
    "start_and_emit",
]


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return value.astimezone(UTC)


class UnitError(ValueError):
    """``business_hours=False`` for a kind whose target is counted in business days."""


def _unit(ctx: Context, business_hours: bool | None) -> TimerUnit:
    if business_hours is None:
        return ctx.unit
    if ctx.measure != "hours":
        if not business_hours:
            raise UnitError(f"a {ctx.measure} target is always counted in business time")
        return "business"
    return "business" if business_hours else "clock"


async def _calendar(conn: Conn, ctx: Context, defaults: Settings | None = None) -> BusinessCalendar:
    spec = calendar_service.default_spec(defaults) if defaults is not None else None
    return (await calendar_service.in_force(conn, ctx.calendar, spec)).calendar


async def start(
    uow: UnitOfWork,
    *,
    kind: TimerKind,
    subject_type: str,
    subject_id: UUID,
    started_at: datetime,
    now: datetime,
    project_id: UUID | None = None,
    client_id: UUID | None = None,
    business_hours: bool | None = None,
    data: dict[str, Any] | None = None,
) -> Timer:
    """Start the (kind, subject) timer at ``started_at``; returns the open one if there already is one.

    ``data`` (JSON values) is stored on the timer and merged into the data of every event it fires;
    it may not use the reserved names of ``api.domain.timers.events.RESERVED``.
    """
    started_at = _aware(started_at, "started_at")
    now = _aware(now, "now")
    extra = dict(data or {})
    clash = events.RESERVED.intersection(extra)
    if clash:
        raise ValueError(f"timer data may not use the reserved names {sorted(clash)}")
    ctx = await queries.context(uow.conn, kind, lock=True)
    unit = _unit(ctx, business_hours)
    calendar = await _calendar(uow.conn, ctx) if unit == "business" else None
    plan = schedule.plan(
        unit=unit,
        measure=ctx.measure,
        amount=ctx.amount,
        warn_ratio=ctx.warn_ratio,
        started_at=started_at,
        calendar=calendar,
    )
    timer = await queries.insert(
        uow.conn,
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        project_id=project_id,
        client_id=client_id,
        unit=unit,
        measure=ctx.measure,
        amount=ctx.amount,
        target=plan.target,
        warn_ratio=ctx.warn_ratio,
        started_at=started_at,
        due_at=plan.due_at,
        warn_at=plan.warn_at,
        policy_version=ctx.policy_version,
        calendar_version=ctx.calendar.version if unit == "business" else None,
        data=extra,
        now=now,
    )
    if timer is None:
        timer = await queries.open_timer(uow.conn, kind, subject_id)
        assert timer is not None, "the insert conflicted with an open timer"
    return timer


class Announcement(NamedTuple):
    """The domain event ``start_and_emit`` writes with the timer, as ``api.domain.events.outbox.emit`` takes it."""

    type: str
    subject_type: str
    subject_id: UUID
    data: dict[str, Any]
    actor: Principal | None = None
    client_id: UUID | None = None
    project_id: UUID | None = None


class Basis(NamedTuple):
    """A context read from the database, with its calendar's arithmetic loaded along with it."""

    context: Context
    calendar: BusinessCalendar


#: The basis last read per kind: a guess that ``insert_guarded`` checks. A calendar is only ever loaded
#: for a context the database in use has just named, never for a cached one.
_bases: dict[TimerKind, Basis] = {}
#: Attempts of ``start_and_emit`` before it gives up: only a policy stored between two attempts (the
#: calendar row is locked after the first) makes one more necessary.
_ATTEMPTS = 5


async def _load_basis(conn: Conn, kind: TimerKind, ctx: Context) -> Basis:
    """The basis of ``ctx`` (just read from ``conn``'s database), remembered for the kind."""
    basis = _bases[kind] = Basis(ctx, await _calendar(conn, ctx))
    return basis


async def start_and_emit(
    uow: UnitOfWork,
    *,
    kind: TimerKind,
    subject_type: str,
    subject_id: UUID,
    started_at: datetime,
    now: datetime,
    event: Callable[[Timer], Announcement],
    project_id: UUID | None = None,
    client_id: UUID | None = None,
    business_hours: bool | None = None,
    data: dict[str, Any] | None = None,
) -> Timer:
    """``start`` (same arguments and result), then emit the event ``event`` builds from the timer.

    With no open timer for the subject both are one statement, computed on the cached context and
    checked against the one in force (see the module's rules); with one, the open timer is returned
    and the event is built from it and emitted on its own.
    """
    started_at = _aware(started_at, "started_at")
    now = _aware(now, "now")
    extra = dict(data or {})
    clash = events.RESERVED.intersection(extra)
    if clash:
        raise ValueError(f"timer data may not use the reserved names {sorted(clash)}")
    stored_data: dict[str, Any] = msgspec.to_builtins(extra)
    basis = _bases.get(kind)
    if basis is None:
        basis = await _load_basis(uow.conn, kind, await queries.context(uow.conn, kind, lock=True))
    for _ in range(_ATTEMPTS):
        ctx = basis.context
        unit = _unit(ctx, business_hours)
        plan = schedule.plan(
            unit=unit,
            measure=ctx.measure,
            amount=ctx.amount,
            warn_ratio=ctx.warn_ratio,
            started_at=started_at,
            calendar=basis.calendar if unit == "business" else None,
        )
        timer = Timer(
            id=uuid4(),
            kind=kind,
            subject_type=subject_type,
            subject_id=subject_id,
            project_id=project_id,
            client_id=client_id,
            state="running",
            unit=unit,
            measure=ctx.measure,
            amount=ctx.amount,
            target=plan.target,
            warn_ratio=ctx.warn_ratio,
            started_at=started_at,
            due_at=plan.due_at,
            warn_at=plan.warn_at,
            warned_at=None,
            breached_at=None,
            met_at=None,
            paused_at=None,
            paused_total=_ZERO,
            cancelled_at=None,
            cancel_reason=None,
            policy_version=ctx.policy_version,
            calendar_version=ctx.calendar.version if unit == "business" else None,
            data=stored_data,
            created_at=now,
            updated_at=now,
            version=1,
        )
        announced = event(timer)
        actor = announced.actor
        outcome = await queries.insert_guarded(
            uow.conn,
            timer,
            NewEvent(
                type=announced.type,
                subject_type=announced.subject_type,
                subject_id=announced.subject_id,
                client_id=announced.client_id,
                project_id=announced.project_id,
                data=announced.data,
            ),
            context=ctx,
            now=now,
            actor_key_id=actor.key_id if actor else None,
            actor_role=actor.role if actor else None,
        )
        if not outcome.matched:
            basis = await _load_basis(uow.conn, kind, outcome.context)
            continue
        if outcome.timer_written:
            assert outcome.event_id is not None
            outbox.dispatch_after_commit(uow, outcome.event_id)
            return timer
        found = await queries.open_timer(uow.conn, kind, subject_id)
        assert found is not None, "the insert conflicted with an open timer"
        announced = event(found)
        await outbox.emit(
            uow,
            announced.type,
            subject_type=announced.subject_type,
            subject_id=announced.subject_id,
            data=announced.data,
            now=now,
            actor=announced.actor,
            client_id=announced.client_id,
            project_id=announced.project_id,
        )
        return found
    raise RuntimeError(f"the {kind} policy kept changing while a timer was being started")


async def _emit(uow: UnitOfWork, event_type: str, timer: Timer, at: datetime, **extra: Any) -> None:
    await outbox.emit(
        uow,
        event_type,
        subject_type=events.SUBJECT_TYPE,
        subject_id=timer.id,
        data=events.event_data(timer, **extra),
        now=at,
        client_id=timer.client_id,
        project_id=timer.project_id,
    )


async def _lock_open(uow: UnitOfWork, kind: TimerKind, subject_id: UUID) -> Timer | None:
    """Lock the calendar row (shared) and then the open timer: the order a calendar change takes."""
    await calendar_queries.current(uow.conn, lock="share")
    return await queries.open_timer(uow.conn, kind, subject_id, for_update=True)


async def _breach_if_overdue(uow: UnitOfWork, timer: Timer, at: datetime) -> Timer:
    """A running timer whose due time passed before ``at`` is breached now, if the sweep has not yet."""
    if timer.state != "running" or at <= timer.due_at:
        return timer
    breached = await queries.mark_breached(uow.conn, timer.id, at=at, now=at)
    await _emit(uow, events.SLA_BREACHED, breached, at, noticed_when_stopped=True)
    return breached


async def meet(uow: UnitOfWork, *, kind: TimerKind, subject_id: UUID, at: datetime) -> Timer | None:
    """Stop the open timer as met at ``at``; a breach that happened first is kept (state ``breached``).

    A paused timer is resumed at ``at`` first, so its open pause counts as paused time.
    """
    at = _aware(at, "at")
    timer = await _lock_open(uow, kind, subject_id)
    if timer is None:
        return None
    if timer.state == "paused":
        timer = await resume(uow, kind=kind, subject_id=subject_id, at=at) or timer
    timer = await _breach_if_overdue(uow, timer, at)
    met = await queries.mark_met(uow.conn, timer.id, at=at, now=at)
    await _emit(uow, events.SLA_MET, met, at, met_at=at, late=met.breached_at is not None)
    return met


async def pause(uow: UnitOfWork, *, kind: TimerKind, subject_id: UUID, at: datetime) -> Timer | None:
    """Stop the clock of the running timer at ``at``; a paused or breached timer is returned unchanged."""
    at = _aware(at, "at")
    timer = await _lock_open(uow, kind, subject_id)
    if timer is None:
        return None
    timer = await _breach_if_overdue(uow, timer, at)
    if timer.state != "running":
        return timer
    paused = await queries.mark_paused(uow.conn, timer.id, at=at, now=at)
    await _emit(uow, events.SLA_PAUSED, paused, at, paused_at=at)
    return paused


async def resume(uow: UnitOfWork, *, kind: TimerKind, subject_id: UUID, at: datetime) -> Timer | None:
    """Restart the clock of the paused timer at ``at``, moving its times by the paused span in its unit."""
    at = _aware(at, "at")
    ctx = await queries.context(uow.conn, kind, lock=True)  # calendar lock first: the order a PUT takes
    timer = await queries.open_timer(uow.conn, kind, subject_id, for_update=True)
    if timer is None:
        return None
    if timer.state != "paused" or timer.paused_at is None:
        return timer
    if timer.unit == "business":
        calendar: BusinessCalendar | None = await _calendar(uow.conn, ctx)
        assert calendar is not None
        pause_span = calendar.elapsed(timer.paused_at, at)
        calendar_version: int | None = ctx.calendar.version
    else:
        calendar = None
        pause_span = max(at - timer.paused_at, _ZERO)
        calendar_version = None
    paused_total = timer.paused_total + pause_span
    reached = timer.warned_at is not None or timer.warn_at <= timer.paused_at
    plan = schedule.plan(
        unit=timer.unit,
        measure=timer.measure,
        amount=timer.amount,
        warn_ratio=timer.warn_ratio,
        started_at=timer.started_at,
        paused=paused_total,
        calendar=calendar,
    )
    resumed = await queries.mark_resumed(
        uow.conn,
        timer,
        at=at,
        target=plan.target,
        due_at=plan.due_at,
        warn_at=timer.warn_at if reached else plan.warn_at,
        paused_total=paused_total,
        calendar_version=calendar_version,
        now=at,
        pause=pause_span,
    )
    await _emit(
        uow,
        events.SLA_RESUMED,
        resumed,
        at,
        resumed_at=at,
        paused=pause_span.total_seconds(),
        old_due_at=timer.due_at,
        old_warn_at=timer.warn_at,
    )
    return resumed


async def cancel(
    uow: UnitOfWork, *, kind: TimerKind, subject_id: UUID, at: datetime, reason: str
) -> Timer | None:
    """Stop the open timer without meeting it; one already breached stays ``breached``."""
    at = _aware(at, "at")
    timer = await _lock_open(uow, kind, subject_id)
    if timer is None:
        return None
    timer = await _breach_if_overdue(uow, timer, at)
    cancelled = await queries.mark_cancelled(uow.conn, timer.id, at=at, reason=reason, now=at)
    await _emit(uow, events.SLA_CANCELLED, cancelled, at, cancelled_at=at, reason=reason)
    return cancelled


async def cancel_all_of_project(
    uow: UnitOfWork, *, project_id: UUID, at: datetime, reason: str
) -> list[Timer]:
    """Cancel every open timer of the project (running, paused, or breached and not yet stopped), each
    as :func:`cancel` does; returns them as cancelled."""
    cancelled = []
    for timer in await queries.open_of_project(uow.conn, project_id):
        found = await cancel(uow, kind=timer.kind, subject_id=timer.subject_id, at=at, reason=reason)
        if found is not None:
            cancelled.append(found)
    return cancelled


async def pause_all_of_project(uow: UnitOfWork, *, project_id: UUID, at: datetime) -> list[Timer]:
    """Pause every running timer of the project at ``at`` (as :func:`pause` does, each in its own unit);
    returns those it paused. Paused and breached timers are left as they are."""
    paused = []
    for timer in await queries.open_of_project(uow.conn, project_id):
        if timer.state != "running":
            continue
        found = await pause(uow, kind=timer.kind, subject_id=timer.subject_id, at=at)
        if found is not None and found.state == "paused" and found.id == timer.id:
            paused.append(found)
    return paused


async def resume_of_project(
    uow: UnitOfWork, *, project_id: UUID, timer_ids: list[UUID], at: datetime
) -> list[Timer]:
    """Resume the project's timers named in ``timer_ids`` that are still open and paused (as
    :func:`resume` does: due and warning times move by the paused span in the timer's unit)."""
    resumed: list[Timer] = []
    if not timer_ids:
        return resumed
    for timer in await queries.open_of_project(uow.conn, project_id, ids=timer_ids):
        if timer.state != "paused":
            continue
        found = await resume(uow, kind=timer.kind, subject_id=timer.subject_id, at=at)
        if found is not None:
            resumed.append(found)
    return resumed


async def get_for_subject(conn: Conn, *, kind: TimerKind, subject_id: UUID) -> Timer | None:
    """The subject's open timer of ``kind``, else the one started last, else None."""
    return await queries.for_subject(conn, kind, subject_id)


async def due_dates(
    conn: Conn, *, kind: TimerKind, start: datetime, settings: Settings, business_hours: bool | None = None
) -> DueDates:
    """When a timer of ``kind`` started at ``start`` would warn and fall due, on the calendar and policy
    in force now (nothing is stored). ``business_hours`` as for ``start``."""
    start = _aware(start, "start")
    ctx = await queries.context(conn, kind, lock=False)
    unit = _unit(ctx, business_hours)
    calendar = await _calendar(conn, ctx, settings) if unit == "business" else None
    plan = schedule.plan(
        unit=unit,
        measure=ctx.measure,
        amount=ctx.amount,
        warn_ratio=ctx.warn_ratio,
        started_at=start,
        calendar=calendar,
    )
    return DueDates(
        kind=kind,
        from_=start,
        warn_at=plan.warn_at,
        due_at=plan.due_at,
        calendar_version=ctx.calendar.version,
        policy_version=ctx.policy_version,
        unit=unit,
        target=plan.target,
    )


async def detail(conn: Conn, timer_id: UUID) -> TimerDetail:
    timer = await queries.get(conn, timer_id)
    if timer is None:
        raise NotFound("No such SLA timer.")
    log = await queries.log_of(conn, timer_id)
    return TimerDetail(**msgspec.structs.asdict(timer), log=log)


async def policy(conn: Conn) -> SlaPolicy:
    return await queries.current_policy(conn)


async def put_policy(
    uow: UnitOfWork, actor: Principal, data: SlaPolicyIn, if_match: str | None, now: datetime
) -> SlaPolicy:
    """Store the targets as a new policy version; running timers keep the version they started with."""
    kinds: dict[TimerKind, KindPolicy] = {
        "inquiry_reply": data.inquiry_reply,
        "cr_assessment": data.cr_assessment,
        "cr_client_decision": data.cr_client_decision,
        "support_first_response": data.support_first_response,
        "architecture_review": data.architecture_review,
    }
    for kind, item in kinds.items():
        if item.measure != "hours" and item.unit != "business":
            raise invalid(f"/{kind}/unit", f"a {item.measure} target is counted in business time")
    current = await queries.current_policy(uow.conn, lock=True)
    check_if_match(if_match, current.version)
    version = current.version + 1
    await queries.store_policy(uow.conn, version=version, kinds=kinds, now=now, actor_key_id=actor.key_id)
    stored = await queries.current_policy(uow.conn)
    await outbox.emit(
        uow,
        "sla.policy_updated",
        subject_type="sla_policy",
        subject_id=POLICY_SUBJECT,
        data={"version": version, "previous_version": current.version},
        now=now,
        actor=actor,
    )
    return stored
