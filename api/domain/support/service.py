"""Post-launch support: requests, their conversation and the first-response SLA.

Rules:
- **Window.** A request is opened (and a resolved one reopened) only inside the project's support
  window: ``launched_at`` ≤ now < ``support_ends_at`` (30 days from launch), which ends earlier when the
  project was closed or cancelled before then. Outside it: 409 ``outside-support-window`` whose
  ``detail`` names the window and whose ``extra`` holds ``window_starts_at`` and ``window_ends_at``
  (both null when the project never launched). A project on hold inside its window still takes
  requests. Conversations of requests opened inside the window go on after it ends.
- **Who.** The client opens requests for its own organisation's projects, staff for any project (404
  for another organisation's project or request, never 403). Both respond; only staff resolve; the
  client or staff reopen.
- **Timer.** Each request starts a ``support_first_response`` timer at ``opened_at`` through the timers
  capability: 24 clock hours by policy, or 24 business hours when the project has
  ``business_hours_support``. ``first_response_due_at`` is the current timer's due time.
- **First response.** The first staff response meets the timer, a clarifying question included: a
  staff response with ``awaiting_client: true`` asks the client something, and is a public reply to
  the client like any other (service desks such as Jira Service Management and Zendesk count it so);
  it also sets the status ``awaiting_client``. The client's next response sets the status back to
  ``open``; a staff response without ``awaiting_client`` sets it ``open`` too. Only staff responses may
  set ``awaiting_client`` (422 for a client). A response after the due time keeps the breach. (A timer
  paused while waiting on the client before this rule resumes when the client answers.)
- **Resolve** (staff) takes an optional last message, recorded first as a staff response. Resolving a
  request no staff response has met yet meets its timer at that instant: resolving is the shop's
  answer, and a late resolution keeps the breach. Status ``resolved``, ``resolved_at`` set.
- **Reopen** (client or staff, inside the window) sets a resolved request ``open`` again with
  ``reopened_at`` and starts a new first-response timer at that instant (the reopened request waits
  for the shop's answer again): ``first_response_due_at`` becomes its due time, and the next staff
  response meets it. The request's ``first_response_at`` stays the first answer it ever got; the SLA
  figures count every first-response timer. Only staff reopen a ``redirected`` feature request (the
  client gets 409 ``not-covered-by-support``). The optional message is recorded as the caller's
  response before the new timer starts.
- Responding to, resolving or reopening a request in the wrong status is a 409 (rules
  ``support-request-closed``, ``support-request-not-closed``). Every action locks the request row,
  honours ``If-Match`` (412 when stale), bumps ``version`` and writes its domain events in the same
  transaction. The conversation is append-only.
- **Feature requests** are not covered by support. Opening one starts its timer like any request and
  then, in the same transaction: every hook in ``ON_FEATURE_REQUEST`` is called as
  ``hook(uow, request, opener, now)``; the first id a hook returns is stored as ``change_request_id``.
  The change-request capability links a draft change request by appending its hook (e.g.
  ``create_draft_from_support``) to this list at import of its own module; a hook that raises rolls the
  whole request back. The request is then answered by an automatic staff-side response saying what
  happens next (a draft change request to be assessed and approved, when one was created; the answer
  names no API path: it is mailed to the client), which meets the timer at ``opened_at``; its status becomes ``redirected``
  and ``support_request.redirected`` carries what a change request needs (``title``, ``description``,
  ``support_request_id``, the opener, ``change_request_id``).
- **Events** (subject ``support_request``): ``support_request.opened`` (staff are mailed),
  ``support_request.responded`` with ``by`` / ``responder_role`` (the client's contacts are mailed when
  ``by`` is ``staff``), ``support_request.redirected``, ``.resolved``, ``.reopened``; the timer sweep
  adds ``support_request.response_warning`` and ``.response_breached`` (staff are mailed) with the
  timer's data (``project_name``, ``client_name``, ``subject``, ``request_kind``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from api.db import Conn, UnitOfWork
from api.domain.calendar import service as calendars
from api.domain.events import outbox
from api.domain.projects import service as projects
from api.domain.support import queries
from api.domain.support.queries import Locked, Window
from api.domain.support.schemas import (
    ReopenBody,
    ResolveBody,
    ResponseCreate,
    SlaReport,
    SupportRequest,
    SupportRequestCreate,
    SupportRequestDetail,
)
from api.domain.timers import service as timers
from api.domain.timers.schemas import Timer, TimerKind
from api.errors import Conflict, NotFound, invalid
from api.kit.auth import Principal, visible_client
from api.kit.etag import check_if_match

TIMER_KIND: TimerKind = "support_first_response"
SUBJECT_TYPE = "support_request"
CLOSED = ("resolved", "redirected")

#: The automatic answer to a feature request, without and with a draft change request.
NOT_COVERED = (
    "Not covered by post-launch support: new features go through a change request, assessed for price "
    "and timeline and approved by you before anyone builds them. We will draft one from this request."
)
NOT_COVERED_WITH_DRAFT = (
    "Not covered by post-launch support: new features go through a change request. We have drafted one "
    "from this request. Next, the shop assesses its price and timeline and sends you the assessment; "
    "nothing is built or charged until you approve it."
)

FeatureRequestHook = Callable[[UnitOfWork, SupportRequest, Principal, datetime], Awaitable[UUID | None]]

#: Called in order, in the opening transaction, for every feature request (see the module rules).
ON_FEATURE_REQUEST: list[FeatureRequestHook] = []


def _z(instant: datetime | None) -> str | None:
    if instant is None:
        return None
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _text(value: str, pointer: str) -> str:
    text = value.strip()
    if not text:
        raise invalid(pointer, "must not be blank")
    return text


def _request_not_found() -> NotFound:
    return NotFound("No such support request.")


def check_window(window: Window, now: datetime, action: str = "opened") -> None:
    """409 ``outside-support-window`` unless ``launched_at`` ≤ now < the window's end."""
    starts, ends = window.launched_at, window.window_ends_at
    extra = {"window_starts_at": _z(starts), "window_ends_at": _z(ends)}
    if starts is None or ends is None:
        raise Conflict(
            f"Support requests can be {action} only inside the 30-day support window that starts at "
            "launch; this project has not launched.",
            rule="outside-support-window",
            extra=extra,
        )
    if starts <= now < ends:
        return
    if now < starts:
        when = f"it opens at {_z(starts)}"
    elif window.closed_at is not None and window.closed_at == ends:
        when = f"it ended at {_z(ends)}, when the project was closed"
    elif window.cancelled_at is not None and window.cancelled_at == ends:
        when = f"it ended at {_z(ends)}, when the project was cancelled"
    else:
        when = f"it ended at {_z(ends)}"
    raise Conflict(
        f"Support requests can be {action} only inside the support window, from {_z(starts)} until "
        f"{_z(ends)}; {when}.",
        rule="outside-support-window",
        extra=extra,
    )


