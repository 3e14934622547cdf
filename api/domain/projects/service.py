"""Projects and their phases: the state machine and its guards.

Phases::

    proposal ─► discovery ─► architecture_review ─► delivery ─► acceptance ─► support ─► closed
    (any phase before closed) ─► on_hold ─► back to the phase it left ;  (any but closed) ─► cancelled

Rules:
- A project is created in ``proposal``: it must exist before its quote, and discovery starts only when a
  quote is accepted. ``start_discovery`` is therefore no HTTP route: the quotes capability calls it in the
  transaction that accepts the quote.
- Discovery lasts 5 business days: it ends at the last closing of the 5th working day of the shop's
  calendar, counted from the start (day 1 is the start's date when it is a working day and the shop has
  not closed yet). The ``architecture_review`` SLA timer runs from the start to that instant.
- Submitting the architecture document (URL plus the four-part summary) moves discovery →
  architecture_review and meets the timer. While the project waits for the sign-off, staff may submit a
  revised document: it replaces the current one (``architecture.revision`` + 1), the phase stays.
- Only the client signs off the architecture (staff get 403): architecture_review → delivery; scope and
  acceptance criteria freeze at that instant (``scope_frozen_at``).
- The handover package (source repository, deployment scripts, monitoring, runbook: http(s) URLs) moves
  delivery → acceptance.
- Launch moves acceptance → support when every guard in ``LAUNCH_GUARDS`` passes: the acceptance
  criteria capability adds "at least one criterion, and every criterion met or waived" (a project
  without criteria launches only with the staff's explicit ``without_criteria_reason``, kept on the
  project as ``criteria_waiver_reason``); the change-request capability adds "every approved change
  is done". ``launched_at`` is set and the support window lasts 30 days: ``support_ends_at`` is the
  same local time of day 30 days later in the shop's zone (the zone recorded when discovery started),
  so a daylight-saving change does not move it.
  Putting a project on hold does not extend the window; a project resumed after its window ended is
  closed by the next worker run.
- ``hold`` (reason required) from any phase from proposal to support; ``resume`` goes back to the phase
  the project left. Holding pauses every running SLA timer of the project, each in its own unit
  (business or clock time), and records the hold (``project_holds``) with the timers it paused;
  resuming resumes those timers (their due times move by the time held, in their unit) and moves the
  contract's delivery date by the business days held: the working time between hold and resume on
  the shop's calendar, in business days, rounded up (a hold that covers no working time moves
  nothing). The move is a ``hold`` amendment of the contract ledger, made only while the delivery is
  still ahead (the project was held in discovery, architecture_review or delivery, and has a
  contract); each hook in ``ON_RESUME`` makes it. Timers started while the project is on hold run:
  the step that started them is work on the project.
- **Ending** a project (``cancel``, ``close`` and the worker's close) ends everything that hangs on it
  in the same transaction, each with the reason ``project cancelled: <reason>`` / ``project closed:
  <reason>``: every hook in ``ON_END`` runs (change requests: open ones withdrawn, approved ones whose
  work is not done cancelled; quotes: a sent revision withdrawn), then every SLA timer of the project
  still open is cancelled (an overdue one stays breached), and an open hold ends. The project's event
  says what ended (``data.ended``).
- ``cancel`` (reason required) from any phase but closed and cancelled.
- ``close``: staff may close a project early, from ``support`` only, with a reason; a worker closes
  projects whose support window has ended (reason ``support window ended``, no actor).
- A refused transition is a 409 whose ``rule`` names the guard (``phase-transition``, or the launch
  guards' ``criteria-not-met``, ``no-acceptance-criteria``, ``changes-not-done``); a missing or blank
  reason is a 422 with rule ``reason-required``.
- Every transition locks the project row (``FOR UPDATE``), honours ``If-Match`` (412 when stale), bumps
  ``version``, appends to the phase history and emits its domain event in the same transaction.
- A client key sees only its own organisation's projects; anything else is 404.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, NamedTuple
from urllib.parse import urlsplit
from uuid import UUID
from zoneinfo import ZoneInfo

from api.db import Conn, UnitOfWork
from api.domain.calendar import service as calendars
from api.domain.clients import queries as clients
from api.domain.events import catalog, outbox
from api.domain.projects import queries
from api.domain.projects.queries import ProjectRef
from api.domain.projects.schemas import (
    ArchitectureSubmit,
    HandoverPackage,
    HistoryEvent,
    LaunchIn,
    Project,
    ProjectCreate,
)
from api.domain.timers import service as timers
from api.errors import Conflict, FieldError, Invalid, NotFound, invalid
from api.kit.auth import Principal, visible_client
from api.kit.calendar import BusinessCalendar
from api.kit.etag import check_if_match
from api.kit.money import check_currency

DISCOVERY_BUSINESS_DAYS = 5
SUPPORT_WINDOW = timedelta(days=30)
SUPPORT_ENDED_REASON = "support window ended"

#: Phases a project may be put on hold from (and resumed to).
HOLDABLE = ("proposal", "discovery", "architecture_review", "delivery", "acceptance", "support")
#: Phases a project may be cancelled from.
CANCELLABLE = (*HOLDABLE, "on_hold")

#: Phases whose delivery is still ahead: a hold in them moves the contract's delivery date.
BEFORE_DELIVERY = ("discovery", "architecture_review", "delivery")


class Blocker(NamedTuple):
    """What blocks a launch: the rule it breaks and a sentence naming what to do."""

    rule: str
    detail: str


LaunchGuard = Callable[[Conn, UUID, LaunchIn], Awaitable[Blocker | None]]

#: Checks run before a launch, in order, inside the launching transaction with the project row locked.
#: Each returns None when the project may launch, else a :class:`Blocker`. Any blocker refuses the
#: launch with a 409 whose ``rule`` is the first blocker's; every blocker's sentence is in
#: ``extra.blockers`` and its rule in ``extra.rules``. A guard may raise an error of its own (a 422 about
#: the launch body). Capabilities append their guard at import of their own service module.
LAUNCH_GUARDS: list[LaunchGuard] = []

Ending = Literal["cancelled", "closed"]


class Ended(NamedTuple):
    """A project being ended: how, why (the text every ended thing records), by whom, when."""

    project: ProjectRef
    how: Ending
    reason: str
    actor: Principal | None
    at: datetime


#: Called in order, in the transaction that ends a project, with the project row locked; each ends what
#: its capability hangs on the project and returns what it ended (merged into ``data.ended`` of the
#: project's event, e.g. ``{"change_requests_withdrawn": [...]}``). Capabilities append their hook at
#: import of their own service module.
EndHook = Callable[[UnitOfWork, Ended], Awaitable[dict[str, Any]]]
ON_END: list[EndHook] = []


class Resumed(NamedTuple):
    """A hold that ends with a resume: the business days it held the delivery back."""

    project: ProjectRef
    from_phase: str
    held_at: datetime
    reason: str
    business_days: int
    actor: Principal | None
    at: datetime


class DateMove(NamedTuple):
    """What a resume hook did with the contract: the amendment appended and the new delivery date."""

    amendment_number: int
    delivery_date: date


#: Called in order when a project resumes after a hold that held the delivery back by at least one
#: business day in a phase before the handover; a hook returns the contract amendment it made, or None
#: (no contract). The contracts capability appends its hook at import of its own service module.
ResumeHook = Callable[[UnitOfWork, Resumed], Awaitable[DateMove | None]]
ON_RESUME: list[ResumeHook] = []


async def _calendar(uow: UnitOfWork) -> BusinessCalendar:
    """The calendar in force, its row held ``FOR SHARE`` so that a calendar change waits for us."""
    found = await calendars.current(uow.conn, lock="share")
    return found.calendar


def _project_not_found() -> NotFound:
    return NotFound("No such project.")


async def get_visible(conn: Conn, principal: Principal | None, project_id: UUID, *, now: datetime) -> Project:
    """The whole project resource, or 404 when it does not exist or lies outside a client key's scope."""
    project = await queries.get(conn, project_id, now=now)
    if project is None:
        raise _project_not_found()
    if principal is not None:
        visible_client(principal, project.client_id, "project")
    return project


