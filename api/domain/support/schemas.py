from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from api.domain.timers.schemas import TimerState, TimerUnit

SupportKind = Literal["question", "bug", "feature_request"]
SupportStatus = Literal["open", "awaiting_client", "resolved", "redirected"]
Side = Literal["staff", "client"]

Subject = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Recommendations are empty"])]
Text = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=20_000,
        examples=["Since 9:00 the endpoint returns an empty list for user 42."],
    ),
]


class SupportRequestCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A question, a bug or a feature request about a launched project."""

    kind: SupportKind
    subject: Subject
    body: Text


class ResponseCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A message in the request's conversation.

    ``awaiting_client`` (staff only): the message asks the client something and the request waits on
    them. Like any staff response it is the shop's answer: the first one meets the first-response
    timer.
    """

    message: Text
    awaiting_client: bool | None = None


class ResolveBody(msgspec.Struct, forbid_unknown_fields=True):
    """Optionally, a last staff message recorded before the request is resolved (send ``{}`` for none)."""

    message: Text | None = None


class ReopenBody(msgspec.Struct, forbid_unknown_fields=True):
    """Optionally, a message of the caller saying why (send ``{}`` for none)."""

    message: Text | None = None


class SupportRequest(msgspec.Struct, kw_only=True):
    """A support request.

    ``first_response_due_at`` is the current first-response timer's due time (a reopened request has a
    new timer, started when it was reopened); ``first_response_at`` is when the shop first responded
    (null until then). ``change_request_id`` links
    the draft change request created from a feature request, when one was.
    """

    id: UUID
    project_id: UUID
    client_id: UUID
    kind: SupportKind
    subject: str
    body: str
    status: SupportStatus
    opened_at: datetime
    opened_by: Side
    first_response_due_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None
    reopened_at: datetime | None
    change_request_id: UUID | None
    responses: int
    updated_at: datetime
    version: int


class SupportResponse(msgspec.Struct, kw_only=True):
    """One message of the conversation: who (side, key and its name), when, and what it did.

    ``first_response``: this message met the first-response timer. ``automatic``: written by the service
    (the not-covered answer to a feature request).
    """

    id: UUID
    by: Side
    author_key_id: UUID | None
    author_name: str | None
    message: str
    awaiting_client: bool
    first_response: bool
    automatic: bool
    created_at: datetime


class SupportTimer(msgspec.Struct, kw_only=True):
    """The request's ``support_first_response`` SLA timer; ``paused_seconds`` is in the timer's unit."""

    id: UUID
    state: TimerState
    unit: TimerUnit
    started_at: datetime
    warn_at: datetime
    due_at: datetime
    warned_at: datetime | None
    breached_at: datetime | None
    met_at: datetime | None
    paused_at: datetime | None
    paused_seconds: float


class SupportRequestDetail(SupportRequest, kw_only=True):
    """A support request with its conversation (oldest message first) and its first-response timer."""

    conversation: list[SupportResponse]
    timer: SupportTimer


class SlaReport(msgspec.Struct, kw_only=True):
    """The project's support SLA figures.

    ``met`` / ``breached`` count first-response timers by outcome (a late response keeps the breach;
    a reopened request adds a timer per reopening); ``pending`` are still running or paused. ``met_ratio`` = met ÷ (met + breached), 4 decimals, null
    while none has finished. The median and p90 first-response times are in seconds of the timers' unit
    (clock seconds for clock timers, business seconds for business-hours ones), paused time excluded,
    over the ``first_responses`` requests a person answered (the automatic answer to a feature request
    is not a response time). ``paused_seconds`` adds up the pauses that have ended.
    """

    project_id: UUID
    unit: TimerUnit
    window_starts_at: datetime | None
    window_ends_at: datetime | None
    requests: int
    open_requests: int
    met: int
    breached: int
    pending: int
    met_ratio: Annotated[str, msgspec.Meta(examples=["0.9500"])] | None
    first_responses: int
    median_first_response_seconds: float | None
    p90_first_response_seconds: float | None
    paused_seconds: float
    generated_at: datetime