async def _emit(
    uow: UnitOfWork,
    event_type: str,
    request: Locked,
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
            "support_request_id": request.id,
            "project_name": request.project_name,
            "subject": request.subject,
            "kind": request.kind,
            **data,
        },
        now=now,
        actor=actor,
        client_id=request.client_id,
        project_id=request.project_id,
    )


async def _locked(uow: UnitOfWork, actor: Principal, request_id: UUID, if_match: str | None = None) -> Locked:
    found = await queries.lock(uow.conn, request_id)
    if found is None:
        raise _request_not_found()
    visible_client(actor, found.client_id, "support request")
    check_if_match(if_match, found.version)
    return found


async def _detail(conn: Conn, request_id: UUID) -> SupportRequestDetail:
    found = await queries.detail(conn, request_id)
    assert found is not None
    return found


async def _response_seconds(uow: UnitOfWork, timer: Timer) -> float:
    """The time to the first response in the timer's unit, paused time excluded."""
    assert timer.met_at is not None
    if timer.unit == "clock":
        span = timer.met_at - timer.started_at
    else:
        found = await calendars.current(uow.conn, lock="share")
        span = found.calendar.elapsed(timer.started_at, timer.met_at)
    return max((span - timer.paused_total).total_seconds(), 0.0)


async def _meet(uow: UnitOfWork, request_id: UUID, now: datetime, *, automatic: bool) -> bool:
    """Meet the request's open timer now (resuming it first if paused); True when this is the request's
    first response ever (False when no timer was open, or for the answer to a reopened request)."""
    if await timers.resume(uow, kind=TIMER_KIND, subject_id=request_id, at=now) is None:
        return False
    met = await timers.meet(uow, kind=TIMER_KIND, subject_id=request_id, at=now)
    if met is None:
        return False
    seconds = await _response_seconds(uow, met)
    return await queries.record_first_response(
        uow.conn, request_id, at=now, seconds=seconds, automatic=automatic
    )


async def _respond(
    uow: UnitOfWork,
    request: Locked,
    *,
    by: Principal | None,
    message: str,
    awaiting_client: bool,
    status_to: str,
    now: datetime,
    meets: bool,
) -> dict[str, Any]:
    """Append one message (``by`` None: the service, on the staff side) and apply its timer effect."""
    staff = by is None or by.is_staff
    first = False
    if staff and meets:
        first = await _meet(uow, request.id, now, automatic=by is None)
    elif not staff and request.status == "awaiting_client":
        await timers.resume(uow, kind=TIMER_KIND, subject_id=request.id, at=now)
    role = "staff" if staff else "client"
    response_id = await queries.add_response(
        uow.conn,
        request.id,
        author_role=role,
        author_key_id=by.key_id if by else None,
        author_name=by.name if by else None,
        message=message,
        awaiting_client=awaiting_client,
        first_response=first,
        automatic=by is None,
        now=now,
    )
    return {
        "response_id": response_id,
        "by": role,
        "responder_role": role,
        "message": message,
        "awaiting_client": awaiting_client,
        "first_response": first,
        "automatic": by is None,
        "previous_status": request.status,
        "status": status_to,
    }


