from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Response, get, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.domain.support import service
from api.domain.support.schemas import (
    ReopenBody,
    ResolveBody,
    ResponseCreate,
    SlaReport,
    SupportKind,
    SupportRequest,
    SupportRequestCreate,
    SupportRequestDetail,
    SupportStatus,
)
from api.kit.auth import roles
from api.kit.etag import version_etag
from api.kit.http import Caller, IfMatch, Now, Uow
from api.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, decode_cursor, page_of

TAGS = ["Support"]

ProjectId = Annotated[UUID, PathParameter(description="The project's id")]
RequestId = Annotated[UUID, PathParameter(description="The support request's id")]


def _with_etag(request: SupportRequestDetail, status: int = 200) -> Response[SupportRequestDetail]:
    headers = {"ETag": version_etag(request.version)}
    if status == 201:
        headers["Location"] = f"/v1/support-requests/{request.id}"
    return Response(request, status_code=status, headers=headers)


@post(
    "/v1/projects/{project_id:uuid}/support-requests",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="Open a support request",
)
async def open_support_request(
    project_id: ProjectId, data: JSONBody[SupportRequestCreate], uow: Uow, principal: Caller, now: Now
) -> Response[SupportRequestDetail]:
    """Open a ``question``, ``bug`` or ``feature_request`` (``subject`` and ``body`` not blank) about a
    launched project: the client for its own organisation's projects, staff for any.

    Only inside the support window (``launched_at`` ≤ now < ``support_ends_at``, earlier when the project
    was closed or cancelled): otherwise 409 ``outside-support-window`` naming the window in ``detail``
    and in ``extra.window_starts_at`` / ``extra.window_ends_at`` (null when never launched).

    Starts the ``support_first_response`` timer: due 24 clock hours after ``opened_at``, or 24 business
    hours when the project has ``business_hours_support``. A ``feature_request`` is not covered by
    support: it is answered at once with an automatic not-covered response (which meets the timer), its
    status is ``redirected`` and ``change_request_id`` links the draft change request when the
    change-request capability created one. Staff are notified of every new request.
    """
    return _with_etag(await service.open_request(uow, principal, project_id, data, now), 201)


@get(
    "/v1/projects/{project_id:uuid}/support-requests",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="List a project's support requests",
)
async def list_support_requests(
    project_id: ProjectId,
    uow: Uow,
    principal: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Annotated[
        SupportStatus | None, QueryParameter(description="Only requests in this status")
    ] = None,
    kind: Annotated[SupportKind | None, QueryParameter(description="Only requests of this kind")] = None,
) -> Page[SupportRequest]:
    """Oldest first (by ``opened_at``), without their conversations. A client key sees its own
    organisation's projects only (404 otherwise)."""
    after = decode_cursor(cursor, (datetime, UUID))
    rows = await service.page(
        uow.conn,
        principal,
        project_id,
        after=(after[0], after[1]) if after else None,
        limit=limit + 1,
        status=status,
        kind=kind,
    )
    return page_of(rows, limit, lambda r: [r.opened_at.isoformat(), str(r.id)])


@get(
    "/v1/support-requests/{support_request_id:uuid}",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="Read a support request",
)
async def get_support_request(
    support_request_id: RequestId, uow: Uow, principal: Caller
) -> Response[SupportRequestDetail]:
    """One request with its conversation (oldest message first: who, when, and whether it was the first
    response, waited on the client or was automatic) and its first-response timer. ``ETag`` carries its
    version. Another organisation's request is 404."""
    return _with_etag(await service.get(uow.conn, principal, support_request_id))


@post(
    "/v1/support-requests/{support_request_id:uuid}/responses",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="Respond to a support request",
)
async def respond_to_support_request(
    support_request_id: RequestId,
    data: JSONBody[ResponseCreate],
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
) -> Response[SupportRequestDetail]:
    """Append a message to the conversation (append-only; 409 ``support-request-closed`` on a resolved
    or redirected request: reopen it first). Answers with the whole request.

    - The first staff response meets the first-response timer, a clarifying question included (as
      service desks count a public reply); the status becomes ``open``.
    - A staff response with ``awaiting_client: true`` asks the client something: the status becomes
      ``awaiting_client``; the client's next response sets it back to ``open``.
    - ``awaiting_client`` from a client key is refused (422). The client's contacts are emailed every
      staff response.
    """
    detail = await service.respond(uow, principal, support_request_id, data, if_match, now)
    return _with_etag(detail, 201)


@post(
    "/v1/support-requests/{support_request_id:uuid}/resolve",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Resolve a support request",
)
async def resolve_support_request(
    support_request_id: RequestId,
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
    data: JSONBody[ResolveBody | None] = None,
) -> Response[SupportRequestDetail]:
    """Status ``resolved`` with ``resolved_at`` (staff only). The optional ``message`` is recorded first
    as a staff response. Resolving a request that no staff response has met yet meets its timer now (a
    late resolution keeps the breach). 409 ``support-request-closed`` when already resolved or
    redirected."""
    data = data or ResolveBody()
    return _with_etag(await service.resolve(uow, principal, support_request_id, data, if_match, now))


@post(
    "/v1/support-requests/{support_request_id:uuid}/reopen",
    opt=roles("staff", "client"),
    tags=TAGS,
    status_code=200,
    summary="Reopen a resolved support request",
)
async def reopen_support_request(
    support_request_id: RequestId,
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
    data: JSONBody[ReopenBody | None] = None,
) -> Response[SupportRequestDetail]:
    """A resolved request becomes ``open`` again (``reopened_at`` set), only inside the support window
    (409 ``outside-support-window`` otherwise). A new first-response timer starts now
    (``first_response_due_at``); the next staff response meets it. Only staff reopen a redirected feature request (409
    ``not-covered-by-support`` for the client); an open request answers 409
    ``support-request-not-closed``. The optional ``message`` is recorded as the caller's response."""
    data = data or ReopenBody()
    return _with_etag(await service.reopen(uow, principal, support_request_id, data, if_match, now))


@get(
    "/v1/projects/{project_id:uuid}/sla-report",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="The project's support SLA figures",
)
async def sla_report(project_id: ProjectId, uow: Uow, principal: Caller, now: Now) -> SlaReport:
    """Requests, first-response timers met and breached, the met ratio (4 decimals; null while none has
    finished), median and p90 first-response time in seconds of the timers' unit with paused time
    excluded (computed by PostgreSQL with ``percentile_cont``; automatic answers to feature requests are
    left out), and the total paused time. One statement. Another organisation's project is 404."""
    return await service.report(uow.conn, principal, project_id, now=now)
