"""Change requests: submitted, assessed by the shop, decided by the client, applied to the contract once.

States::

    submitted ─► assessed ─► approved ─► in_progress ─► done
        │          │ ▲  └──► rejected (reason)
        │          └─┘ reassessed: a new revision while assessed
        └──────────┴──► withdrawn (reason, before a decision)

Submitting
- Staff submit for any project, a client key for its own organisation's projects (another
  organisation's project is 404). ``title`` and ``description`` must not be blank (422 with a pointer);
  ``reason`` is optional. Requests are numbered 1, 2, ... per project.
- A change request amends a contract: none is taken while the project is in ``proposal`` (revise the
  quote instead: 409 ``no-accepted-quote``), nor on a closed or cancelled project (409
  ``project-ended``).
- Submitting starts the ``cr_assessment`` timer (2 business days by default) and emits
  ``change_request.submitted``.

Assessing (staff)
- From ``submitted`` (the first assessment) or ``assessed`` (a reassessment: revision n+1); any other
  status is a 409 ``change-request-transition``. Each assessment is a new immutable revision, sent to
  the client at once: the status becomes ``assessed``, the first one meets the ``cr_assessment`` timer,
  the previous revision's ``cr_client_decision`` timer is cancelled and a new one starts (5 business
  days by default); its due time is the revision's ``decision_due_at``.
- ``price_impact`` is Money in the project's currency (422 at ``/price_impact/currency``), possibly
  negative; ``timeline_impact_days`` business days, possibly negative; ``lines``, when given, add up to
  the price impact exactly (422 at ``/lines``), each in the project's currency, and carry their
  ``phase`` and ``hours`` like quote lines (hours may be negative for work taken out, at most 2
  decimals). The revision then reports its ``total_hours`` and blended hourly rate (price impact ÷
  hours, when both are above 0) against the shop's band for the currency, as a quote does: a warning,
  never a refusal. Unlike a quote, a change priced in a discovery or support line may cost money (the
  phase says where the work falls, not that it is included);
  ``criteria_changes`` are checked against the project's criteria as they stand (422 with a pointer per
  problem); ``risk`` is ``low``, ``medium`` or ``high``; ``notes`` are kept as written (trimmed).
- **Free before the sign-off**: a change raised before the architecture sign-off costs nothing. When
  the scope was not frozen at submission (the project's ``scope_frozen_at`` is null or later than the
  request's ``submitted_at``) a price impact other than 0 is a 409 ``free-before-sign-off`` whose
  ``extra.pointer`` is ``/price_impact`` (the timeline may still move).
- ``change_request.assessed`` goes to the client's contacts with the revision, price and timeline
  impact, risk and ``decision_due_at``.

Deciding (the client)
- Only a client key of the project's organisation approves or rejects (staff get 403), and only an
  ``assessed`` request (409 ``change-request-transition`` otherwise). The decision names one revision:
  approving one that is not the current is a 409 ``stale-assessment`` that changes nothing
  (``extra.current_revision``); a rejection may name it too.
- Approval is one transaction: the project row is held ``FOR SHARE`` and the request row ``FOR
  UPDATE`` (so concurrent approvals queue and all but the first find it approved: 409), the contract
  ledger appends an amendment linking the request (price and delivery date move; a price that would fall
  below 0 is the ledger's 409 ``contract-price-negative``), the criteria changes apply (each criterion
  version names the request; criteria changed since the assessment make it a 409
  ``criteria-changes-stale``: reassess), the ``cr_client_decision`` timer is met and
  ``change_request.approved`` is emitted (staff are told).
- Rejection needs a non-blank reason (422 at ``/reason``); it meets the decision timer and emits
  ``change_request.rejected`` (staff are told). The contract does not move.

Ending with the project
- ``end_for_project`` is registered in ``api.domain.projects.service.ON_END``: when the project is
  cancelled or closed, each of its requests still ``submitted`` or ``assessed`` is withdrawn (its timer
  cancelled) and each ``approved`` or ``in_progress`` one becomes ``cancelled``: the work will not be
  done, while its amendment stays in the contract ledger as history. Both carry the project's reason
  (``project cancelled: ...``) and emit ``change_request.withdrawn`` / ``change_request.cancelled``.
- ``launch_blocker`` is registered in ``LAUNCH_GUARDS``: a project launches only when every approved
  change is ``done`` (409 ``changes-not-done`` naming the others).

Withdrawing, starting, completing
- Withdrawal (reason required, 422 at ``/reason``) only before a decision, from ``submitted`` or
  ``assessed`` (409 ``change-request-transition`` after it): by staff, or by a client key of the
  organisation when the client side requested the change (a change the shop requested is the shop's
  to withdraw: 403 ``not-requester``). Its running timer is cancelled.
- Work starts only after approval: ``start`` (staff) needs ``approved``, ``complete`` (staff) needs
  ``in_progress`` (409 ``change-request-transition`` otherwise). Both take an optional ``note``.
- On a closed or cancelled project only withdrawal remains possible (409 ``project-ended``).

Every change
- Honours ``If-Match`` against the request's ``version`` (412 when stale), bumps it, appends a row to the
  request's transitions (who, when, from, to, revision, reason) and emits its event
  (``change_request.submitted``, ``.assessed``, ``.approved``, ``.rejected``, ``.withdrawn``,
  ``.started``, ``.completed``, subject the request, with its client and project) in the same
  transaction.
- Locks: the project row ``FOR SHARE`` first, then the request row ``FOR UPDATE`` (a submission takes a
  transaction-level advisory lock of the project instead of the request, to number it).

Support feature requests
- ``create_draft_from_support`` is registered in ``api.domain.support.service.ON_FEATURE_REQUEST``: a
  feature request opened in support becomes a ``submitted`` change request requested by the client's
  side, with the support request's subject as title and its body as description, linked both ways
  (``support_request_id`` here, ``change_request_id`` there). Its assessment timer starts as for any
  submission.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID, uuid4

import msgspec

from api.db import Conn, UnitOfWork
from api.domain.calendar import service as calendars
from api.domain.change_requests import queries
from api.domain.change_requests.queries import Locked, ProjectFacts
from api.domain.change_requests.schemas import (
    ApproveIn,
    Assessment,
    AssessmentIn,
    ChangeRequest,
    ChangeRequestCreate,
    ChangeRequestDetail,
    NoteIn,
    ReasonIn,
    RejectIn,
    Side,
    Status,
)
from api.domain.contracts import service as contracts
from api.domain.criteria import service as criteria
from api.domain.criteria.schemas import CriterionChange
from api.domain.events import outbox
from api.domain.projects import service as projects
from api.domain.projects.schemas import LaunchIn
from api.domain.quotes import document as quote_document
from api.domain.quotes import service as quotes
from api.domain.support import service as support
from api.domain.support.schemas import SupportRequest
from api.domain.timers import service as timers
from api.domain.timers.schemas import TimerKind
from api.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, invalid
from api.kit.auth import Principal, visible_client
from api.kit.etag import check_if_match
from api.kit.money import MinorMoney, from_wire, minor_digits, parse, to_wire
from api.settings import Settings

RULE_NOT_DONE = "changes-not-done"
#: Statuses of an approved change whose work is not done yet.
UNFINISHED: tuple[Status, ...] = ("approved", "in_progress")

SUBJECT_TYPE = "change_request"
ENDED_PHASES = ("closed", "cancelled")
RULE_TRANSITION = "change-request-transition"
RULE_STALE = "stale-assessment"
RULE_FREE = "free-before-sign-off"

_TRANSITIONS: dict[str, tuple[Status, ...]] = {
    "assess": ("submitted", "assessed"),
    "approve": ("assessed",),
    "reject": ("assessed",),
    "withdraw": ("submitted", "assessed"),
    "start": ("approved",),
    "complete": ("in_progress",),
}


def _not_found() -> NotFound:
    return NotFound("No such change request.")


def _wire(money: MinorMoney) -> dict[str, str]:
    wire = to_wire(money.minor, money.currency)
    return {"amount": wire.amount, "currency": wire.currency}


def _text(value: str, pointer: str) -> str:
    text = value.strip()
    if not text:
        raise invalid(pointer, "must not be blank")
    return text


def _reason(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        raise Invalid(
            "A reason is required.",
            rule="reason-required",
            errors=[FieldError(pointer="/reason", detail="a non-blank reason is required")],
        )
    return text


def _effective_phase(project: ProjectFacts) -> str:
    if project.phase == "on_hold":
        return project.resume_phase or project.phase
    return project.phase


def _check_open(project: ProjectFacts) -> None:
    if project.phase in ENDED_PHASES:
        raise Conflict(
            f"The project is {project.phase}; its change requests take no further step but withdrawal.",
            rule="project-ended",
            extra={"phase": project.phase},
        )


def _check_from(action: str, request: Locked) -> None:
    allowed = _TRANSITIONS[action]
    if request.status not in allowed:
        raise Conflict(
            f"Cannot {action} a change request that is {request.status}; it must be {' or '.join(allowed)}.",
            rule=RULE_TRANSITION,
            extra={"status": request.status, "allowed_from": list(allowed)},
        )


async def _event(
    uow: UnitOfWork,
    event_type: str,
    request: Locked,
    project: ProjectFacts,
    data: dict[str, Any],
    now: datetime,
    actor: Principal | None,
) -> None:
    await outbox.emit(
        uow,
        event_type,
        subject_type=SUBJECT_TYPE,
        subject_id=request.id,
        data={
            "number": request.number,
            "title": request.title,
            "project_name": project.name,
            "requested_by": request.requested_by,
            **data,
        },
        now=now,
        actor=actor,
        client_id=request.client_id,
        project_id=request.project_id,
    )


async def _transition(
    uow: UnitOfWork,
    request: Locked,
    to_status: Status,
    *,
    actor: Principal | None,
    now: datetime,
    revision: int | None = None,
    reason: str | None = None,
    first: bool = False,
) -> None:
    """Record the step from the request's status (from nothing when ``first``) to ``to_status``."""
    await queries.record_transition(
        uow.conn,
        request.id,
        from_status=None if first else request.status,
        to_status=to_status,
        assessment_revision=revision,
        reason=reason,
        actor_key_id=actor.key_id if actor else None,
        actor_role=actor.role if actor else None,
        actor_name=actor.name if actor else None,
        at=now,
    )


