from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Response, delete, get, patch, post
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.domain.criteria import service
from api.domain.criteria.schemas import (
    Criterion,
    CriterionIn,
    CriterionPatch,
    CriterionVersion,
    Kind,
    State,
    Verification,
    VerificationIn,
    WaiveIn,
)
from api.kit.auth import roles
from api.kit.etag import version_etag
from api.kit.http import Caller, IfMatch, Now, Uow
from api.kit.pagination import DEFAULT_LIMIT, Cursor, Int32, Int64, Limit, Page, decode_cursor, page_of

TAGS = ["Acceptance criteria"]

ProjectId = Annotated[UUID, PathParameter(description="The project's id")]
CriterionId = Annotated[UUID, PathParameter(description="The criterion's id")]


def _with_etag(criterion: Criterion, status: int = 200) -> Response[Criterion]:
    headers = {"ETag": version_etag(criterion.version)}
    if status == 201:
        headers["Location"] = f"/v1/criteria/{criterion.id}"
    return Response(criterion, status_code=status, headers=headers)


@post("/v1/projects/{project_id:uuid}/criteria", opt=roles("staff"), tags=TAGS, summary="Add a criterion")
async def create_criterion(
    project_id: ProjectId, data: JSONBody[CriterionIn], uow: Uow, principal: Caller, now: Now
) -> Response[Criterion]:
    """Add an acceptance criterion to a project; it starts ``pending`` at version 1.

    Kinds ``performance``, ``quality``, ``monitoring`` and ``support`` are measurable: ``metric``,
    ``comparator`` (``<``, ``<=``, ``>``, ``>=``, ``==``), ``threshold`` (a decimal string) and ``unit``
    are required, ``qualifiers`` optional. ``fallback`` and ``functional`` are measurable when those
    fields are given, else they carry a ``statement`` a person checks. Never both (422 with a pointer per
    field). Known units and aliases are stored canonically (``h`` → ``hours``, ``%`` → ``percent``).
    The response carries the criterion as a readable ``sentence``.

    Only before the architecture sign-off: afterwards 409 ``scope-frozen`` (criteria then change through
    an approved change request); on a closed or cancelled project 409 ``project-ended``.
    """
    return _with_etag(await service.create(uow, principal, project_id, data, now), 201)


@get(
    "/v1/projects/{project_id:uuid}/criteria",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="List a project's criteria",
)
async def list_criteria(
    project_id: ProjectId,
    uow: Uow,
    principal: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    criterion_state: Annotated[
        State | None,
        QueryParameter(
            name="state", description="Only criteria in this state (removed ones only when asked)"
        ),
    ] = None,
    kind: Annotated[Kind | None, QueryParameter(description="Only criteria of this kind")] = None,
) -> Page[Criterion]:
    """In the order they were added. Removed criteria are left out unless ``state=removed`` asks for them. A client key
    reads its own organisation's projects only (404 otherwise)."""
    after = decode_cursor(cursor, (Int64,))
    rows = await service.list_for_project(
        uow.conn,
        principal,
        project_id,
        after=after[0] if after else None,
        limit=limit + 1,
        state=criterion_state,
        kind=kind,
    )
    page = page_of(rows, limit, lambda item: [item[0]])
    return Page(items=[c for _, c in page.items], next_cursor=page.next_cursor)


@get("/v1/criteria/{criterion_id:uuid}", opt=roles("staff", "client"), tags=TAGS, summary="Read a criterion")
async def get_criterion(criterion_id: CriterionId, uow: Uow, principal: Caller) -> Response[Criterion]:
    """One criterion with its sentence, state, waiver and latest verification. ``ETag`` carries its
    ``version``, which counts revisions of its definition (verifications and waivers do not add one)."""
    return _with_etag(await service.get(uow.conn, principal, criterion_id))


@patch("/v1/criteria/{criterion_id:uuid}", opt=roles("staff"), tags=TAGS, summary="Edit a criterion")
async def update_criterion(
    criterion_id: CriterionId,
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
    data: JSONBody[CriterionPatch | None] = None,
) -> Response[Criterion]:
    """Change fields of a criterion before the architecture sign-off (409 ``scope-frozen`` after it);
    null clears an optional field, and the result is validated as a whole (e.g. to turn a measurable
    criterion into a statement, clear metric, comparator, threshold and unit and give a statement).
    ``reason`` is kept in the version history. Any change but the title resets the state to
    ``pending`` and drops a waiver. Send ``If-Match`` (412 when stale). A removed criterion: 409
    ``criterion-removed``."""
    data = data or CriterionPatch()
    return _with_etag(await service.update(uow, principal, criterion_id, data, if_match, now))


