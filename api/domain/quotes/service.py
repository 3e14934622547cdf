"""Fixed-price quotes: revisions, sending, acceptance with evidence, declining and expiry.

Rules:
- A project's quote is a sequence of revisions numbered 1, 2, ... in order of creation. ``POST
  /v1/projects/{id}/quotes`` starts a new draft revision from the body; ``revise`` starts one copied
  from an existing revision (everything but ``valid_until``, which a new revision sets afresh). A
  project has at most one draft at a time (409 ``draft-exists``, naming it): edit that draft instead.
- Quotes are written only while the project is in ``proposal`` (409 ``project-not-in-proposal``):
  once a quote is accepted the project moves on to discovery and the contract ledger takes over.
- Lines: description, phase (``discovery``, ``architecture_review``, ``delivery``, ``acceptance``,
  ``support``), hours (see :mod:`api.domain.quotes.document`) and amount. Every amount is in the
  project's currency (422 at ``/lines/N/amount/currency``); discovery and support are included in every
  engagement, so their lines cost 0 (422 at ``/lines/N/amount``). A JSON number as an amount is refused
  (422 at ``/lines/N/amount/amount``). Totals are sums of integer minor units.
- The payment schedule is a list of ``{name, share}`` whose shares (decimal fractions such as
  ``"0.30"``) add up to exactly 1 (422 at ``/payment_schedule``).
- A draft is editable (``PATCH``, ``If-Match`` honoured: 412 when stale); any other revision is
  immutable (409 ``quote-immutable``; the database refuses such changes too).
- Sending locks the revision. It needs at least one line, a total above 0, a payment schedule and a
  ``delivery_date`` (409 ``quote-incomplete`` listing the missing fields as pointers). ``valid_until``
  defaults to 30 days after the sending date in the shop's time zone; it may not lie before that date,
  and ``delivery_date`` must fall after it (so a quote can never be accepted after its own delivery
  date). Sending computes ``document_sha256`` over the canonical document, makes the project's previously
  sent revision ``superseded`` and emits ``quote.sent`` (and ``quote.superseded``). Sending a revision
  that is not a draft: 409 ``quote-not-draft``.
- A client accepts or declines a ``sent`` revision of its own organisation; staff cannot (403).
  Superseded: 409 ``quote-superseded``; past its ``valid_until`` (the end of that day in the shop's
  zone) or expired: 409 ``quote-expired``; already accepted or declined: 409 ``quote-not-open``.
- Acceptance is atomic and exclusive: the project row is locked ``FOR UPDATE`` first (and the database
  holds at most one accepted revision per project), so concurrent accepts yield one acceptance and
  409s. It keeps the evidence (name as signed, instant, the caller's address as the ASGI server reports
  it, user agent, SHA-256 of the canonical document), creates the contract (baseline price = total,
  baseline delivery date = ``delivery_date``) and starts discovery, all in one transaction. Evidence is
  verified on every read by recomputing the document's hash (``evidence.verified``).
- A client key never sees drafts (404), nor another organisation's quotes (404).
- Events: ``quote.created`` and ``quote.updated`` (drafts: not attached to the project, so clients'
  project history never shows drafts), ``quote.sent``, ``quote.superseded``, ``quote.accepted``,
  ``quote.declined``, ``quote.expired``; each in the transaction of its change.
- A project that ends (cancelled; a closed project has none) takes its sent revision back: it becomes
  ``withdrawn`` with the project's reason (``withdraw_for_ended_project``, registered in
  ``api.domain.projects.service.ON_END``) and ``quote.withdrawn`` is emitted; accepting or declining it
  then is a 409 ``quote-not-open``.
- Expiry: a worker marks ``expired`` every sent revision whose ``valid_until`` lies before today in the
  shop's zone and emits ``quote.expired``; the status is the guard, so a rerun expires nothing twice.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec

from api.db import Conn, UnitOfWork
from api.domain.calendar import service as calendars
from api.domain.contracts import service as contracts
from api.domain.events import outbox
from api.domain.projects import service as projects
from api.domain.projects.queries import ProjectRef
from api.domain.quotes import document, queries
from api.domain.quotes.queries import Content
from api.domain.quotes.schemas import (
    AcceptIn,
    DeclineIn,
    Evidence,
    Instalment,
    InstalmentIn,
    LineIn,
    PaymentInstalment,
    Quote,
    QuoteIn,
    QuoteLine,
    QuotePatch,
    RateBand,
    Revision,
    StoredLine,
)
from api.errors import Conflict, FieldError, Invalid, NotFound, invalid
from api.kit import validate
from api.kit.auth import Principal
from api.kit.etag import check_if_match
from api.kit.money import MinorMoney, minor_digits, parse, to_wire

VALIDITY = timedelta(days=30)
FREE_PHASES = frozenset({"discovery", "support"})
_MAX_MINOR = 2**63 - 1
_ONE = Decimal(1)


# --- validation ----------------------------------------------------------------------------------


def _text(value: str, pointer: str) -> str:
    if not value.strip():
        raise invalid(pointer, "must not be blank")
    return value


def _lines(items: list[LineIn], currency: str) -> tuple[list[StoredLine], int, Decimal]:
    stored = []
    total = 0
    for i, line in enumerate(items):
        pointer = f"/lines/{i}"
        amount = parse(line.amount, f"{pointer}/amount")
        if amount.currency != currency:
            raise invalid(
                f"{pointer}/amount/currency",
                f"the project's currency is {currency}; every line must be priced in it",
            )
        if line.phase in FREE_PHASES and amount.minor != 0:
            raise invalid(f"{pointer}/amount", f"{line.phase} is included in every engagement: it costs 0")
        stored.append(
            StoredLine(
                description=_text(line.description, f"{pointer}/description"),
                phase=line.phase,
                hours=document.hours(line.hours, f"{pointer}/hours"),
                amount_minor=amount.minor,
            )
        )
        total += amount.minor
    if total > _MAX_MINOR:
        raise invalid("/lines", "the total is too large")
    return stored, total, document.total_hours(line.hours for line in stored)


def _texts(items: list[str], pointer: str) -> list[str]:
    return [_text(item, f"{pointer}/{i}") for i, item in enumerate(items)]


def _schedule(items: list[InstalmentIn]) -> list[Instalment]:
    shares = [document.share(item.share, f"/payment_schedule/{i}/share") for i, item in enumerate(items)]
    if items:
        total = document.schedule_total(shares)
        if total != _ONE:
            raise invalid(
                "/payment_schedule",
                f"the shares add up to {total}; they must add up to exactly 1 (100%)",
            )
    return [
        Instalment(name=_text(item.name, f"/payment_schedule/{i}/name"), share=item.share)
        for i, item in enumerate(items)
    ]


def _content(data: QuoteIn, currency: str) -> Content:
    lines, total, hours = _lines(data.lines, currency)
    return Content(
        lines=lines,
        assumptions=_texts(data.assumptions, "/assumptions"),
        exclusions=_texts(data.exclusions, "/exclusions"),
        payment_schedule=_schedule(data.payment_schedule),
        total_minor=total,
        total_hours=hours,
        valid_until=_day(data.valid_until, "/valid_until"),
        delivery_date=_day(data.delivery_date, "/delivery_date"),
    )


def _day(value: date | None, pointer: str) -> date | None:
    """A date of a quote: within ``validate.EARLIEST``..``validate.LATEST`` (422 otherwise)."""
    return None if value is None else validate.day(value, pointer)


def _patched(current: Revision, data: QuotePatch) -> Content:
    if isinstance(data.lines, list):
        lines, total, hours = _lines(data.lines, current.currency)
    else:
        lines, total, hours = current.lines, current.total_minor, current.total_hours
    return Content(
        lines=lines,
        assumptions=_texts(data.assumptions, "/assumptions")
        if isinstance(data.assumptions, list)
        else current.assumptions,
        exclusions=_texts(data.exclusions, "/exclusions")
        if isinstance(data.exclusions, list)
        else current.exclusions,
        payment_schedule=_schedule(data.payment_schedule)
        if isinstance(data.payment_schedule, list)
        else current.payment_schedule,
        total_minor=total,
        total_hours=hours,
        valid_until=current.valid_until
        if data.valid_until is msgspec.UNSET
        else _day(data.valid_until, "/valid_until"),
        delivery_date=current.delivery_date
        if data.delivery_date is msgspec.UNSET
        else _day(data.delivery_date, "/delivery_date"),
    )


# --- reading -------------------------------------------------------------------------------------


def rate_band(currency: str, band: tuple[int, int] | None) -> RateBand | None:
    """The band (whole units per hour) as money in ``currency``; None when the shop has no band for it."""
    if band is None:
        return None
    scale = 10 ** minor_digits(currency)
    return RateBand(low=to_wire(band[0] * scale, currency), high=to_wire(band[1] * scale, currency))


def present(revision: Revision, *, band: tuple[int, int] | None) -> Quote:
    """The wire form of a revision, with its blended rate, band flag and verified evidence.

    ``band`` is the shop's blended-rate band for the revision's currency (``RATE_BANDS``); without one
    ``rate_band`` and ``rate_within_band`` are null."""
    currency = revision.currency
    rate = document.blended_rate_minor(revision.total_minor, revision.total_hours)
    evidence = None
    if revision.accepted_at is not None:
        assert revision.accepted_by_name is not None
        assert revision.evidence_sha256 is not None
        evidence = Evidence(
            accepted_by_name=revision.accepted_by_name,
            accepted_at=revision.accepted_at,
            ip=revision.accepted_ip,
            user_agent=revision.accepted_user_agent,
            document_sha256=revision.evidence_sha256,
            verified=document.document_sha256(revision) == revision.evidence_sha256,
        )
    return Quote(
        id=revision.id,
        project_id=revision.project_id,
        client_id=revision.client_id,
        revision=revision.revision,
        status=revision.status,
        currency=currency,
        lines=[
            QuoteLine(
                description=line.description,
                phase=line.phase,
                hours=line.hours,
                amount=to_wire(line.amount_minor, currency),
            )
            for line in revision.lines
        ],
        assumptions=revision.assumptions,
        exclusions=revision.exclusions,
        payment_schedule=[PaymentInstalment(name=i.name, share=i.share) for i in revision.payment_schedule],
        valid_until=revision.valid_until,
        delivery_date=revision.delivery_date,
        total=to_wire(revision.total_minor, currency),
        total_hours=str(revision.total_hours.quantize(Decimal("0.01"))),
        blended_hourly_rate=None if rate is None else to_wire(rate, currency),
        rate_within_band=None if band is None else document.within_band(rate, currency, *band),
        rate_band=rate_band(currency, band),
        document_sha256=revision.document_sha256,
        revised_from=revision.revised_from,
        sent_at=revision.sent_at,
        accepted_at=revision.accepted_at,
        evidence=evidence,
        declined_at=revision.declined_at,
        decline_reason=revision.decline_reason,
        expired_at=revision.expired_at,
        superseded_at=revision.superseded_at,
        superseded_by=revision.superseded_by,
        withdrawn_at=revision.withdrawn_at,
        withdrawal_reason=revision.withdrawal_reason,
        created_at=revision.created_at,
        updated_at=revision.updated_at,
        version=revision.version,
    )


def _not_found() -> NotFound:
    return NotFound("No such quote.")


def _visible(principal: Principal | None, revision: Revision | None) -> Revision:
    """404 for a missing revision, and for a client key: another organisation's or a draft."""
    if revision is None:
        raise _not_found()
    if principal is None or principal.role != "client":
        return revision
    if revision.client_id != principal.client_id or revision.status == "draft":
        raise _not_found()
    return revision