async def _locked(
    uow: UnitOfWork, principal: Principal, change_request_id: UUID, if_match: str | None
) -> tuple[ProjectFacts, Locked]:
    """The project held ``FOR SHARE``, then the request ``FOR UPDATE``; 404 outside a client's scope."""
    found = await queries.owner(uow.conn, change_request_id)
    if found is None:
        raise _not_found()
    project_id, client_id = found
    visible_client(principal, client_id, "change request")
    project = await queries.project(uow.conn, project_id, share_lock=True)
    request = await queries.lock(uow.conn, change_request_id)
    assert project is not None  # projects are never deleted
    assert request is not None
    check_if_match(if_match, request.version)
    return project, request


async def _detail(conn: Conn, change_request_id: UUID) -> ChangeRequestDetail:
    found = await queries.detail(conn, change_request_id)
    if found is None:
        raise _not_found()
    return found


# --- reads -----------------------------------------------------------------------------------------


async def get(conn: Conn, principal: Principal, change_request_id: UUID) -> ChangeRequestDetail:
    found = await queries.detail(conn, change_request_id)
    if found is None:
        raise _not_found()
    visible_client(principal, found.client_id, "change request")
    return found


async def page(
    conn: Conn,
    principal: Principal,
    project_id: UUID,
    *,
    after: int | None,
    limit: int,
    status: Status | None,
) -> list[ChangeRequest]:
    """The project's change requests by number (oldest first)."""
    project = await queries.project(conn, project_id)
    if project is None:
        raise NotFound("No such project.")
    visible_client(principal, project.client_id, "project")
    return await queries.page(conn, project_id, after=after, limit=limit, status=status)


