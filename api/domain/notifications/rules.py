"""Which domain events notify whom by email: event type → list of (audience, template, condition).

Audiences:
- ``inquirer``: the person who sent an inquiry; address, name, locale and zone from the event's
  ``data`` (``email``, ``name``, ``locale``, ``time_zone``).
- ``staff``: the addresses of ``STAFF_EMAILS``, in English and the shop's calendar zone.
- ``client_contacts``: the contacts of the event's ``client_id`` (``client_contacts`` rows), each in their
  own locale and zone (the shop's zone when they have none).

A recipient address receives at most one email per event: when two rules reach the same address, the
first rule listed wins. Webhook endpoints are not rules: they receive every event type they subscribe to.

Rules chosen here:
- ``inquiry.received`` notifies nobody when ``data.status`` is ``quarantined`` (spam is silent).
- ``inquiry.replied`` mails the inquirer only when ``data.send_email`` is true.
- ``support_request.responded`` mails client contacts when the responder is staff, and staff when it
  is the client (``data.responder_role``, else the event's actor role).
- ``change_request.submitted`` mails staff only when the client's side requested the change
  (``data.requested_by``): staff know of their own; a draft made from a support feature request is
  not mailed again (staff heard of the support request).
- ``project.architecture_submitted`` (the document waits for the client's sign-off, a revised one
  included) and ``project.launched`` mail the client's contacts; ``project.architecture_approved`` (the
  client signed off) mails staff.
- ``sla.breached`` sends no email: every breach also has a subject-specific event
  (``inquiry.reply_overdue``, ``support_request.response_breached``, ...) which does, so nobody is
  mailed twice for one breach. ``inquiry.reply_breached`` is accepted as another name of
  ``inquiry.reply_overdue``.

To notify people of a new event type: write a template in ``templates.py`` (``@template("<type>/<audience>")``,
reading ``ctx.data`` defensively and listing its fields in that module's table) and add a line to ``RULES``
below, or call ``register(...)`` from a module that ``rules.py`` imports.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple

from api.domain.notifications.templates import TEMPLATES, Event

Audience = Literal["inquirer", "staff", "client_contacts"]
AUDIENCES: tuple[Audience, ...] = ("inquirer", "staff", "client_contacts")
Condition = Callable[[Event], bool]


class Rule(NamedTuple):
    audience: Audience
    template: str
    when: Condition | None = None

    def applies(self, event: Event) -> bool:
        return self.when is None or self.when(event)


def not_quarantined(event: Event) -> bool:
    return event.data.get("status") != "quarantined"


def send_email_requested(event: Event) -> bool:
    return event.data.get("send_email") is True


def responder_is_staff(event: Event) -> bool:
    role = event.data.get("responder_role", event.actor_role)
    return role == "staff"


def responder_is_client(event: Event) -> bool:
    role = event.data.get("responder_role", event.actor_role)
    return role == "client"


def submitted_by_client(event: Event) -> bool:
    """The client's side asked for the change itself (not through a support feature request, which
    staff already heard of as a support request)."""
    requested = event.data.get("requested_by", event.actor_role) == "client"
    return requested and event.data.get("support_request_id") is None


RULES: dict[str, list[Rule]] = {}


def register(event_type: str, audience: Audience, template: str, *, when: Condition | None = None) -> None:
    """Add a rule; the template must be registered in ``TEMPLATES``."""
    if template not in TEMPLATES:
        raise KeyError(f"no template named {template!r}")
    if audience not in AUDIENCES:
        raise ValueError(f"unknown audience {audience!r}")
    RULES.setdefault(event_type, []).append(Rule(audience, template, when))


def rules_for(event: Event) -> list[Rule]:
    """The rules that apply to this event, in order."""
    return [rule for rule in RULES.get(event.type, []) if rule.applies(event)]


_STAFF_ONLY = (
    "inquiry.reply_warning",
    "inquiry.reply_overdue",
    "quote.accepted",
    "quote.declined",
    "quote.expired",
    "change_request.approved",
    "change_request.rejected",
    "change_request.assessment_warning",
    "change_request.assessment_overdue",
    "change_request.decision_overdue",
    "support_request.opened",
    "support_request.response_warning",
    "support_request.response_breached",
    "project.architecture_review_warning",
    "project.architecture_review_overdue",
    "project.architecture_approved",
    "webhook_endpoint.disabled",
    "webhook_delivery.failed",
)
_CLIENT_CONTACTS = (
    "quote.sent",
    "change_request.assessed",
    "change_request.decision_reminder",
    "project.architecture_submitted",
    "project.launched",
    "project.closed",
)

register("inquiry.received", "inquirer", "inquiry.received/inquirer", when=not_quarantined)
register("inquiry.received", "staff", "inquiry.received/staff", when=not_quarantined)
register("inquiry.replied", "inquirer", "inquiry.replied/inquirer", when=send_email_requested)
register("inquiry.reply_breached", "staff", "inquiry.reply_overdue/staff")
register(
    "support_request.responded",
    "client_contacts",
    "support_request.responded/client_contacts",
    when=responder_is_staff,
)
register("support_request.responded", "staff", "support_request.responded/staff", when=responder_is_client)
register("change_request.submitted", "staff", "change_request.submitted/staff", when=submitted_by_client)
for _type in _STAFF_ONLY:
    register(_type, "staff", f"{_type}/staff")
for _type in _CLIENT_CONTACTS:
    register(_type, "client_contacts", f"{_type}/client_contacts")