async def get(conn: Conn, principal: Principal, quote_id: UUID) -> Revision:
    return _visible(principal, await queries.get(conn, quote_id))


async def page(
    conn: Conn,
    principal: Principal,
    project_id: UUID,
    *,
    status: str | None,
    before: int | None,
    limit: int,
) -> list[Revision]:
    """A project's revisions, newest first; a client key sees no drafts."""
    await projects.visible_ref(conn, principal, project_id)
    return await queries.page(
        conn,
        project_id,
        include_drafts=principal.is_staff,
        status=status,
        before=before,
        limit=limit,
    )


def canonical(revision: Revision) -> bytes:
    """The canonical document of a sent revision (409 ``quote-not-sent`` for a draft)."""
    if revision.status == "draft":
        raise Conflict(
            "A draft has no document yet: it is fixed when the revision is sent.", rule="quote-not-sent"
        )
    return document.canonical_document(revision)


# --- writing -------------------------------------------------------------------------------------


async def _project_in_proposal(uow: UnitOfWork, principal: Principal | None, project_id: UUID) -> ProjectRef:
    """Lock the project row (the order every quote change takes: project, then quote) and check its phase."""
    ref = await projects.visible_ref(uow.conn, principal, project_id, for_update=True)
    if ref.phase != "proposal":
        raise Conflict(
            f"Quotes are written only while the project is in proposal; it is in {ref.phase}.",
            rule="project-not-in-proposal",
            extra={"phase": ref.phase},
        )
    return ref