async def visible_ref(
    conn: Conn, principal: Principal | None, project_id: UUID, *, for_update: bool = False
) -> ProjectRef:
    """The project's key columns, optionally locked ``FOR UPDATE``; 404 as in :func:`get_visible`.

    ``principal`` None is the system (a worker, another service): no visibility check.
    """
    ref = await queries.ref(conn, project_id, for_update=for_update)
    if ref is None:
        raise _project_not_found()
    if principal is not None:
        visible_client(principal, ref.client_id, "project")
    return ref


async def status_document(conn: Conn, principal: Principal, project_id: UUID, *, now: datetime) -> bytes:
    """The status JSON document (see ``status``), or 404 when absent or outside a client key's scope.

    It is the client's dashboard, for staff too: its ``updated_at`` counts only events a client may
    see (``api.domain.events.catalog``), so a staff-only event (a failed delivery, a timer warning)
    neither shows through it nor changes its ETag.
    """
    body = await queries.status_document(
        conn,
        project_id,
        now=now,
        client_id=principal.client_id if principal.role == "client" else None,
        event_types=catalog.client_types(),
    )
    if body is None:
        raise _project_not_found()
    return body


async def history(
    conn: Conn, principal: Principal, project_id: UUID, *, before: int | None, limit: int
) -> list[HistoryEvent]:
    """The project's events, newest first (``limit`` of them, older than sequence ``before``); 404 as in
    :func:`get_visible`. A client key reads only the types whose audience is ``client``; staff read all."""
    await visible_ref(conn, principal, project_id)
    types = None if principal.is_staff else catalog.client_types()
    return await queries.history(conn, project_id, before=before, limit=limit, types=types)