# --- submitting ------------------------------------------------------------------------------------


async def _submit(
    uow: UnitOfWork,
    project: ProjectFacts,
    *,
    title: str,
    description: str,
    reason: str | None,
    requested_by: Side,
    submitter: Principal | None,
    support_request_id: UUID | None,
    now: datetime,
) -> UUID:
    await queries.number_lock(uow.conn, project.id)
    change_request_id = uuid4()
    timer = await timers.start(
        uow,
        kind="cr_assessment",
        subject_type=SUBJECT_TYPE,
        subject_id=change_request_id,
        started_at=now,
        now=now,
        project_id=project.id,
        client_id=project.client_id,
        data={"project_name": project.name, "title": title},
    )
    number = await queries.insert(
        uow.conn,
        change_request_id=change_request_id,
        project_id=project.id,
        client_id=project.client_id,
        title=title,
        description=description,
        reason=reason,
        requested_by=requested_by,
        submitted_by_role=submitter.role if submitter else None,
        submitted_by_key_id=submitter.key_id if submitter else None,
        submitted_by_name=submitter.name if submitter else None,
        support_request_id=support_request_id,
        assessment_timer_id=timer.id,
        now=now,
    )
    request = Locked(
        id=change_request_id,
        project_id=project.id,
        client_id=project.client_id,
        number=number,
        title=title,
        status="submitted",
        requested_by=requested_by,
        assessment_revision=None,
        submitted_at=now,
        version=1,
    )
    await _transition(uow, request, "submitted", actor=submitter, now=now, reason=reason, first=True)
    await _event(
        uow,
        "change_request.submitted",
        request,
        project,
        {
            "status": "submitted",
            "description": description,
            "reason": reason,
            "support_request_id": support_request_id,
            "assessment_due_at": timer.due_at,
        },
        now,
        submitter,
    )
    return change_request_id


