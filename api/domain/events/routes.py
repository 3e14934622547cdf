"""``GET /v1/events``: the durable, cursor-paginated feed of domain events.

Rules:
- Staff only.
- Order: by transaction, then by sequence number within it (``seq`` order, except that events of
  transactions that interleaved come grouped by transaction). The order never changes once an event
  is served, and a reader never passes an event that will appear later: only events whose
  transaction is older than every transaction still in flight are served
  (``txid < pg_snapshot_xmin(pg_current_snapshot())``). So an event written by a transaction that
  commits late is served after the cursor, never skipped. The cost: while any transaction of the
  database server is open, the feed waits for it (transactions are short; idle ones are cut at 60 s).
- ``cursor`` is the opaque ``next_cursor`` of the previous page, as on every list; ``after`` is the
  older name of the same parameter and still works (both at once: 422). Every page has a
  ``next_cursor``, an empty one included (it is then the cursor that was given, or the start of the
  feed): store it and poll with it. A malformed cursor is a 422.
- ``type`` filters by exact event type; repeat it for several types.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import get
from litestar.params import QueryParameter

from api.domain.events import queries
from api.domain.events.schemas import FeedPage
from api.errors import invalid
from api.kit.auth import roles
from api.kit.http import Uow
from api.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor

TAGS = ["Events"]
START = (0, 0)


#: The parts of a feed cursor: a transaction id (``xid8``, unsigned 64 bits: its upper bound is checked
#: below, msgspec bounds stop at 64 signed bits) and a sequence (``bigint``).
Xid = Annotated[int, msgspec.Meta(ge=0)]
Seq = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
MAX_XID = 2**64 - 1


def _position(given: str | None, name: str) -> tuple[int, int]:
    if not given:
        return START
    parts = decode_cursor(given, (Xid, Seq), pointer=f"query:{name}")
    assert parts is not None
    if parts[0] > MAX_XID:
        raise invalid(f"query:{name}", "the cursor is not one this list returned")
    return parts[0], parts[1]


@get("/v1/events", opt=roles("staff"), tags=TAGS, summary="The event feed")
async def list_events(
    uow: Uow,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    after: Annotated[
        str | None,
        QueryParameter(
            max_length=512,
            description="The older name of `cursor` (the `next_cursor` of the previous page); still accepted",
        ),
    ] = None,
    event_types: Annotated[
        list[str] | None,
        QueryParameter(name="type", max_items=50, description="Only events of this type (repeatable)"),
    ] = None,
) -> FeedPage:
    """Domain events oldest first, for pollers: ``?cursor=<next_cursor>&type=<type>&limit=`` (``after``
    is accepted as another name of ``cursor``; giving both is a 422).

    Every page carries ``next_cursor``, even an empty one: poll again with it to get only newer events.
    Events of a transaction still in flight, and every event after the oldest such transaction, are
    held back until it ends, so a poller never skips an event that commits late.
    """
    if cursor and after:
        raise invalid("query:after", "give cursor or its older name after, not both")
    position = _position(cursor, "cursor") if cursor else _position(after, "after")
    rows = await queries.feed(uow.conn, after=position, types=event_types or None, limit=limit)
    if rows:
        position = (rows[-1].txid, rows[-1].seq)
    return FeedPage(items=[r.event for r in rows], next_cursor=encode_cursor(list(position)))