async def create(uow: UnitOfWork, actor: Principal, data: ProjectCreate, now: datetime) -> Project:
    currency = check_currency(data.currency, "/currency")
    if not await clients.exists(uow.conn, data.client_id):
        raise invalid("/client_id", "no client has this id")
    project_id = await queries.insert(
        uow.conn,
        client_id=data.client_id,
        name=data.name,
        description=data.description,
        currency=currency,
        inquiry_id=data.inquiry_id,
        business_hours_support=data.business_hours_support,
        now=now,
    )
    await queries.record_phase_change(
        uow.conn,
        project_id,
        from_phase=None,
        to_phase="proposal",
        reason=None,
        actor_key_id=actor.key_id,
        actor_role=actor.role,
        at=now,
    )
    await _event(
        uow,
        "project.created",
        project_id,
        data.client_id,
        {"name": data.name, "currency": currency, "phase": "proposal", "inquiry_id": data.inquiry_id},
        now,
        actor,
    )
    return await get_visible(uow.conn, None, project_id, now=now)


# --- transitions ---------------------------------------------------------------------------------


def _refuse(action: str, ref: ProjectRef, allowed: tuple[str, ...]) -> Conflict:
    return Conflict(
        f"Cannot {action} a project in phase {ref.phase}; it must be in {' or '.join(allowed)}.",
        rule="phase-transition",
        extra={"phase": ref.phase, "allowed_from": list(allowed)},
    )


async def _lock(
    uow: UnitOfWork,
    actor: Principal | None,
    project_id: UUID,
    if_match: str | None,
    action: str,
    allowed: tuple[str, ...],
) -> ProjectRef:
    ref = await visible_ref(uow.conn, actor, project_id, for_update=True)
    check_if_match(if_match, ref.version)
    if ref.phase not in allowed:
        raise _refuse(action, ref, allowed)
    return ref


def _reason(reason: str | None) -> str:
    text = (reason or "").strip()
    if not text:
        raise Invalid(
            "A reason is required.",
            rule="reason-required",
            errors=[FieldError(pointer="/reason", detail="a non-blank reason is required")],
        )
    return text