async def submit(
    uow: UnitOfWork, actor: Principal, project_id: UUID, data: ChangeRequestCreate, now: datetime
) -> ChangeRequestDetail:
    """Submit a change request on behalf of the caller's side (see the module rules)."""
    project = await queries.project(uow.conn, project_id, share_lock=True)
    if project is None:
        raise NotFound("No such project.")
    visible_client(actor, project.client_id, "project")
    title = _text(data.title, "/title")
    description = _text(data.description, "/description")
    reason = (data.reason or "").strip() or None
    _check_open(project)
    if _effective_phase(project) == "proposal":
        raise Conflict(
            "The project has no accepted quote yet; change the scope by revising the quote.",
            rule=contracts.RULE_NO_CONTRACT,
            extra={"phase": project.phase},
        )
    change_request_id = await _submit(
        uow,
        project,
        title=title,
        description=description,
        reason=reason,
        requested_by="staff" if actor.is_staff else "client",
        submitter=actor,
        support_request_id=None,
        now=now,
    )
    return await _detail(uow.conn, change_request_id)


async def create_draft_from_support(
    uow: UnitOfWork, request: SupportRequest, opener: Principal, now: datetime
) -> UUID | None:
    """``ON_FEATURE_REQUEST`` hook: a ``submitted`` change request drafted from a support feature request
    (requested by the client's side; title and description from the support request). None (no draft)
    when the project takes no change requests (proposal, closed or cancelled)."""
    project = await queries.project(uow.conn, request.project_id, share_lock=True)
    if project is None or project.phase in ENDED_PHASES or _effective_phase(project) == "proposal":
        return None
    return await _submit(
        uow,
        project,
        title=request.subject,
        description=request.body,
        reason=f"Raised as a feature request in support request {request.id}.",
        requested_by="client",
        submitter=opener,
        support_request_id=request.id,
        now=now,
    )


# --- assessing -------------------------------------------------------------------------------------


def _price(data: AssessmentIn, project: ProjectFacts) -> MinorMoney:
    price = parse(data.price_impact, "/price_impact", allow_negative=True)
    if price.currency != project.currency:
        raise invalid(
            "/price_impact/currency",
            f"the project is priced in {project.currency}; a price impact in {price.currency} cannot apply",
        )
    return price


