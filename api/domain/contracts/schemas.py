from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import msgspec

from api.kit.money import MinorMoney, Money


class ContractRow(msgspec.Struct, frozen=True, kw_only=True):
    """A contract as stored: the baseline and the running figures, money in minor units."""

    id: UUID
    project_id: UUID
    client_id: UUID
    quote_id: UUID
    quote_revision: int
    currency: str
    baseline_price_minor: int
    baseline_delivery_date: date
    accepted_at: datetime
    approved_changes_minor: int
    timeline_impact_days: int
    current_delivery_date: date
    amendment_count: int
    updated_at: datetime
    version: int


AmendmentKind = Literal["change_request", "hold"]


class AmendmentRow(msgspec.Struct, frozen=True, kw_only=True):
    id: UUID
    number: int
    kind: AmendmentKind
    change_request_id: UUID | None
    reason: str | None
    price_impact_minor: int
    timeline_impact_days: int
    criteria_changes: list[dict[str, Any]]
    approved_at: datetime
    price_after_minor: int
    delivery_date_after: date
    recorded_at: datetime


class Amendment(msgspec.Struct, frozen=True, kw_only=True):
    """One amendment as ``append_amendment`` returns it, with the contract's figures right after it."""

    id: UUID
    contract_id: UUID
    project_id: UUID
    number: int
    change_request_id: UUID | None
    price_impact: MinorMoney
    timeline_impact_days: int
    approved_at: datetime
    current_price: MinorMoney
    current_delivery_date: date


class ContractAmendment(msgspec.Struct):
    """One amendment: its price and timeline impact and the contract's figures right after it.

    ``kind`` is ``change_request`` (an approved change request, ``change_request_id``) or ``hold`` (the
    project was on hold before its handover: the delivery date moved by the business days held, no
    price impact; ``reason`` says when and why)."""

    number: int
    kind: AmendmentKind
    change_request_id: UUID | None
    reason: str | None
    price_impact: Money
    timeline_impact_days: int
    approved_at: datetime
    criteria_changes: list[dict[str, Any]]
    current_price: Money
    current_delivery_date: date


class Contract(msgspec.Struct):
    """The accepted quote plus the amendments approved by ``as_of``; every figure is null (and the ledger
    empty) while no quote has been accepted (by ``as_of``)."""

    project_id: UUID
    as_of: datetime
    id: UUID | None
    quote_id: UUID | None
    quote_revision: int | None
    accepted_at: datetime | None
    baseline_price: Money | None
    approved_changes: Money | None
    current_price: Money | None
    baseline_delivery_date: date | None
    current_delivery_date: date | None
    timeline_impact_days: int | None
    scope_change_ratio: Annotated[str, msgspec.Meta(examples=["0.1406"])] | None
    amendments: list[ContractAmendment]
    version: int | None
