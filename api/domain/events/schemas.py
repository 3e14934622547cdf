from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec


class FeedEvent(msgspec.Struct):
    """One domain event: what happened (``type``), to what (``subject_type``, ``subject_id``), when."""

    id: UUID
    type: str
    created_at: datetime
    subject_type: str
    subject_id: UUID
    client_id: UUID | None
    project_id: UUID | None
    data: dict[str, Any]


class FeedPage(msgspec.Struct):
    """A page of the feed. ``next_cursor`` is always present: pass it as ``?after=`` on the next poll,
    even when ``items`` is empty, to receive only what came after."""

    items: list[FeedEvent]
    next_cursor: str


class NewEvent(msgspec.Struct, frozen=True):
    """An event to write (see ``api.domain.events.outbox``)."""

    type: str
    subject_type: str
    subject_id: UUID
    client_id: UUID | None
    project_id: UUID | None
    data: dict[str, Any]