def _lines(data: AssessmentIn, price: MinorMoney) -> list[dict[str, Any]]:
    if data.lines is None:
        return []
    errors: list[FieldError] = []
    total = 0
    result: list[dict[str, Any]] = []
    for index, line in enumerate(data.lines):
        pointer = f"/lines/{index}"
        description = line.description.strip()
        if not description:
            errors.append(FieldError(f"{pointer}/description", "must not be blank"))
        try:
            amount = parse(line.amount, f"{pointer}/amount", allow_negative=True)
        except Invalid as exc:
            errors.extend(exc.errors or [])
            continue
        if amount.currency != price.currency:
            errors.append(
                FieldError(f"{pointer}/amount/currency", f"the price impact is in {price.currency}")
            )
            continue
        try:
            hours = _hours(line.hours, f"{pointer}/hours")
        except Invalid as exc:
            errors.extend(exc.errors or [])
            continue
        total += amount.minor
        result.append(
            {"description": description, "phase": line.phase, "hours": hours, "amount": _wire(amount)}
        )
    if errors:
        raise Invalid("The assessment lines are not valid.", errors=errors)
    if total != price.minor:
        summed = _wire(MinorMoney(total, price.currency))["amount"]
        raise invalid(
            "/lines",
            f"the lines add up to {summed} {price.currency}, "
            f"not to the price impact of {_wire(price)['amount']} {price.currency}",
        )
    return result


def _hours(value: Decimal, pointer: str) -> str:
    """Hours of a change line: as a quote line's, but negative for work taken out."""
    if value.is_finite() and value < 0:
        shown = quote_document.hours(-value, pointer)
        return shown if shown == "0.00" else "-" + shown
    return quote_document.hours(value, pointer)


def with_rates(detail: ChangeRequestDetail, settings: Settings) -> ChangeRequestDetail:
    """The request with each revision's total hours and blended rate checked against the shop's band."""
    return msgspec.structs.replace(detail, assessments=[rated(a, settings) for a in detail.assessments])


def rated(assessment: Assessment, settings: Settings) -> Assessment:
    """One revision with ``total_hours``, ``blended_hourly_rate``, ``rate_within_band``, ``rate_band``."""
    currency = assessment.price_impact.currency
    band = settings.rate_band(currency)
    lines = assessment.lines
    if not lines or any(line.hours is None for line in lines):
        return msgspec.structs.replace(assessment, rate_band=quotes.rate_band(currency, band))
    hours_total = quote_document.total_hours(line.hours for line in lines if line.hours is not None)
    price = from_wire(assessment.price_impact)
    rate = quote_document.blended_rate_minor(price.minor, hours_total) if price.minor > 0 else None
    return msgspec.structs.replace(
        assessment,
        total_hours=str(hours_total),
        blended_hourly_rate=None if rate is None else to_wire(rate, currency),
        rate_within_band=None if band is None else quote_document.within_band(rate, currency, *band),
        rate_band=quotes.rate_band(currency, band),
    )


def _check_free(project: ProjectFacts, request: Locked, price: MinorMoney) -> None:
    frozen = project.scope_frozen_at
    raised_before = frozen is None or request.submitted_at < frozen
    if raised_before and price.minor != 0:
        when = (
            "the architecture has not been signed off yet"
            if frozen is None
            else f"it was raised before the architecture sign-off ({frozen.isoformat()})"
        )
        raise Conflict(
            f"This change costs nothing: {when}. Its price impact must be 0.",
            rule=RULE_FREE,
            errors=[FieldError(pointer="/price_impact", detail="must be 0 before the architecture sign-off")],
            extra={
                "pointer": "/price_impact",
                "submitted_at": request.submitted_at.isoformat(),
                "scope_frozen_at": frozen.isoformat() if frozen else None,
            },
        )


