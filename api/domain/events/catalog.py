"""Every domain event type the service emits, with its audience.

- ``staff``: the shop's internals (delivery failures with addresses and raw errors, SLA timers, inquiries
  before they become a client, keys, endpoints, configuration). Staff-facing reads and webhooks (whose
  endpoints staff configure) see them.
- ``client``: what a client organisation may read about its own projects. Every client-facing read of
  events (a project's history, the status document's ``updated_at``, any feed a client key reaches)
  shows only these.

The outbox refuses a type that is not listed here, so a new event type is written down with its
audience before it can be emitted; ``tests/domain/test_event_catalog.py`` finds every type the code
can emit and fails when one is missing. When in doubt, ``staff``.
"""

from __future__ import annotations

import functools
from typing import Literal

Audience = Literal["staff", "client"]

#: event type -> audience, one line per type, sorted.
AUDIENCE: dict[str, Audience] = {
    "api_key.created": "staff",
    "api_key.revoked": "staff",
    "calendar.updated": "staff",
    "change_request.approved": "client",
    "change_request.assessed": "client",
    "change_request.assessment_overdue": "staff",
    "change_request.assessment_warning": "staff",
    "change_request.cancelled": "client",
    "change_request.completed": "client",
    "change_request.decision_overdue": "staff",
    "change_request.decision_reminder": "client",
    "change_request.rejected": "client",
    "change_request.started": "client",
    "change_request.submitted": "client",
    "change_request.withdrawn": "client",
    "client.created": "staff",
    "client.updated": "staff",
    "contract.amended": "client",
    "contract.created": "client",
    "criterion.created": "client",
    "criterion.removed": "client",
    "criterion.updated": "client",
    "criterion.verified": "client",
    "criterion.waived": "client",
    "email_delivery.failed": "staff",
    "inquiry.closed": "staff",
    "inquiry.qualified": "staff",
    "inquiry.quarantined": "staff",
    "inquiry.received": "staff",
    "inquiry.replied": "staff",
    "inquiry.reply_overdue": "staff",
    "inquiry.reply_warning": "staff",
    "project.architecture_approved": "client",
    "project.architecture_review_overdue": "staff",
    "project.architecture_review_warning": "staff",
    "project.architecture_submitted": "client",
    "project.cancelled": "client",
    "project.closed": "client",
    "project.created": "client",
    "project.discovery_started": "client",
    "project.handover_recorded": "client",
    "project.launched": "client",
    "project.on_hold": "client",
    "project.resumed": "client",
    "quote.accepted": "client",
    "quote.created": "staff",
    "quote.declined": "client",
    "quote.expired": "client",
    "quote.sent": "client",
    "quote.superseded": "client",
    "quote.updated": "staff",
    "quote.withdrawn": "client",
    "sla.breached": "staff",
    "sla.cancelled": "staff",
    "sla.met": "staff",
    "sla.paused": "staff",
    "sla.policy_updated": "staff",
    "sla.recomputed": "staff",
    "sla.resumed": "staff",
    "sla.warning": "staff",
    "support_request.opened": "client",
    "support_request.redirected": "client",
    "support_request.reopened": "client",
    "support_request.resolved": "client",
    "support_request.responded": "client",
    "support_request.response_breached": "staff",
    "support_request.response_warning": "staff",
    "webhook_delivery.failed": "staff",
    "webhook_delivery.retried": "staff",
    "webhook_endpoint.created": "staff",
    "webhook_endpoint.deleted": "staff",
    "webhook_endpoint.disabled": "staff",
    "webhook_endpoint.enabled": "staff",
}


class UnknownEventType(ValueError):
    """An event type that the catalog does not list: write it down with its audience first."""

    def __init__(self, event_type: str) -> None:
        super().__init__(
            f"event type {event_type!r} is not in api.domain.events.catalog.AUDIENCE; add it with its audience"
        )
        self.event_type = event_type


def audience(event_type: str) -> Audience:
    """The audience of ``event_type``; :class:`UnknownEventType` when it is not listed."""
    try:
        return AUDIENCE[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


@functools.cache
def client_types() -> tuple[str, ...]:
    """The types a client may read, sorted (a parameter of the client-facing queries)."""
    return tuple(sorted(t for t, who in AUDIENCE.items() if who == "client"))
