from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.db import Conn
from api.domain.projects import status
from api.domain.projects.schemas import HistoryEvent, Project


class ProjectRef(msgspec.Struct, frozen=True):
    """The columns the rules of every capability under a project need; cheap to read and to lock."""

    id: UUID
    client_id: UUID
    currency: str
    phase: str
    resume_phase: str | None
    business_hours_support: bool
    scope_frozen_at: datetime | None
    launched_at: datetime | None
    support_ends_at: datetime | None
    time_zone: str | None
    version: int


_REF = """
    SELECT id, client_id, currency, phase, resume_phase, business_hours_support, scope_frozen_at,
           launched_at, support_ends_at, time_zone, version
    FROM projects WHERE id = $1
"""


def _select() -> str:
    """The project resource; ``$1`` is the current instant (milestone states depend on it)."""
    return f"""
    SELECT p.id, p.client_id, p.name, p.description, p.currency, p.inquiry_id, p.business_hours_support,
           p.phase, p.phase_since, p.resume_phase, p.discovery_started_at, p.discovery_ends_at,
           CASE WHEN p.architecture_document_url IS NULL THEN NULL ELSE json_build_object(
               'document_url', p.architecture_document_url,
               'summary', p.architecture_summary,
               'revision', p.architecture_revision,
               'submitted_at', rfc3339(p.architecture_submitted_at),
               'revised_at', rfc3339(p.architecture_revised_at),
               'approved_at', rfc3339(p.architecture_approved_at)) END AS architecture,
           p.scope_frozen_at,
           CASE WHEN p.handover IS NULL THEN NULL
                ELSE p.handover || jsonb_build_object('recorded_at', rfc3339(p.handover_recorded_at))
           END AS handover,
           p.launched_at, p.support_ends_at, p.closed_at, p.cancelled_at,
           {status.milestones_sql("$1::timestamptz")} AS milestones,
           coalesce((SELECT json_agg(json_build_object(
                         'from_phase', h.from_phase, 'to_phase', h.to_phase, 'reason', h.reason,
                         'actor_key_id', h.actor_key_id, 'actor_role', h.actor_role, 'at', rfc3339(h.at))
                         ORDER BY h.id)
                     FROM project_phase_changes h WHERE h.project_id = p.id), '[]'::json) AS phase_history,
           p.created_at, p.updated_at, p.version
    FROM projects p
    {status.milestone_join()}
    """


def _project(row: asyncpg.Record) -> Project:
    return msgspec.convert(dict(row), Project)


async def get(conn: Conn, project_id: UUID, *, now: datetime) -> Project | None:
    row = await conn.fetchrow(_select() + " WHERE p.id = $2", now, project_id)
    return None if row is None else _project(row)


async def ref(conn: Conn, project_id: UUID, *, for_update: bool = False) -> ProjectRef | None:
    row = await conn.fetchrow(_REF + (" FOR UPDATE" if for_update else ""), project_id)
    return None if row is None else msgspec.convert(dict(row), ProjectRef)


async def page(
    conn: Conn,
    *,
    now: datetime,
    after: tuple[datetime, UUID] | None,
    limit: int,
    client_id: UUID | None,
    phase: str | None,
) -> list[Project]:
    rows = await conn.fetch(
        _select()
        + """
        WHERE ($2::timestamptz IS NULL OR (p.created_at, p.id) > ($2, $3::uuid))
          AND ($4::uuid IS NULL OR p.client_id = $4)
          AND ($5::text IS NULL OR p.phase = $5)
        ORDER BY p.created_at, p.id
        LIMIT $6
        """,
        now,
        after[0] if after else None,
        after[1] if after else None,
        client_id,
        phase,
        limit,
    )
    return [_project(r) for r in rows]


async def insert(
    conn: Conn,
    *,
    client_id: UUID,
    name: str,
    description: str | None,
    currency: str,
    inquiry_id: UUID | None,
    business_hours_support: bool,
    now: datetime,
) -> UUID:
    project_id: UUID = await conn.fetchval(
        """
        INSERT INTO projects (client_id, name, description, currency, inquiry_id, business_hours_support,
                              phase, phase_since, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, 'proposal', $7, $7, $7)
        RETURNING id
        """,
        client_id,
        name,
        description,
        currency,
        inquiry_id,
        business_hours_support,
        now,
    )
    return project_id


