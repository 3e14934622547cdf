"""The domain events of SLA timers and the data they carry.

Every event about a timer carries ``timer_id``, ``kind``, ``subject_type``, ``subject_id``,
``project_id``, ``client_id``, ``state``, ``started_at``, ``warn_at`` and ``due_at``, merged over the
``data`` the timer was started with (so a notification needs no further look-up); a fired warning or
breach adds ``threshold`` (``warning`` or ``breach``). Those names are reserved: ``start`` refuses
``data`` that uses them. Event-specific fields (``old_due_at``, ``reason``, ...) come last.

``sla.*`` events have the timer as their subject (``subject_type`` ``sla_timer``). When a warning or a
breach fires, the subject's own event follows with the subject as its subject (table ``SUBJECT_EVENTS``).
"""

from __future__ import annotations

from typing import Any

from api.domain.timers.schemas import Timer, TimerKind

SUBJECT_TYPE = "sla_timer"

SLA_WARNING = "sla.warning"
SLA_BREACHED = "sla.breached"
SLA_MET = "sla.met"
SLA_PAUSED = "sla.paused"
SLA_RESUMED = "sla.resumed"
SLA_CANCELLED = "sla.cancelled"
SLA_RECOMPUTED = "sla.recomputed"

#: kind -> (the subject's event at the warning, the subject's event at the breach)
SUBJECT_EVENTS: dict[TimerKind, tuple[str, str]] = {
    "inquiry_reply": ("inquiry.reply_warning", "inquiry.reply_overdue"),
    "cr_assessment": ("change_request.assessment_warning", "change_request.assessment_overdue"),
    "cr_client_decision": ("change_request.decision_reminder", "change_request.decision_overdue"),
    "support_first_response": ("support_request.response_warning", "support_request.response_breached"),
    "architecture_review": ("project.architecture_review_warning", "project.architecture_review_overdue"),
}

RESERVED = frozenset(
    {
        "timer_id",
        "kind",
        "subject_type",
        "subject_id",
        "project_id",
        "client_id",
        "state",
        "started_at",
        "warn_at",
        "due_at",
        "threshold",
    }
)


def event_data(timer: Timer, **extra: Any) -> dict[str, Any]:
    """The data of an event about ``timer``: its own ``data``, the reserved fields, then ``extra``."""
    return {
        **timer.data,
        "timer_id": timer.id,
        "kind": timer.kind,
        "subject_type": timer.subject_type,
        "subject_id": timer.subject_id,
        "project_id": timer.project_id,
        "client_id": timer.client_id,
        "state": timer.state,
        "started_at": timer.started_at,
        "warn_at": timer.warn_at,
        "due_at": timer.due_at,
        **extra,
    }
