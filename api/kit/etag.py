"""ETags for mutable resources and for computed views.

- A mutable resource carries an integer ``version``; its ETag is ``"<version>"``. A ``PATCH`` or an
  action may send ``If-Match``; a stale value → 412. ``If-Match: *`` matches any current version.
  ``If-Match`` compares strongly (RFC 9110 13.1.1): a weak tag (``W/"3"``) never matches.
- ``If-None-Match`` compares weakly (RFC 9110 13.1.2): ``W/"tag"`` matches ``"tag"``.
- A computed view (the project status) gets the hash of its encoded body; ``If-None-Match`` → 304.
"""

from __future__ import annotations

import hashlib

from api.errors import PreconditionFailed


def version_etag(version: int) -> str:
    return f'"{version}"'


def body_etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def _tags(header: str, *, weak: bool) -> list[str]:
    """The entity tags of a header; weak ones with their ``W/`` dropped when ``weak`` comparison is
    asked for, left out otherwise (a weak tag never matches strongly)."""
    tags = [part.strip() for part in header.split(",") if part.strip()]
    if weak:
        return [tag.removeprefix("W/") for tag in tags]
    return [tag for tag in tags if not tag.startswith("W/")]


def check_if_match(header: str | None, version: int) -> None:
    """Raise 412 when ``If-Match`` is present and names no current version (strong comparison)."""
    if header is None:
        return
    tags = _tags(header, weak=False)
    if "*" in tags or version_etag(version) in tags:
        return
    raise PreconditionFailed(
        f"If-Match {header} does not match the current version {version_etag(version)}; read it again.",
        extra={"current_etag": version_etag(version)},
    )


def none_match(header: str | None, etag: str) -> bool:
    """True when ``If-None-Match`` names ``etag`` (the client's copy is current)."""
    if header is None:
        return False
    tags = _tags(header, weak=True)
    return "*" in tags or etag in tags
