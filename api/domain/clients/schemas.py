from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import msgspec

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, examples=["ada@example.com"])]


class ContactIn(msgspec.Struct, forbid_unknown_fields=True):
    """A person of the client who receives notifications, in their locale and time zone."""

    name: Name
    email: Email
    locale: Annotated[str, msgspec.Meta(max_length=35, examples=["en", "pl", "de-AT"])] | None = None
    time_zone: Annotated[str, msgspec.Meta(max_length=64, examples=["Europe/Berlin"])] | None = None


class ClientCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A client organisation. ``email_domain`` lets converted inquiries find it (unique when set)."""

    name: Name
    contacts: Annotated[list[ContactIn], msgspec.Meta(max_length=50)] = []
    email_domain: Annotated[str, msgspec.Meta(max_length=253)] | None = None


class ClientPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change; ``contacts``, when given, replaces the whole list."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    contacts: Annotated[list[ContactIn], msgspec.Meta(max_length=50)] | msgspec.UnsetType = msgspec.UNSET
    email_domain: Annotated[str, msgspec.Meta(max_length=253)] | msgspec.UnsetType | None = msgspec.UNSET


class Contact(msgspec.Struct):
    name: str
    email: str
    locale: str
    time_zone: str | None


class Client(msgspec.Struct):
    id: UUID
    name: str
    email_domain: str | None
    contacts: list[Contact]
    created_at: datetime
    updated_at: datetime
    version: int
