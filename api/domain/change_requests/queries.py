"""All SQL of change requests, including their parts of the project status document."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.db import Conn
from api.domain.change_requests.schemas import ChangeRequest, ChangeRequestDetail, Side, Status
from api.domain.contracts import status as contract_status
from api.domain.projects import status

# --- the status document ---------------------------------------------------------------------------

#: Σ price impact (minor units) of the current revision of the project ``p``'s assessed change requests:
#: the contract's ``pending_changes``.
PENDING_MINOR = """(SELECT coalesce(sum(a.price_impact_minor), 0)
        FROM change_requests r
        JOIN change_request_assessments a ON a.change_request_id = r.id AND a.revision = r.assessment_revision
        WHERE r.project_id = p.id AND r.status = 'assessed')"""

#: The ``change_requests`` part: open requests and those awaiting the client's decision (earliest due
#: first). Index ``change_requests_project_status``, then primary keys.
STATUS_PART = """json_build_object(
        'open', (SELECT count(*) FROM change_requests r
                 WHERE r.project_id = p.id AND r.status IN ('submitted', 'assessed', 'approved', 'in_progress')),
        'awaiting_client_decision', coalesce((
            SELECT json_agg(json_build_object(
                       'id', r.id,
                       'title', r.title,
                       'assessment_revision', r.assessment_revision,
                       'price_impact', json_build_object('amount', money_text(a.price_impact_minor, a.minor_digits),
                                                         'currency', a.currency),
                       'timeline_impact_days', a.timeline_impact_days,
                       'decision_due_at', rfc3339(t.due_at)) ORDER BY t.due_at, r.number)
            FROM change_requests r
            JOIN change_request_assessments a ON a.change_request_id = r.id AND a.revision = r.assessment_revision
            JOIN sla_timers t ON t.id = a.decision_timer_id
            WHERE r.project_id = p.id AND r.status = 'assessed'), '[]'::json))"""

status.set_part("change_requests", STATUS_PART)
contract_status.install(PENDING_MINOR)


# --- rows ------------------------------------------------------------------------------------------


class ProjectFacts(msgspec.Struct, frozen=True):
    """What the rules of a change request need to know about its project."""

    id: UUID
    client_id: UUID
    name: str
    currency: str
    phase: str
    resume_phase: str | None
    scope_frozen_at: datetime | None


class Locked(msgspec.Struct, frozen=True, kw_only=True):
    """A change request's own columns, as read under its row lock."""

    id: UUID
    project_id: UUID
    client_id: UUID
    number: int
    title: str
    status: Status
    requested_by: Side
    assessment_revision: int | None
    submitted_at: datetime
    version: int


class StoredAssessment(msgspec.Struct, frozen=True, kw_only=True):
    """One stored revision, in minor units."""

    revision: int
    currency: str
    price_impact_minor: int
    timeline_impact_days: int
    risk: str
    criteria_changes: list[dict[str, Any]]
    decision_timer_id: UUID


_PROJECT = """
    SELECT p.id, p.client_id, p.name, p.currency, p.phase, p.resume_phase, p.scope_frozen_at
    FROM projects p WHERE p.id = $1
"""


async def project(conn: Conn, project_id: UUID, *, share_lock: bool = False) -> ProjectFacts | None:
    """The project's facts; ``share_lock`` holds its row ``FOR SHARE`` until the transaction ends."""
    row = await conn.fetchrow(_PROJECT + (" FOR SHARE" if share_lock else ""), project_id)
    return None if row is None else msgspec.convert(dict(row), ProjectFacts)


async def number_lock(conn: Conn, project_id: UUID) -> None:
    """Hold the project's numbering lock (transaction-level advisory) while a request is numbered."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('change_requests:' || $1::uuid::text, 0))", project_id
    )


async def owner(conn: Conn, change_request_id: UUID) -> tuple[UUID, UUID] | None:
    """(project id, client id) of a change request."""
    row = await conn.fetchrow(
        "SELECT project_id, client_id FROM change_requests WHERE id = $1", change_request_id
    )
    return None if row is None else (row["project_id"], row["client_id"])


async def lock(conn: Conn, change_request_id: UUID) -> Locked | None:
    row = await conn.fetchrow(
        """
        SELECT id, project_id, client_id, number, title, status, requested_by, assessment_revision,
               submitted_at, version
        FROM change_requests WHERE id = $1 FOR UPDATE
        """,
        change_request_id,
    )
    return None if row is None else msgspec.convert(dict(row), Locked)


async def lock_live_of_project(conn: Conn, project_id: UUID) -> list[Locked]:
    """The project's requests not yet finished one way or another (submitted, assessed, approved,
    in_progress), by number, each locked ``FOR UPDATE``."""
    rows = await conn.fetch(
        """
        SELECT id, project_id, client_id, number, title, status, requested_by, assessment_revision,
               submitted_at, version
        FROM change_requests
        WHERE project_id = $1 AND status IN ('submitted', 'assessed', 'approved', 'in_progress')
        ORDER BY number
        FOR UPDATE
        """,
        project_id,
    )
    return [msgspec.convert(dict(r), Locked) for r in rows]


async def unfinished(conn: Conn, project_id: UUID) -> list[tuple[int, str, str]]:
    """(number, title, status) of the project's approved changes whose work is not done."""
    rows = await conn.fetch(
        """
        SELECT number, title, status FROM change_requests
        WHERE project_id = $1 AND status IN ('approved', 'in_progress')
        ORDER BY number
        """,
        project_id,
    )
    return [(r["number"], r["title"], r["status"]) for r in rows]


