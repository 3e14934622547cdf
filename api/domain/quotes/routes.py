from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Response, get, patch, post
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.domain.quotes import service
from api.domain.quotes.schemas import AcceptIn, DeclineIn, Quote, QuoteIn, QuotePatch, QuoteStatus, Revision
from api.kit.auth import roles
from api.kit.etag import version_etag
from api.kit.http import Caller, IfMatch, Now, Uow, client_address
from api.kit.pagination import DEFAULT_LIMIT, Cursor, Int32, Limit, Page, decode_cursor, page_of
from api.settings import Settings

TAGS = ["Quotes"]

ProjectId = Annotated[UUID, PathParameter(description="The project's id")]
QuoteId = Annotated[UUID, PathParameter(description="The quote revision's id")]


def _quote(state: State, revision: Revision) -> Quote:
    settings: Settings = state.settings
    return service.present(revision, band=settings.rate_band(revision.currency))


def _with_etag(state: State, revision: Revision, status: int = 200) -> Response[Quote]:
    headers = {"ETag": version_etag(revision.version)}
    if status == 201:
        headers["Location"] = f"/v1/quotes/{revision.id}"
    return Response(_quote(state, revision), status_code=status, headers=headers)


@post(
    "/v1/projects/{project_id:uuid}/quotes",
    opt=roles("staff"),
    tags=TAGS,
    summary="Start a new quote revision (a draft)",
)
async def create_quote(
    project_id: ProjectId,
    uow: Uow,
    principal: Caller,
    now: Now,
    state: State,
    data: JSONBody[QuoteIn | None] = None,
) -> Response[Quote]:
    """A new draft revision, numbered after the project's last one (1 for the first). Only while the
    project is in ``proposal`` (409 ``project-not-in-proposal``) and has no other draft (409
    ``draft-exists``). Lines are priced in the project's currency (422 at ``/lines/N/amount/currency``);
    discovery and support lines cost 0 (422 at ``/lines/N/amount``); amounts are decimal strings (a JSON
    number: 422); hours are a number or a decimal string with at most 2 decimals; payment shares are
    decimal fractions adding up to exactly 1 (422 at ``/payment_schedule``). A draft may be incomplete:
    completeness is checked when it is sent. ``blended_hourly_rate`` = total ÷ hours, half-even to minor
    units; ``rate_within_band`` tells whether it lies in the shop's band and never blocks."""
    data = data or QuoteIn()
    return _with_etag(state, await service.create(uow, principal, project_id, data, now), 201)


@get(
    "/v1/projects/{project_id:uuid}/quotes",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="List a project's quote revisions",
)
async def list_quotes(
    project_id: ProjectId,
    uow: Uow,
    principal: Caller,
    state: State,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Annotated[QuoteStatus | None, QueryParameter(description="Only revisions in this status")] = None,
) -> Page[Quote]:
    """Newest revision first. Staff see every revision; a client key sees its own organisation's sent,
    accepted, declined, expired and superseded revisions, never drafts."""
    after = decode_cursor(cursor, (Int32,))
    rows = await service.page(
        uow.conn, principal, project_id, status=status, before=after[0] if after else None, limit=limit + 1
    )
    page = page_of(rows, limit, lambda r: [r.revision])
    return Page(items=[_quote(state, r) for r in page.items], next_cursor=page.next_cursor)


@get("/v1/quotes/{quote_id:uuid}", opt=roles("staff", "client"), tags=TAGS, summary="Read a quote revision")
async def get_quote(quote_id: QuoteId, uow: Uow, principal: Caller, state: State) -> Response[Quote]:
    """One revision with its totals, rate and, once accepted, the acceptance ``evidence`` whose
    ``verified`` flag recomputes the SHA-256 of the canonical document now. A client key gets 404 for
    drafts and for other organisations' quotes. ``ETag`` carries the revision's version."""
    return _with_etag(state, await service.get(uow.conn, principal, quote_id))


@get(
    "/v1/quotes/{quote_id:uuid}/document",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="The canonical document of a sent revision",
    responses={200: ResponseSpec(None, description="UTF-8 JSON, keys sorted, no whitespace")},
)
async def get_quote_document(quote_id: QuoteId, uow: Uow, principal: Caller) -> Response[bytes]:
    """The exact bytes whose SHA-256 is ``document_sha256`` (and the acceptance evidence's hash): the
    revision as the client saw it, UTF-8 JSON with sorted keys and no whitespace, money as decimal
    strings. Anyone holding it can verify the evidence. A draft has none yet (409 ``quote-not-sent``)."""
    revision = await service.get(uow.conn, principal, quote_id)
    return Response(service.canonical(revision), media_type=MediaType.JSON)


