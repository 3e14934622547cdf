"""The contract ledger: the accepted quote plus approved amendments.

Rules:
- A project's contract is created when a client accepts a quote (``create_baseline``, called by the
  quotes capability in the accepting transaction): baseline price = the quote's total, baseline delivery
  date = the quote's ``delivery_date``, ``accepted_at`` = the acceptance instant.
- Amendments are appended by the change-request capability when the client approves a change
  (``append_amendment``), in the approving transaction. The contract row is locked ``FOR UPDATE`` so
  concurrent approvals are numbered 1, 2, ... without gaps; a change request amends a contract at most
  once (409 ``amendment-exists``); amendments are never edited or removed.
- Current price = baseline + Σ approved price impacts (may fall, never below 0: 409
  ``contract-price-negative``). The price impact must be in the contract's currency (422 at
  ``/price_impact/currency``).
- A project resumed after a hold that held its delivery back appends a ``hold`` amendment
  (``move_for_hold``, registered in ``api.domain.projects.service.ON_RESUME``): no change request, no
  price impact, the business days held as its timeline impact and the hold's reason; the delivery date
  moves like any other date change. Amendments carry their ``kind`` (``change_request`` or ``hold``).
- Current delivery date = the baseline date moved by Σ approved business days on the business calendar in
  force when the amendment is appended (``BusinessCalendar.add_business_days``; a sum of 0 leaves the
  baseline date as it is). The date is recorded with the amendment: a date the client approved does not
  move when the staff later edit the calendar.
- ``scope_change_ratio`` = Σ approved price impacts ÷ baseline price, as a decimal string with 4 decimals,
  ties rounded away from zero (as PostgreSQL's ``round`` does in the status document).
- Without ``as_of`` the contract is the baseline plus the whole ledger (as in the status document).
- **As of** an instant T: no contract yet when the quote was accepted after T; otherwise the baseline plus the amendments approved at or before T. The delivery date is the one
  recorded with the last of them; should amendments have been approved out of their numbering order
  (two approvals racing), the date is recomputed from the baseline with the Σ of the selected business
  days on the calendar in force now.
- A project without an accepted quote has no contract yet: ``GET .../contract`` answers 200 with every
  figure null and an empty ledger, as the status document shows it (so does ``as_of`` before the
  acceptance). ``append_amendment`` on such a project is a 409 ``no-accepted-quote``.
- A client key reads only its own organisation's contracts (404 otherwise).
- Every change emits its event in the same transaction: ``contract.created``, ``contract.amended``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, localcontext
from typing import Any, Literal
from uuid import UUID

from api.db import Conn, UnitOfWork
from api.domain.calendar import service as calendars
from api.domain.contracts import queries
from api.domain.contracts import status as _status  # noqa: F401  (fills the status document's slots)
from api.domain.contracts.schemas import Amendment, AmendmentRow, Contract, ContractAmendment, ContractRow
from api.domain.events import outbox
from api.domain.projects import service as projects
from api.errors import Conflict, invalid
from api.kit.auth import Principal
from api.kit.calendar import BusinessCalendar
from api.kit.money import MinorMoney, minor_digits, to_wire

RULE_NO_CONTRACT = "no-accepted-quote"
_RATIO = Decimal("0.0001")


def scope_change_ratio(approved_minor: int, baseline_minor: int) -> str:
    """Σ approved ÷ baseline, 4 decimals, ties away from zero."""
    with localcontext() as ctx:
        ctx.prec = 60
        return str(
            (Decimal(approved_minor) / Decimal(baseline_minor)).quantize(_RATIO, rounding=ROUND_HALF_UP)
        )


def moved_date(calendar: BusinessCalendar, baseline: date, business_days: int) -> date:
    """The baseline delivery date moved by ``business_days`` working days (unchanged for 0)."""
    if business_days == 0:
        return baseline
    return calendar.add_business_days(baseline, business_days)


async def create_baseline(
    uow: UnitOfWork,
    *,
    project_id: UUID,
    client_id: UUID,
    quote_id: UUID,
    price: MinorMoney,
    delivery_date: date,
    accepted_at: datetime,
    actor: Principal | None,
    now: datetime,
) -> UUID:
    """Create the project's contract from the accepted quote; returns the contract id."""
    contract_id = await queries.insert(
        uow.conn,
        project_id=project_id,
        quote_id=quote_id,
        currency=price.currency,
        minor_digits=minor_digits(price.currency),
        baseline_price_minor=price.minor,
        baseline_delivery_date=delivery_date,
        accepted_at=accepted_at,
        now=now,
    )
    await outbox.emit(
        uow,
        "contract.created",
        subject_type="contract",
        subject_id=contract_id,
        data={
            "quote_id": str(quote_id),
            "baseline_price": wire_money(price),
            "baseline_delivery_date": delivery_date.isoformat(),
            "accepted_at": accepted_at.isoformat(),
        },
        now=now,
        actor=actor,
        client_id=client_id,
        project_id=project_id,
    )
    return contract_id


