from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

EventType = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(\*|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$",
        max_length=100,
        examples=["inquiry.received", "quote.accepted"],
    ),
]
EventTypes = Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=100)] | Literal["*"]


class EndpointCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A receiver of signed webhooks: ``event_types`` lists exact event types, or is ``"*"`` for all."""

    url: Annotated[
        str, msgspec.Meta(min_length=1, max_length=2048, examples=["https://crm.example.com/hooks"])
    ]
    event_types: EventTypes
    description: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class Endpoint(msgspec.Struct):
    """A webhook endpoint; the signing secret is never shown again after creation."""

    id: UUID
    url: str
    description: str | None
    event_types: list[str] | Literal["*"]
    status: Literal["active", "disabled"]
    consecutive_failures: int
    created_at: datetime
    disabled_at: datetime | None
    disabled_reason: str | None


class EndpointCreated(Endpoint):
    """The new endpoint with its signing secret (``whsec_...``), shown in this response only."""

    secret: str


class Attempt(msgspec.Struct):
    number: int
    started_at: datetime
    latency_ms: int | None
    status_code: int | None
    response_body: str | None
    error: str | None
    succeeded: bool


class WebhookDelivery(msgspec.Struct):
    """One event to one endpoint: its state and every attempt (status, latency, answer, error)."""

    id: UUID
    endpoint_id: UUID
    event_id: UUID
    event_type: str
    state: Literal["pending", "sending", "delivered", "failed", "cancelled"]
    attempt_count: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    expires_at: datetime
    delivered_at: datetime | None
    failed_at: datetime | None
    attempts: list[Attempt]