async def assessment(conn: Conn, change_request_id: UUID, revision: int) -> StoredAssessment | None:
    row = await conn.fetchrow(
        """
        SELECT revision, currency, price_impact_minor, timeline_impact_days, risk, criteria_changes,
               decision_timer_id
        FROM change_request_assessments WHERE change_request_id = $1 AND revision = $2
        """,
        change_request_id,
        revision,
    )
    return None if row is None else msgspec.convert(dict(row), StoredAssessment)


_MONEY = "json_build_object('amount', money_text({m}, {a}.minor_digits), 'currency', {a}.currency)"

_COLUMNS = f"""
    r.id, r.project_id, r.client_id, r.number, r.title, r.description, r.reason, r.status, r.requested_by,
    r.submitted_by_key_id, r.submitted_by_name, r.support_request_id, r.assessment_revision,
    r.decided_revision,
    CASE WHEN a.revision IS NULL THEN NULL ELSE {_MONEY.format(m="a.price_impact_minor", a="a")} END
        AS price_impact,
    a.timeline_impact_days, a.risk, ta.due_at AS assessment_due_at, td.due_at AS decision_due_at,
    r.amendment_number, r.submitted_at, r.assessed_at, r.decided_at, r.started_at, r.completed_at,
    r.withdrawn_at, r.rejection_reason, r.withdrawal_reason, r.cancelled_at, r.cancellation_reason,
    r.updated_at, r.version
"""
_FROM = """
    FROM change_requests r
    JOIN sla_timers ta ON ta.id = r.assessment_timer_id
    LEFT JOIN change_request_assessments a ON a.change_request_id = r.id AND a.revision = r.assessment_revision
    LEFT JOIN sla_timers td ON td.id = a.decision_timer_id
"""
_REVISIONS = f"""
    coalesce((SELECT json_agg(json_build_object(
                  'change_request_id', x.change_request_id,
                  'revision', x.revision,
                  'status', CASE WHEN x.revision < r.assessment_revision THEN 'superseded'
                                 WHEN r.status = 'assessed' THEN 'awaiting_decision'
                                 WHEN r.status IN ('approved', 'in_progress', 'done', 'cancelled')
                                     THEN 'approved'
                                 WHEN r.status = 'rejected' THEN 'rejected'
                                 ELSE 'withdrawn' END,
                  'price_impact', {_MONEY.format(m="x.price_impact_minor", a="x")},
                  'timeline_impact_days', x.timeline_impact_days,
                  'lines', x.lines,
                  'criteria_changes', x.criteria_changes,
                  'risk', x.risk,
                  'notes', x.notes,
                  'assessed_at', rfc3339(x.assessed_at),
                  'assessed_by_key_id', x.assessed_by_key_id,
                  'assessed_by_name', x.assessed_by_name,
                  'decision_due_at', rfc3339(xt.due_at)) ORDER BY x.revision)
              FROM change_request_assessments x JOIN sla_timers xt ON xt.id = x.decision_timer_id
              WHERE x.change_request_id = r.id), '[]'::json) AS assessments,
    coalesce((SELECT json_agg(json_build_object(
                  'from_status', s.from_status, 'to_status', s.to_status,
                  'assessment_revision', s.assessment_revision, 'reason', s.reason,
                  'actor_key_id', s.actor_key_id, 'actor_role', s.actor_role, 'actor_name', s.actor_name,
                  'at', rfc3339(s.at)) ORDER BY s.id)
              FROM change_request_transitions s WHERE s.change_request_id = r.id), '[]'::json) AS transitions
"""


def _resource(row: asyncpg.Record) -> ChangeRequest:
    return msgspec.convert({k: row[k] for k in ChangeRequest.__struct_fields__}, ChangeRequest)


async def detail(conn: Conn, change_request_id: UUID) -> ChangeRequestDetail | None:
    """The change request with its revisions and transitions, in one statement."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS}, {_REVISIONS} {_FROM} WHERE r.id = $1", change_request_id)
    return None if row is None else msgspec.convert(dict(row), ChangeRequestDetail)


async def page(
    conn: Conn, project_id: UUID, *, after: int | None, limit: int, status: str | None
) -> list[ChangeRequest]:
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} {_FROM}
        WHERE r.project_id = $1 AND ($2::text IS NULL OR r.status = $2) AND ($3::int IS NULL OR r.number > $3)
        ORDER BY r.number
        LIMIT $4
        """,
        project_id,
        status,
        after,
        limit,
    )
    return [_resource(r) for r in rows]


# --- writes ----------------------------------------------------------------------------------------


