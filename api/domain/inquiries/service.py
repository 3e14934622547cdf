"""Inquiries: intake with the one-business-day reply promise, spam quarantine, replies and conversion.

States::

    received ─► replied ─► qualified (converted to a client and a project)
        │          └─────► closed
        └────────────────► closed
    quarantined ─► received (release) ;  quarantined ─► closed

Rules:
- Intake (``receive``): the body is validated first (422 with a pointer): lengths, known ``source``,
  the email's syntax, a known locale (default ``en``), non-blank name and message, and ``consent``,
  which must be ``true`` for every source (rule ``consent-required``): the shop answers by email and
  may not contact anyone who has not agreed to it. A refused body stores nothing.
- Duplicates are the sending integration's (the keys of one CRM or form; see ``api.domain.api_keys``):
  the same ``Idempotency-Key`` replays the first response (the kit does this before the handler runs);
  the same (``source``, ``external_id``) from the same integration answers 200 with the first inquiry
  and writes nothing: not the raw submission, not a flood count. The insert is ``ON CONFLICT DO
  NOTHING``, so concurrent posts of one pair create one inquiry. Another integration posting the same
  pair creates its own inquiry and never learns the first one's id.
- Spam puts a new inquiry in ``quarantined`` with a ``quarantine_reason``, checked in this order:
  ``honeypot`` (the ``website`` field holds anything but blanks), ``undeliverable_email`` (a dotless,
  reserved or documentation domain, see ``screening``), ``flood`` (more than ``INQUIRY_FLOOD_PER_HOUR``
  new inquiries from one address, case-insensitive, in a clock hour, counted in Redis; every new
  inquiry counts, quarantined ones included; if Redis is down nothing counts as a flood). A
  quarantined inquiry is stored with its raw submission and emits ``inquiry.quarantined``; it starts no
  timer and mails nobody. Its 201 says ``status: quarantined`` with a null ``reply_due_at``.
- Receipt, in one transaction: the inquiry, its raw submission, its ``inquiry_reply`` timer started at
  ``received_at`` (one business day on the shop's calendar) and ``inquiry.received`` carrying what the
  notifications read (``name``, ``email``, ``company``, ``locale``, ``reply_due_at``, ``message``, ...).
  After the commit the worker mails the acknowledgement to the sender (the promised time in their
  locale, in the shop's zone, zone named) and the new-inquiry notice to staff. The timer's warning
  (``inquiry.reply_warning``) and breach (``inquiry.reply_overdue``) mail staff.
- Release (staff, from ``quarantined`` only): → ``received``; the timer starts at the original
  ``received_at``, so its due time is the one the inquiry would have had. If that time has already
  passed, the next timer sweep fires the warning and the breach at once. ``inquiry.received`` is
  emitted then (with ``released_at``), so the sender's acknowledgement and the staff notice go out on
  release; when the due time has already passed, the event leaves ``reply_due_at`` out (the
  acknowledgement then promises a reply within one business day instead of naming a past time) and
  says ``overdue: true``.
- Reply (staff, from ``received``, ``replied`` or ``qualified``): every reply is recorded with its
  ``channel`` (``email`` by default, ``phone``, ``meeting``, ``other``: a call is a reply too, and its
  note is the message); the first moves received → replied and meets the timer (a reply after the due
  time keeps the breach). ``inquiry.replied`` carries the message, channel and ``send_email`` (default:
  true for an email reply; only an email reply can be mailed, 422 at ``/send_email``); the sender is
  mailed only when it is true.
- Close (staff, from ``received``, ``replied`` or ``quarantined``; a non-blank ``reason``): → ``closed``;
  a running timer is cancelled (an overdue one stays breached).
- Intake takes an optional ``time_zone`` (an IANA zone, 422 at ``/time_zone`` when unknown) besides
  ``locale``: the acknowledgement shows times in it (the shop's calendar zone without it).
- Convert (staff, from ``replied`` only: the shop has answered before it qualifies, by whatever
  channel the reply was recorded): the client is
  ``client_id`` when given (422 if unknown), else the client whose ``email_domain`` is the sender's
  domain, else a new client named after ``company`` (or the sender's name) with the sender as its
  contact (in the inquiry's locale and time zone, the shop's calendar zone when intake gave none) and
  the domain as ``email_domain``; free-mail and undeliverable domains are never matched
  nor stored. An existing client is reused as it is (its contacts are not changed). A project is
  created in ``proposal`` (``project_name``, default "<company or name> project"; the inquiry's message
  as its description) and linked both ways; the inquiry becomes ``qualified`` and ``inquiry.qualified``
  is emitted.
- Every action locks the inquiry row, honours ``If-Match`` (412 when stale) and bumps ``version``;
  a refused transition is 409 with rule ``status-transition``.
- Reading: staff read every inquiry; an intake key reads only the inquiries of its integration (404
  otherwise).
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from typing import Any, NamedTuple
from uuid import UUID

from api.db import Conn, UnitOfWork
from api.domain.calendar import service as calendars
from api.domain.clients import queries as clients
from api.domain.clients import service as client_service
from api.domain.clients.schemas import ClientCreate, ContactIn
from api.domain.events import outbox
from api.domain.inquiries import queries, screening
from api.domain.inquiries.queries import NewSubmission, Ref
from api.domain.inquiries.schemas import (
    CloseIn,
    Converted,
    ConvertIn,
    Inquiry,
    InquiryDetail,
    InquiryIn,
    InquiryReceipt,
    InquiryStatus,
    QuarantineReason,
    ReplyIn,
    Source,
)
from api.domain.projects import service as projects
from api.domain.projects.schemas import ProjectCreate
from api.domain.timers import service as timers
from api.domain.timers.schemas import Timer, TimerKind
from api.errors import Conflict, FieldError, Invalid, NotFound, invalid
from api.kit import validate
from api.kit.auth import Principal
from api.kit.etag import check_if_match
from api.kit.ratelimit import RateLimiter, enforce

KIND: TimerKind = "inquiry_reply"
SUBJECT_TYPE = "inquiry"
FLOOD_WINDOW_SECONDS = 3600
DEFAULT_LOCALE = "en"
MAX_HEADER = 1000


class RawSubmission(NamedTuple):
    """The request as it arrived, kept with the inquiry."""

    body: bytes
    content_type: str | None
    ip: str | None
    forwarded_for: str | None
    user_agent: str | None
    origin: str | None


class Received(NamedTuple):
    receipt: InquiryReceipt
    created: bool


def _header(value: str | None) -> str | None:
    return None if value is None else value[:MAX_HEADER]


def _storable(value: str, pointer: str) -> str:
    """PostgreSQL text cannot hold NUL characters: refuse them as invalid input."""
    if "\x00" in value:
        raise invalid(pointer, "must not contain NUL (U+0000) characters")
    return value


def _text(value: str | None, pointer: str) -> str | None:
    """Optional free text: trimmed, blank means absent."""
    if value is None:
        return None
    stripped = _storable(value, pointer).strip()
    return stripped or None


def _required(value: str, pointer: str) -> str:
    stripped = _storable(value, pointer).strip()
    if not stripped:
        raise invalid(pointer, "must not be blank")
    return stripped


def _not_found() -> NotFound:
    return NotFound("No such inquiry.")


def _refuse(action: str, status: InquiryStatus, allowed: tuple[InquiryStatus, ...]) -> Conflict:
    return Conflict(
        f"Cannot {action} an inquiry that is {status}; it must be {' or '.join(allowed)}.",
        rule="status-transition",
        extra={"status": status, "allowed_from": list(allowed)},
    )


def receipt_of(inquiry: Inquiry) -> InquiryReceipt:
    return InquiryReceipt(
        id=inquiry.id,
        status=inquiry.status,
        received_at=inquiry.received_at,
        reply_due_at=inquiry.reply_due_at,
    )


# --- intake --------------------------------------------------------------------------------------


def _address_bucket(address: str | None) -> str:
    """The bucket of a client address: an IPv4 address, or the /64 network of an IPv6 address (one
    host usually holds a whole /64); ``unknown`` when there is none."""
    if not address:
        return "unknown"
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


async def limit_intake(
    limiter: RateLimiter, actor: Principal, client_address: str | None, *, per_key: int, per_address: int
) -> None:
    """Refuse (429 with ``Retry-After``) an intake key's post over ``INTAKE_PER_KEY_PER_HOUR`` for the
    key or ``INTAKE_PER_ADDRESS_PER_HOUR`` for the client address (counted over every intake key: a
    form's key is public). Staff posts are not limited here. The counters live in Redis; with Redis
    down nothing is refused (see ``api.kit.ratelimit``). Per sender address, the flood rule
    quarantines (see the module's rules)."""
    if actor.role != "intake":
        return
    await enforce(limiter, f"intake-key:{actor.key_id}", per_key, FLOOD_WINDOW_SECONDS, lease=True)
    await enforce(
        limiter, f"intake-address:{_address_bucket(client_address)}", per_address, FLOOD_WINDOW_SECONDS
    )


async def receive(
    uow: UnitOfWork,
    actor: Principal,
    data: InquiryIn,
    raw: RawSubmission,
    *,
    limiter: RateLimiter,
    flood_per_hour: int,
    now: datetime,
) -> Received:
    """Take in one inquiry (see the module's rules); ``created`` is False for a duplicate.

    A new inquiry costs two statements: the inquiry with its raw submission, then either its reply
    timer with the timer's log entry and ``inquiry.received`` (see ``timers.start_and_emit``) or
    ``inquiry.quarantined``. The flood count sits between them because only a new inquiry counts.
    """
    now = now.astimezone(UTC)
    name = _required(data.name, "/name")
    message = _required(data.message, "/message")
    checked = screening.check_email(data.email, "/email")
    locale = validate.locale(data.locale, "/locale") if data.locale else DEFAULT_LOCALE
    time_zone = validate.time_zone(data.time_zone, "/time_zone") if data.time_zone else None
    if not data.consent:
        raise Invalid(
            "Consent is required: the shop replies by email and may not contact you without it.",
            rule="consent-required",
            errors=[FieldError(pointer="/consent", detail="must be true")],
        )
    external_id = _text(data.external_id, "/external_id")
    company = _text(data.company, "/company")
    phone = _text(data.phone, "/phone")
    budget = _text(data.budget, "/budget")
    timeline = _text(data.timeline, "/timeline")
    reason: QuarantineReason | None = None
    if data.website is not None and data.website.strip():
        reason = "honeypot"
    elif checked.undeliverable:
        reason = "undeliverable_email"
    inquiry_id = await queries.insert(
        uow.conn,
        status="quarantined" if reason else "received",
        name=name,
        email=checked.address,
        company=company,
        phone=phone,
        message=message,
        source=data.source,
        external_id=external_id,
        budget=budget,
        timeline=timeline,
        consent=data.consent,
        locale=locale,
        quarantine_reason=reason,
        created_by_key_id=actor.key_id,
        integration_id=actor.integration_id,
        time_zone=time_zone,
        submission=NewSubmission(
            body=raw.body,
            content_type=_header(raw.content_type),
            ip=_header(raw.ip),
            forwarded_for=_header(raw.forwarded_for),
            user_agent=_header(raw.user_agent),
            origin=_header(raw.origin),
        ),
        now=now,
    )
    if inquiry_id is None:
        assert external_id is not None, "only (source, external_id) can conflict"
        first = await queries.by_external_id(
            uow.conn, actor.integration_id, data.source, external_id, now=now
        )
        assert first is not None, "the conflicting inquiry is committed and visible"
        return Received(receipt_of(first), created=False)
    allowed, _ = await limiter.hit(
        f"inquiry-flood:{checked.address.lower()}", flood_per_hour, FLOOD_WINDOW_SECONDS
    )
    if not allowed and reason is None:
        reason = "flood"
        await queries.quarantine(uow.conn, inquiry_id, reason, now)
    if reason is not None:
        await outbox.emit(
            uow,
            "inquiry.quarantined",
            subject_type=SUBJECT_TYPE,
            subject_id=inquiry_id,
            data={
                "inquiry_id": inquiry_id,
                "status": "quarantined",
                "quarantine_reason": reason,
                "name": name,
                "email": checked.address,
                "source": data.source,
                "external_id": external_id,
                "received_at": now,
            },
            now=now,
            actor=actor,
        )
        receipt = InquiryReceipt(id=inquiry_id, status="quarantined", received_at=now, reply_due_at=None)
        return Received(receipt, created=True)
    facts = _Facts(
        id=inquiry_id,
        name=name,
        email=checked.address,
        company=company,
        phone=phone,
        source=data.source,
        external_id=external_id,
        budget=budget,
        timeline=timeline,
        message=message,
        locale=locale,
        time_zone=time_zone,
        consent=data.consent,
        received_at=now,
        quarantine_reason=None,
    )
    timer = await _start_flow(uow, actor, facts, now=now, released_at=None)
    receipt = InquiryReceipt(id=inquiry_id, status="received", received_at=now, reply_due_at=timer.due_at)
    return Received(receipt, created=True)


class _Facts(NamedTuple):
    """What the reply timer and ``inquiry.received`` say about the inquiry."""

    id: UUID
    name: str
    email: str
    company: str | None
    phone: str | None
    source: Source
    external_id: str | None
    budget: str | None
    timeline: str | None
    message: str
    locale: str
    time_zone: str | None
    consent: bool
    received_at: datetime
    quarantine_reason: QuarantineReason | None


async def _start_flow(
    uow: UnitOfWork, actor: Principal, inquiry: _Facts, *, now: datetime, released_at: datetime | None
) -> Timer:
    """Start the reply timer at the receipt time and emit ``inquiry.received`` (see the module's rules)."""

    def received(timer: Timer) -> timers.Announcement:
        data: dict[str, Any] = {
            "inquiry_id": inquiry.id,
            "status": "received",
            "name": inquiry.name,
            "email": inquiry.email,
            "company": inquiry.company,
            "phone": inquiry.phone,
            "source": inquiry.source,
            "external_id": inquiry.external_id,
            "budget": inquiry.budget,
            "timeline": inquiry.timeline,
            "message": inquiry.message,
            "locale": inquiry.locale,
            "time_zone": inquiry.time_zone,
            "consent": inquiry.consent,
            "received_at": inquiry.received_at,
            "timer_id": timer.id,
        }
        if timer.due_at > now:
            data["reply_due_at"] = timer.due_at
        else:
            data["overdue"] = True
        if released_at is not None:
            data["released_at"] = released_at
            data["quarantine_reason"] = inquiry.quarantine_reason
        return timers.Announcement("inquiry.received", SUBJECT_TYPE, inquiry.id, data, actor=actor)

    return await timers.start_and_emit(
        uow,
        kind=KIND,
        subject_type=SUBJECT_TYPE,
        subject_id=inquiry.id,
        started_at=inquiry.received_at,
        now=now,
        event=received,
        data={
            "inquiry_id": str(inquiry.id),
            "name": inquiry.name,
            "email": inquiry.email,
            "company": inquiry.company,
        },
    )


# --- reading -------------------------------------------------------------------------------------


async def get_visible(conn: Conn, principal: Principal, inquiry_id: UUID, *, now: datetime) -> InquiryDetail:
    """The inquiry with its replies and raw submission; an intake key sees only those of its integration
    (404 otherwise), so a rotated key still reads what its predecessor sent."""
    inquiry = await queries.get(conn, inquiry_id, now=now)
    if inquiry is None:
        raise _not_found()
    if not principal.is_staff and inquiry.integration_id != principal.integration_id:
        raise _not_found()
    replies = await queries.replies(conn, inquiry_id)
    submission = await queries.submission(conn, inquiry_id)
    return InquiryDetail(
        **{f: getattr(inquiry, f) for f in inquiry.__struct_fields__},
        replies=replies,
        submission=submission,
    )


# --- actions -------------------------------------------------------------------------------------


async def _lock(
    uow: UnitOfWork, inquiry_id: UUID, if_match: str | None, action: str, allowed: tuple[InquiryStatus, ...]
) -> Ref:
    ref = await queries.lock(uow.conn, inquiry_id)
    if ref is None:
        raise _not_found()
    check_if_match(if_match, ref.version)
    if ref.status not in allowed:
        raise _refuse(action, ref.status, allowed)
    return ref


async def _audit(
    uow: UnitOfWork, actor: Principal, action: str, inquiry_id: UUID, details: dict[str, Any], now: datetime
) -> None:
    await outbox.audit(
        uow, action, actor=actor, subject_type=SUBJECT_TYPE, subject_id=inquiry_id, details=details, now=now
    )


async def release(
    uow: UnitOfWork, actor: Principal, inquiry_id: UUID, if_match: str | None, now: datetime
) -> InquiryDetail:
    """quarantined → received; the reply timer starts at the original receipt time."""
    ref = await _lock(uow, inquiry_id, if_match, "release", ("quarantined",))
    await queries.mark_released(uow.conn, inquiry_id, now)
    inquiry = await queries.get(uow.conn, inquiry_id, now=now)
    assert inquiry is not None
    facts = _Facts(**{field: getattr(inquiry, field) for field in _Facts._fields})
    await _start_flow(uow, actor, facts, now=now, released_at=now)
    await _audit(
        uow, actor, "inquiry.released", inquiry_id, {"quarantine_reason": ref.quarantine_reason}, now
    )
    return await get_visible(uow.conn, actor, inquiry_id, now=now)


async def reply(
    uow: UnitOfWork, actor: Principal, inquiry_id: UUID, data: ReplyIn, if_match: str | None, now: datetime
) -> InquiryDetail:
    """Record a reply; the first one moves received → replied and meets the reply timer."""
    send_email = data.channel == "email" if data.send_email is None else data.send_email
    if send_email and data.channel != "email":
        raise invalid(
            "/send_email", f"a {data.channel} reply cannot be mailed; record it with send_email false"
        )
    ref = await _lock(uow, inquiry_id, if_match, "reply to", ("received", "replied", "qualified"))
    message = _required(data.message, "/message")
    first = ref.status == "received"
    reply_id = await queries.insert_reply(
        uow.conn,
        inquiry_id,
        message=message,
        send_email=send_email,
        first=first,
        replied_by_key_id=actor.key_id,
        now=now,
        channel=data.channel,
    )
    if first:
        await queries.mark_replied(uow.conn, inquiry_id, now)
        await timers.meet(uow, kind=KIND, subject_id=inquiry_id, at=now)
    else:
        await queries.touch(uow.conn, inquiry_id, now)
    await outbox.emit(
        uow,
        "inquiry.replied",
        subject_type=SUBJECT_TYPE,
        subject_id=inquiry_id,
        data={
            "inquiry_id": inquiry_id,
            "reply_id": reply_id,
            "first": first,
            "status": "replied" if first else ref.status,
            "name": ref.name,
            "email": ref.email,
            "company": ref.company,
            "locale": ref.locale,
            "time_zone": ref.time_zone,
            "message": message,
            "channel": data.channel,
            "send_email": send_email,
            "replied_at": now,
        },
        now=now,
        actor=actor,
    )
    return await get_visible(uow.conn, actor, inquiry_id, now=now)


async def close(
    uow: UnitOfWork, actor: Principal, inquiry_id: UUID, data: CloseIn, if_match: str | None, now: datetime
) -> InquiryDetail:
    """→ closed with a reason; a running reply timer is cancelled."""
    reason_text = _storable(data.reason or "", "/reason").strip()
    if not reason_text:
        raise Invalid(
            "A reason is required.",
            rule="reason-required",
            errors=[FieldError(pointer="/reason", detail="a non-blank reason is required")],
        )
    ref = await _lock(uow, inquiry_id, if_match, "close", ("received", "replied", "quarantined"))
    await queries.mark_closed(uow.conn, inquiry_id, reason_text, now)
    timer = await timers.cancel(uow, kind=KIND, subject_id=inquiry_id, at=now, reason=reason_text)
    await outbox.emit(
        uow,
        "inquiry.closed",
        subject_type=SUBJECT_TYPE,
        subject_id=inquiry_id,
        data={
            "inquiry_id": inquiry_id,
            "status": "closed",
            "previous_status": ref.status,
            "reason": reason_text,
            "name": ref.name,
            "email": ref.email,
            "company": ref.company,
            "timer_cancelled": timer is not None,
            "closed_at": now,
        },
        now=now,
        actor=actor,
    )
    return await get_visible(uow.conn, actor, inquiry_id, now=now)


def _project_name(ref: Ref, given: str | None) -> str:
    name = _text(given, "/project_name")
    if name is not None:
        return name
    return f"{(ref.company or ref.name).strip()} project"[:200]


async def _client_for(
    uow: UnitOfWork, actor: Principal, ref: Ref, data: ConvertIn, now: datetime
) -> tuple[UUID, bool]:
    """(client id, created) as the module's rules say."""
    if data.client_id is not None:
        if not await clients.exists(uow.conn, data.client_id):
            raise invalid("/client_id", "no client has this id")
        return data.client_id, False
    domain = screening.organisation_domain(ref.email)
    if domain is not None:
        found = await clients.by_domain(uow.conn, domain)
        if found is not None:
            return found.id, False
    zone = ref.time_zone or (await calendars.current(uow.conn)).calendar.spec.time_zone
    create = ClientCreate(
        name=(ref.company or ref.name).strip()[:200],
        contacts=[ContactIn(name=ref.name, email=ref.email, locale=ref.locale, time_zone=zone)],
        email_domain=domain,
    )
    try:
        created = await client_service.create(uow, actor, create, now)
    except Conflict as exc:
        if exc.rule != "unique-email-domain" or domain is None:
            raise
        found = await clients.by_domain(uow.conn, domain)  # created by a concurrent conversion
        if found is None:
            raise
        return found.id, False
    return created.id, True


async def convert(
    uow: UnitOfWork, actor: Principal, inquiry_id: UUID, data: ConvertIn, if_match: str | None, now: datetime
) -> Converted:
    """replied → qualified: find or create the client, create the project, link them."""
    ref = await _lock(uow, inquiry_id, if_match, "convert", ("replied",))
    project_name = _project_name(ref, data.project_name)
    client_id, client_created = await _client_for(uow, actor, ref, data, now)
    project = await projects.create(
        uow,
        actor,
        ProjectCreate(
            client_id=client_id,
            name=project_name,
            currency=data.currency,
            description=ref.message[:10_000],
            inquiry_id=inquiry_id,
        ),
        now,
    )
    await queries.mark_qualified(uow.conn, inquiry_id, client_id, project.id, now)
    await outbox.emit(
        uow,
        "inquiry.qualified",
        subject_type=SUBJECT_TYPE,
        subject_id=inquiry_id,
        data={
            "inquiry_id": inquiry_id,
            "status": "qualified",
            "client_id": client_id,
            "client_created": client_created,
            "project_id": project.id,
            "project_name": project.name,
            "name": ref.name,
            "email": ref.email,
            "company": ref.company,
            "qualified_at": now,
        },
        now=now,
        actor=actor,
        client_id=client_id,
        project_id=project.id,
    )
    return Converted(
        inquiry_id=inquiry_id,
        status="qualified",
        client_id=client_id,
        project_id=project.id,
        client_created=client_created,
    )