async def _no_draft(uow: UnitOfWork, project_id: UUID) -> None:
    draft = await queries.draft_of(uow.conn, project_id)
    if draft is not None:
        raise Conflict(
            "The project already has a draft revision; change it or send it first.",
            rule="draft-exists",
            extra={"draft_id": str(draft)},
        )


async def _insert(
    uow: UnitOfWork,
    actor: Principal,
    project_id: UUID,
    currency: str,
    content: Content,
    revised_from: Revision | None,
    now: datetime,
) -> Revision:
    revision = await queries.next_revision(uow.conn, project_id)
    quote_id = await queries.insert(
        uow.conn,
        project_id=project_id,
        revision=revision,
        currency=currency,
        minor_digits=minor_digits(currency),
        content=content,
        revised_from=revised_from.id if revised_from else None,
        now=now,
    )
    await outbox.emit(
        uow,
        "quote.created",
        subject_type="quote",
        subject_id=quote_id,
        data={
            "project_id": str(project_id),
            "revision": revision,
            "revised_from": str(revised_from.id) if revised_from else None,
        },
        now=now,
        actor=actor,
    )
    created = await queries.get(uow.conn, quote_id)
    assert created is not None
    return created


async def create(
    uow: UnitOfWork, actor: Principal, project_id: UUID, data: QuoteIn, now: datetime
) -> Revision:
    """A new draft revision of the project's quote."""
    ref = await _project_in_proposal(uow, actor, project_id)
    content = _content(data, ref.currency)
    await _no_draft(uow, project_id)
    return await _insert(uow, actor, project_id, ref.currency, content, None, now)