async def assess(
    uow: UnitOfWork,
    actor: Principal,
    change_request_id: UUID,
    data: AssessmentIn,
    if_match: str | None,
    now: datetime,
    settings: Settings,
) -> Assessment:
    """Send a new assessment revision to the client (see the module rules); returns the revision."""
    project, request = await _locked(uow, actor, change_request_id, if_match)
    _check_from("assess", request)
    _check_open(project)
    price = _price(data, project)
    lines = _lines(data, price)
    changes = data.criteria_changes or []
    if changes:
        await criteria.validate_changes(uow.conn, project.id, changes)
    _check_free(project, request, price)
    notes = data.notes.strip()
    previous = request.assessment_revision
    revision = (previous or 0) + 1
    if previous is None:
        await timers.meet(uow, kind="cr_assessment", subject_id=request.id, at=now)
    else:
        await timers.cancel(
            uow,
            kind="cr_client_decision",
            subject_id=request.id,
            at=now,
            reason=f"superseded by assessment revision {revision}",
        )
    await calendars.current(uow.conn, lock="share")  # the decision due time below stays true
    due = await timers.due_dates(uow.conn, kind="cr_client_decision", start=now, settings=settings)
    timer = await timers.start(
        uow,
        kind="cr_client_decision",
        subject_type=SUBJECT_TYPE,
        subject_id=request.id,
        started_at=now,
        now=now,
        project_id=project.id,
        client_id=project.client_id,
        data={
            "project_name": project.name,
            "title": request.title,
            "assessment_revision": revision,
            "decision_due_at": due.due_at,
            "price_impact": _wire(price),
            "timeline_impact_days": data.timeline_impact_days,
        },
    )
    await queries.insert_assessment(
        uow.conn,
        request.id,
        revision=revision,
        currency=price.currency,
        minor_digits=minor_digits(price.currency),
        price_impact_minor=price.minor,
        timeline_impact_days=data.timeline_impact_days,
        lines=lines,
        criteria_changes=[msgspec.to_builtins(c) for c in changes],
        risk=data.risk,
        notes=notes,
        decision_timer_id=timer.id,
        assessed_by_key_id=actor.key_id,
        assessed_by_name=actor.name,
        now=now,
    )
    await _transition(uow, request, "assessed", actor=actor, now=now, revision=revision)
    await _event(
        uow,
        "change_request.assessed",
        request,
        project,
        {
            "status": "assessed",
            "previous_status": request.status,
            "assessment_revision": revision,
            "previous_revision": previous,
            "price_impact": _wire(price),
            "timeline_impact_days": data.timeline_impact_days,
            "risk": data.risk,
            "lines": lines,
            "criteria_changes": len(changes),
            "decision_due_at": timer.due_at,
        },
        now,
        actor,
    )
    detail = await _detail(uow.conn, request.id)
    return next(a for a in detail.assessments if a.revision == revision)


# --- deciding --------------------------------------------------------------------------------------


def _check_current(request: Locked, revision: int | None) -> int:
    current = request.assessment_revision
    assert current is not None  # an assessed request has a revision
    if revision is not None and revision != current:
        raise Conflict(
            f"Assessment revision {revision} is not the current one: revision {current} was sent since. "
            "Read the change request again and decide on the current revision.",
            rule=RULE_STALE,
            extra={"assessment_revision": revision, "current_revision": current},
        )
    return current


async def approve(
    uow: UnitOfWork,
    actor: Principal,
    change_request_id: UUID,
    data: ApproveIn,
    if_match: str | None,
    now: datetime,
) -> ChangeRequestDetail:
    """The client approves one revision: the contract, the criteria and the timer move together."""
    project, request = await _locked(uow, actor, change_request_id, if_match)
    _check_from("approve", request)
    revision = _check_current(request, data.assessment_revision)
    _check_open(project)
    stored = await queries.assessment(uow.conn, request.id, revision)
    assert stored is not None
    price = MinorMoney(stored.price_impact_minor, stored.currency)
    amendment = await contracts.append_amendment(
        uow,
        project_id=project.id,
        change_request_id=request.id,
        price_impact=price,
        timeline_impact_days=stored.timeline_impact_days,
        approved_at=now,
        actor=actor,
        criteria_changes=stored.criteria_changes,
        now=now,
    )
    if stored.criteria_changes:
        await criteria.apply_changes(
            uow,
            project_id=project.id,
            changes=msgspec.convert(stored.criteria_changes, list[CriterionChange]),
            change_request_id=request.id,
            actor=actor,
            now=now,
            reason=f"Change request {request.number}: {request.title}",
        )
    await timers.meet(uow, kind="cr_client_decision", subject_id=request.id, at=now)
    await queries.mark_approved(
        uow.conn, request.id, revision=revision, amendment_number=amendment.number, now=now
    )
    await _transition(uow, request, "approved", actor=actor, now=now, revision=revision)
    await _event(
        uow,
        "change_request.approved",
        request,
        project,
        {
            "status": "approved",
            "previous_status": request.status,
            "assessment_revision": revision,
            "price_impact": _wire(price),
            "timeline_impact_days": stored.timeline_impact_days,
            "risk": stored.risk,
            "criteria_changes": len(stored.criteria_changes),
            "amendment_number": amendment.number,
            "current_price": _wire(amendment.current_price),
            "current_delivery_date": amendment.current_delivery_date.isoformat(),
        },
        now,
        actor,
    )
    return await _detail(uow.conn, request.id)


