from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Response, get
from litestar.params import PathParameter, QueryParameter

from api.domain.contracts import service
from api.domain.contracts.schemas import Contract
from api.kit import validate
from api.kit.auth import roles
from api.kit.etag import version_etag
from api.kit.http import Caller, Now, Uow

TAGS = ["Contracts"]


@get(
    "/v1/projects/{project_id:uuid}/contract",
    opt=roles("staff", "client"),
    tags=TAGS,
    summary="The contract: baseline, amendments, current price and date",
)
async def get_contract(
    project_id: Annotated[UUID, PathParameter(description="The project's id")],
    uow: Uow,
    principal: Caller,
    now: Now,
    as_of: Annotated[
        datetime | None,
        QueryParameter(
            description="An RFC 3339 instant with an offset: the contract as it stood then (default: the whole ledger)"
        ),
    ] = None,
) -> Response[Contract]:
    """The accepted quote plus the approved amendments. ``current_price`` = baseline + Σ approved price
    impacts; ``current_delivery_date`` = the baseline date moved by Σ approved business days on the
    business calendar (as recorded when each amendment was approved); ``scope_change_ratio`` = Σ approved
    ÷ baseline, 4 decimals. ``?as_of=`` answers "what was the contract then": the baseline if the quote
    was accepted by then, plus the amendments approved by then. Before a quote is accepted (by
    ``as_of``) every figure is null and ``amendments`` is empty. ``ETag`` carries the contract's version
    once it exists."""
    if as_of is not None:
        validate.instant(as_of, "query:as_of")
    contract = await service.get(uow.conn, principal, project_id, as_of=as_of, now=now)
    headers = {"ETag": version_etag(contract.version)} if contract.version is not None else {}
    return Response(contract, headers=headers)