async def revise(
    uow: UnitOfWork, actor: Principal, quote_id: UUID, if_match: str | None, now: datetime
) -> Revision:
    """A new draft revision copied from ``quote_id`` (everything but ``valid_until``)."""
    source = _visible(actor, await queries.get(uow.conn, quote_id))
    await _project_in_proposal(uow, actor, source.project_id)
    check_if_match(if_match, source.version)
    await _no_draft(uow, source.project_id)
    content = Content(
        lines=source.lines,
        assumptions=source.assumptions,
        exclusions=source.exclusions,
        payment_schedule=source.payment_schedule,
        total_minor=source.total_minor,
        total_hours=source.total_hours,
        valid_until=None,
        delivery_date=source.delivery_date,
    )
    return await _insert(uow, actor, source.project_id, source.currency, content, source, now)


def _immutable(revision: Revision) -> Conflict:
    return Conflict(
        f"Revision {revision.revision} is {revision.status}: a revision never changes once sent. "
        "Start a new revision with POST /v1/quotes/{id}/revise.",
        rule="quote-immutable",
        extra={"status": revision.status},
    )


async def update(
    uow: UnitOfWork, actor: Principal, quote_id: UUID, data: QuotePatch, if_match: str | None, now: datetime
) -> Revision:
    """Change a draft; any other revision is immutable."""
    current = _visible(actor, await queries.get(uow.conn, quote_id, for_update=True))
    check_if_match(if_match, current.version)
    if current.status != "draft":
        raise _immutable(current)
    content = _patched(current, data)
    await queries.update_content(uow.conn, quote_id, content, now)
    changed = sorted(
        name for name in QuotePatch.__struct_fields__ if getattr(data, name) is not msgspec.UNSET
    )
    await outbox.emit(
        uow,
        "quote.updated",
        subject_type="quote",
        subject_id=quote_id,
        data={"project_id": str(current.project_id), "revision": current.revision, "changed": changed},
        now=now,
        actor=actor,
    )
    updated = await queries.get(uow.conn, quote_id)
    assert updated is not None
    return updated


