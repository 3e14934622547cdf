from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from api.kit.money import CurrencyCode, Money

Phase = Literal[
    "proposal",
    "discovery",
    "architecture_review",
    "delivery",
    "acceptance",
    "support",
    "closed",
    "on_hold",
    "cancelled",
]
#: Phases a project can be put on hold from and resumed to.
ActivePhase = Literal["proposal", "discovery", "architecture_review", "delivery", "acceptance", "support"]
MilestoneName = Literal["discovery_end", "architecture_review", "delivery", "launch", "support_end"]
MilestoneState = Literal["unscheduled", "upcoming", "overdue", "done", "cancelled"]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Url = Annotated[
    str,
    msgspec.Meta(
        min_length=8,
        max_length=2048,
        pattern=r"^[hH][tT][tT][pP][sS]?://",
        description="An absolute http(s) URL",
        examples=["https://git.example.com/acme/recommender"],
    ),
]
SummaryPart = Annotated[str, msgspec.Meta(min_length=1, max_length=20_000)]
Reason = Annotated[str, msgspec.Meta(max_length=2000, examples=["The client paused the budget"])]


class ProjectCreate(msgspec.Struct, forbid_unknown_fields=True):
    """A project for a client organisation; it starts in ``proposal`` until a quote is accepted."""

    client_id: UUID
    name: Name
    currency: CurrencyCode
    description: Annotated[str, msgspec.Meta(max_length=10_000)] | None = None
    inquiry_id: Annotated[UUID | None, msgspec.Meta(description="The inquiry it came from, if any")] = None
    business_hours_support: Annotated[
        bool,
        msgspec.Meta(
            description="Support first responses are due in business hours instead of 24 clock hours"
        ),
    ] = False


class ArchitectureSummary(msgspec.Struct, forbid_unknown_fields=True):
    """The four parts every architecture document summarises."""

    data_flow: SummaryPart
    serving_approach: SummaryPart
    api_design: SummaryPart
    monitoring_plan: SummaryPart


class ArchitectureSubmit(msgspec.Struct, forbid_unknown_fields=True):
    """The architecture document: where it lives and its summary."""

    document_url: Url
    summary: ArchitectureSummary


class HandoverPackage(msgspec.Struct, forbid_unknown_fields=True):
    """What the client receives at the end of delivery; each part is an http(s) URL."""

    source_repository_url: Url
    deployment_scripts_url: Url
    monitoring_url: Url
    runbook_url: Url


class ReasonBody(msgspec.Struct, forbid_unknown_fields=True):
    """Why; required (non-blank) where the action says so."""

    reason: Reason | None = None


class LaunchIn(msgspec.Struct, forbid_unknown_fields=True):
    """Optional: the staff's explicit waiver for a project without acceptance criteria (send ``{}`` or
    no body otherwise)."""

    without_criteria_reason: (
        Annotated[
            str,
            msgspec.Meta(
                max_length=2000,
                description="Launch although the project has no acceptance criteria, for this reason "
                "(refused with 422 when the project has criteria: they are judged instead)",
                examples=["The client accepts the system on its monitoring dashboards alone"],
            ),
        ]
        | None
    ) = None


class Architecture(msgspec.Struct):
    document_url: str
    summary: ArchitectureSummary
    revision: int
    submitted_at: datetime
    revised_at: datetime
    approved_at: datetime | None


class Handover(msgspec.Struct):
    source_repository_url: str
    deployment_scripts_url: str
    monitoring_url: str
    runbook_url: str
    recorded_at: datetime


class Milestone(msgspec.Struct):
    """A date the client watches. ``due_on`` is a date in the shop's time zone (null: not planned yet)."""

    name: MilestoneName
    due_on: date | None
    done_at: datetime | None
    state: MilestoneState


class PhaseChange(msgspec.Struct):
    """One phase change: from (null at creation), to, why, who (key id and role; null for the system)."""

    from_phase: Phase | None
    to_phase: Phase
    reason: str | None
    actor_key_id: UUID | None
    actor_role: str | None
    at: datetime


class Project(msgspec.Struct):
    id: UUID
    client_id: UUID
    name: str
    description: str | None
    currency: str
    inquiry_id: UUID | None
    business_hours_support: bool
    phase: Phase
    phase_since: datetime
    resume_phase: ActivePhase | None
    discovery_started_at: datetime | None
    discovery_ends_at: datetime | None
    architecture: Architecture | None
    scope_frozen_at: datetime | None
    handover: Handover | None
    launched_at: datetime | None
    support_ends_at: datetime | None
    criteria_waiver_reason: Annotated[
        str | None,
        msgspec.Meta(
            description="Why staff launched the project without acceptance criteria (the launch's "
            "``without_criteria_reason``); null when it launched on its criteria"
        ),
    ]
    closed_at: datetime | None
    cancelled_at: datetime | None
    milestones: list[Milestone]
    phase_history: list[PhaseChange]
    created_at: datetime
    updated_at: datetime
    version: int


class HistoryEvent(msgspec.Struct):
    """One domain event of the project; ``seq`` orders them."""

    id: UUID
    seq: int
    type: str
    subject_type: str
    subject_id: UUID
    actor_role: str | None
    data: dict[str, Any]
    occurred_at: datetime


# The status document (GET /v1/projects/{id}/status). It is built by PostgreSQL; these structs describe it.


class StatusProject(msgspec.Struct):
    id: UUID
    name: str
    currency: str
    phase: Phase
    phase_since: datetime


class StatusClient(msgspec.Struct):
    id: UUID
    name: str


class StatusContract(msgspec.Struct):
    """The contract in figures; every field is null until a quote is accepted."""

    baseline_price: Money | None
    approved_changes: Money | None
    pending_changes: Money | None
    current_price: Money | None
    baseline_delivery_date: date | None
    current_delivery_date: date | None
    scope_change_ratio: Annotated[str, msgspec.Meta(examples=["0.1406"])] | None


class StatusAcceptance(msgspec.Struct):
    total: int
    met: int
    not_met: int
    pending: int
    waived: int


class AwaitingDecision(msgspec.Struct):
    """An assessed change request awaiting the client: ``assessment_revision`` is the revision
    ``POST /v1/change-requests/{id}/approve`` names."""

    id: UUID
    title: str
    assessment_revision: int
    price_impact: Money
    timeline_impact_days: int
    decision_due_at: datetime | None


class StatusChangeRequests(msgspec.Struct):
    open: int
    awaiting_client_decision: list[AwaitingDecision]


class FirstResponse(msgspec.Struct):
    met: int
    breached: int
    met_ratio: str | None


class StatusSupport(msgspec.Struct):
    window_starts_at: datetime | None
    window_ends_at: datetime | None
    open_requests: int
    first_response: FirstResponse


class PendingQuote(msgspec.Struct):
    """The sent quote revision awaiting the client's acceptance (``POST /v1/quotes/{id}/accept``)."""

    id: UUID
    revision: int
    total: Money
    valid_until: date
    delivery_date: date
    sent_at: datetime


class ProjectStatus(msgspec.Struct):
    """Where the project stands, in one document. ``quote_awaiting_acceptance`` is the sent quote
    revision the client can accept or decline (null when none: none sent yet, or decided, expired,
    withdrawn). The ``launch`` milestone is planned on the contract's current delivery date."""

    project: StatusProject
    client: StatusClient
    contract: StatusContract
    quote_awaiting_acceptance: PendingQuote | None
    milestones: list[Milestone]
    acceptance: StatusAcceptance
    change_requests: StatusChangeRequests
    support: StatusSupport
    updated_at: datetime
