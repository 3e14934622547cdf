"""Cursor pagination: ``?limit=`` (default 50, max 200) and an opaque ``?cursor=``.

A cursor is the base64url JSON of the last row's sort key; lists are ordered by a unique key so that
pages neither skip nor repeat rows when rows are added between calls. A malformed cursor is a 422.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Generic, TypeVar

import msgspec
from litestar.params import QueryParameter

from api.errors import invalid

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


class Page(msgspec.Struct, Generic[T]):
    """One page of a list; pass ``next_cursor`` back as ``?cursor=`` for the next one (null at the end)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(key: list[Any]) -> str:
    raw = msgspec.json.encode(key)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str | None, types: tuple[type, ...]) -> list[Any] | None:
    """Decode a cursor into its key parts, checking their number and types, or raise a 422."""
    if cursor is None or cursor == "":
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.urlsafe_b64decode(padded.encode())
        parts = msgspec.json.decode(raw, type=tuple[types])  # type: ignore[valid-type]
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise invalid("query:cursor", "the cursor is not one this list returned") from None
    return list(parts)


def page_of(rows: list[T], limit: int, key: Any) -> Page[T]:
    """Build a page from ``limit + 1`` fetched rows; ``key(row)`` gives the cursor key of a row."""
    has_more = len(rows) > limit
    items = rows[:limit]
    next_cursor = encode_cursor(key(items[-1])) if has_more and items else None
    return Page(items=items, next_cursor=next_cursor)
