from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar.openapi.spec import OpenAPIType, Schema

from api.domain.criteria.schemas import CriterionChange
from api.domain.quotes.schemas import QuotePhase, RateBand
from api.kit.money import Money

Status = Literal[
    "submitted", "assessed", "approved", "in_progress", "done", "rejected", "withdrawn", "cancelled"
]
Side = Literal["staff", "client"]
Risk = Literal["low", "medium", "high"]
RevisionStatus = Literal["awaiting_decision", "superseded", "approved", "rejected", "withdrawn"]

#: Statuses counted as open in the project status document.
OPEN_STATUSES: tuple[Status, ...] = ("submitted", "assessed", "approved", "in_progress")

Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Add a CSV export"])]
Description = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=20_000, examples=["A weekly CSV export of the recommendations per category."]
    ),
]
Reason = Annotated[str, msgspec.Meta(max_length=5000, examples=["The marketing team needs it for reports."])]
Notes = Annotated[str, msgspec.Meta(max_length=20_000, examples=["Needs one more batch job."])]
LineText = Annotated[str, msgspec.Meta(min_length=1, max_length=500, examples=["Export job and tests"])]
Days = Annotated[
    int,
    msgspec.Meta(
        ge=-1000,
        le=1000,
        description="Business days the delivery date moves by (negative: earlier)",
        examples=[3],
    ),
]
Revision = Annotated[int, msgspec.Meta(ge=1, le=1_000_000, examples=[1])]


class ChangeRequestCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A change to the project's scope: what (``title``, ``description``) and, optionally, why."""

    title: Title
    description: Description
    reason: Reason | None = None


LineHours = Annotated[
    Decimal,
    msgspec.Meta(
        extra_json_schema={
            "description": (
                "Hours the line adds (negative: work taken out): a JSON number or a decimal string, "
                "-99999.99 to 99999.99, at most 2 decimals (read exactly, never through a float); "
                "returned as a decimal string with 2 decimals."
            ),
            "examples": [24, "-8.50"],
            "extra": {
                "type": None,
                "one_of": [
                    Schema(type=OpenAPIType.NUMBER, minimum=-99999.99, maximum=99999.99),
                    Schema(type=OpenAPIType.STRING, pattern=r"^-?\d{1,5}(\.\d{1,2})?$"),
                ],
            },
        }
    ),
]


class AssessmentLineIn(msgspec.Struct, forbid_unknown_fields=True):
    """One item of the price impact, like a quote line: the phase the work belongs to, its hours and
    its amount. Amounts and hours may be negative (work taken out)."""

    description: LineText
    phase: QuotePhase
    hours: LineHours
    amount: Money


class AssessmentIn(msgspec.Struct, forbid_unknown_fields=True):
    """The shop's assessment of a change request, sent to the client as a new revision.

    ``price_impact`` may be negative and must be in the project's currency; ``lines``, when given, add
    up to it exactly. ``criteria_changes`` add, modify or remove acceptance criteria when approved.
    """

    price_impact: Money
    timeline_impact_days: Days
    risk: Risk
    notes: Notes
    lines: Annotated[list[AssessmentLineIn], msgspec.Meta(max_length=100)] | None = None
    criteria_changes: Annotated[list[CriterionChange], msgspec.Meta(max_length=50)] | None = None


class ApproveIn(msgspec.Struct, forbid_unknown_fields=True):
    """The assessment revision the client approves (409 ``stale-assessment`` when it is not the current)."""

    assessment_revision: Revision


class RejectIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why the client rejects the change (required); optionally the revision it rejects."""

    reason: Reason | None = None
    assessment_revision: Revision | None = None


class ReasonIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why (required for a withdrawal)."""

    reason: Reason | None = None


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    """Optionally, a note kept with the transition (send ``{}`` for none)."""

    note: Reason | None = None


class AssessmentLine(msgspec.Struct):
    """A line as sent; ``phase`` and ``hours`` are null on lines assessed before lines carried them."""

    description: str
    amount: Money
    phase: QuotePhase | None = None
    hours: str | None = None


class Assessment(msgspec.Struct, kw_only=True):
    """One assessment revision as sent to the client; it never changes once sent.

    ``status``: ``awaiting_decision`` (the current revision of an assessed request), ``superseded`` (a
    newer revision was sent), or what the client's decision on it was (``approved``, ``rejected``) or
    ``withdrawn``. ``decision_due_at`` is the due time of the client-decision timer started when this
    revision was sent (a calendar change may move it).

    ``total_hours`` is the sum of the lines' hours; ``blended_hourly_rate`` = ``price_impact`` ÷
    ``total_hours`` (null without lines, or when either is not above 0), checked against the shop's band
    for the currency (``rate_band``, ``RATE_BANDS``) as a quote's is: ``rate_within_band`` warns, it
    does not block (null without a rate or a band).
    """

    change_request_id: UUID
    revision: int
    status: RevisionStatus
    price_impact: Money
    timeline_impact_days: int
    lines: list[AssessmentLine]
    criteria_changes: list[CriterionChange]
    risk: Risk
    notes: str
    assessed_at: datetime
    assessed_by_key_id: UUID | None
    assessed_by_name: str | None
    decision_due_at: datetime
    total_hours: str | None = None
    blended_hourly_rate: Money | None = None
    rate_within_band: bool | None = None
    rate_band: RateBand | None = None


class ChangeRequest(msgspec.Struct, kw_only=True):
    """A change request. ``assessment_revision`` is the revision the client decides on (null before the
    first assessment); ``price_impact``, ``timeline_impact_days`` and ``decision_due_at`` are that
    revision's. ``assessment_due_at`` is when the assessment is due (the ``cr_assessment`` timer).
    ``amendment_number`` names the contract amendment its approval appended.

    ``status``: ``submitted`` → ``assessed`` → ``approved`` → ``in_progress`` → ``done``; ``rejected``
    by the client; ``withdrawn`` before a decision (by the requester's side, or because the project
    ended); ``cancelled``: approved, but its project ended before the work was done
    (``cancelled_at``, ``cancellation_reason``; its amendment stays in the contract ledger)."""

    id: UUID
    project_id: UUID
    client_id: UUID
    number: int
    title: str
    description: str
    reason: str | None
    status: Status
    requested_by: Side
    submitted_by_key_id: UUID | None
    submitted_by_name: str | None
    support_request_id: UUID | None
    assessment_revision: int | None
    decided_revision: int | None
    price_impact: Money | None
    timeline_impact_days: int | None
    risk: Risk | None
    assessment_due_at: datetime
    decision_due_at: datetime | None
    amendment_number: int | None
    submitted_at: datetime
    assessed_at: datetime | None
    decided_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    withdrawn_at: datetime | None
    rejection_reason: str | None
    withdrawal_reason: str | None
    cancelled_at: datetime | None
    cancellation_reason: str | None
    updated_at: datetime
    version: int


class Transition(msgspec.Struct, kw_only=True):
    """One step of the change request's life: who moved it from where to where, when and why."""

    from_status: Status | None
    to_status: Status
    assessment_revision: int | None
    reason: str | None
    actor_key_id: UUID | None
    actor_role: str | None
    actor_name: str | None
    at: datetime


class ChangeRequestDetail(ChangeRequest, kw_only=True):
    """A change request with its assessment revisions and its transitions, oldest first."""

    assessments: list[Assessment]
    transitions: list[Transition]
