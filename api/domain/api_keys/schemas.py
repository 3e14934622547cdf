from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

from api.kit.auth import Role

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class ApiKeyCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A new key. ``client_id`` is required for the ``client`` role and refused for the others.

    ``integration_id`` puts the key in an existing integration (to rotate a key: create its successor
    in the same integration, then revoke the old one); the role and organisation must be the
    integration's. Without it the key starts an integration of its own."""

    role: Role
    name: Name
    client_id: UUID | None = None
    integration_id: (
        Annotated[
            UUID,
            msgspec.Meta(
                description="The integration the key joins (the `integration_id` of one of its keys); "
                "omit to start a new one"
            ),
        ]
        | None
    ) = None


class ApiKey(msgspec.Struct):
    """A key without its secret. Keys of one ``integration_id`` (one CRM, one website form, one
    dashboard) share its duplicates: Idempotency-Key records and inquiry duplicates by (source,
    external_id) belong to the integration, not to the key."""

    id: UUID
    role: Role
    name: str
    client_id: UUID | None
    integration_id: UUID
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyCreated(msgspec.Struct):
    """The created key; ``key`` is the secret and is shown in this response only."""

    id: UUID
    role: Role
    name: str
    client_id: UUID | None
    integration_id: UUID
    prefix: str
    created_at: datetime
    revoked_at: datetime | None
    key: str
