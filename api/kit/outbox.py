"""Domain events: written in the transaction of the change they describe (the outbox).

``emit`` inserts the event and buffers the arq job that will deliver it; the job is sent only after the
commit (see ``api.db.UnitOfWork``). If Redis is down at that moment the event still stands committed
with ``dispatched_at`` null, and the worker's sweep enqueues it again. The job id is
``event:<event id>``, so a sweep and a late enqueue do not run it twice at once, and the job itself
is idempotent.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from api.db import UnitOfWork
from api.kit.auth import Principal

DISPATCH_JOB = "dispatch_event"


def dispatch_job_id(event_id: UUID | str) -> str:
    return f"event:{event_id}"


def dispatch_after_commit(uow: UnitOfWork, event_id: UUID) -> None:
    """Buffer the delivery job of an event written in ``uow``'s transaction (``emit`` does this itself;
    code that writes its event row as part of a larger statement calls it)."""
    uow.enqueue(DISPATCH_JOB, str(event_id), _job_id=dispatch_job_id(event_id))


async def emit(
    uow: UnitOfWork,
    event_type: str,
    *,
    subject_type: str,
    subject_id: UUID,
    data: dict[str, Any],
    now: datetime,
    actor: Principal | None = None,
    client_id: UUID | None = None,
    project_id: UUID | None = None,
) -> UUID:
    """Record one domain event in the current transaction and schedule its delivery after commit."""
    event_id: UUID = await uow.conn.fetchval(
        """
        INSERT INTO domain_events (type, subject_type, subject_id, client_id, project_id, actor_key_id,
                                   actor_role, data, occurred_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING id
        """,
        event_type,
        subject_type,
        subject_id,
        client_id,
        project_id,
        actor.key_id if actor else None,
        actor.role if actor else None,
        data,
        now,
    )
    dispatch_after_commit(uow, event_id)
    return event_id


async def audit(
    uow: UnitOfWork,
    action: str,
    *,
    actor: Principal | None,
    subject_type: str,
    subject_id: UUID,
    details: dict[str, Any],
    now: datetime,
) -> None:
    """Append who did what to the audit trail (never secrets)."""
    await uow.conn.execute(
        """
        INSERT INTO audit_entries (actor_key_id, actor_role, action, subject_type, subject_id, details, at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        actor.key_id if actor else None,
        actor.role if actor else None,
        action,
        subject_type,
        subject_id,
        details,
        now,
    )
