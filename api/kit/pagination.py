"""Cursor pagination: ``?limit=`` (default 50, max 200) and an opaque ``?cursor=``.

A cursor is the base64url JSON of the last row's sort key; lists are ordered by a unique key so that
pages neither skip nor repeat rows when rows are added between calls. A malformed cursor is a 422, and
so is a forged one: a cursor is decoded against the types of its parts, and a part that no row of the
list could have (a number beyond its column's range, an instant without an offset or outside
``api.kit.validate``'s 2000-01-01..2100-12-31) is refused before it reaches a query. Integer parts name
their column's width (``Int32``, ``Int64``): a plain ``int`` is refused by ``decode_cursor`` itself.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter

from api.errors import Invalid, invalid
from api.kit import validate

T = TypeVar("T")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

Limit = Annotated[
    int,
    QueryParameter(ge=1, le=MAX_LIMIT, description=f"Page size, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT})."),
]
Cursor = Annotated[
    str | None,
    QueryParameter(
        max_length=512, description="The `next_cursor` of the previous page; omit for the first page."
    ),
]


#: A cursor part stored in an ``integer`` column.
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
#: A cursor part stored in a ``bigint`` column.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]
#: A cursor part that is an instant (a ``timestamptz`` column): with an offset, in the accepted range.
Instant = Annotated[datetime, msgspec.Meta(tz=True)]


class Page(msgspec.Struct, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``?cursor=`` for the next one (null at the end)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(key: list[Any]) -> str:
    raw = msgspec.json.encode(key)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(
    cursor: str | None, types: tuple[Any, ...], pointer: str = "query:cursor"
) -> list[Any] | None:
    """Decode a cursor into its key parts, checking their number, types and ranges, or raise a 422.

    ``types`` are the parts' types: ``Int32``, ``Int64``, ``datetime`` (read as ``Instant``), ``UUID``.
    """
    if cursor is None or cursor == "":
        return None
    if int in types:
        raise TypeError("name an integer cursor part's width: Int32 or Int64")
    checked = tuple(Instant if part is datetime else part for part in types)
    refused = invalid(pointer, "the cursor is not one this list returned")
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode())
    except (binascii.Error, ValueError):
        raise refused from None
    try:
        parts = msgspec.json.decode(raw, type=tuple[checked])  # type: ignore[valid-type]
    except (UnicodeDecodeError, RecursionError, msgspec.DecodeError, msgspec.ValidationError):
        raise refused from None
    for part in parts:
        if isinstance(part, datetime):
            try:
                validate.instant(part, pointer)
            except Invalid:
                raise refused from None
    return list(parts)


def page_of(rows: list[T], limit: int, key: Any) -> Page[T]:
    """Build a page from ``limit + 1`` fetched rows; ``key(row)`` gives the cursor key of a row."""
    has_more = len(rows) > limit
    items = rows[:limit]
    next_cursor = encode_cursor(key(items[-1])) if has_more and items else None
    return Page(items=items, next_cursor=next_cursor)
