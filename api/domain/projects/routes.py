from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.domain.projects import queries, service
from api.domain.projects.schemas import (
    ArchitectureSubmit,
    HandoverPackage,
    HistoryEvent,
    LaunchIn,
    Phase,
    Project,
    ProjectCreate,
    ProjectStatus,
    ReasonBody,
)
from api.kit.auth import Principal, roles
from api.kit.etag import body_etag, none_match, version_etag
from api.kit.http import Caller, IfMatch, IfNoneMatch, Now, Uow
from api.kit.pagination import (
    DEFAULT_LIMIT,
    Cursor,
    Int64,
    Limit,
    Page,
    decode_cursor,
    encode_cursor,
    page_of,
)

TAGS = ["Projects"]

ProjectId = Annotated[UUID, PathParameter(description="The project's id")]


def _reason(data: ReasonBody | None) -> str | None:
    return data.reason if data is not None else None


def _with_etag(project: Project, status: int = 200) -> Response[Project]:
    headers = {"ETag": version_etag(project.version)}
    if status == 201:
        headers["Location"] = f"/v1/projects/{project.id}"
    return Response(project, status_code=status, headers=headers)


@post("/v1/projects", opt=roles("staff"), tags=TAGS, summary="Create a project")
async def create_project(
    data: JSONBody[ProjectCreate], uow: Uow, principal: Caller, now: Now
) -> Response[Project]:
    """Create a project for a client in phase ``proposal``: it waits there for its quote to be accepted.

    ``currency`` is the one ISO 4217 currency of all its money; ``client_id`` must name a client (422
    otherwise); ``inquiry_id`` records the inquiry it came from; ``business_hours_support`` makes support
    first responses due in business hours instead of 24 clock hours.
    """
    return _with_etag(await service.create(uow, principal, data, now), 201)


_EMPTY_PAGE = b'{"items":[],"next_cursor":null}'


def _page_body(page: queries.PageJson) -> bytes:
    """The ``Page[Project]`` document around the items PostgreSQL encoded; ``next_cursor`` is the opaque
    cursor of the page's last project when another page follows, else null."""
    next_cursor = None
    if page.next_after is not None:
        created_at, project_id = page.next_after
        next_cursor = encode_cursor([created_at.isoformat(), str(project_id)])
    return b"".join((b'{"items":', page.items, b',"next_cursor":', msgspec.json.encode(next_cursor), b"}"))


@get(
    "/v1/projects",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="List projects",
    responses={
        200: ResponseSpec(
            Page[Project], description="Request fulfilled, document follows", generate_examples=False
        )
    },
)
async def list_projects(
    uow: Uow,
    request: Request[Principal, Any, State],
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    client_id: Annotated[UUID | None, QueryParameter(description="Only this client's projects")] = None,
    phase: Annotated[Phase | None, QueryParameter(description="Only projects in this phase")] = None,
) -> Response[bytes]:
    """Oldest first. A client key sees its own organisation's projects only (whatever ``client_id`` says)."""
    # One dependency, as for the status call: the caller and the clock are read from the request.
    principal = request.user
    after = decode_cursor(cursor, (datetime, UUID))
    if principal.role == "client":
        only = principal.client_id if client_id in (None, principal.client_id) else None
        if only is None:
            return Response(_EMPTY_PAGE, media_type=MediaType.JSON)
        client_id = only
    page = await queries.page_json(
        uow.conn,
        now=request.app.state.clock.now(),
        after=(after[0], after[1]) if after else None,
        limit=limit,
        client_id=client_id,
        phase=phase,
    )
    return Response(_page_body(page), media_type=MediaType.JSON)


@get("/v1/projects/{project_id:uuid}", opt=roles("staff", "client"), tags=TAGS, summary="Read a project")
async def get_project(project_id: ProjectId, uow: Uow, principal: Caller, now: Now) -> Response[Project]:
    """One project with its milestones and phase history; ``ETag`` carries its version."""
    return _with_etag(await service.get_visible(uow.conn, principal, project_id, now=now))


