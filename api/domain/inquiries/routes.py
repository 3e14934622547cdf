from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.domain.inquiries import queries, service
from api.domain.inquiries.schemas import (
    CloseIn,
    Converted,
    ConvertIn,
    Inquiry,
    InquiryDetail,
    InquiryIn,
    InquiryReceipt,
    InquiryStatus,
    ReplyIn,
    Source,
)
from api.kit.auth import roles
from api.kit.etag import version_etag
from api.kit.http import Caller, IfMatch, Now, Uow, client_address
from api.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, decode_cursor, page_of

TAGS = ["Inquiries"]

InquiryId = Annotated[UUID, PathParameter(description="The inquiry's id")]

STATES = """States: `received` → `replied` → `qualified` (converted) or `closed`; `received` → `closed`;
`quarantined` beside them (release → `received`, or close). A refused transition is 409 with rule
`status-transition`; `If-Match` with a stale ETag is 412."""


def _detail(inquiry: InquiryDetail) -> Response[InquiryDetail]:
    return Response(inquiry, headers={"ETag": version_etag(inquiry.version)})


@post(
    "/v1/inquiries",
    opt=roles("intake", "staff"),
    tags=TAGS,
    status_code=201,
    summary="Submit an inquiry",
    responses={
        200: ResponseSpec(
            InquiryReceipt,
            description="A duplicate: this integration already sent an inquiry with this (source, external_id); "
            "nothing was created",
            generate_examples=False,
        )
    },
)
async def create_inquiry(
    data: JSONBody[InquiryIn],
    request: Request[Any, Any, State],
    uow: Uow,
    principal: Caller,
    now: Now,
) -> Response[InquiryReceipt]:
    """Take in an inquiry from a CRM or a website form; 201 with `id`, `status`, `received_at` and
    `reply_due_at` (one business day on the shop's calendar, the same instant `GET
    /v1/calendar/due-dates?kind=inquiry_reply` promises).

    - `consent` must be `true` (422, rule `consent-required`): the shop replies by email and may not
      contact anyone without it. `locale` defaults to `en`. The email's syntax is checked (422).
    - Duplicates are those of the sending integration (the keys of one CRM or form, see
      `POST /v1/api-keys`): the same (`source`, `external_id`) answers 200 with the integration's first
      inquiry and creates nothing; the same `Idempotency-Key` replays the first response. Another
      integration posting the same pair creates its own inquiry.
    - Spam is stored but quarantined (`status: quarantined`, `reply_due_at` null): a filled `website`
      honeypot, an address that cannot receive mail (dotless, reserved or documentation domain), or more
      than `INQUIRY_FLOOD_PER_HOUR` new inquiries from one address in an hour. Nobody is mailed and no
      timer starts until staff release it.
    - Otherwise the reply timer starts at once; the sender gets an acknowledgement naming the promised
      time (their locale, the shop's zone) and staff a notification.
    - The raw request (body as posted, peer address, `X-Forwarded-For`, user agent, origin) is kept.
    - Limits (429 with `Retry-After`): an intake key posts at most `INTAKE_PER_KEY_PER_HOUR` inquiries an
      hour, and one client address at most `INTAKE_PER_ADDRESS_PER_HOUR` through all intake keys (the
      socket's peer, or the client named by `X-Forwarded-For` when the peer is one of
      `TRUSTED_PROXIES`).
    - Mail to the sender carries none of the sender's text but an inert name (letters only, at most
      five words): anyone can name any address here, and the acknowledgement must not be theirs to
      write.
    """
    state = request.app.state
    settings = state.settings
    await service.limit_intake(
        state.limiter,
        principal,
        client_address(request, settings.trusted_proxies),
        per_key=settings.intake_per_key_per_hour,
        per_address=settings.intake_per_address_per_hour,
    )
    raw = service.RawSubmission(
        body=await request.body(),
        content_type=request.headers.get("content-type"),
        ip=request.client.host if request.client else None,
        forwarded_for=request.headers.get("x-forwarded-for"),
        user_agent=request.headers.get("user-agent"),
        origin=request.headers.get("origin"),
    )
    received = await service.receive(
        uow,
        principal,
        data,
        raw,
        limiter=state.limiter,
        flood_per_hour=state.settings.inquiry_flood_per_hour,
        now=now,
    )
    headers = {"Location": f"/v1/inquiries/{received.receipt.id}"}
    return Response(received.receipt, status_code=201 if received.created else 200, headers=headers)


