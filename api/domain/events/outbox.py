"""Domain events: written in the transaction of the change they describe (the outbox).

``emit`` inserts the event and buffers the arq job that will deliver it; the job is sent only after the
commit (see ``api.db.UnitOfWork``). If Redis is down at that moment the event still stands committed
with ``dispatched_at`` null, and the worker's sweep enqueues it again. The job id is
``event:<event id>``, so a sweep and a late enqueue do not run it twice at once, and the job itself
is idempotent.

Every row of ``domain_events`` is written through this module (``emit``, ``emit_many``) or, for the one
statement that writes a timer together with its event (``api.domain.timers.queries.insert_guarded``),
after the same check: a type that ``api.domain.events.catalog`` does not list is refused with
:class:`~api.domain.events.catalog.UnknownEventType` before anything is written. The outbox lives
beside the catalog and the feed because it needs the catalog (``api.kit`` never imports a domain).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from api.db import Conn, UnitOfWork
from api.domain.events import catalog, queries
from api.domain.events.schemas import NewEvent
from api.kit.auth import Principal

DISPATCH_JOB = "dispatch_event"


def dispatch_job_id(event_id: UUID | str) -> str:
    return f"event:{event_id}"


def dispatch_after_commit(uow: UnitOfWork, event_id: UUID) -> None:
    """Buffer the delivery job of an event written in ``uow``'s transaction (``emit`` does this itself;
    code that writes its event row as part of a larger statement calls it)."""
    uow.enqueue(DISPATCH_JOB, str(event_id), _job_id=dispatch_job_id(event_id))


def require_known(event_type: str) -> None:
    """Refuse an event type the catalog does not list (raises ``UnknownEventType``)."""
    catalog.audience(event_type)


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
    require_known(event_type)
    event_id = await queries.insert(
        uow.conn,
        NewEvent(
            type=event_type,
            subject_type=subject_type,
            subject_id=subject_id,
            client_id=client_id,
            project_id=project_id,
            data=data,
        ),
        actor_key_id=actor.key_id if actor else None,
        actor_role=actor.role if actor else None,
        now=now,
    )
    dispatch_after_commit(uow, event_id)
    return event_id


async def emit_many(conn: Conn, events: list[NewEvent], now: datetime) -> list[UUID]:
    """Record many events (no actor) in one statement, in order; the caller sends their dispatch jobs
    after its commit (``DISPATCH_JOB`` under ``dispatch_job_id``)."""
    for event in events:
        require_known(event.type)
    return await queries.insert_many(conn, events, now)


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
    await queries.insert_audit(
        uow.conn,
        action,
        actor_key_id=actor.key_id if actor else None,
        actor_role=actor.role if actor else None,
        subject_type=subject_type,
        subject_id=subject_id,
        details=details,
        now=now,
    )