async def reject(
    uow: UnitOfWork,
    actor: Principal,
    change_request_id: UUID,
    data: RejectIn,
    if_match: str | None,
    now: datetime,
) -> ChangeRequestDetail:
    """The client rejects the current revision, with a reason; nothing else moves."""
    project, request = await _locked(uow, actor, change_request_id, if_match)
    reason = _reason(data.reason)
    _check_from("reject", request)
    revision = _check_current(request, data.assessment_revision)
    _check_open(project)
    stored = await queries.assessment(uow.conn, request.id, revision)
    assert stored is not None
    await timers.meet(uow, kind="cr_client_decision", subject_id=request.id, at=now)
    await queries.mark_rejected(uow.conn, request.id, revision=revision, reason=reason, now=now)
    await _transition(uow, request, "rejected", actor=actor, now=now, revision=revision, reason=reason)
    await _event(
        uow,
        "change_request.rejected",
        request,
        project,
        {
            "status": "rejected",
            "previous_status": request.status,
            "assessment_revision": revision,
            "price_impact": _wire(MinorMoney(stored.price_impact_minor, stored.currency)),
            "timeline_impact_days": stored.timeline_impact_days,
            "reason": reason,
        },
        now,
        actor,
    )
    return await _detail(uow.conn, request.id)


# --- withdrawing, starting, completing -------------------------------------------------------------


async def withdraw(
    uow: UnitOfWork,
    actor: Principal,
    change_request_id: UUID,
    data: ReasonIn,
    if_match: str | None,
    now: datetime,
) -> ChangeRequestDetail:
    """The requester's side (or staff) withdraws the request before the client's decision."""
    project, request = await _locked(uow, actor, change_request_id, if_match)
    reason = _reason(data.reason)
    if not actor.is_staff and request.requested_by != "client":
        raise Forbidden(
            "The shop requested this change; only staff withdraw it (the client may reject its assessment).",
            rule="not-requester",
        )
    _check_from("withdraw", request)
    why = f"change request withdrawn: {reason}"
    if request.status == "submitted":
        await timers.cancel(uow, kind="cr_assessment", subject_id=request.id, at=now, reason=why)
    else:
        await timers.cancel(uow, kind="cr_client_decision", subject_id=request.id, at=now, reason=why)
    await queries.mark_withdrawn(uow.conn, request.id, reason=reason, now=now)
    await _transition(
        uow,
        request,
        "withdrawn",
        actor=actor,
        now=now,
        revision=request.assessment_revision,
        reason=reason,
    )
    await _event(
        uow,
        "change_request.withdrawn",
        request,
        project,
        {
            "status": "withdrawn",
            "previous_status": request.status,
            "assessment_revision": request.assessment_revision,
            "reason": reason,
        },
        now,
        actor,
    )
    return await _detail(uow.conn, request.id)


async def start(
    uow: UnitOfWork,
    actor: Principal,
    change_request_id: UUID,
    data: NoteIn,
    if_match: str | None,
    now: datetime,
) -> ChangeRequestDetail:
    """Work on an approved change starts (staff)."""
    return await _advance(
        uow, actor, change_request_id, data, if_match, now, action="start", to="in_progress"
    )