# --- opening --------------------------------------------------------------------------------------


async def open_request(
    uow: UnitOfWork, actor: Principal, project_id: UUID, data: SupportRequestCreate, now: datetime
) -> SupportRequestDetail:
    """Open a request inside the project's support window and start its first-response timer."""
    window = await queries.window(uow.conn, project_id, lock=True)
    if window is None:
        raise NotFound("No such project.")
    visible_client(actor, window.client_id, "project")
    subject = _text(data.subject, "/subject")
    body = _text(data.body, "/body")
    check_window(window, now)
    request_id = uuid4()
    timer = await timers.start(
        uow,
        kind=TIMER_KIND,
        subject_type=SUBJECT_TYPE,
        subject_id=request_id,
        started_at=now,
        now=now,
        project_id=project_id,
        client_id=window.client_id,
        business_hours=window.business_hours_support,
        data={
            "project_name": window.name,
            "client_name": window.client_name,
            "subject": subject,
            "request_kind": data.kind,
        },
    )
    await queries.insert(
        uow.conn,
        request_id=request_id,
        project_id=project_id,
        client_id=window.client_id,
        kind=data.kind,
        subject=subject,
        body=body,
        opened_by_role="staff" if actor.is_staff else "client",
        opened_by_key_id=actor.key_id,
        timer_id=timer.id,
        now=now,
    )
    request = Locked(
        id=request_id,
        project_id=project_id,
        client_id=window.client_id,
        kind=data.kind,
        subject=subject,
        status="open",
        first_response_at=None,
        change_request_id=None,
        version=1,
        project_name=window.name,
    )
    await _emit(
        uow,
        "support_request.opened",
        request,
        {
            "client_name": window.client_name,
            "body": body,
            "status": "open",
            "opened_by": "staff" if actor.is_staff else "client",
            "opened_at": now,
            "first_response_due_at": timer.due_at,
            "business_hours": timer.unit == "business",
        },
        now,
        actor,
    )
    if data.kind == "feature_request":
        await _redirect(uow, actor, request, body, now)
    return await _detail(uow.conn, request_id)


async def _redirect(uow: UnitOfWork, actor: Principal, request: Locked, body: str, now: datetime) -> None:
    """Answer a feature request as not covered, linking the draft change request a hook creates."""
    change_request_id: UUID | None = None
    if ON_FEATURE_REQUEST:
        opened = await _detail(uow.conn, request.id)
        for hook in list(ON_FEATURE_REQUEST):
            found = await hook(uow, opened, actor, now)
            if found is not None and change_request_id is None:
                change_request_id = found
    if change_request_id is not None:
        await queries.link_change_request(uow.conn, request.id, change_request_id)
    message = NOT_COVERED_WITH_DRAFT if change_request_id else NOT_COVERED
    responded = await _respond(
        uow,
        request,
        by=None,
        message=message,
        awaiting_client=False,
        status_to="redirected",
        now=now,
        meets=True,
    )
    await queries.set_status(uow.conn, request.id, "redirected", now=now)
    await _emit(uow, "support_request.responded", request, responded, now, None)
    await _emit(
        uow,
        "support_request.redirected",
        request,
        {
            "status": "redirected",
            "title": request.subject,
            "description": body,
            "change_request_id": change_request_id,
            "opened_by": "staff" if actor.is_staff else "client",
            "opened_by_key_id": actor.key_id,
            "client_id": request.client_id,
            "project_id": request.project_id,
        },
        now,
        actor,
    )


# --- conversation and status ----------------------------------------------------------------------


async def respond(
    uow: UnitOfWork,
    actor: Principal,
    request_id: UUID,
    data: ResponseCreate,
    if_match: str | None,
    now: datetime,
) -> SupportRequestDetail:
    """Append a staff or client message; see the module rules for its effect on status and timer."""
    request = await _locked(uow, actor, request_id, if_match)
    message = _text(data.message, "/message")
    if not actor.is_staff and data.awaiting_client:
        raise invalid("/awaiting_client", "only a staff response can wait on the client")
    if request.status in CLOSED:
        raise Conflict(
            f"The support request is {request.status}; reopen it before responding.",
            rule="support-request-closed",
            extra={"status": request.status},
        )
    awaiting = bool(actor.is_staff and data.awaiting_client)
    status_to = "awaiting_client" if awaiting else "open"
    responded = await _respond(
        uow,
        request,
        by=actor,
        message=message,
        awaiting_client=awaiting,
        status_to=status_to,
        now=now,
        meets=True,
    )
    await queries.set_status(uow.conn, request.id, status_to, now=now)
    await _emit(uow, "support_request.responded", request, responded, now, actor)
    return await _detail(uow.conn, request.id)