@get("/v1/inquiries", opt=roles("staff"), tags=TAGS, summary="List inquiries")
async def list_inquiries(
    uow: Uow,
    now: Now,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Annotated[
        InquiryStatus | None, QueryParameter(description="Only inquiries in this status")
    ] = None,
    source: Annotated[Source | None, QueryParameter(description="Only inquiries from this source")] = None,
    overdue: Annotated[
        bool | None,
        QueryParameter(
            description="true: only inquiries whose promised reply is late and still not sent (the reply "
            "timer is breached, or running past its due time, and neither met nor cancelled); false: the others"
        ),
    ] = None,
) -> Page[Inquiry]:
    """Newest first (by `received_at`, then id), each with its reply timer. Filters combine."""
    after = decode_cursor(cursor, (datetime, UUID))
    rows = await queries.page(
        uow.conn,
        now=now,
        before=(after[0], after[1]) if after else None,
        limit=limit + 1,
        status=status,
        source=source,
        overdue=overdue,
    )
    return page_of(rows, limit, lambda i: [i.received_at.isoformat(), str(i.id)])


@get("/v1/inquiries/{inquiry_id:uuid}", opt=roles("staff", "intake"), tags=TAGS, summary="Read an inquiry")
async def get_inquiry(
    inquiry_id: InquiryId, uow: Uow, principal: Caller, now: Now
) -> Response[InquiryDetail]:
    """One inquiry with its reply timer (state, due_at, warn_at, warned_at, breached_at, met_at), its
    replies and its raw submission; `ETag` carries its version. An intake key reads only the inquiries
    of its integration (404 for any other)."""
    return _detail(await service.get_visible(uow.conn, principal, inquiry_id, now=now))


@post(
    "/v1/inquiries/{inquiry_id:uuid}/reply",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Record a reply",
    description="Record a reply to the inquirer (`message`, `send_email`). The first reply moves the "
    "inquiry from `received` to `replied` and meets the reply timer (a late reply keeps the breach); later "
    "replies are recorded too (in `replied` or `qualified`). With `send_email` true the message is emailed "
    "to the inquirer.\n\n" + STATES,
)
async def reply_inquiry(
    inquiry_id: InquiryId,
    data: JSONBody[ReplyIn],
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
) -> Response[InquiryDetail]:
    """Record a reply; the first one meets the reply timer."""
    return _detail(await service.reply(uow, principal, inquiry_id, data, if_match, now))


@post(
    "/v1/inquiries/{inquiry_id:uuid}/close",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Close an inquiry",
    description="Close with a non-blank `reason` (422 otherwise), from `received`, `replied` or "
    "`quarantined`. A running reply timer is cancelled (one already overdue stays breached).\n\n" + STATES,
)
async def close_inquiry(
    inquiry_id: InquiryId,
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
    data: JSONBody[CloseIn | None] = None,
) -> Response[InquiryDetail]:
    """Close with a reason; cancels a running reply timer."""
    data = data or CloseIn()
    return _detail(await service.close(uow, principal, inquiry_id, data, if_match, now))


@post(
    "/v1/inquiries/{inquiry_id:uuid}/release",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Release an inquiry from quarantine",
    description="`quarantined` → `received`. The reply timer starts at the original `received_at`, so the "
    "promise is the one the inquiry would have had; when that time has passed the next timer sweep fires "
    "the warning and the breach at once. The acknowledgement and the staff notification go out now (the "
    "acknowledgement names the due time only while it lies ahead).\n\n" + STATES,
)
async def release_inquiry(
    inquiry_id: InquiryId, uow: Uow, principal: Caller, now: Now, if_match: IfMatch = None
) -> Response[InquiryDetail]:
    """Release from quarantine; the normal flow starts from the original receipt time."""
    return _detail(await service.release(uow, principal, inquiry_id, if_match, now))


@post(
    "/v1/inquiries/{inquiry_id:uuid}/convert",
    opt=roles("staff"),
    tags=TAGS,
    status_code=201,
    summary="Convert an inquiry into a client and a project",
    description="From `replied` only. The client is `client_id` when given (422 if unknown), else the client "
    "whose `email_domain` is the inquirer's domain, else a new client named after the company (or the "
    "inquirer) with the inquirer as contact and the domain as `email_domain` (free-mail domains such as "
    "gmail.com are never matched nor stored; an existing client is reused unchanged). A project is created "
    'in `proposal` with `currency` and `project_name` (default: "<company> project") and linked to the '
    "inquiry, which becomes `qualified`. `Location` names the project.\n\n" + STATES,
)
async def convert_inquiry(
    inquiry_id: InquiryId,
    data: JSONBody[ConvertIn],
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
) -> Response[Converted]:
    """Create or reuse the client, create the project; returns both ids."""
    converted = await service.convert(uow, principal, inquiry_id, data, if_match, now)
    return Response(converted, status_code=201, headers={"Location": f"/v1/projects/{converted.project_id}"})