async def _shop_today(conn: Conn, now: datetime) -> date:
    """Today's date in the business calendar's time zone."""
    found = await calendars.current(conn)
    return now.astimezone(found.calendar.zone).date()


def _missing(revision: Revision, valid_until: date, today: date) -> list[FieldError]:
    errors = []
    if not revision.lines:
        errors.append(FieldError(pointer="/lines", detail="a quote needs at least one line"))
    elif revision.total_minor <= 0:
        errors.append(FieldError(pointer="/lines", detail="the total must be more than 0"))
    if not revision.payment_schedule:
        errors.append(FieldError(pointer="/payment_schedule", detail="a payment schedule is required"))
    if valid_until < today:
        errors.append(FieldError(pointer="/valid_until", detail=f"{valid_until} lies before today ({today})"))
    if revision.delivery_date is None:
        errors.append(FieldError(pointer="/delivery_date", detail="a delivery date is required"))
    elif not validate.EARLIEST <= revision.delivery_date <= validate.LATEST:
        errors.append(FieldError(pointer="/delivery_date", detail=f"must lie from {validate.DATE_RANGE}"))
    elif revision.delivery_date <= valid_until:
        errors.append(
            FieldError(
                pointer="/delivery_date",
                detail=f"must fall after the last day the quote can be accepted ({valid_until})",
            )
        )
    return errors


async def send(
    uow: UnitOfWork, actor: Principal, quote_id: UUID, if_match: str | None, now: datetime
) -> Revision:
    """draft → sent: lock the revision, fix its document and supersede the previously sent one."""
    found = _visible(actor, await queries.get(uow.conn, quote_id))
    await _project_in_proposal(uow, actor, found.project_id)
    current = _visible(actor, await queries.get(uow.conn, quote_id, for_update=True))
    check_if_match(if_match, current.version)
    if current.status != "draft":
        raise Conflict(
            f"Revision {current.revision} is already {current.status}.",
            rule="quote-not-draft",
            extra={"status": current.status},
        )
    today = await _shop_today(uow.conn, now)
    valid_until = current.valid_until or today + VALIDITY
    errors = _missing(current, valid_until, today)
    if errors:
        raise Conflict(
            "The revision cannot be sent yet: " + "; ".join(f"{e.pointer}: {e.detail}" for e in errors),
            rule="quote-incomplete",
            errors=errors,
        )
    sent = msgspec.structs.replace(current, status="sent", sent_at=now, valid_until=valid_until)
    sha = document.document_sha256(sent)
    superseded = await queries.supersede_sent(uow.conn, current.project_id, by=quote_id, now=now)
    await queries.mark_sent(
        uow.conn, quote_id, sent_at=now, valid_until=valid_until, document_sha256=sha, sent_by=actor.key_id
    )
    names = await queries.names(uow.conn, current.project_id)
    for old_id, old_revision in superseded:
        await _event(
            uow,
            "quote.superseded",
            old_id,
            current,
            {"revision": old_revision, "superseded_by": str(quote_id), "by_revision": current.revision},
            now,
            actor,
        )
    await _event(
        uow,
        "quote.sent",
        quote_id,
        current,
        {
            "project_name": names.project_name,
            "client_name": names.client_name,
            "revision": current.revision,
            "total": _money(current.total_minor, current.currency),
            "valid_until": valid_until.isoformat(),
            "delivery_date": current.delivery_date.isoformat() if current.delivery_date else None,
            "document_sha256": sha,
            "superseded": [str(old_id) for old_id, _ in superseded],
        },
        now,
        actor,
    )
    result = await queries.get(uow.conn, quote_id)
    assert result is not None
    return result