def _url(value: str, pointer: str) -> str:
    try:
        parts = urlsplit(value.strip())
    except ValueError:  # an unclosed IPv6 bracket, a host that changes under NFKC normalisation
        raise invalid(pointer, f"{value!r} is not an absolute http(s) URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in value.strip():
        raise invalid(pointer, f"{value!r} is not an absolute http(s) URL")
    return value.strip()


async def _event(
    uow: UnitOfWork,
    event_type: str,
    project_id: UUID,
    client_id: UUID,
    data: dict[str, Any],
    now: datetime,
    actor: Principal | None,
) -> None:
    await outbox.emit(
        uow,
        event_type,
        subject_type="project",
        subject_id=project_id,
        data=data,
        now=now,
        actor=actor,
        client_id=client_id,
        project_id=project_id,
    )


async def _moved(
    uow: UnitOfWork,
    ref: ProjectRef,
    to_phase: str,
    *,
    event_type: str,
    actor: Principal | None,
    now: datetime,
    at: datetime | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> Project:
    """Record the phase change and its event, then read the project back."""
    await queries.record_phase_change(
        uow.conn,
        ref.id,
        from_phase=ref.phase,
        to_phase=to_phase,
        reason=reason,
        actor_key_id=actor.key_id if actor else None,
        actor_role=actor.role if actor else None,
        at=at or now,
    )
    body: dict[str, Any] = {
        "from": ref.phase,
        "to": to_phase,
        "project_name": ref.name,
        "client_name": ref.client_name,
    }
    if reason is not None:
        body["reason"] = reason
    await _event(uow, event_type, ref.id, ref.client_id, {**body, **(data or {})}, now, actor)
    return await get_visible(uow.conn, None, ref.id, now=now)


async def start_discovery(
    uow: UnitOfWork, *, project_id: UUID, at: datetime, actor: Principal | None, now: datetime
) -> Project:
    """proposal → discovery, when a quote is accepted at ``at``; starts the architecture_review timer.

    Called by the quotes capability inside the accepting transaction. ``actor`` is the accepting client
    (None for the system). Refused with 409 ``phase-transition`` unless the project is in ``proposal``
    (a proposal on hold must be resumed first). Discovery ends, and the timer falls due, at the last
    closing of the 5th working day of the calendar in force (held ``FOR SHARE`` meanwhile).
    """
    ref = await _lock(uow, None, project_id, None, "start discovery on", ("proposal",))
    calendar = await _calendar(uow)
    ends_at = calendar.end_of_nth_business_day(at, DISCOVERY_BUSINESS_DAYS)
    await queries.start_discovery(
        uow.conn, project_id, at=at, ends_at=ends_at, time_zone=calendar.spec.time_zone, now=now
    )
    await timers.start(
        uow,
        kind="architecture_review",
        subject_type="project",
        subject_id=project_id,
        started_at=at,
        now=now,
        project_id=project_id,
        client_id=ref.client_id,
    )
    return await _moved(
        uow,
        ref,
        "discovery",
        event_type="project.discovery_started",
        actor=actor,
        now=now,
        at=at,
        data={"discovery_started_at": at.isoformat(), "discovery_ends_at": ends_at.isoformat()},
    )


async def submit_architecture(
    uow: UnitOfWork,
    actor: Principal,
    project_id: UUID,
    data: ArchitectureSubmit,
    if_match: str | None,
    now: datetime,
) -> Project:
    """discovery → architecture_review (meets the timer); in architecture_review, a revised document."""
    url = _url(data.document_url, "/document_url")
    summary = queries.as_json(data.summary)
    for part, text in summary.items():
        if not text.strip():
            raise invalid(f"/summary/{part}", "must not be blank")
    ref = await _lock(
        uow, actor, project_id, if_match, "submit the architecture of", ("discovery", "architecture_review")
    )
    revision = await queries.submit_architecture(
        uow.conn, project_id, document_url=url, summary=summary, now=now
    )
    details = {"document_url": url, "revision": revision}
    if ref.phase == "architecture_review":
        await _event(
            uow,
            "project.architecture_submitted",
            ref.id,
            ref.client_id,
            {**details, "resubmitted": True, "project_name": ref.name, "client_name": ref.client_name},
            now,
            actor,
        )
        return await get_visible(uow.conn, None, ref.id, now=now)
    await timers.meet(uow, kind="architecture_review", subject_id=project_id, at=now)
    return await _moved(
        uow,
        ref,
        "architecture_review",
        event_type="project.architecture_submitted",
        actor=actor,
        now=now,
        data={**details, "resubmitted": False},
    )


async def approve_architecture(
    uow: UnitOfWork, actor: Principal, project_id: UUID, if_match: str | None, now: datetime
) -> Project:
    """architecture_review → delivery by the client; scope and acceptance criteria freeze now."""
    ref = await _lock(
        uow, actor, project_id, if_match, "approve the architecture of", ("architecture_review",)
    )
    await queries.approve_architecture(uow.conn, project_id, approved_by=actor.key_id, now=now)
    return await _moved(
        uow,
        ref,
        "delivery",
        event_type="project.architecture_approved",
        actor=actor,
        now=now,
        data={"scope_frozen_at": now.isoformat()},
    )


async def record_handover(
    uow: UnitOfWork,
    actor: Principal,
    project_id: UUID,
    data: HandoverPackage,
    if_match: str | None,
    now: datetime,
) -> Project:
    """delivery → acceptance once the handover package is recorded."""
    package = {name: _url(value, f"/{name}") for name, value in queries.as_json(data).items()}
    ref = await _lock(uow, actor, project_id, if_match, "record the handover of", ("delivery",))
    await queries.record_handover(uow.conn, project_id, package=package, now=now)
    return await _moved(
        uow, ref, "acceptance", event_type="project.handover_recorded", actor=actor, now=now, data=package
    )


def support_window_end(launched_at: datetime, time_zone: str | None) -> datetime:
    """30 days after the launch in the shop's wall time: the same local time of day, whatever DST does."""
    zone = ZoneInfo(time_zone) if time_zone else UTC
    return (launched_at.astimezone(zone) + SUPPORT_WINDOW).astimezone(UTC)


async def launch_blockers(conn: Conn, project_id: UUID, data: LaunchIn | None = None) -> list[Blocker]:
    """What every registered launch guard says blocks the launch (empty: it may launch)."""
    request = data or LaunchIn()
    blockers = []
    for guard in LAUNCH_GUARDS:
        found = await guard(conn, project_id, request)
        if found is not None:
            blockers.append(found)
    return blockers


async def launch(
    uow: UnitOfWork,
    actor: Principal,
    project_id: UUID,
    data: LaunchIn,
    if_match: str | None,
    now: datetime,
) -> Project:
    """acceptance → support when every launch guard passes; the 30-day support window starts."""
    waiver = (data.without_criteria_reason or "").strip() or None
    if data.without_criteria_reason is not None and waiver is None:
        raise invalid("/without_criteria_reason", "must not be blank")
    ref = await _lock(uow, actor, project_id, if_match, "launch", ("acceptance",))
    blockers = await launch_blockers(uow.conn, project_id, LaunchIn(without_criteria_reason=waiver))
    if blockers:
        raise Conflict(
            "The project cannot launch yet: " + "; ".join(b.detail for b in blockers),
            rule=blockers[0].rule,
            extra={"blockers": [b.detail for b in blockers], "rules": [b.rule for b in blockers]},
        )
    if waiver is not None:
        await queries.set_criteria_waiver(uow.conn, project_id, reason=waiver, by=actor.key_id)
    support_ends_at = support_window_end(now, ref.time_zone)
    await queries.launch(uow.conn, project_id, now=now, support_ends_at=support_ends_at)
    return await _moved(
        uow,
        ref,
        "support",
        event_type="project.launched",
        actor=actor,
        now=now,
        data={
            "launched_at": now.isoformat(),
            "support_ends_at": support_ends_at.isoformat(),
            "criteria_waiver_reason": waiver,
        },
    )


async def hold(
    uow: UnitOfWork,
    actor: Principal,
    project_id: UUID,
    reason: str | None,
    if_match: str | None,
    now: datetime,
) -> Project:
    """Put the project on hold from any phase from proposal to support; it remembers where it was and
    pauses its running timers."""
    why = _reason(reason)
    ref = await _lock(uow, actor, project_id, if_match, "put on hold", HOLDABLE)
    await queries.set_phase(uow.conn, project_id, phase="on_hold", resume_phase=ref.phase, now=now)
    paused = await timers.pause_all_of_project(uow, project_id=project_id, at=now)
    await queries.insert_hold(
        uow.conn,
        project_id,
        from_phase=ref.phase,
        reason=why,
        held_at=now,
        held_by_key_id=actor.key_id,
        paused_timer_ids=[t.id for t in paused],
    )
    return await _moved(
        uow,
        ref,
        "on_hold",
        event_type="project.on_hold",
        actor=actor,
        now=now,
        reason=why,
        data={"timers_paused": [str(t.id) for t in paused]},
    )


def business_days_held(calendar: BusinessCalendar, held_at: datetime, resumed_at: datetime) -> int:
    """The working time between ``held_at`` and ``resumed_at`` in business days, rounded up."""
    if resumed_at <= held_at:
        return 0
    elapsed = calendar.elapsed(held_at, resumed_at)
    if elapsed <= timedelta(0):
        return 0
    return math.ceil(elapsed / calendar.business_day)


async def resume(
    uow: UnitOfWork,
    actor: Principal,
    project_id: UUID,
    reason: str | None,
    if_match: str | None,
    now: datetime,
) -> Project:
    """on_hold → the phase the project was put on hold from. A reason is optional. The timers the hold
    paused resume; the delivery date moves by the business days held (see the module's rules)."""
    why = (reason or "").strip() or None
    ref = await _lock(uow, actor, project_id, if_match, "resume", ("on_hold",))
    assert ref.resume_phase is not None  # the table's check: on_hold always remembers its phase
    held = await queries.open_hold(uow.conn, project_id)
    held_at = held.held_at if held else ref.phase_since
    resumed = await timers.resume_of_project(
        uow, project_id=project_id, timer_ids=held.paused_timer_ids if held else [], at=now
    )
    calendar = await _calendar(uow)
    days = business_days_held(calendar, held_at, now)
    moved: DateMove | None = None
    if days > 0 and ref.resume_phase in BEFORE_DELIVERY:
        facts = Resumed(
            project=ref,
            from_phase=ref.resume_phase,
            held_at=held_at,
            reason=held.reason if held else "on hold",
            business_days=days,
            actor=actor,
            at=now,
        )
        for hook in ON_RESUME:
            moved = moved or await hook(uow, facts)
    if held is not None:
        await queries.end_hold(
            uow.conn,
            held.id,
            at=now,
            outcome="resumed",
            business_days_held=days,
            amendment_number=moved.amendment_number if moved else None,
        )
    await queries.set_phase(uow.conn, project_id, phase=ref.resume_phase, resume_phase=None, now=now)
    return await _moved(
        uow,
        ref,
        ref.resume_phase,
        event_type="project.resumed",
        actor=actor,
        now=now,
        reason=why,
        data={
            "held_at": held_at.isoformat(),
            "business_days_held": days,
            "timers_resumed": [str(t.id) for t in resumed],
            "amendment_number": moved.amendment_number if moved else None,
            "current_delivery_date": moved.delivery_date.isoformat() if moved else None,
        },
    )


async def _end(
    uow: UnitOfWork, ref: ProjectRef, *, how: Ending, why: str, actor: Principal | None, now: datetime
) -> dict[str, Any]:
    """End everything that hangs on the project (see the module's rules); returns what ended."""
    facts = Ended(project=ref, how=how, reason=f"project {how}: {why}", actor=actor, at=now)
    ended: dict[str, Any] = {}
    for hook in ON_END:
        ended.update(await hook(uow, facts))
    cancelled = await timers.cancel_all_of_project(uow, project_id=ref.id, at=now, reason=facts.reason)
    ended["timers_cancelled"] = [str(t.id) for t in cancelled]
    held = await queries.open_hold(uow.conn, ref.id)
    if held is not None:
        await queries.end_hold(
            uow.conn, held.id, at=now, outcome="ended", business_days_held=None, amendment_number=None
        )
    return ended


async def cancel(
    uow: UnitOfWork,
    actor: Principal,
    project_id: UUID,
    reason: str | None,
    if_match: str | None,
    now: datetime,
) -> Project:
    """Cancel from any phase but closed and cancelled; everything that hangs on the project ends."""
    why = _reason(reason)
    ref = await _lock(uow, actor, project_id, if_match, "cancel", CANCELLABLE)
    ended = await _end(uow, ref, how="cancelled", why=why, actor=actor, now=now)
    await queries.set_phase(uow.conn, project_id, phase="cancelled", resume_phase=None, now=now)
    return await _moved(
        uow,
        ref,
        "cancelled",
        event_type="project.cancelled",
        actor=actor,
        now=now,
        reason=why,
        data={"ended": ended},
    )


async def close(
    uow: UnitOfWork,
    actor: Principal,
    project_id: UUID,
    reason: str | None,
    if_match: str | None,
    now: datetime,
) -> Project:
    """Staff close a project early, from support only, with a reason."""
    why = _reason(reason)
    ref = await _lock(uow, actor, project_id, if_match, "close", ("support",))
    return await _close(uow, ref, actor=actor, reason=why, now=now, early=True)


async def _close(
    uow: UnitOfWork, ref: ProjectRef, *, actor: Principal | None, reason: str, now: datetime, early: bool
) -> Project:
    ended = await _end(uow, ref, how="closed", why=reason, actor=actor, now=now)
    await queries.set_phase(uow.conn, ref.id, phase="closed", resume_phase=None, now=now)
    data = {
        "early": early,
        "support_ends_at": ref.support_ends_at.isoformat() if ref.support_ends_at else None,
        "ended": ended,
    }
    return await _moved(
        uow, ref, "closed", event_type="project.closed", actor=actor, now=now, reason=reason, data=data
    )


async def close_ended_support(uow: UnitOfWork, *, now: datetime, limit: int = 100) -> list[UUID]:
    """Close projects in support whose window has ended (``support_ends_at <= now``); returns their ids.

    Rows another worker holds are skipped; the phase is the guard, so a second run closes nothing twice.
    """
    closed = []
    for project_id in await queries.support_ended(uow.conn, now=now, limit=limit):
        ref = await visible_ref(uow.conn, None, project_id)
        await _close(uow, ref, actor=None, reason=SUPPORT_ENDED_REASON, now=now, early=False)
        closed.append(project_id)
    return closed
