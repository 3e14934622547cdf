from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

import msgspec

from api.domain.timers.schemas import TimerState
from api.kit.money import CurrencyCode

InquiryStatus = Literal["received", "replied", "qualified", "closed", "quarantined"]
INQUIRY_STATUSES: tuple[InquiryStatus, ...] = ("received", "replied", "qualified", "closed", "quarantined")
Source = Literal["website", "crm", "email", "referral", "other"]
QuarantineReason = Literal["honeypot", "flood", "undeliverable_email"]

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Ada Lovelace"])]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=320, examples=["ada@engines.co.uk"])]
Company = Annotated[str, msgspec.Meta(max_length=200, examples=["Analytical Engines Ltd"])]
Phone = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=50,
        pattern=r"^[+(]?[0-9][0-9 ().\-/]*$",
        description="Digits with optional +, spaces, dots, dashes, slashes and parentheses",
        examples=["+48 22 123 45 67"],
    ),
]
Message = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=20_000,
        examples=["We need a recommender extracted from our monolith and served behind an API."],
    ),
]
ExternalId = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["hubspot-4711"])]
ShortText = Annotated[str, msgspec.Meta(max_length=200)]
Locale = Annotated[str, msgspec.Meta(min_length=2, max_length=35, examples=["en", "pl", "en-GB"])]
TimeZone = Annotated[
    str,
    msgspec.Meta(min_length=1, max_length=64, description="An IANA time zone", examples=["Europe/Berlin"]),
]
ReplyChannel = Literal["email", "phone", "meeting", "other"]
Reason = Annotated[str, msgspec.Meta(max_length=2000, examples=["Not a software project"])]
ProjectName = Annotated[str, msgspec.Meta(min_length=1, max_length=200, examples=["Recommender extraction"])]


class InquiryIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """An inquiry as a CRM or a website form posts it.

    ``consent`` must be ``true``: the shop answers every inquiry by email and may not contact anyone
    who has not agreed to it, so an inquiry without consent is refused (422, rule ``consent-required``)
    rather than stored unanswerable. ``website`` is a honeypot: a form leaves it empty (or omits it);
    any other value quarantines the inquiry. ``locale`` (default ``en``) chooses the language and
    formats of the acknowledgement; ``time_zone`` (an IANA zone; default: the shop's calendar zone) the
    zone its times are shown in. Both carry over to the client contact a conversion creates.
    """

    name: Name
    email: Email
    message: Message
    source: Source
    consent: bool
    company: Company | None = None
    phone: Phone | None = None
    external_id: ExternalId | None = None
    budget: Annotated[ShortText, msgspec.Meta(examples=["30-40k EUR"])] | None = None
    timeline: Annotated[ShortText, msgspec.Meta(examples=["Live before Q3"])] | None = None
    locale: Locale | None = None
    time_zone: TimeZone | None = None
    website: (
        Annotated[str, msgspec.Meta(description="Honeypot: leave empty. Any value quarantines the inquiry.")]
        | None
    ) = None


class InquiryReceipt(msgspec.Struct):
    """What the sender is told: the inquiry's id, its status and when a reply is promised.

    ``reply_due_at`` is null while the inquiry is quarantined.
    """

    id: UUID
    status: InquiryStatus
    received_at: datetime
    reply_due_at: datetime | None


class InquiryTimer(msgspec.Struct):
    """The inquiry's ``inquiry_reply`` SLA timer (see ``GET /v1/sla-timers/{id}`` for its log)."""

    id: UUID
    state: TimerState
    started_at: datetime
    warn_at: datetime
    due_at: datetime
    warned_at: datetime | None
    breached_at: datetime | None
    met_at: datetime | None
    cancelled_at: datetime | None


class Inquiry(msgspec.Struct, kw_only=True):
    """An inquiry with its reply timer.

    ``reply_due_at`` is the timer's current due time (it moves when the business calendar changes);
    ``overdue`` is true while the promised reply is late and still not sent (the timer is past due
    and has been neither met nor cancelled). ``quarantine_reason`` stays set after a release, as a
    record of why the inquiry was held. ``integration_id`` is the integration of the key that sent it
    (duplicates by ``source`` and ``external_id`` are looked up within it).
    """

    id: UUID
    status: InquiryStatus
    name: str
    email: str
    company: str | None
    phone: str | None
    message: str
    source: Source
    external_id: str | None
    budget: str | None
    timeline: str | None
    consent: bool
    locale: str
    time_zone: Annotated[
        str | None, msgspec.Meta(description="The sender's IANA zone given at intake (null: the shop's)")
    ]
    quarantine_reason: QuarantineReason | None
    received_at: datetime
    reply_due_at: datetime | None
    overdue: bool
    replied_at: datetime | None
    released_at: datetime | None
    closed_at: datetime | None
    close_reason: str | None
    qualified_at: datetime | None
    client_id: UUID | None
    project_id: UUID | None
    created_by_key_id: UUID | None
    integration_id: UUID | None
    timer: InquiryTimer | None
    updated_at: datetime
    version: int


class Reply(msgspec.Struct):
    """A reply recorded by staff; ``first`` marks the one that met the reply timer; ``channel`` says how
    it reached the sender."""

    id: UUID
    message: str
    channel: ReplyChannel
    send_email: bool
    first: bool
    replied_by_key_id: UUID | None
    replied_at: datetime


class Submission(msgspec.Struct):
    """The request as it arrived: the body exactly as posted, the peer address and the user agent.

    ``ip`` is the address of the connection; ``forwarded_for`` is the ``X-Forwarded-For`` header as
    sent (not trusted, kept for reference).
    """

    body: str
    content_type: str | None
    ip: str | None
    forwarded_for: str | None
    user_agent: str | None
    origin: str | None
    received_at: datetime


class InquiryDetail(Inquiry, kw_only=True):
    """An inquiry with its replies (oldest first) and its raw submission."""

    replies: list[Reply]
    submission: Submission | None


class ReplyIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A reply to the inquirer, recorded whatever way it reached them: conversion needs one.

    ``channel`` (default ``email``) says how: ``email``, ``phone``, ``meeting`` or ``other``; for a call
    or a meeting ``message`` is the note of what was said. ``send_email`` (default: true for an email
    reply) has the service mail ``message`` to the inquirer; false records an email sent another way
    (the staff member's own mailbox). Only an email reply can be mailed (422 at ``/send_email``).
    """

    message: Message
    channel: ReplyChannel = "email"
    send_email: bool | None = None


class CloseIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why the inquiry is closed: required and non-blank (422 with rule ``reason-required`` otherwise)."""

    reason: Reason | None = None


class ConvertIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """Turn a replied inquiry into a client and a project.

    ``client_id`` names an existing client to use; without it the client is found by the inquirer's
    email domain or created. ``project_name`` defaults to the company (or the inquirer's name) followed
    by "project". ``currency`` is the project's one currency.
    """

    currency: CurrencyCode
    client_id: UUID | None = None
    project_name: ProjectName | None = None


class Converted(msgspec.Struct):
    """The result of a conversion: the inquiry (now ``qualified``), its client and its project.

    ``client_created`` tells whether the client was created for this inquiry or an existing one reused.
    """

    inquiry_id: UUID
    status: InquiryStatus
    client_id: UUID
    project_id: UUID
    client_created: bool