@delete(
    "/v1/criteria/{criterion_id:uuid}",
    opt=roles("staff"),
    tags=TAGS,
    status_code=204,
    summary="Remove a criterion",
)
async def remove_criterion(
    criterion_id: CriterionId,
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
    reason: Annotated[
        str | None, QueryParameter(max_length=2000, description="Why; kept in the version history")
    ] = None,
) -> None:
    """Remove a criterion from the scope before the architecture sign-off (409 ``scope-frozen`` after
    it). It is kept, in state ``removed``, with its history and verifications, and no longer counts
    anywhere. Removing a removed criterion changes nothing."""
    await service.remove(uow, principal, criterion_id, reason=reason, if_match=if_match, now=now)


@get(
    "/v1/criteria/{criterion_id:uuid}/versions",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="A criterion's version history",
)
async def criterion_versions(
    criterion_id: CriterionId,
    uow: Uow,
    principal: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[CriterionVersion]:
    """Every revision of the criterion, oldest first: the whole criterion as it became, who changed it,
    when, why, and the change request it came through."""
    after = decode_cursor(cursor, (Int32,))
    rows = await service.history(
        uow.conn, principal, criterion_id, after=after[0] if after else None, limit=limit + 1
    )
    return page_of(rows, limit, lambda v: [v.version])


@post(
    "/v1/criteria/{criterion_id:uuid}/verifications",
    opt=roles("staff"),
    tags=TAGS,
    summary="Append a verification",
)
async def verify_criterion(
    criterion_id: CriterionId,
    uow: Uow,
    principal: Caller,
    now: Now,
    data: JSONBody[VerificationIn | None] = None,
) -> Verification:
    """Append a verification; the service judges it (``verdict`` ``met`` or ``not_met``).

    A measurable criterion (``verify_with`` = ``measured_value``) takes ``measured_value`` (a decimal
    string) and optionally ``unit`` (default: the criterion's). The value is compared with the threshold
    in exact decimal arithmetic; ms, s, min, hours and days convert into each other, as do ratio and
    percent; any other unit must be the criterion's (422 on ``/unit``). ``passed`` is refused there: the
    caller does not judge a measurement. Statement and ``monitoring`` criteria take ``passed``.

    The criterion's state becomes the verdict, except that a waived criterion stays waived. Verifications
    are never edited. On a closed or cancelled project 409 ``project-ended``; on a removed criterion 409
    ``criterion-removed``.
    """
    data = data or VerificationIn()
    return await service.verify(uow, principal, criterion_id, data, now)


@get(
    "/v1/criteria/{criterion_id:uuid}/verifications",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="List a criterion's verifications",
)
async def list_verifications(
    criterion_id: CriterionId,
    uow: Uow,
    principal: Caller,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Verification]:
    """Oldest first, each with the verdict and the sentence of the criterion as it was judged."""
    after = decode_cursor(cursor, (Int64,))
    rows = await service.list_verifications(
        uow.conn, principal, criterion_id, after=after[0] if after else None, limit=limit + 1
    )
    page = page_of(rows, limit, lambda item: [item[0]])
    return Page(items=[v for _, v in page.items], next_cursor=page.next_cursor)


@post(
    "/v1/criteria/{criterion_id:uuid}/waive",
    opt=roles("client"),
    tags=TAGS,
    status_code=200,
    summary="Waive a criterion",
)
async def waive_criterion(
    criterion_id: CriterionId,
    uow: Uow,
    principal: Caller,
    now: Now,
    if_match: IfMatch = None,
    data: JSONBody[WaiveIn | None] = None,
) -> Response[Criterion]:
    """The client accepts the project without this criterion, with a ``reason`` (422
    ``reason-required`` when blank). Only a client key of the project's organisation (staff get 403).
    The criterion then stays ``waived`` whatever later verifications say, and no longer blocks the
    launch. ``If-Match`` names the version the client read (412 when staff changed it since). Waived
    already: 409 ``already-waived``."""
    data = data or WaiveIn()
    return _with_etag(await service.waive(uow, principal, criterion_id, data, if_match, now))


ROUTES = [
    create_criterion,
    list_criteria,
    get_criterion,
    update_criterion,
    remove_criterion,
    criterion_versions,
    verify_criterion,
    list_verifications,
    waive_criterion,
]