def wire_money(money: MinorMoney) -> dict[str, str]:
    wire = to_wire(money.minor, money.currency)
    return {"amount": wire.amount, "currency": wire.currency}


async def append_amendment(
    uow: UnitOfWork,
    *,
    project_id: UUID,
    change_request_id: UUID | None,
    price_impact: MinorMoney,
    timeline_impact_days: int,
    approved_at: datetime,
    actor: Principal | None,
    criteria_changes: list[dict[str, Any]] | None = None,
    now: datetime | None = None,
    kind: Literal["change_request", "hold"] = "change_request",
    reason: str | None = None,
) -> Amendment:
    """Append an approved change to the project's contract ledger and move its price and date.

    Called by the change-request capability inside the approving transaction. Locks the contract row;
    numbers amendments 1, 2, ...; emits ``contract.amended``. Raises 409 ``no-accepted-quote`` without a
    contract, 409 ``amendment-exists`` when the change request already amended it, 409
    ``contract-price-negative`` when the price would fall below 0, and 422 at
    ``/price_impact/currency`` for another currency. ``now`` (the recording instant) defaults to
    ``approved_at``.
    """
    recorded_at = now or approved_at
    contract = await queries.get(uow.conn, project_id, for_update=True)
    if contract is None:
        raise Conflict("The project has no contract: no quote has been accepted.", rule=RULE_NO_CONTRACT)
    if price_impact.currency != contract.currency:
        raise invalid(
            "/price_impact/currency",
            f"the contract is in {contract.currency}; a price impact in {price_impact.currency} cannot apply",
        )
    if change_request_id is not None:
        number = await queries.amended_by(uow.conn, change_request_id)
        if number is not None:
            raise Conflict(
                f"Change request {change_request_id} already amended the contract (amendment {number}).",
                rule="amendment-exists",
                extra={"number": number},
            )
    changes = contract.approved_changes_minor + price_impact.minor
    price_after = contract.baseline_price_minor + changes
    if price_after < 0:
        raise Conflict(
            "The contract price cannot fall below 0.",
            rule="contract-price-negative",
            extra={
                "current_price": wire_money(
                    MinorMoney(
                        contract.baseline_price_minor + contract.approved_changes_minor, contract.currency
                    )
                )
            },
        )
    days = contract.timeline_impact_days + timeline_impact_days
    calendar = (await calendars.current(uow.conn)).calendar
    date_after = moved_date(calendar, contract.baseline_delivery_date, days)
    number = contract.amendment_count + 1
    amendment_id = await queries.append(
        uow.conn,
        contract=contract,
        number=number,
        change_request_id=change_request_id,
        price_impact_minor=price_impact.minor,
        timeline_impact_days=timeline_impact_days,
        criteria_changes=criteria_changes or [],
        approved_at=approved_at,
        price_after_minor=price_after,
        delivery_date_after=date_after,
        actor_key_id=actor.key_id if actor else None,
        actor_role=actor.role if actor else None,
        now=recorded_at,
        kind=kind,
        reason=reason,
    )
    current_price = MinorMoney(price_after, contract.currency)
    await outbox.emit(
        uow,
        "contract.amended",
        subject_type="contract",
        subject_id=contract.id,
        data={
            "number": number,
            "kind": kind,
            "reason": reason,
            "change_request_id": str(change_request_id) if change_request_id else None,
            "price_impact": wire_money(price_impact),
            "timeline_impact_days": timeline_impact_days,
            "approved_at": approved_at.isoformat(),
            "current_price": wire_money(current_price),
            "current_delivery_date": date_after.isoformat(),
            "scope_change_ratio": scope_change_ratio(changes, contract.baseline_price_minor),
        },
        now=recorded_at,
        actor=actor,
        client_id=contract.client_id,
        project_id=project_id,
    )
    return Amendment(
        id=amendment_id,
        contract_id=contract.id,
        project_id=project_id,
        number=number,
        change_request_id=change_request_id,
        price_impact=price_impact,
        timeline_impact_days=timeline_impact_days,
        approved_at=approved_at,
        current_price=current_price,
        current_delivery_date=date_after,
    )


