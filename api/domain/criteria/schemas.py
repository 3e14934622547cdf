from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from api.domain.criteria.judging import DECIMAL_PATTERN, UNIT_PATTERN, Comparator, Verdict

Kind = Literal["performance", "quality", "fallback", "monitoring", "support", "functional"]
State = Literal["pending", "met", "not_met", "waived", "removed"]
VerifyWith = Literal["measured_value", "passed"]
Change = Literal["created", "updated", "removed"]

#: Kinds that are always measurable (metric, comparator, threshold, unit).
MEASURABLE_KINDS: tuple[Kind, ...] = ("performance", "quality", "monitoring", "support")

DecimalText = Annotated[
    str,
    msgspec.Meta(
        pattern=DECIMAL_PATTERN,
        description="A decimal number written as a string (a JSON number is refused); no exponent",
        examples=["150", "0.40"],
    ),
]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Recommendation latency"])]
Metric = Annotated[str, msgspec.Meta(min_length=1, max_length=100, examples=["latency", "Recall@10"])]
UnitText = Annotated[
    str,
    msgspec.Meta(
        pattern=UNIT_PATTERN,
        description="ms, s, min, hours, days, ratio, percent, count (or an alias such as h or %), "
        "or another unit without spaces that then matches only itself",
        examples=["ms", "ratio", "hours"],
    ),
]
Statement = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=5000,
        examples=[
            "When fewer than 3 recommendations have confidence 0.5, return the top-3 popular items "
            "of the category"
        ],
    ),
]
Url = Annotated[
    str,
    msgspec.Meta(
        min_length=8,
        max_length=2048,
        pattern=r"^[hH][tT][tT][pP][sS]?://",
        description="An absolute http(s) URL",
        examples=["https://grafana.example.com/d/latency?from=1700000000000"],
    ),
]
Notes = Annotated[str, msgspec.Meta(max_length=5000)]
Reason = Annotated[str, msgspec.Meta(max_length=2000, examples=["Agreed in the kick-off meeting"])]


class Qualifiers(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """How a measurable criterion is measured; every part is optional and shows in its sentence."""

    percentile: (
        Annotated[int, msgspec.Meta(ge=1, le=100, description="e.g. 99 for p99")]
        | Annotated[str, msgspec.Meta(pattern=DECIMAL_PATTERN, description='e.g. "99.9" for p99.9')]
        | None
    ) = None
    share_of_requests: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=DECIMAL_PATTERN, description="A share above 0 and at most 1", examples=["0.95"]
            ),
        ]
        | None
    ) = None
    window: (
        Annotated[
            str,
            msgspec.Meta(
                pattern=r"^[1-9][0-9]{0,3}[smhdw]$",
                description="A number and s, m, h, d or w",
                examples=["5m", "30d"],
            ),
        ]
        | None
    ) = None
    consecutive_minutes: Annotated[int, msgspec.Meta(ge=1, le=10_080)] | None = None
    dataset: Annotated[str, msgspec.Meta(min_length=1, max_length=100, examples=["holdout"])] | None = None


class CriterionIn(msgspec.Struct, forbid_unknown_fields=True):
    """A criterion's definition: measurable (metric, comparator, threshold, unit, qualifiers) or a
    statement a person checks; never both."""

    kind: Kind
    title: Title
    metric: Metric | None = None
    comparator: Comparator | None = None
    threshold: DecimalText | None = None
    unit: UnitText | None = None
    qualifiers: Qualifiers | None = None
    statement: Statement | None = None


class CriterionPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Fields to change (null clears an optional one); ``reason`` is kept in the version history."""

    kind: Kind | msgspec.UnsetType = msgspec.UNSET
    title: Title | msgspec.UnsetType = msgspec.UNSET
    metric: Metric | msgspec.UnsetType | None = msgspec.UNSET
    comparator: Comparator | msgspec.UnsetType | None = msgspec.UNSET
    threshold: DecimalText | msgspec.UnsetType | None = msgspec.UNSET
    unit: UnitText | msgspec.UnsetType | None = msgspec.UNSET
    qualifiers: Qualifiers | msgspec.UnsetType | None = msgspec.UNSET
    statement: Statement | msgspec.UnsetType | None = msgspec.UNSET
    reason: Reason | None = None


class CriterionChange(msgspec.Struct, forbid_unknown_fields=True):
    """One change to a project's criteria, proposed in a change request's assessment.

    ``add`` carries ``criterion`` (no id); ``modify`` carries ``criterion_id`` and the whole new
    ``criterion``; ``remove`` carries ``criterion_id`` only.
    """

    op: Literal["add", "modify", "remove"]
    criterion_id: UUID | None = None
    criterion: CriterionIn | None = None


class VerificationIn(msgspec.Struct, forbid_unknown_fields=True):
    """A measurement (``measured_value``, optionally with its ``unit``) or a person's pass/fail."""

    measured_value: DecimalText | None = None
    passed: bool | None = None
    unit: UnitText | None = None
    evidence_url: Url | None = None
    notes: Notes | None = None


class WaiveIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why the client accepts the project without this criterion (required, non-blank)."""

    reason: Reason | None = None


class Definition(msgspec.Struct, frozen=True):
    """A validated definition, with the threshold and unit in canonical form."""

    kind: Kind
    title: str
    metric: str | None
    comparator: Comparator | None
    threshold: str | None
    unit: str | None
    qualifiers: Qualifiers | None
    statement: str | None

    @property
    def measurable(self) -> bool:
        return self.metric is not None


class Waiver(msgspec.Struct):
    reason: str
    waived_at: datetime
    waived_by: UUID | None


class LastVerification(msgspec.Struct):
    id: UUID
    verdict: Verdict
    measured_value: str | None
    unit: str | None
    passed: bool | None
    verified_at: datetime


class Criterion(msgspec.Struct):
    """An acceptance criterion as it stands; ``version`` (the ETag) counts its definition's revisions."""

    id: UUID
    project_id: UUID
    kind: Kind
    title: str
    metric: str | None
    comparator: Comparator | None
    threshold: str | None
    unit: str | None
    qualifiers: Qualifiers | None
    statement: str | None
    verify_with: Annotated[
        VerifyWith, msgspec.Meta(description="The field a verification of this criterion carries")
    ]
    sentence: Annotated[str, msgspec.Meta(examples=["p99 latency < 150 ms for 95% of requests"])]
    state: State
    waiver: Waiver | None
    last_verification: LastVerification | None
    removed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


class CriterionSnapshot(msgspec.Struct):
    """The whole criterion as one version left it."""

    kind: Kind
    title: str
    metric: str | None
    comparator: Comparator | None
    threshold: str | None
    unit: str | None
    qualifiers: Qualifiers | None
    statement: str | None
    sentence: str
    state: State


class CriterionVersion(msgspec.Struct):
    """One revision: what changed it (created, updated, removed), who, when, why, and the change
    request it was applied through (null when staff edited it before the sign-off)."""

    version: int
    change: Change
    criterion: CriterionSnapshot
    reason: str | None
    change_request_id: UUID | None
    actor_key_id: UUID | None
    actor_role: str | None
    at: datetime


class Verification(msgspec.Struct):
    """One appended verification with the verdict the service judged and the criterion's state after it."""

    id: UUID
    criterion_id: UUID
    criterion_version: int
    sentence: Annotated[str, msgspec.Meta(description="The criterion as it read when it was judged")]
    measured_value: str | None
    passed: bool | None
    unit: str | None
    evidence_url: str | None
    notes: str | None
    verdict: Verdict
    criterion_state: Literal["met", "not_met", "waived"]
    verified_by: UUID | None
    verified_by_name: str | None
    verified_at: datetime