@get(
    "/v1/projects/{project_id:uuid}/status",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="Where the project stands",
    responses={
        200: ResponseSpec(ProjectStatus, description="The status document", generate_examples=False),
        304: ResponseSpec(None, description="Not modified: the copy named in If-None-Match is current"),
    },
)
async def project_status(
    project_id: ProjectId,
    uow: Uow,
    request: Request[Principal, Any, State],
    if_none_match: IfNoneMatch = None,
) -> Response[bytes]:
    """The client's dashboard in one document: phase, contract figures, milestones, acceptance, change
    requests awaiting the client, support. ``ETag`` is a hash of the body; ``If-None-Match`` with it
    answers 304. Parts whose capability has nothing yet carry zeros and nulls. ``updated_at`` is the
    latest change of anything under the project.
    """
    # The hottest read takes one dependency: with several, Litestar resolves them in a task group per
    # request. The caller and the clock are read from the request instead.
    now: datetime = request.app.state.clock.now()
    body = await service.status_document(uow.conn, request.user, project_id, now=now)
    etag = body_etag(body)
    if none_match(if_none_match, etag):
        return Response(b"", status_code=304, headers={"ETag": etag})
    return Response(body, media_type=MediaType.JSON, headers={"ETag": etag})


@get(
    "/v1/projects/{project_id:uuid}/history",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="The project's events",
)
async def project_history(
    project_id: ProjectId, uow: Uow, principal: Caller, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Page[HistoryEvent]:
    """The domain events recorded for the project (its own and those of everything under it), newest
    first, paginated by the event sequence. A client key sees only the event types meant for clients
    (the phases, quotes, contract, criteria, change requests and support requests of the project);
    deliveries, SLA timers and other internals are for staff only."""
    after = decode_cursor(cursor, (Int64,))
    rows = await service.history(
        uow.conn, principal, project_id, before=after[0] if after else None, limit=limit + 1
    )
    return page_of(rows, limit, lambda e: [e.seq])


@post(
    "/v1/projects/{project_id:uuid}/architecture",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Submit the architecture document",
)
async def submit_architecture(
    project_id: ProjectId,
    data: JSONBody[ArchitectureSubmit],
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
) -> Response[Project]:
    """discovery → architecture_review: the document URL (http(s)) and its summary (data flow, serving
    approach, API design, monitoring plan; none blank). Meets the architecture_review SLA timer. In
    architecture_review a new submission replaces the document as a new revision (the phase stays).
    Other phases: 409 ``phase-transition``."""
    return _with_etag(await service.submit_architecture(uow, principal, project_id, data, if_match, now))


@post(
    "/v1/projects/{project_id:uuid}/architecture/approve",
    opt=roles("client"),
    tags=TAGS,
    status_code=200,
    summary="Sign off the architecture",
)
async def approve_architecture(
    project_id: ProjectId, uow: Uow, principal: Caller, now: Now, if_match: IfMatch = None
) -> Response[Project]:
    """architecture_review → delivery. The client's sign-off (staff get 403); scope and acceptance
    criteria freeze at this instant (``scope_frozen_at``). Other phases: 409 ``phase-transition``."""
    return _with_etag(await service.approve_architecture(uow, principal, project_id, if_match, now))


@post(
    "/v1/projects/{project_id:uuid}/handover",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Record the handover package",
)
async def record_handover(
    project_id: ProjectId,
    data: JSONBody[HandoverPackage],
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
) -> Response[Project]:
    """delivery → acceptance: source repository, deployment scripts, monitoring and runbook, each an
    http(s) URL. Other phases: 409 ``phase-transition``."""
    return _with_etag(await service.record_handover(uow, principal, project_id, data, if_match, now))


@post(
    "/v1/projects/{project_id:uuid}/launch",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Launch: start the support window",
)
async def launch_project(
    project_id: ProjectId,
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
    data: JSONBody[LaunchIn | None] = None,
) -> Response[Project]:
    """acceptance → support when nothing blocks it; otherwise a 409 whose ``rule`` is the first blocker's
    and whose ``extra.blockers`` / ``extra.rules`` list every one:

    - ``no-acceptance-criteria``: the project has no acceptance criteria. Define them, or launch with
      ``without_criteria_reason`` (staff's explicit waiver, kept as the project's
      ``criteria_waiver_reason``; 422 when the project has criteria);
    - ``criteria-not-met``: a criterion is neither met nor waived;
    - ``changes-not-done``: an approved change request is not ``done`` (approved or in progress).

    Sets ``launched_at``; the support window lasts 30 days. The body is optional."""
    return _with_etag(await service.launch(uow, principal, project_id, data or LaunchIn(), if_match, now))


@post(
    "/v1/projects/{project_id:uuid}/hold",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Put the project on hold",
)
async def hold_project(
    project_id: ProjectId,
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
    data: JSONBody[ReasonBody | None] = None,
) -> Response[Project]:
    """From any phase from proposal to support, with a reason (422 ``reason-required``); the project
    remembers the phase to resume. Every running SLA timer of the project pauses, each in its own unit
    (the event ``project.on_hold`` lists them in ``data.timers_paused``)."""
    return _with_etag(await service.hold(uow, principal, project_id, _reason(data), if_match, now))


@post(
    "/v1/projects/{project_id:uuid}/resume",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Resume a project on hold",
)
async def resume_project(
    project_id: ProjectId,
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
    data: JSONBody[ReasonBody | None] = None,
) -> Response[Project]:
    """on_hold → the phase it was put on hold from; the reason is optional (send ``{}`` or no body). The
    timers the hold paused resume, their due times moved by the time held in their unit. When the
    project was held before its handover (discovery, architecture_review, delivery) and has a contract,
    the delivery date moves by the business days held (the working time held, rounded up to whole
    days) as a ``hold`` amendment of the contract ledger."""
    return _with_etag(await service.resume(uow, principal, project_id, _reason(data), if_match, now))


@post(
    "/v1/projects/{project_id:uuid}/cancel",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Cancel the project",
)
async def cancel_project(
    project_id: ProjectId,
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
    data: JSONBody[ReasonBody | None] = None,
) -> Response[Project]:
    """From any phase but closed and cancelled, with a reason (422 ``reason-required``). Everything
    that hangs on the project ends in the same transaction, with the reason ``project cancelled:
    <reason>``: open change requests (submitted, assessed) are withdrawn; approved ones whose work is
    not done (approved, in_progress) become ``cancelled`` (their amendment stays in the contract
    ledger); a sent quote becomes ``withdrawn``; every SLA timer still open is cancelled. The event
    ``project.cancelled`` lists them in ``data.ended``."""
    return _with_etag(await service.cancel(uow, principal, project_id, _reason(data), if_match, now))


@post(
    "/v1/projects/{project_id:uuid}/close",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Close the project early",
)
async def close_project(
    project_id: ProjectId,
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
    data: JSONBody[ReasonBody | None] = None,
) -> Response[Project]:
    """support → closed before the support window ends, with a reason (422 ``reason-required``). Other
    phases: 409 ``phase-transition``. Projects whose window has ended are closed by a worker. Closing
    ends what hangs on the project as cancelling does (reason ``project closed: <reason>``)."""
    return _with_etag(await service.close(uow, principal, project_id, _reason(data), if_match, now))


ROUTES = [
    create_project,
    list_projects,
    get_project,
    project_status,
    project_history,
    submit_architecture,
    approve_architecture,
    record_handover,
    launch_project,
    hold_project,
    resume_project,
    cancel_project,
    close_project,
]