async def record_phase_change(
    conn: Conn,
    project_id: UUID,
    *,
    from_phase: str | None,
    to_phase: str,
    reason: str | None,
    actor_key_id: UUID | None,
    actor_role: str | None,
    at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO project_phase_changes (project_id, from_phase, to_phase, reason, actor_key_id,
                                           actor_role, at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        project_id,
        from_phase,
        to_phase,
        reason,
        actor_key_id,
        actor_role,
        at,
    )


async def start_discovery(
    conn: Conn, project_id: UUID, *, at: datetime, ends_at: datetime, time_zone: str, now: datetime
) -> None:
    await conn.execute(
        """
        UPDATE projects SET phase = 'discovery', phase_since = $2, discovery_started_at = $2,
                            discovery_ends_at = $3, time_zone = $4, updated_at = $5, version = version + 1
        WHERE id = $1
        """,
        project_id,
        at,
        ends_at,
        time_zone,
        now,
    )


async def submit_architecture(
    conn: Conn, project_id: UUID, *, document_url: str, summary: dict[str, str], now: datetime
) -> int:
    """Store a (new revision of the) document; moves discovery → architecture_review. Returns the revision."""
    revision: int = await conn.fetchval(
        """
        UPDATE projects SET
            architecture_document_url = $2, architecture_summary = $3,
            architecture_revision = architecture_revision + 1,
            architecture_submitted_at = coalesce(architecture_submitted_at, $4),
            architecture_revised_at = $4,
            phase_since = CASE WHEN phase = 'architecture_review' THEN phase_since ELSE $4 END,
            phase = 'architecture_review',
            updated_at = $4, version = version + 1
        WHERE id = $1
        RETURNING architecture_revision
        """,
        project_id,
        document_url,
        summary,
        now,
    )
    return revision


async def approve_architecture(conn: Conn, project_id: UUID, *, approved_by: UUID, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE projects SET phase = 'delivery', phase_since = $2, architecture_approved_at = $2,
                            architecture_approved_by = $3, scope_frozen_at = $2,
                            updated_at = $2, version = version + 1
        WHERE id = $1
        """,
        project_id,
        now,
        approved_by,
    )


async def record_handover(conn: Conn, project_id: UUID, *, package: dict[str, str], now: datetime) -> None:
    await conn.execute(
        """
        UPDATE projects SET phase = 'acceptance', phase_since = $2, handover = $3, handover_recorded_at = $2,
                            updated_at = $2, version = version + 1
        WHERE id = $1
        """,
        project_id,
        now,
        package,
    )


async def launch(conn: Conn, project_id: UUID, *, now: datetime, support_ends_at: datetime) -> None:
    await conn.execute(
        """
        UPDATE projects SET phase = 'support', phase_since = $2, launched_at = $2, support_ends_at = $3,
                            updated_at = $2, version = version + 1
        WHERE id = $1
        """,
        project_id,
        now,
        support_ends_at,
    )


async def set_phase(
    conn: Conn, project_id: UUID, *, phase: str, resume_phase: str | None, now: datetime
) -> None:
    """Hold, resume, cancel, close: the phase moves; ``closed_at``/``cancelled_at`` are set on arrival."""
    await conn.execute(
        """
        UPDATE projects SET phase = $2, phase_since = $3, resume_phase = $4,
                            closed_at = CASE WHEN $2 = 'closed' THEN $3 ELSE closed_at END,
                            cancelled_at = CASE WHEN $2 = 'cancelled' THEN $3 ELSE cancelled_at END,
                            updated_at = $3, version = version + 1
        WHERE id = $1
        """,
        project_id,
        phase,
        now,
        resume_phase,
    )


async def support_ended(conn: Conn, *, now: datetime, limit: int) -> list[UUID]:
    """Projects in support whose window has ended, oldest end first, skipping rows others hold."""
    rows = await conn.fetch(
        """
        SELECT id FROM projects
        WHERE phase = 'support' AND support_ends_at <= $1
        ORDER BY support_ends_at
        LIMIT $2
        FOR UPDATE SKIP LOCKED
        """,
        now,
        limit,
    )
    return [r["id"] for r in rows]


async def status_document(
    conn: Conn, project_id: UUID, *, now: datetime, client_id: UUID | None
) -> bytes | None:
    """The status JSON document as PostgreSQL encoded it; None when absent or outside ``client_id``."""
    body: bytes | None = await conn.fetchval(status.statement(), project_id, now, client_id)
    return body


async def history(conn: Conn, project_id: UUID, *, before: int | None, limit: int) -> list[HistoryEvent]:
    rows = await conn.fetch(
        """
        SELECT id, seq, type, subject_type, subject_id, actor_role, data, occurred_at
        FROM domain_events
        WHERE project_id = $1 AND ($2::bigint IS NULL OR seq < $2)
        ORDER BY seq DESC
        LIMIT $3
        """,
        project_id,
        before,
        limit,
    )
    return [msgspec.convert(dict(r), HistoryEvent) for r in rows]


def as_json(value: msgspec.Struct) -> dict[str, Any]:
    """A struct as the plain JSON object stored in a ``jsonb`` column."""
    result: dict[str, Any] = msgspec.to_builtins(value)
    return result