async def complete(
    uow: UnitOfWork,
    actor: Principal,
    change_request_id: UUID,
    data: NoteIn,
    if_match: str | None,
    now: datetime,
) -> ChangeRequestDetail:
    """Work on the change is done (staff)."""
    return await _advance(uow, actor, change_request_id, data, if_match, now, action="complete", to="done")


async def _advance(
    uow: UnitOfWork,
    actor: Principal,
    change_request_id: UUID,
    data: NoteIn,
    if_match: str | None,
    now: datetime,
    *,
    action: Literal["start", "complete"],
    to: Literal["in_progress", "done"],
) -> ChangeRequestDetail:
    """The work steps after approval: the transition, its optional note and its event."""
    project, request = await _locked(uow, actor, change_request_id, if_match)
    _check_from(action, request)
    _check_open(project)
    note = (data.note or "").strip() or None
    mark = queries.mark_started if action == "start" else queries.mark_completed
    await mark(uow.conn, request.id, now=now)
    await _transition(
        uow, request, to, actor=actor, now=now, revision=request.assessment_revision, reason=note
    )
    event_type = "change_request.started" if action == "start" else "change_request.completed"
    await _event(
        uow,
        event_type,
        request,
        project,
        {"status": to, "previous_status": request.status, "note": note},
        now,
        actor,
    )
    return await _detail(uow.conn, request.id)


# --- ending with the project ----------------------------------------------------------------------


async def end_for_project(uow: UnitOfWork, ended: projects.Ended) -> dict[str, Any]:
    """``ON_END`` hook: withdraw the open requests and cancel the unfinished approved ones."""
    project = await queries.project(uow.conn, ended.project.id)
    assert project is not None
    withdrawn: list[str] = []
    cancelled: list[str] = []
    for request in await queries.lock_live_of_project(uow.conn, ended.project.id):
        if request.status in ("submitted", "assessed"):
            kind: TimerKind = "cr_assessment" if request.status == "submitted" else "cr_client_decision"
            await timers.cancel(uow, kind=kind, subject_id=request.id, at=ended.at, reason=ended.reason)
            await queries.mark_withdrawn(uow.conn, request.id, reason=ended.reason, now=ended.at)
            to: Status = "withdrawn"
            withdrawn.append(str(request.id))
        else:
            await queries.mark_cancelled(uow.conn, request.id, reason=ended.reason, now=ended.at)
            to = "cancelled"
            cancelled.append(str(request.id))
        await _transition(
            uow,
            request,
            to,
            actor=ended.actor,
            now=ended.at,
            revision=request.assessment_revision,
            reason=ended.reason,
        )
        await _event(
            uow,
            f"change_request.{to}",
            request,
            project,
            {
                "status": to,
                "previous_status": request.status,
                "assessment_revision": request.assessment_revision,
                "reason": ended.reason,
                "project_ended": ended.how,
            },
            ended.at,
            ended.actor,
        )
    found: dict[str, Any] = {}
    if withdrawn:
        found["change_requests_withdrawn"] = withdrawn
    if cancelled:
        found["change_requests_cancelled"] = cancelled
    return found


async def launch_blocker(conn: Conn, project_id: UUID, _: LaunchIn) -> projects.Blocker | None:
    """``LAUNCH_GUARDS``: every approved change must be done before the launch."""
    unfinished = await queries.unfinished(conn, project_id)
    if not unfinished:
        return None
    listed = "; ".join(
        f'#{number} "{title}" ({status.replace("_", " ")})' for number, title, status in unfinished
    )
    count = len(unfinished)
    what = "approved change is" if count == 1 else "approved changes are"
    return projects.Blocker(RULE_NOT_DONE, f"{count} {what} not done: {listed}")


if end_for_project not in projects.ON_END:
    projects.ON_END.append(end_for_project)
if launch_blocker not in projects.LAUNCH_GUARDS:
    projects.LAUNCH_GUARDS.append(launch_blocker)
if create_draft_from_support not in support.ON_FEATURE_REQUEST:
    support.ON_FEATURE_REQUEST.append(create_draft_from_support)
