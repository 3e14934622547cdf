from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Response, get, post
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.domain.change_requests import service
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
    Status,
)
from api.kit.auth import roles
from api.kit.etag import version_etag
from api.kit.http import Caller, IfMatch, Now, Uow
from api.kit.pagination import DEFAULT_LIMIT, Cursor, Int32, Limit, Page, decode_cursor, page_of

TAGS = ["Change requests"]

ProjectId = Annotated[UUID, PathParameter(description="The project's id")]
ChangeRequestId = Annotated[UUID, PathParameter(description="The change request's id")]


def _with_etag(
    state: State, request: ChangeRequestDetail, status: int = 200
) -> Response[ChangeRequestDetail]:
    headers = {"ETag": version_etag(request.version)}
    if status == 201:
        headers["Location"] = f"/v1/change-requests/{request.id}"
    return Response(service.with_rates(request, state.settings), status_code=status, headers=headers)


@post(
    "/v1/projects/{project_id:uuid}/change-requests",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="Submit a change request",
)
async def submit_change_request(
    project_id: ProjectId,
    data: JSONBody[ChangeRequestCreate],
    uow: Uow,
    principal: Caller,
    now: Now,
    state: State,
) -> Response[ChangeRequestDetail]:
    """Ask for a change to the project's scope: ``title`` and ``description`` (not blank), ``reason``
    optional. Staff for any project, a client key for its own organisation's projects (404 otherwise);
    ``requested_by`` records the side. Numbered per project; status ``submitted``.

    Starts the ``cr_assessment`` timer (2 business days): ``assessment_due_at``. Refused while the
    project is in ``proposal`` (409 ``no-accepted-quote``: revise the quote instead) and on a closed or
    cancelled project (409 ``project-ended``). A change raised before the architecture sign-off costs
    nothing (its assessment must have a price impact of 0).
    """
    return _with_etag(state, await service.submit(uow, principal, project_id, data, now), 201)


@get(
    "/v1/projects/{project_id:uuid}/change-requests",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="List a project's change requests",
)
async def list_change_requests(
    project_id: ProjectId,
    uow: Uow,
    principal: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Annotated[Status | None, QueryParameter(description="Only requests in this status")] = None,
) -> Page[ChangeRequest]:
    """By number, oldest first, without their revisions and transitions; each shows its current
    revision's ``price_impact``, ``timeline_impact_days``, ``risk`` and ``decision_due_at``. A client
    key sees its own organisation's projects only (404 otherwise)."""
    after = decode_cursor(cursor, (Int32,))
    rows = await service.page(
        uow.conn, principal, project_id, after=after[0] if after else None, limit=limit + 1, status=status
    )
    return page_of(rows, limit, lambda r: [r.number])


@get(
    "/v1/change-requests/{change_request_id:uuid}",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="Read a change request with its assessment revisions",
)
async def get_change_request(
    change_request_id: ChangeRequestId, uow: Uow, principal: Caller, state: State
) -> Response[ChangeRequestDetail]:
    """One change request with every assessment revision sent (oldest first; each with its status:
    ``awaiting_decision``, ``superseded``, ``approved``, ``rejected`` or ``withdrawn``; the approved
    revision of a ``cancelled`` request stays ``approved``) and its transitions (who, when, from, to,
    why). ``ETag`` carries its version. Another organisation's request is 404."""
    return _with_etag(state, await service.get(uow.conn, principal, change_request_id))


@post(
    "/v1/change-requests/{change_request_id:uuid}/assessment",
    opt=roles("staff"),
    tags=TAGS,
    summary="Assess a change request and send the assessment to the client",
)
async def assess_change_request(
    change_request_id: ChangeRequestId,
    data: JSONBody[AssessmentIn],
    uow: Uow,
    principal: Caller,
    now: Now,
    state: State,
    if_match: IfMatch = None,
) -> Response[Assessment]:
    """Send a new assessment revision (201 with ``revision`` and ``decision_due_at``) from ``submitted``
    or, as a reassessment, from ``assessed`` (409 ``change-request-transition`` otherwise). The request
    becomes ``assessed``; the first assessment meets the ``cr_assessment`` timer; the previous revision's
    ``cr_client_decision`` timer is cancelled and a new one starts (5 business days): the client's
    decision applies to this revision only. The client's contacts are emailed.

    - ``price_impact``: Money in the project's currency (422 at ``/price_impact/currency``), may be
      negative; before the architecture sign-off (or for a change raised before it) it must be 0: 409
      ``free-before-sign-off`` with ``extra.pointer`` ``/price_impact``.
    - ``timeline_impact_days``: business days the delivery date moves by, may be negative.
    - ``lines`` (optional): ``{description, phase, hours, amount}`` items, like quote lines, adding up to
      ``price_impact`` exactly (422 at ``/lines``); hours may be negative for work taken out. The
      revision reports ``total_hours`` and ``blended_hourly_rate`` (price impact ÷ hours) with
      ``rate_within_band`` against the shop's band for the currency (``RATE_BANDS``): a warning only.
    - ``criteria_changes`` (optional): ``add`` / ``modify`` / ``remove`` of acceptance criteria, checked
      against the project's criteria now (422 with a pointer per problem) and applied on approval.
    - ``risk``: ``low``, ``medium`` or ``high``; ``notes``: free text.
    """
    assessment = await service.assess(uow, principal, change_request_id, data, if_match, now, state.settings)
    return Response(
        service.rated(assessment, state.settings),
        status_code=201,
        headers={"Location": f"/v1/change-requests/{change_request_id}"},
    )