def _money(minor: int, currency: str) -> dict[str, str]:
    wire = to_wire(minor, currency)
    return {"amount": wire.amount, "currency": wire.currency}


async def _event(
    uow: UnitOfWork,
    event_type: str,
    quote_id: UUID,
    revision: Revision,
    data: dict[str, Any],
    now: datetime,
    actor: Principal | None,
) -> None:
    await outbox.emit(
        uow,
        event_type,
        subject_type="quote",
        subject_id=quote_id,
        data=data,
        now=now,
        actor=actor,
        client_id=revision.client_id,
        project_id=revision.project_id,
    )


def _open(revision: Revision, today: date) -> None:
    """Refuse a decision on a revision that is not open for one."""
    if revision.status == "superseded":
        raise Conflict(
            f"Revision {revision.revision} was superseded by a newer revision; decide on that one.",
            rule="quote-superseded",
            extra={"superseded_by": str(revision.superseded_by)},
        )
    expired = revision.status == "expired" or (
        revision.status == "sent" and revision.valid_until is not None and today > revision.valid_until
    )
    if expired:
        raise Conflict(
            f"Revision {revision.revision} was valid until {revision.valid_until}.",
            rule="quote-expired",
            extra={"valid_until": str(revision.valid_until)},
        )
    if revision.status != "sent":
        raise Conflict(
            f"Revision {revision.revision} is already {revision.status}.",
            rule="quote-not-open",
            extra={"status": revision.status},
        )


async def accept(
    uow: UnitOfWork,
    actor: Principal,
    quote_id: UUID,
    data: AcceptIn,
    *,
    ip: str | None,
    user_agent: str | None,
    if_match: str | None,
    now: datetime,
) -> Revision:
    """sent → accepted by the client: evidence, contract baseline and the start of discovery, atomically."""
    name = data.accepted_by_name.strip()
    if not name:
        raise Invalid(
            "The name of the person accepting is required.",
            errors=[FieldError(pointer="/accepted_by_name", detail="must not be blank")],
        )
    found = _visible(actor, await queries.get(uow.conn, quote_id))
    # The project row first: concurrent accepts of any revision of the project queue here.
    ref = await projects.visible_ref(uow.conn, actor, found.project_id, for_update=True)
    current = _visible(actor, await queries.get(uow.conn, quote_id, for_update=True))
    check_if_match(if_match, current.version)
    _open(current, await _shop_today(uow.conn, now))
    if ref.phase != "proposal":
        raise Conflict(
            f"The project is in {ref.phase}; only a project in proposal can accept a quote.",
            rule="project-not-in-proposal",
            extra={"phase": ref.phase},
        )
    sha = document.document_sha256(current)
    if sha != current.document_sha256:
        raise Conflict(
            "The revision no longer matches the document that was sent; it cannot be accepted.",
            rule="document-mismatch",
        )
    assert current.delivery_date is not None
    if not validate.EARLIEST <= current.delivery_date <= validate.LATEST:
        # only a revision sent before dates were checked at input can get here
        raise Conflict(
            f"The revision's delivery date {current.delivery_date} lies outside {validate.DATE_RANGE}; "
            "the shop must revise the quote.",
            rule="delivery-date-out-of-range",
        )
    await queries.mark_accepted(
        uow.conn,
        quote_id,
        at=now,
        name=name,
        key_id=actor.key_id,
        ip=ip,
        user_agent=user_agent[:1000] if user_agent else None,
        evidence_sha256=sha,
    )
    price = MinorMoney(current.total_minor, current.currency)
    await contracts.create_baseline(
        uow,
        project_id=current.project_id,
        client_id=current.client_id,
        quote_id=quote_id,
        price=price,
        delivery_date=current.delivery_date,
        accepted_at=now,
        actor=actor,
        now=now,
    )
    names = await queries.names(uow.conn, current.project_id)
    await _event(
        uow,
        "quote.accepted",
        quote_id,
        current,
        {
            "project_name": names.project_name,
            "client_name": names.client_name,
            "revision": current.revision,
            "total": _money(current.total_minor, current.currency),
            "accepted_by_name": name,
            "document_sha256": sha,
            "delivery_date": current.delivery_date.isoformat(),
        },
        now,
        actor,
    )
    await projects.start_discovery(uow, project_id=current.project_id, at=now, actor=actor, now=now)
    result = await queries.get(uow.conn, quote_id)
    assert result is not None
    return result