@patch("/v1/quotes/{quote_id:uuid}", opt=roles("staff"), tags=TAGS, summary="Change a draft revision")
async def update_quote(
    quote_id: QuoteId,
    uow: Uow,
    principal: Caller,
    now: Now,
    state: State,
    if_match: IfMatch = None,
    data: JSONBody[QuotePatch | None] = None,
) -> Response[Quote]:
    """Change a draft; a list given replaces the whole list, ``null`` clears a date. The same rules as
    creating apply. A revision that is no longer a draft never changes: 409 ``quote-immutable``. Send
    ``If-Match`` to avoid lost updates (412 when stale)."""
    data = data or QuotePatch()
    return _with_etag(state, await service.update(uow, principal, quote_id, data, if_match, now))


@post(
    "/v1/quotes/{quote_id:uuid}/send",
    opt=roles("staff"),
    tags=TAGS,
    status_code=200,
    summary="Send a draft revision to the client",
)
async def send_quote(
    quote_id: QuoteId, uow: Uow, principal: Caller, now: Now, state: State, if_match: IfMatch = None
) -> Response[Quote]:
    """draft → sent; the revision is locked for good. Needs at least one line, a total above 0, a
    payment schedule and a ``delivery_date`` (409 ``quote-incomplete`` with pointers to what is missing).
    ``valid_until`` defaults to 30 days after today in the shop's time zone, may not lie in the past, and
    ``delivery_date`` must fall after it. Sets ``sent_at`` and ``document_sha256``; the project's
    previously sent revision becomes ``superseded``. Emits ``quote.sent`` (the client's contacts are
    mailed). A revision that is not a draft: 409 ``quote-not-draft``."""
    return _with_etag(state, await service.send(uow, principal, quote_id, if_match, now))


@post(
    "/v1/quotes/{quote_id:uuid}/revise",
    opt=roles("staff"),
    tags=TAGS,
    summary="Start a new draft revision copied from this one",
)
async def revise_quote(
    quote_id: QuoteId, uow: Uow, principal: Caller, now: Now, state: State, if_match: IfMatch = None
) -> Response[Quote]:
    """A new draft numbered after the project's last revision, with this revision's lines, assumptions,
    exclusions, payment schedule and delivery date (``valid_until`` is set afresh when it is sent). The
    source revision is unchanged. Only while the project is in ``proposal`` and has no other draft (409
    ``draft-exists``)."""
    return _with_etag(state, await service.revise(uow, principal, quote_id, if_match, now), 201)


@post(
    "/v1/quotes/{quote_id:uuid}/accept",
    opt=roles("client"),
    tags=TAGS,
    status_code=200,
    summary="Accept a sent quote revision",
)
async def accept_quote(
    quote_id: QuoteId,
    data: JSONBody[AcceptIn],
    request: Request[Any, Any, Any],
    uow: Uow,
    principal: Caller,
    now: Now,
    state: State,
    if_match: IfMatch = None,
) -> Response[Quote]:
    """The client accepts a ``sent`` revision of its own organisation (staff: 403). Atomic and exclusive:
    a project has one accepted quote; concurrent accepts yield one acceptance and 409s. Superseded: 409
    ``quote-superseded``; past ``valid_until`` (end of that day in the shop's zone): 409
    ``quote-expired``; already accepted or declined: 409 ``quote-not-open``. Keeps the evidence (name as
    signed, time, the caller's address (the socket's peer, or the client a proxy of
    ``TRUSTED_PROXIES`` names in ``X-Forwarded-For``), user agent, SHA-256 of the canonical
    document), sets the contract baseline (price = total, delivery date = ``delivery_date``) and starts
    discovery, in one transaction."""
    revision = await service.accept(
        uow,
        principal,
        quote_id,
        data,
        ip=client_address(request, state.settings.trusted_proxies),
        user_agent=request.headers.get("user-agent"),
        if_match=if_match,
        now=now,
    )
    return _with_etag(state, revision)


@post(
    "/v1/quotes/{quote_id:uuid}/decline",
    opt=roles("client"),
    tags=TAGS,
    status_code=200,
    summary="Decline a sent quote revision",
)
async def decline_quote(
    quote_id: QuoteId,
    uow: Uow,
    principal: Caller,
    now: Now,
    state: State,
    if_match: IfMatch = None,
    data: JSONBody[DeclineIn | None] = None,
) -> Response[Quote]:
    """The client declines a ``sent`` revision, optionally saying why (staff: 403). The same 409s as
    accepting apply. Staff are notified; they may start a new revision."""
    data = data or DeclineIn()
    return _with_etag(
        state, await service.decline(uow, principal, quote_id, data, if_match=if_match, now=now)
    )


ROUTES = [
    create_quote,
    list_quotes,
    get_quote,
    get_quote_document,
    update_quote,
    send_quote,
    revise_quote,
    accept_quote,
    decline_quote,
]
