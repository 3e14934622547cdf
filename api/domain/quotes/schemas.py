from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

import msgspec
from litestar.openapi.spec import OpenAPIType, Schema

from api.kit.money import Money

QuotePhase = Literal["discovery", "architecture_review", "delivery", "acceptance", "support"]
QuoteStatus = Literal["draft", "sent", "accepted", "declined", "expired", "superseded", "withdrawn"]

#: Most lines one revision may have (a 10,000-line quote still fits in a 1 MiB body).
MAX_LINES = 10_000

Hours = Annotated[
    Decimal,
    msgspec.Meta(
        extra_json_schema={
            "description": (
                "Estimated hours: a JSON number or a decimal string, 0 to 99999.99, at most 2 decimals "
                "(read exactly, never through a float); returned as a decimal string with 2 decimals."
            ),
            "examples": [12.5, "12.50"],
            "extra": {
                "type": None,
                "one_of": [
                    Schema(type=OpenAPIType.NUMBER, minimum=0, maximum=99999.99),
                    Schema(type=OpenAPIType.STRING, pattern=r"^\d{1,5}(\.\d{1,2})?$"),
                ],
            },
        }
    ),
]
Share = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(0(\.\d{1,4})?|1(\.0{1,4})?)$",
        description="A fraction of the total as a decimal string, more than 0 and at most 1 (0.30 = 30%)",
        examples=["0.30"],
    ),
]
Text = Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
LineDescription = Annotated[str, msgspec.Meta(min_length=1, max_length=500, examples=["Feature store"])]
InstalmentName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["On acceptance"])]
Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$", description="Hex SHA-256")]


class LineIn(msgspec.Struct, forbid_unknown_fields=True):
    """One priced line. Discovery and support lines are included in every engagement: they cost 0."""

    description: LineDescription
    phase: QuotePhase
    hours: Hours
    amount: Money


class InstalmentIn(msgspec.Struct, forbid_unknown_fields=True):
    """One payment of the schedule: its name and its share of the total."""

    name: InstalmentName
    share: Share


Lines = Annotated[list[LineIn], msgspec.Meta(max_length=MAX_LINES)]
Texts = Annotated[list[Text], msgspec.Meta(max_length=200)]
Schedule = Annotated[list[InstalmentIn], msgspec.Meta(max_length=50)]
ValidUntil = Annotated[
    date,
    msgspec.Meta(
        description="Last day (in the shop's time zone) the quote can be accepted; 2000-01-01 to 2100-12-31"
    ),
]
DeliveryDate = Annotated[
    date,
    msgspec.Meta(
        description="The promised delivery date; becomes the contract's baseline delivery date; "
        "2000-01-01 to 2100-12-31"
    ),
]


class QuoteIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new draft revision. Everything may stay incomplete until it is sent."""

    lines: Lines = []
    assumptions: Texts = []
    exclusions: Texts = []
    payment_schedule: Schedule = []
    valid_until: ValidUntil | None = None
    delivery_date: DeliveryDate | None = None


class QuotePatch(msgspec.Struct, forbid_unknown_fields=True):
    """Fields of a draft to change; a list, when given, replaces the whole list."""

    lines: Lines | msgspec.UnsetType = msgspec.UNSET
    assumptions: Texts | msgspec.UnsetType = msgspec.UNSET
    exclusions: Texts | msgspec.UnsetType = msgspec.UNSET
    payment_schedule: Schedule | msgspec.UnsetType = msgspec.UNSET
    valid_until: ValidUntil | msgspec.UnsetType | None = msgspec.UNSET
    delivery_date: DeliveryDate | msgspec.UnsetType | None = msgspec.UNSET


class AcceptIn(msgspec.Struct, forbid_unknown_fields=True):
    """Who accepts, as they sign: kept with the acceptance evidence."""

    accepted_by_name: Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Ada Client"])]


class DeclineIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why the quote is declined (optional)."""

    reason: Annotated[str, msgspec.Meta(max_length=2000)] | None = None


# --- stored form ---------------------------------------------------------------------------------


class StoredLine(msgspec.Struct, frozen=True):
    description: str
    phase: QuotePhase
    hours: str  # decimal string with 2 decimals
    amount_minor: int


class Instalment(msgspec.Struct, frozen=True):
    name: str
    share: str


class Revision(msgspec.Struct, frozen=True, kw_only=True):
    """One quote revision as stored (money in minor units)."""

    id: UUID
    project_id: UUID
    client_id: UUID
    revision: int
    status: QuoteStatus
    currency: str
    lines: list[StoredLine]
    assumptions: list[str]
    exclusions: list[str]
    payment_schedule: list[Instalment]
    total_minor: int
    total_hours: Decimal
    valid_until: date | None
    delivery_date: date | None
    revised_from: UUID | None
    document_sha256: str | None
    sent_at: datetime | None
    accepted_at: datetime | None
    accepted_by_name: str | None
    accepted_ip: str | None
    accepted_user_agent: str | None
    evidence_sha256: str | None
    declined_at: datetime | None
    decline_reason: str | None
    expired_at: datetime | None
    superseded_at: datetime | None
    superseded_by: UUID | None
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    created_at: datetime
    updated_at: datetime
    version: int


# --- wire form -----------------------------------------------------------------------------------


class QuoteLine(msgspec.Struct):
    description: str
    phase: QuotePhase
    hours: Annotated[str, msgspec.Meta(examples=["12.50"])]
    amount: Money


class PaymentInstalment(msgspec.Struct):
    name: str
    share: Share


class RateBand(msgspec.Struct):
    """The shop's band for the blended hourly rate, per hour in the quote's currency (``RATE_BANDS``)."""

    low: Money
    high: Money


class Evidence(msgspec.Struct):
    """What the client accepted, when, from where; ``verified`` recomputes the document's hash now."""

    accepted_by_name: str
    accepted_at: datetime
    ip: str | None
    user_agent: str | None
    document_sha256: Sha256
    verified: bool


class Quote(msgspec.Struct):
    """One quote revision with its totals; money as decimal strings.

    ``status``: ``draft`` → ``sent`` → ``accepted`` | ``declined`` | ``expired``; ``superseded`` when a
    newer revision was sent; ``withdrawn`` when the shop took a sent revision back because its project
    was cancelled (``withdrawn_at``, ``withdrawal_reason``). ``rate_band`` and ``rate_within_band`` are
    null when the shop has no blended-rate band for the currency (``RATE_BANDS``)."""

    id: UUID
    project_id: UUID
    client_id: UUID
    revision: int
    status: QuoteStatus
    currency: str
    lines: list[QuoteLine]
    assumptions: list[str]
    exclusions: list[str]
    payment_schedule: list[PaymentInstalment]
    valid_until: date | None
    delivery_date: date | None
    total: Money
    total_hours: Annotated[str, msgspec.Meta(examples=["320.00"])]
    blended_hourly_rate: Money | None
    rate_within_band: bool | None
    rate_band: RateBand | None
    document_sha256: Sha256 | None
    revised_from: UUID | None
    sent_at: datetime | None
    accepted_at: datetime | None
    evidence: Evidence | None
    declined_at: datetime | None
    decline_reason: str | None
    expired_at: datetime | None
    superseded_at: datetime | None
    superseded_by: UUID | None
    withdrawn_at: datetime | None
    withdrawal_reason: str | None
    created_at: datetime
    updated_at: datetime
    version: int
