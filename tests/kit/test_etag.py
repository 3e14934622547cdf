from __future__ import annotations

import pytest

from api.errors import PreconditionFailed
from api.kit.etag import body_etag, check_if_match, none_match, version_etag


def test_if_match_accepts_current_version_and_star() -> None:
    check_if_match(None, 3)
    check_if_match('"3"', 3)
    check_if_match('"2", "3"', 3)
    check_if_match('W/"3", "3"', 3)
    check_if_match("*", 3)


@pytest.mark.parametrize("header", ['W/"3"', 'W/"2", W/"3"', 'w/"3"', '"3'])
def test_if_match_compares_strongly(header: str) -> None:
    """RFC 9110 13.1.1: If-Match uses the strong comparison; a weak tag never matches."""
    with pytest.raises(PreconditionFailed):
        check_if_match(header, 3)


def test_if_match_refuses_stale_version() -> None:
    with pytest.raises(PreconditionFailed):
        check_if_match('"2"', 3)


def test_none_match() -> None:
    tag = body_etag(b"body")
    assert none_match(tag, tag)
    assert none_match(f"W/{tag}", tag)  # If-None-Match compares weakly (RFC 9110 13.1.2)
    assert not none_match(version_etag(1), tag)
    assert not none_match(None, tag)
    assert body_etag(b"body") != body_etag(b"other")
