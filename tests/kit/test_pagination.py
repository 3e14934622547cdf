from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

import pytest

from api.errors import Invalid
from api.kit.pagination import Int64, decode_cursor, encode_cursor, page_of


def test_cursor_round_trip() -> None:
    ident = uuid4()
    cursor = encode_cursor(["2026-11-24T09:30:00+00:00", str(ident)])
    assert decode_cursor(cursor, (datetime, UUID)) == [
        datetime.fromisoformat("2026-11-24T09:30:00+00:00"),
        ident,
    ]


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", encode_cursor(["x"]), encode_cursor([1, 2, 3])])
def test_foreign_cursor_is_422(cursor: str) -> None:
    with pytest.raises(Invalid) as raised:
        decode_cursor(cursor, (datetime, UUID))
    assert raised.value.errors is not None
    assert raised.value.errors[0].pointer == "query:cursor"


def test_page_of_sets_next_cursor_only_when_more_rows_exist() -> None:
    full = page_of([1, 2, 3], 2, lambda n: [n])
    assert full.items == [1, 2]
    assert decode_cursor(full.next_cursor, (Int64,)) == [2]
    last = page_of([1, 2], 2, lambda n: [n])
    assert last.next_cursor is None


def test_an_integer_part_names_its_width() -> None:
    """A plain ``int`` would let a number beyond its column reach the query (a 500); each list says
    whether its key is an ``integer`` or a ``bigint``."""
    with pytest.raises(TypeError, match="Int32 or Int64"):
        decode_cursor(encode_cursor([1]), (int,))