async def decline(
    uow: UnitOfWork,
    actor: Principal,
    quote_id: UUID,
    data: DeclineIn,
    *,
    if_match: str | None,
    now: datetime,
) -> Revision:
    """sent → declined by the client, with an optional reason."""
    current = _visible(actor, await queries.get(uow.conn, quote_id, for_update=True))
    check_if_match(if_match, current.version)
    _open(current, await _shop_today(uow.conn, now))
    reason = (data.reason or "").strip() or None
    await queries.mark_declined(uow.conn, quote_id, at=now, key_id=actor.key_id, reason=reason)
    names = await queries.names(uow.conn, current.project_id)
    await _event(
        uow,
        "quote.declined",
        quote_id,
        current,
        {
            "project_name": names.project_name,
            "client_name": names.client_name,
            "revision": current.revision,
            "reason": reason,
        },
        now,
        actor,
    )
    result = await queries.get(uow.conn, quote_id)
    assert result is not None
    return result


async def withdraw_for_ended_project(uow: UnitOfWork, ended: projects.Ended) -> dict[str, Any]:
    """``ON_END`` hook: the project's sent revision, if any, becomes ``withdrawn`` with the reason."""
    quote_id = await queries.sent_of(uow.conn, ended.project.id)
    if quote_id is None:
        return {}
    revision = await queries.get(uow.conn, quote_id)
    assert revision is not None
    await queries.mark_withdrawn(uow.conn, quote_id, at=ended.at, reason=ended.reason)
    names = await queries.names(uow.conn, revision.project_id)
    await _event(
        uow,
        "quote.withdrawn",
        quote_id,
        revision,
        {
            "project_name": names.project_name,
            "client_name": names.client_name,
            "revision": revision.revision,
            "reason": ended.reason,
            "total": _money(revision.total_minor, revision.currency),
        },
        ended.at,
        ended.actor,
    )
    return {"quotes_withdrawn": [str(quote_id)]}


if withdraw_for_ended_project not in projects.ON_END:
    projects.ON_END.append(withdraw_for_ended_project)


async def expire_due(uow: UnitOfWork, *, now: datetime, limit: int = 100) -> list[UUID]:
    """Expire sent revisions whose last valid day (in the shop's zone) is before today; returns their ids.

    Rows another worker holds are skipped; the status is the guard, so a rerun expires nothing twice.
    """
    today = await _shop_today(uow.conn, now)
    expired = []
    for quote_id in await queries.claim_expired(uow.conn, before=today, limit=limit):
        revision = await queries.get(uow.conn, quote_id)
        assert revision is not None
        await queries.mark_expired(uow.conn, quote_id, at=now)
        names = await queries.names(uow.conn, revision.project_id)
        await _event(
            uow,
            "quote.expired",
            quote_id,
            revision,
            {
                "project_name": names.project_name,
                "client_name": names.client_name,
                "revision": revision.revision,
                "valid_until": str(revision.valid_until),
                "total": _money(revision.total_minor, revision.currency),
            },
            now,
            None,
        )
        expired.append(quote_id)
    return expired