async def move_for_hold(uow: UnitOfWork, held: projects.Resumed) -> projects.DateMove | None:
    """``ON_RESUME`` hook: the ``hold`` amendment moving the delivery date by the business days held;
    None when the project has no contract."""
    contract = await queries.get(uow.conn, held.project.id)
    if contract is None:
        return None
    amendment = await append_amendment(
        uow,
        project_id=held.project.id,
        change_request_id=None,
        price_impact=MinorMoney(0, contract.currency),
        timeline_impact_days=held.business_days,
        approved_at=held.at,
        actor=held.actor,
        kind="hold",
        reason=f"on hold from {held.held_at.isoformat()} to {held.at.isoformat()} "
        f"({held.business_days} business days): {held.reason}",
    )
    return projects.DateMove(amendment_number=amendment.number, delivery_date=amendment.current_delivery_date)


if move_for_hold not in projects.ON_RESUME:
    projects.ON_RESUME.append(move_for_hold)


def empty(project_id: UUID, as_of: datetime) -> Contract:
    """The contract of a project without an accepted quote: every figure null."""
    return Contract(
        project_id=project_id,
        as_of=as_of.astimezone(UTC),
        id=None,
        quote_id=None,
        quote_revision=None,
        accepted_at=None,
        baseline_price=None,
        approved_changes=None,
        current_price=None,
        baseline_delivery_date=None,
        current_delivery_date=None,
        timeline_impact_days=None,
        scope_change_ratio=None,
        amendments=[],
        version=None,
    )


async def get(
    conn: Conn, principal: Principal, project_id: UUID, *, as_of: datetime | None, now: datetime
) -> Contract:
    """The contract with its whole ledger, or as it stood at ``as_of`` (see the module rules)."""
    await projects.visible_ref(conn, principal, project_id)
    found = await queries.with_amendments(conn, project_id)
    if found is None:
        return empty(project_id, as_of or now)
    contract, ledger = found
    if as_of is None:
        return view(contract, ledger, as_of=now, calendar=None)
    if contract.accepted_at > as_of:
        return empty(project_id, as_of)
    selected = [a for a in ledger if a.approved_at <= as_of]
    calendar = None
    if [a.number for a in selected] != list(range(1, len(selected) + 1)):
        calendar = (await calendars.current(conn)).calendar
    return view(contract, selected, as_of=as_of, calendar=calendar)


def view(
    contract: ContractRow,
    amendments: list[AmendmentRow],
    *,
    as_of: datetime,
    calendar: BusinessCalendar | None,
) -> Contract:
    """The contract made of its baseline and ``amendments`` (those approved by ``as_of``).

    ``calendar`` is needed only when ``amendments`` are not the ledger's first ones in order.
    """
    currency = contract.currency
    changes = sum(a.price_impact_minor for a in amendments)
    days = sum(a.timeline_impact_days for a in amendments)
    if not amendments:
        delivery = contract.baseline_delivery_date
    elif [a.number for a in amendments] == list(range(1, len(amendments) + 1)):
        delivery = amendments[-1].delivery_date_after
    else:
        assert calendar is not None, "a calendar is needed for amendments out of order"
        delivery = moved_date(calendar, contract.baseline_delivery_date, days)
    items = [
        ContractAmendment(
            number=a.number,
            kind=a.kind,
            change_request_id=a.change_request_id,
            reason=a.reason,
            price_impact=to_wire(a.price_impact_minor, currency),
            timeline_impact_days=a.timeline_impact_days,
            approved_at=a.approved_at,
            criteria_changes=a.criteria_changes,
            current_price=to_wire(a.price_after_minor, currency),
            current_delivery_date=a.delivery_date_after,
        )
        for a in amendments
    ]
    return Contract(
        project_id=contract.project_id,
        id=contract.id,
        quote_id=contract.quote_id,
        quote_revision=contract.quote_revision,
        accepted_at=contract.accepted_at,
        as_of=as_of.astimezone(UTC),
        baseline_price=to_wire(contract.baseline_price_minor, currency),
        approved_changes=to_wire(changes, currency),
        current_price=to_wire(contract.baseline_price_minor + changes, currency),
        baseline_delivery_date=contract.baseline_delivery_date,
        current_delivery_date=delivery,
        timeline_impact_days=days,
        scope_change_ratio=scope_change_ratio(changes, contract.baseline_price_minor),
        amendments=items,
        version=contract.version,
    )