@post(
    "/v1/change-requests/{change_request_id:uuid}/approve",
    opt=roles("client"),
    tags=TAGS,
    status_code=200,
    summary="Approve an assessment revision",
)
async def approve_change_request(
    change_request_id: ChangeRequestId,
    data: JSONBody[ApproveIn],
    uow: Uow,
    principal: Caller,
    now: Now,
    state: State,
    if_match: IfMatch = None,
) -> Response[ChangeRequestDetail]:
    """The client approves the revision it names in ``assessment_revision`` (client keys of the
    project's organisation only; staff get 403). Only an ``assessed`` request (409
    ``change-request-transition`` otherwise: of concurrent approvals, one wins and the others get
    this 409); a revision that is not the current is a 409 ``stale-assessment`` and changes nothing.

    In one transaction: an amendment linking the request is appended to the contract (its current price
    and delivery date move; ``amendment_number``), the criteria changes apply (each criterion's new
    version names the request; 409 ``criteria-changes-stale`` when the criteria changed since the
    assessment), the decision timer is met and staff are told."""
    return _with_etag(state, await service.approve(uow, principal, change_request_id, data, if_match, now))


@post(
    "/v1/change-requests/{change_request_id:uuid}/reject",
    opt=roles("client"),
    tags=TAGS,
    status_code=200,
    summary="Reject the current assessment",
)
async def reject_change_request(
    change_request_id: ChangeRequestId,
    uow: Uow,
    principal: Caller,
    now: Now,
    state: State,
    if_match: IfMatch = None,
    data: JSONBody[RejectIn | None] = None,
) -> Response[ChangeRequestDetail]:
    """The client rejects the current revision of an ``assessed`` request with a non-blank ``reason``
    (422 at ``/reason``); naming another ``assessment_revision`` is a 409 ``stale-assessment``. The
    contract does not move; the decision timer is met and staff are told."""
    return _with_etag(
        state, await service.reject(uow, principal, change_request_id, data or RejectIn(), if_match, now)
    )


@post(
    "/v1/change-requests/{change_request_id:uuid}/withdraw",
    opt=roles("staff", "client"),
    tags=TAGS,
    status_code=200,
    summary="Withdraw a change request before the client's decision",
)
async def withdraw_change_request(
    change_request_id: ChangeRequestId,
    uow: Uow,
    principal: Caller,
    now: Now,
    state: State,
    if_match: IfMatch = None,
    data: JSONBody[ReasonIn | None] = None,
) -> Response[ChangeRequestDetail]:
    """Withdraw a ``submitted`` or ``assessed`` request with a non-blank ``reason`` (422 at ``/reason``);
    after the client's decision it is a 409 ``change-request-transition``. Staff withdraw any request; a
    client key only one its organisation requested (403 ``not-requester`` for one the shop requested).
    The running timer is cancelled."""
    return _with_etag(
        state, await service.withdraw(uow, principal, change_request_id, data or ReasonIn(), if_match, now)
    )


@post(
    "/v1/change-requests/{change_request_id:uuid}/start",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Start work on an approved change",
)
async def start_change_request(
    change_request_id: ChangeRequestId,
    uow: Uow,
    principal: Caller,
    now: Now,
    state: State,
    if_match: IfMatch = None,
    data: JSONBody[NoteIn | None] = None,
) -> Response[ChangeRequestDetail]:
    """Work starts only after approval: ``approved`` → ``in_progress`` (409
    ``change-request-transition`` from any other status). Send no body, ``{}`` or a ``note``."""
    return _with_etag(
        state, await service.start(uow, principal, change_request_id, data or NoteIn(), if_match, now)
    )


@post(
    "/v1/change-requests/{change_request_id:uuid}/complete",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Complete work on a change",
)
async def complete_change_request(
    change_request_id: ChangeRequestId,
    uow: Uow,
    principal: Caller,
    now: Now,
    state: State,
    if_match: IfMatch = None,
    data: JSONBody[NoteIn | None] = None,
) -> Response[ChangeRequestDetail]:
    """``in_progress`` → ``done`` (409 ``change-request-transition`` from any other status). Send no
    body, ``{}`` or a ``note``. Every approved change must be done before the project launches."""
    return _with_etag(
        state, await service.complete(uow, principal, change_request_id, data or NoteIn(), if_match, now)
    )