async def insert(
    conn: Conn,
    *,
    change_request_id: UUID,
    project_id: UUID,
    client_id: UUID,
    title: str,
    description: str,
    reason: str | None,
    requested_by: Side,
    submitted_by_role: str | None,
    submitted_by_key_id: UUID | None,
    submitted_by_name: str | None,
    support_request_id: UUID | None,
    assessment_timer_id: UUID,
    now: datetime,
) -> int:
    """Insert the request with the project's next number (the caller holds the project's number lock)."""
    number: int = await conn.fetchval(
        """
        INSERT INTO change_requests (id, project_id, client_id, number, title, description, reason, requested_by,
                                     submitted_by_role, submitted_by_key_id, submitted_by_name,
                                     support_request_id, assessment_timer_id, submitted_at, created_at,
                                     updated_at)
        SELECT $1, $2, $3, coalesce(max(c.number), 0) + 1, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $13
        FROM change_requests c WHERE c.project_id = $2
        RETURNING number
        """,
        change_request_id,
        project_id,
        client_id,
        title,
        description,
        reason,
        requested_by,
        submitted_by_role,
        submitted_by_key_id,
        submitted_by_name,
        support_request_id,
        assessment_timer_id,
        now,
    )
    return number


async def record_transition(
    conn: Conn,
    change_request_id: UUID,
    *,
    from_status: Status | None,
    to_status: Status,
    assessment_revision: int | None,
    reason: str | None,
    actor_key_id: UUID | None,
    actor_role: str | None,
    actor_name: str | None,
    at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO change_request_transitions (change_request_id, from_status, to_status, assessment_revision,
                                                reason, actor_key_id, actor_role, actor_name, at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        change_request_id,
        from_status,
        to_status,
        assessment_revision,
        reason,
        actor_key_id,
        actor_role,
        actor_name,
        at,
    )


async def insert_assessment(
    conn: Conn,
    change_request_id: UUID,
    *,
    revision: int,
    currency: str,
    minor_digits: int,
    price_impact_minor: int,
    timeline_impact_days: int,
    lines: list[dict[str, Any]],
    criteria_changes: list[dict[str, Any]],
    risk: str,
    notes: str,
    decision_timer_id: UUID,
    assessed_by_key_id: UUID | None,
    assessed_by_name: str | None,
    now: datetime,
) -> None:
    """Store the revision and make it the request's current one (status ``assessed``)."""
    await conn.execute(
        """
        WITH added AS (
            INSERT INTO change_request_assessments (change_request_id, revision, currency, minor_digits,
                                                    price_impact_minor, timeline_impact_days, lines,
                                                    criteria_changes, risk, notes, decision_timer_id,
                                                    assessed_by_key_id, assessed_by_name, assessed_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        )
        UPDATE change_requests SET status = 'assessed', assessment_revision = $2, assessed_at = $14,
                                   updated_at = $14, version = version + 1
        WHERE id = $1
        """,
        change_request_id,
        revision,
        currency,
        minor_digits,
        price_impact_minor,
        timeline_impact_days,
        lines,
        criteria_changes,
        risk,
        notes,
        decision_timer_id,
        assessed_by_key_id,
        assessed_by_name,
        now,
    )


async def mark_approved(
    conn: Conn, change_request_id: UUID, *, revision: int, amendment_number: int, now: datetime
) -> None:
    await conn.execute(
        """
        UPDATE change_requests SET status = 'approved', decided_revision = $2, amendment_number = $3,
                                   decided_at = $4, updated_at = $4, version = version + 1
        WHERE id = $1
        """,
        change_request_id,
        revision,
        amendment_number,
        now,
    )


async def mark_rejected(
    conn: Conn, change_request_id: UUID, *, revision: int, reason: str, now: datetime
) -> None:
    await conn.execute(
        """
        UPDATE change_requests SET status = 'rejected', decided_revision = $2, rejection_reason = $3,
                                   decided_at = $4, updated_at = $4, version = version + 1
        WHERE id = $1
        """,
        change_request_id,
        revision,
        reason,
        now,
    )


async def mark_withdrawn(conn: Conn, change_request_id: UUID, *, reason: str, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE change_requests SET status = 'withdrawn', withdrawal_reason = $2, withdrawn_at = $3,
                                   updated_at = $3, version = version + 1
        WHERE id = $1
        """,
        change_request_id,
        reason,
        now,
    )


async def mark_cancelled(conn: Conn, change_request_id: UUID, *, reason: str, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE change_requests SET status = 'cancelled', cancellation_reason = $2, cancelled_at = $3,
                                   updated_at = $3, version = version + 1
        WHERE id = $1
        """,
        change_request_id,
        reason,
        now,
    )


async def mark_started(conn: Conn, change_request_id: UUID, *, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE change_requests SET status = 'in_progress', started_at = $2, updated_at = $2,
                                   version = version + 1
        WHERE id = $1
        """,
        change_request_id,
        now,
    )


async def mark_completed(conn: Conn, change_request_id: UUID, *, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE change_requests SET status = 'done', completed_at = $2, updated_at = $2, version = version + 1
        WHERE id = $1
        """,
        change_request_id,
        now,
    )
