"""Email templates, one function per (event type, audience), rendered in the recipient's locale.

A template is a function ``(Context) -> Message`` registered under a name with ``@template(name)``;
``rules.py`` maps event types to (audience, template name). Texts addressed to inquirers and client
contacts are written in English and Polish (``ctx.t(en, pl)``; other languages read English, with
dates and money still in their own locale); texts to staff are English. Every field is read from the
event's ``data`` defensively: a missing or malformed field gives a generic sentence, never an error.

Event ``data`` fields each template reads (all optional; ``subject_id`` is the event's subject):

| event type | audience | fields |
|---|---|---|
| ``inquiry.received`` | inquirer | ``name``, ``email``, ``locale``, ``time_zone``, ``reply_due_at`` |
| ``inquiry.received`` | staff | ``name``, ``email``, ``company``, ``source``, ``budget``, ``timeline``, ``message``, ``reply_due_at`` |
| ``inquiry.reply_warning``, ``inquiry.reply_overdue`` | staff | ``name``, ``email``, ``company``, ``due_at`` |
| ``inquiry.replied`` | inquirer | ``name``, ``email``, ``locale``, ``time_zone``, ``send_email``, ``message``, ``subject`` |
| ``quote.sent`` | client contacts | ``project_name``, ``revision``, ``total``, ``valid_until`` |
| ``quote.accepted`` | staff | ``project_name``, ``client_name``, ``revision``, ``total``, ``accepted_by_name`` |
| ``quote.declined`` | staff | ``project_name``, ``client_name``, ``revision``, ``reason`` |
| ``quote.expired`` | staff | ``project_name``, ``client_name``, ``revision``, ``valid_until`` |
| ``change_request.assessed`` | client contacts | ``project_name``, ``title``, ``assessment_revision``, ``price_impact``, ``timeline_impact_days``, ``risk``, ``decision_due_at`` |
| ``change_request.approved``, ``.rejected`` | staff | ``project_name``, ``title``, ``assessment_revision``, ``price_impact``, ``timeline_impact_days``, ``reason`` |
| ``change_request.decision_reminder`` | client contacts | ``project_name``, ``title``, ``assessment_revision``, ``decision_due_at`` |
| ``change_request.assessment_warning``, ``.assessment_overdue``, ``.decision_overdue`` | staff | ``project_name``, ``title``, ``due_at`` |
| ``support_request.opened`` | staff | ``project_name``, ``client_name``, ``kind``, ``subject``, ``body``, ``first_response_due_at`` |
| ``support_request.responded`` | client contacts | ``project_name``, ``subject``, ``message``, ``responder_role`` |
| ``support_request.response_warning``, ``.response_breached`` | staff | ``project_name``, ``subject``, ``due_at`` |
| ``project.architecture_review_warning``, ``_overdue`` | staff | ``project_name``, ``client_name``, ``due_at`` |
| ``project.closed`` | client contacts | ``project_name``, ``reason``, ``closed_at`` |
| ``project.architecture_submitted`` | client contacts | ``project_name``, ``document_url``, ``revision``, ``resubmitted`` |
| ``project.architecture_approved`` | staff | ``project_name``, ``client_name``, ``scope_frozen_at`` |
| ``project.launched`` | client contacts | ``project_name``, ``launched_at``, ``support_ends_at`` |
| ``change_request.submitted`` | staff | ``project_name``, ``title``, ``number``, ``description``, ``assessment_due_at`` |
| ``support_request.responded`` | staff | ``project_name``, ``subject``, ``message`` (a client's answer) |
| ``webhook_endpoint.disabled`` | staff | ``url``, ``consecutive_failures``, ``last_error`` |
| ``webhook_delivery.failed`` | staff | ``url``, ``endpoint_id``, ``event_id``, ``event_type``, ``attempts``, ``last_error`` |

Instants are RFC 3339 strings; money is the wire form ``{"amount": "...", "currency": "..."}``.

Mails to client contacts and inquirers carry no API paths (``/v1/...``): those are for programs. They
say what happens next in words; until the client portal exists they link nowhere.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from babel import Locale

from api.domain.notifications import formatting, inert

SHOP = "Scopekeeper"


class Event(msgspec.Struct, frozen=True):
    """A domain event as templates and rules see it."""

    id: UUID
    type: str
    subject_type: str
    subject_id: UUID
    client_id: UUID | None
    project_id: UUID | None
    actor_role: str | None
    data: dict[str, Any]
    occurred_at: datetime


class Recipient(msgspec.Struct, frozen=True):
    """One addressee: the address, how to greet them, and their locale and zone (``None``: the shop's)."""

    email: str
    name: str | None = None
    locale: str = formatting.DEFAULT_LOCALE
    time_zone: str | None = None


class Message(msgspec.Struct, frozen=True):
    subject: str
    text: str


class Context:
    """What a template may use: the event, the recipient, and locale-aware readers of ``data``."""

    def __init__(self, event: Event, recipient: Recipient, *, shop_zone: str, base_url: str) -> None:
        self.event = event
        self.recipient = recipient
        self.locale: Locale = formatting.parse_locale(recipient.locale)
        self.tz = formatting.zone(recipient.time_zone, shop_zone)
        self.base_url = base_url.rstrip("/")
        self.data: dict[str, Any] = event.data if isinstance(event.data, dict) else {}

    @property
    def language(self) -> str:
        return str(self.locale.language)

    def t(self, en: str, pl: str | None = None) -> str:
        """The text in the recipient's language where one is written, else English."""
        if self.language == "pl" and pl is not None:
            return pl
        return en

    def text(self, key: str, default: str = "") -> str:
        """A string or number field, trimmed; ``default`` when missing or of another type."""
        value = self.data.get(key)
        if isinstance(value, bool) or value is None:
            return default
        if isinstance(value, int | float | str):
            shown = str(value).strip()
            return shown or default
        return default

    def when(self, key: str) -> str | None:
        return formatting.instant(self.data.get(key), self.locale, self.tz)

    def day(self, key: str) -> str | None:
        return formatting.day(self.data.get(key), self.locale)

    def money(self, key: str) -> str | None:
        return formatting.money(self.data.get(key), self.locale)

    def number(self, key: str) -> str | None:
        return formatting.number(self.data.get(key), self.locale)

    def business_days(self, key: str) -> str | None:
        """``5 dni roboczych``: a count of business days in the recipient's plural form."""
        return formatting.business_days(self.data.get(key), self.locale)

    def choice(self, key: str, names: dict[str, tuple[str, str]]) -> str:
        """An enum value of ``data`` in the recipient's language: ``names`` maps each value to its
        (English, Polish) words; an unknown value is shown as it is."""
        value = self.text(key)
        if value in names:
            return self.t(*names[value])
        return value

    def occurred(self) -> str:
        return formatting.instant(self.event.occurred_at, self.locale, self.tz) or ""

    def greeting(self) -> str:
        """ "Hello <name>," with the recipient's name only when it is inert (``inert.name``)."""
        name = inert.name(self.recipient.name)
        if name:
            return self.t(f"Hello {name},", f"Dzień dobry, {name},")
        return self.t("Hello,", "Dzień dobry,")

    def link(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def project(self) -> str:
        return self.text("project_name") or self.t("your project", "Państwa projekt")


Template = Callable[[Context], Message]
TEMPLATES: dict[str, Template] = {}


def template(name: str) -> Callable[[Template], Template]:
    """Register a template under ``name`` (``<event type>/<audience>`` by convention)."""

    def register(function: Template) -> Template:
        if name in TEMPLATES:
            raise ValueError(f"template {name!r} is registered twice")
        TEMPLATES[name] = function
        return function

    return register


def _join(*parts: str) -> str:
    return "\n\n".join(p for p in parts if p)


def _signature(ctx: Context) -> str:
    return ctx.t(f"-- \n{SHOP}", f"-- \n{SHOP}")


def _staff(ctx: Context, subject: str, *lines: str) -> Message:
    body = "\n".join(line for line in lines if line)
    footer = f"Event {ctx.event.type} {ctx.event.id} at {ctx.occurred()}."
    return Message(subject=subject, text=_join(body, footer, _signature(ctx)))


def _due(ctx: Context, key: str, label: str = "Due") -> str:
    shown = ctx.when(key)
    return f"{label}: {shown}" if shown else ""


# inquiries ---------------------------------------------------------------------------------------


@template("inquiry.received/inquirer")
def inquiry_acknowledgement(ctx: Context) -> Message:
    due = ctx.when("reply_due_at")
    promise = (
        ctx.t(
            f"We will reply by {due}.",
            f"Odpowiemy w ciągu jednego dnia roboczego (termin: {due}).",
        )
        if due
        else ctx.t(
            "We will reply within one business day.",
            "Odpowiemy w ciągu jednego dnia roboczego.",
        )
    )
    return Message(
        subject=ctx.t("We have received your inquiry", "Otrzymaliśmy Państwa zapytanie"),
        text=_join(
            ctx.greeting(),
            ctx.t(
                "thank you for writing to us. Your message has reached our team.",
                "dziękujemy za wiadomość. Trafiła ona do naszego zespołu.",
            ),
            promise,
            _signature(ctx),
        ),
    )


@template("inquiry.received/staff")
def inquiry_new(ctx: Context) -> Message:
    who = ctx.text("name", "Someone")
    company = ctx.text("company")
    return _staff(
        ctx,
        f"New inquiry: {who}" + (f" ({company})" if company else ""),
        f"From: {who} <{ctx.text('email', 'no address')}>" + (f", {company}" if company else ""),
        f"Source: {ctx.text('source')}" if ctx.text("source") else "",
        f"Budget: {ctx.text('budget')}" if ctx.text("budget") else "",
        f"Timeline: {ctx.text('timeline')}" if ctx.text("timeline") else "",
        _due(ctx, "reply_due_at", "Reply due"),
        "",
        ctx.text("message", "(no message)"),
        "",
        ctx.link(f"/v1/inquiries/{ctx.event.subject_id}"),
    )


@template("inquiry.reply_warning/staff")
def inquiry_reply_warning(ctx: Context) -> Message:
    who = ctx.text("name", "an inquirer")
    return _staff(
        ctx,
        f"Reply soon: inquiry from {who}",
        f"The inquiry from {who} has not been answered yet.",
        _due(ctx, "due_at", "Reply due"),
        ctx.link(f"/v1/inquiries/{ctx.event.subject_id}"),
    )


@template("inquiry.reply_overdue/staff")
def inquiry_reply_overdue(ctx: Context) -> Message:
    who = ctx.text("name", "an inquirer")
    return _staff(
        ctx,
        f"Overdue: inquiry from {who}",
        f"The promised reply to {who} is overdue.",
        _due(ctx, "due_at", "It was due"),
        ctx.link(f"/v1/inquiries/{ctx.event.subject_id}"),
    )


@template("inquiry.replied/inquirer")
def inquiry_reply(ctx: Context) -> Message:
    subject = ctx.text("subject") or ctx.t("Re: your inquiry", "Odp.: Państwa zapytanie")
    return Message(
        subject=subject,
        text=_join(ctx.greeting(), ctx.text("message"), _signature(ctx)),
    )


# quotes ------------------------------------------------------------------------------------------


@template("quote.sent/client_contacts")
def quote_sent(ctx: Context) -> Message:
    revision = ctx.text("revision")
    total = ctx.money("total")
    valid = ctx.day("valid_until")
    return Message(
        subject=ctx.t(f"Quote for {ctx.project()}", f"Oferta: {ctx.project()}"),
        text=_join(
            ctx.greeting(),
            ctx.t(
                f"our fixed-price quote{f' (revision {revision})' if revision else ''} for {ctx.project()} is ready.",
                f"przygotowaliśmy ofertę stałocenową{f' (wersja {revision})' if revision else ''}: {ctx.project()}.",
            ),
            ctx.t(f"Total: {total}", f"Razem: {total}") if total else "",
            ctx.t(f"Valid until {valid}.", f"Oferta jest ważna do {valid}.") if valid else "",
            ctx.t(
                "You can accept or decline it in the client portal.",
                "Można ją przyjąć lub odrzucić w portalu klienta.",
            ),
            ctx.link(f"/v1/quotes/{ctx.event.subject_id}"),
            _signature(ctx),
        ),
    )


def _quote_line(ctx: Context) -> str:
    revision = ctx.text("revision")
    client = ctx.text("client_name")
    return (
        f"Quote{f' revision {revision}' if revision else ''} for {ctx.text('project_name', 'a project')}"
        + (f" ({client})" if client else "")
    )


@template("quote.accepted/staff")
def quote_accepted(ctx: Context) -> Message:
    total = ctx.money("total")
    by = ctx.text("accepted_by_name")
    return _staff(
        ctx,
        f"Accepted: {_quote_line(ctx)}",
        f"{_quote_line(ctx)} was accepted" + (f" by {by}" if by else "") + ".",
        f"Contract price: {total}" if total else "",
        ctx.link(f"/v1/quotes/{ctx.event.subject_id}"),
    )


@template("quote.declined/staff")
def quote_declined(ctx: Context) -> Message:
    reason = ctx.text("reason")
    return _staff(
        ctx,
        f"Declined: {_quote_line(ctx)}",
        f"{_quote_line(ctx)} was declined.",
        f"Reason: {reason}" if reason else "No reason was given.",
        ctx.link(f"/v1/quotes/{ctx.event.subject_id}"),
    )


@template("quote.expired/staff")
def quote_expired(ctx: Context) -> Message:
    valid = ctx.day("valid_until")
    return _staff(
        ctx,
        f"Expired: {_quote_line(ctx)}",
        f"{_quote_line(ctx)} expired without a decision" + (f" (valid until {valid})" if valid else "") + ".",
        ctx.link(f"/v1/quotes/{ctx.event.subject_id}"),
    )


# change requests ---------------------------------------------------------------------------------


def _cr_title(ctx: Context) -> str:
    return ctx.text("title") or ctx.t("a change request", "wniosek o zmianę")


RISKS = {"low": ("low", "niskie"), "medium": ("medium", "średnie"), "high": ("high", "wysokie")}


def _days(ctx: Context) -> str:
    days = ctx.business_days("timeline_impact_days")
    if days is None:
        return ""
    return ctx.t(f"Timeline impact: {days}", f"Wpływ na termin: {days}")


@template("change_request.assessed/client_contacts")
def change_request_assessed(ctx: Context) -> Message:
    price = ctx.money("price_impact")
    due = ctx.when("decision_due_at")
    risk = ctx.choice("risk", RISKS)
    revision = ctx.text("assessment_revision")
    return Message(
        subject=ctx.t(f"Change request assessed: {_cr_title(ctx)}", f"Wycena zmiany: {_cr_title(ctx)}"),
        text=_join(
            ctx.greeting(),
            ctx.t(
                f'we have assessed "{_cr_title(ctx)}" for {ctx.project()}'
                + (f" (assessment {revision})" if revision else "")
                + ".",
                f'przygotowaliśmy wycenę zmiany „{_cr_title(ctx)}" ({ctx.project()})'
                + (f", wersja {revision}" if revision else "")
                + ".",
            ),
            "\n".join(
                line
                for line in (
                    ctx.t(f"Price impact: {price}", f"Wpływ na cenę: {price}") if price else "",
                    _days(ctx),
                    ctx.t(f"Risk: {risk}", f"Ryzyko: {risk}") if risk else "",
                )
                if line
            ),
            ctx.t(
                f"Please approve or reject it by {due}." if due else "Please approve or reject it.",
                f"Prosimy o decyzję (termin: {due})." if due else "Prosimy o decyzję.",
            ),
            ctx.link(f"/v1/change-requests/{ctx.event.subject_id}"),
            _signature(ctx),
        ),
    )


@template("change_request.approved/staff")
def change_request_approved(ctx: Context) -> Message:
    price = ctx.money("price_impact")
    return _staff(
        ctx,
        f"Approved: {_cr_title(ctx)} ({ctx.text('project_name', 'a project')})",
        f'The client approved "{_cr_title(ctx)}"'
        + (f", assessment {ctx.text('assessment_revision')}" if ctx.text("assessment_revision") else "")
        + ".",
        f"Price impact: {price}" if price else "",
        _days(ctx),
        ctx.link(f"/v1/change-requests/{ctx.event.subject_id}"),
    )


@template("change_request.rejected/staff")
def change_request_rejected(ctx: Context) -> Message:
    reason = ctx.text("reason")
    return _staff(
        ctx,
        f"Rejected: {_cr_title(ctx)} ({ctx.text('project_name', 'a project')})",
        f'The client rejected "{_cr_title(ctx)}".',
        f"Reason: {reason}" if reason else "No reason was given.",
        ctx.link(f"/v1/change-requests/{ctx.event.subject_id}"),
    )


@template("change_request.submitted/staff")
def change_request_submitted(ctx: Context) -> Message:
    number = ctx.text("number")
    return _staff(
        ctx,
        f"Change request from the client: {_cr_title(ctx)} ({ctx.text('project_name', 'a project')})",
        f'The client submitted change request{f" {number}" if number else ""} "{_cr_title(ctx)}".',
        _due(ctx, "assessment_due_at", "Assessment due"),
        "",
        ctx.text("description"),
        "",
        ctx.link(f"/v1/change-requests/{ctx.event.subject_id}"),
    )


@template("change_request.decision_reminder/client_contacts")
def change_request_reminder(ctx: Context) -> Message:
    due = ctx.when("decision_due_at")
    return Message(
        subject=ctx.t(f"Reminder: {_cr_title(ctx)} awaits your decision", f"Przypomnienie: {_cr_title(ctx)}"),
        text=_join(
            ctx.greeting(),
            ctx.t(
                f'the assessment of "{_cr_title(ctx)}" for {ctx.project()} awaits your decision'
                + (f" by {due}" if due else "")
                + ".",
                f'wycena zmiany „{_cr_title(ctx)}" ({ctx.project()}) czeka na decyzję'
                + (f" (termin: {due})" if due else "")
                + ".",
            ),
            ctx.link(f"/v1/change-requests/{ctx.event.subject_id}"),
            _signature(ctx),
        ),
    )


def _cr_timer(ctx: Context, what: str, overdue: bool) -> Message:
    state = "Overdue" if overdue else "Due soon"
    return _staff(
        ctx,
        f"{state}: {what} of {_cr_title(ctx)} ({ctx.text('project_name', 'a project')})",
        f'The {what} of "{_cr_title(ctx)}" is {"overdue" if overdue else "due soon"}.',
        _due(ctx, "due_at", "It was due" if overdue else "Due"),
        ctx.link(f"/v1/change-requests/{ctx.event.subject_id}"),
    )


@template("change_request.assessment_warning/staff")
def change_request_assessment_warning(ctx: Context) -> Message:
    return _cr_timer(ctx, "assessment", overdue=False)


@template("change_request.assessment_overdue/staff")
def change_request_assessment_overdue(ctx: Context) -> Message:
    return _cr_timer(ctx, "assessment", overdue=True)


@template("change_request.decision_overdue/staff")
def change_request_decision_overdue(ctx: Context) -> Message:
    return _cr_timer(ctx, "client decision", overdue=True)


# support -----------------------------------------------------------------------------------------


@template("support_request.opened/staff")
def support_opened(ctx: Context) -> Message:
    subject = ctx.text("subject", "(no subject)")
    return _staff(
        ctx,
        f"Support request: {subject} ({ctx.text('project_name', 'a project')})",
        f"Kind: {ctx.text('kind', 'unknown')}",
        f"Client: {ctx.text('client_name')}" if ctx.text("client_name") else "",
        _due(ctx, "first_response_due_at", "First response due"),
        "",
        ctx.text("body"),
        "",
        ctx.link(f"/v1/support-requests/{ctx.event.subject_id}"),
    )


@template("support_request.responded/client_contacts")
def support_responded(ctx: Context) -> Message:
    subject = ctx.text("subject")
    return Message(
        subject=ctx.t(
            f"Re: {subject}" if subject else "An answer to your support request",
            f"Odp.: {subject}" if subject else "Odpowiedź na zgłoszenie",
        ),
        text=_join(
            ctx.greeting(),
            ctx.t(
                f"we have answered your support request for {ctx.project()}:",
                f"odpowiedzieliśmy na zgłoszenie ({ctx.project()}):",
            ),
            ctx.text("message"),
            _signature(ctx),
        ),
    )


@template("support_request.responded/staff")
def support_client_answered(ctx: Context) -> Message:
    subject = ctx.text("subject", "a support request")
    return _staff(
        ctx,
        f"Client answered: {subject} ({ctx.text('project_name', 'a project')})",
        f"The client answered on {subject}:",
        "",
        ctx.text("message"),
        "",
        ctx.link(f"/v1/support-requests/{ctx.event.subject_id}"),
    )


def _support_timer(ctx: Context, overdue: bool) -> Message:
    subject = ctx.text("subject", "a support request")
    return _staff(
        ctx,
        f"{'Breached' if overdue else 'Due soon'}: first response to {subject}",
        f"The first response to {subject} ({ctx.text('project_name', 'a project')}) is "
        + ("overdue." if overdue else "due soon."),
        _due(ctx, "due_at", "It was due" if overdue else "Due"),
        ctx.link(f"/v1/support-requests/{ctx.event.subject_id}"),
    )


@template("support_request.response_warning/staff")
def support_response_warning(ctx: Context) -> Message:
    return _support_timer(ctx, overdue=False)


@template("support_request.response_breached/staff")
def support_response_breached(ctx: Context) -> Message:
    return _support_timer(ctx, overdue=True)


# projects ----------------------------------------------------------------------------------------


def _architecture(ctx: Context, overdue: bool) -> Message:
    name = ctx.text("project_name", "a project")
    client = ctx.text("client_name")
    return _staff(
        ctx,
        f"{'Overdue' if overdue else 'Due soon'}: architecture review of {name}",
        f"The architecture document of {name}" + (f" ({client})" if client else "") + " is "
        f"{'overdue' if overdue else 'due soon'}.",
        _due(ctx, "due_at", "It was due" if overdue else "Due"),
        ctx.link(f"/v1/projects/{ctx.event.subject_id}"),
    )


@template("project.architecture_review_warning/staff")
def architecture_warning(ctx: Context) -> Message:
    return _architecture(ctx, overdue=False)


@template("project.architecture_review_overdue/staff")
def architecture_overdue(ctx: Context) -> Message:
    return _architecture(ctx, overdue=True)


@template("project.architecture_submitted/client_contacts")
def architecture_waiting(ctx: Context) -> Message:
    url = ctx.text("document_url")
    revised = ctx.data.get("resubmitted") is True
    return Message(
        subject=ctx.t(
            f"Architecture of {ctx.project()} awaits your sign-off",
            f"Architektura czeka na zatwierdzenie: {ctx.project()}",
        ),
        text=_join(
            ctx.greeting(),
            ctx.t(
                ("we have revised" if revised else "we have completed")
                + f" the architecture document of {ctx.project()}. It awaits your sign-off.",
                ("poprawiliśmy" if revised else "przygotowaliśmy")
                + f" dokument architektury projektu {ctx.project()}. Czeka on na Państwa zatwierdzenie.",
            ),
            ctx.t(f"Document: {url}", f"Dokument: {url}") if url else "",
            ctx.t(
                "Once you approve it, delivery starts and the scope and acceptance criteria are fixed; "
                "later changes go through change requests.",
                "Po zatwierdzeniu rozpoczynamy realizację, a zakres i kryteria odbioru zostają ustalone; "
                "późniejsze zmiany przechodzą przez wnioski o zmianę.",
            ),
            _signature(ctx),
        ),
    )


@template("project.architecture_approved/staff")
def architecture_signed_off(ctx: Context) -> Message:
    name = ctx.text("project_name", "a project")
    client = ctx.text("client_name")
    return _staff(
        ctx,
        f"Architecture signed off: {name}",
        f"The client{f' ({client})' if client else ''} signed off the architecture of {name}. "
        "Delivery has started; scope and acceptance criteria are frozen.",
        ctx.link(f"/v1/projects/{ctx.event.subject_id}"),
    )


@template("project.launched/client_contacts")
def project_launched(ctx: Context) -> Message:
    ends = ctx.when("support_ends_at")
    return Message(
        subject=ctx.t(f"{ctx.project()} is live", f"Projekt uruchomiony: {ctx.project()}"),
        text=_join(
            ctx.greeting(),
            ctx.t(
                f"{ctx.project()} has launched. Post-launch support starts now and lasts 30 days.",
                f"projekt {ctx.project()} został uruchomiony. Od teraz przez 30 dni obowiązuje wsparcie "
                "powdrożeniowe.",
            ),
            ctx.t(f"Support ends: {ends}", f"Koniec wsparcia: {ends}") if ends else "",
            ctx.t(
                "Open a support request for any question or bug: we answer within 24 hours. New features "
                "go through a change request.",
                "Pytania i błędy prosimy zgłaszać jako zgłoszenia wsparcia: odpowiadamy w ciągu 24 godzin. "
                "Nowe funkcje realizujemy przez wnioski o zmianę.",
            ),
            _signature(ctx),
        ),
    )


@template("project.closed/client_contacts")
def project_closed(ctx: Context) -> Message:
    reason = ctx.text("reason")
    return Message(
        subject=ctx.t(f"{ctx.project()} is closed", f"Projekt zamknięty: {ctx.project()}"),
        text=_join(
            ctx.greeting(),
            ctx.t(
                f"{ctx.project()} is now closed. Thank you for working with us.",
                f"projekt {ctx.project()} został zamknięty. Dziękujemy za współpracę.",
            ),
            ctx.t(f"Reason: {reason}", f"Powód: {reason}") if reason else "",
            _signature(ctx),
        ),
    )


# webhooks ----------------------------------------------------------------------------------------


@template("webhook_endpoint.disabled/staff")
def webhook_disabled(ctx: Context) -> Message:
    url = ctx.text("url", "a webhook endpoint")
    failures = ctx.text("consecutive_failures")
    return _staff(
        ctx,
        f"Webhook endpoint disabled: {url}",
        f"{url} was disabled after {failures or 'too many'} consecutive failed deliveries.",
        f"Last error: {ctx.text('last_error')}" if ctx.text("last_error") else "",
        "Undelivered events wait for it; enable it again with "
        f"POST {ctx.link(f'/v1/webhook-endpoints/{ctx.event.subject_id}/enable')}.",
    )


@template("webhook_delivery.failed/staff")
def webhook_delivery_failed(ctx: Context) -> Message:
    url = ctx.text("url", "a webhook endpoint")
    return _staff(
        ctx,
        f"Webhook delivery failed: {ctx.text('event_type', 'an event')} to {url}",
        f"Event {ctx.text('event_id', '?')} ({ctx.text('event_type', 'unknown type')}) could not be delivered "
        f"to {url} after {ctx.text('attempts', 'several')} attempts over 3 days.",
        f"Last error: {ctx.text('last_error')}" if ctx.text("last_error") else "",
        f"Retry it with POST {ctx.link(f'/v1/webhook-deliveries/{ctx.event.subject_id}/retry')}.",
    )