async def resolve(
    uow: UnitOfWork,
    actor: Principal,
    request_id: UUID,
    data: ResolveBody,
    if_match: str | None,
    now: datetime,
) -> SupportRequestDetail:
    """Resolve (staff): an optional last message, the timer met if no response met it, ``resolved_at``."""
    request = await _locked(uow, actor, request_id, if_match)
    message = _text(data.message, "/message") if data.message is not None else None
    if request.status in CLOSED:
        raise Conflict(
            f"The support request is already {request.status}.",
            rule="support-request-closed",
            extra={"status": request.status},
        )
    if message is not None:
        responded = await _respond(
            uow,
            request,
            by=actor,
            message=message,
            awaiting_client=False,
            status_to="resolved",
            now=now,
            meets=True,
        )
        await _emit(uow, "support_request.responded", request, responded, now, actor)
    else:
        await _meet(uow, request.id, now, automatic=False)
    await queries.set_status(uow.conn, request.id, "resolved", now=now, resolved_at=now)
    await _emit(
        uow,
        "support_request.resolved",
        request,
        {"status": "resolved", "previous_status": request.status, "resolved_at": now},
        now,
        actor,
    )
    return await _detail(uow.conn, request.id)


async def reopen(
    uow: UnitOfWork,
    actor: Principal,
    request_id: UUID,
    data: ReopenBody,
    if_match: str | None,
    now: datetime,
) -> SupportRequestDetail:
    """Reopen a resolved request (or, staff only, a redirected one) inside the support window."""
    request = await _locked(uow, actor, request_id, if_match)
    message = _text(data.message, "/message") if data.message is not None else None
    if request.status not in CLOSED:
        raise Conflict(
            f"The support request is {request.status}; only a resolved request can be reopened.",
            rule="support-request-not-closed",
            extra={"status": request.status},
        )
    if request.status == "redirected" and not actor.is_staff:
        raise Conflict(
            "A feature request is not covered by support; it goes through a change request.",
            rule="not-covered-by-support",
            extra={"change_request_id": request.change_request_id},
        )
    window = await queries.window(uow.conn, request.project_id, lock=True)
    assert window is not None
    check_window(window, now, "reopened")
    if message is not None:
        responded = await _respond(
            uow,
            request,
            by=actor,
            message=message,
            awaiting_client=False,
            status_to="open",
            now=now,
            meets=False,
        )
        await _emit(uow, "support_request.responded", request, responded, now, actor)
    await queries.set_status(uow.conn, request.id, "open", now=now, reopened=True)
    timer = await timers.start(
        uow,
        kind=TIMER_KIND,
        subject_type=SUBJECT_TYPE,
        subject_id=request.id,
        started_at=now,
        now=now,
        project_id=request.project_id,
        client_id=request.client_id,
        business_hours=window.business_hours_support,
        data={
            "project_name": window.name,
            "client_name": window.client_name,
            "subject": request.subject,
            "request_kind": request.kind,
        },
    )
    await queries.set_timer(uow.conn, request.id, timer.id)
    await _emit(
        uow,
        "support_request.reopened",
        request,
        {
            "status": "open",
            "previous_status": request.status,
            "reopened_at": now,
            "first_response_due_at": timer.due_at,
            "client_name": window.client_name,
        },
        now,
        actor,
    )
    return await _detail(uow.conn, request.id)


# --- reads ----------------------------------------------------------------------------------------


async def get(conn: Conn, principal: Principal, request_id: UUID) -> SupportRequestDetail:
    found = await queries.detail(
        conn, request_id, client_id=principal.client_id if principal.role == "client" else None
    )
    if found is None:
        raise _request_not_found()
    return found


async def page(
    conn: Conn,
    principal: Principal,
    project_id: UUID,
    *,
    after: tuple[datetime, UUID] | None,
    limit: int,
    status: str | None,
    kind: str | None,
) -> list[SupportRequest]:
    await projects.visible_ref(conn, principal, project_id)
    return await queries.page(conn, project_id, after=after, limit=limit, status_is=status, kind=kind)


async def report(conn: Conn, principal: Principal, project_id: UUID, *, now: datetime) -> SlaReport:
    found = await queries.report(
        conn, project_id, now=now, client_id=principal.client_id if principal.role == "client" else None
    )
    if found is None:
        raise NotFound("No such project.")
    return found
