from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from api.kit.auth import Role

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new key. ``client_id`` is required for the ``client`` role and refused for the others."""

    role: Role
    name: Name
    client_id: UUID | None = None


class ApiKey(msgspec.Struct):
    id: UUID
    role: Role
    name: str
    client_id: UUID | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(msgspec.Struct):
    """The created key; ``key`` is the secret and is shown in this response only."""

    id: UUID
    role: Role
    name: str
    client_id: UUID | None
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    key: str
