from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.db import Conn
from api.domain.projects import status
from api.domain.projects.schemas import HistoryEvent, Project
from api.kit.pagination import MAX_LIMIT


class ProjectRef(msgspec.Struct, frozen=True):
    """The columns the rules of every capability under a project need; cheap to read and to lock."""

    id: UUID
    client_id: UUID
    name: str
    client_name: str
    currency: str
    phase: str
    phase_since: datetime
    resume_phase: str | None
    business_hours_support: bool
    scope_frozen_at: datetime | None
    launched_at: datetime | None
    support_ends_at: datetime | None
    time_zone: str | None
    version: int


_REF = """
    SELECT p.id, p.client_id, p.name, c.name AS client_name, p.currency, p.phase, p.phase_since, p.resume_phase,
           p.business_hours_support, p.scope_frozen_at, p.launched_at, p.support_ends_at, p.time_zone, p.version
    FROM projects p JOIN clients c ON c.id = p.client_id
    WHERE p.id = $1
"""


_PHASE_HISTORY = """coalesce((SELECT json_agg(json_build_object(
                'from_phase', h.from_phase, 'to_phase', h.to_phase, 'reason', h.reason,
                'actor_key_id', h.actor_key_id, 'actor_role', h.actor_role, 'at', rfc3339(h.at))
                ORDER BY h.id)
            FROM project_phase_changes h WHERE h.project_id = p.id), '[]'::json)"""


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
           p.launched_at, p.support_ends_at, p.criteria_waiver_reason, p.closed_at, p.cancelled_at,
           {status.milestones_sql("$1::timestamptz")} AS milestones,
           {_PHASE_HISTORY} AS phase_history,
           p.created_at, p.updated_at, p.version
    FROM projects p
    {status.milestone_join()}
    """


class PageJson(msgspec.Struct, frozen=True):
    """One page of the project list as PostgreSQL encoded it.

    ``items`` is the UTF-8 JSON array of the page's projects; ``next_after`` is the sort key
    (``created_at``, ``id``) of the page's last project when another page follows, else None.
    """

    items: bytes
    next_after: tuple[datetime, UUID] | None


def _document() -> str:
    """The project resource as one ``json`` object over ``p``; ``$1`` is the current instant.

    The keys and their order are those of :class:`~api.domain.projects.schemas.Project` (and of its
    nested structs), instants are ``rfc3339`` text, ids are uuid strings and absent values are nulls:
    the same document msgspec encodes from :func:`get`.
    """
    summary = ", ".join(
        f"'{key}', p.architecture_summary -> '{key}'"
        for key in ("data_flow", "serving_approach", "api_design", "monitoring_plan")
    )
    handover = ", ".join(
        f"'{key}', p.handover -> '{key}'"
        for key in ("source_repository_url", "deployment_scripts_url", "monitoring_url", "runbook_url")
    )
    return f"""json_build_object(
        'id', p.id, 'client_id', p.client_id, 'name', p.name, 'description', p.description,
        'currency', p.currency, 'inquiry_id', p.inquiry_id, 'business_hours_support', p.business_hours_support,
        'phase', p.phase, 'phase_since', rfc3339(p.phase_since), 'resume_phase', p.resume_phase,
        'discovery_started_at', rfc3339(p.discovery_started_at),
        'discovery_ends_at', rfc3339(p.discovery_ends_at),
        'architecture', CASE WHEN p.architecture_document_url IS NULL THEN NULL ELSE json_build_object(
            'document_url', p.architecture_document_url,
            'summary', json_build_object({summary}),
            'revision', p.architecture_revision,
            'submitted_at', rfc3339(p.architecture_submitted_at),
            'revised_at', rfc3339(p.architecture_revised_at),
            'approved_at', rfc3339(p.architecture_approved_at)) END,
        'scope_frozen_at', rfc3339(p.scope_frozen_at),
        'handover', CASE WHEN p.handover IS NULL THEN NULL ELSE json_build_object(
            {handover}, 'recorded_at', rfc3339(p.handover_recorded_at)) END,
        'launched_at', rfc3339(p.launched_at),
        'support_ends_at', rfc3339(p.support_ends_at),
        'criteria_waiver_reason', p.criteria_waiver_reason,
        'closed_at', rfc3339(p.closed_at),
        'cancelled_at', rfc3339(p.cancelled_at),
        'milestones', {status.milestones_sql("$1::timestamptz")},
        'phase_history', {_PHASE_HISTORY},
        'created_at', rfc3339(p.created_at),
        'updated_at', rfc3339(p.updated_at),
        'version', p.version)"""


@lru_cache(maxsize=32)
def _page_statement(delivery_due_on: str, *, after: bool, client: bool, phase: bool) -> str:
    """One page of the list as a single row: ``items`` (the page's JSON array, ``bytea``) and, when
    another page follows, the sort key of the page's last project (``last_created_at``, ``last_id``).

    ``$1`` is now and ``$2`` the page size; then, for the filters present and in this order, the sort
    key to start after, the client and the phase. Each combination of filters is its own statement,
    so that PostgreSQL can keep one generic plan per connection that probes the matching index
    (``projects_created``, ``projects_client_created``, ``projects_phase_created``) instead of planning
    this large statement on every call. The innermost ``LIMIT`` is the largest page plus one, a
    constant the planner estimates with; the page size applies above it. One row more than the page
    is read, so whether another page follows costs no second statement; only the page's own rows are
    encoded. The rows carry every column of ``projects`` because the milestone inputs capabilities
    provide (:mod:`api.domain.projects.status`) are expressions over the whole project row; those
    inputs (lateral row ``md``) are computed once per project.
    """
    conditions = ["true"]
    n = 2
    if after:
        conditions.append(f"(created_at, id) > (${n + 1}::timestamptz, ${n + 2}::uuid)")
        n += 2
    if client:
        n += 1
        conditions.append(f"client_id = ${n}::uuid")
    if phase:
        n += 1
        conditions.append(f"phase = ${n}::text")
    return f"""
    SELECT convert_to(coalesce(json_agg({_document()} ORDER BY p.n) FILTER (WHERE p.n <= $2::int),
                               '[]'::json)::text, 'UTF8') AS items,
           CASE WHEN count(*) > $2::int THEN min(p.created_at) FILTER (WHERE p.n = $2::int) END
               AS last_created_at,
           CASE WHEN count(*) > $2::int THEN (array_agg(p.id) FILTER (WHERE p.n = $2::int))[1] END
               AS last_id
    FROM (
        SELECT q.*, row_number() OVER (ORDER BY q.created_at, q.id) AS n
        FROM (
            SELECT * FROM projects
            WHERE {" AND ".join(conditions)}
            ORDER BY created_at, id
            LIMIT {MAX_LIMIT + 1}
        ) q
        ORDER BY q.created_at, q.id
        LIMIT $2::int + 1
    ) p
    CROSS JOIN LATERAL (SELECT ({delivery_due_on})::date AS delivery_due_on OFFSET 0) AS md
    """


def _project(row: asyncpg.Record) -> Project:
    return msgspec.convert(dict(row), Project)


async def get(conn: Conn, project_id: UUID, *, now: datetime) -> Project | None:
    row = await conn.fetchrow(_select() + " WHERE p.id = $2", now, project_id)
    return None if row is None else _project(row)


async def ref(conn: Conn, project_id: UUID, *, for_update: bool = False) -> ProjectRef | None:
    row = await conn.fetchrow(_REF + (" FOR UPDATE OF p" if for_update else ""), project_id)
    return None if row is None else msgspec.convert(dict(row), ProjectRef)


async def page_json(
    conn: Conn,
    *,
    now: datetime,
    after: tuple[datetime, UUID] | None,
    limit: int,
    client_id: UUID | None,
    phase: str | None,
) -> PageJson:
    """Up to ``limit`` (at most ``MAX_LIMIT``) projects after the sort key ``after``, oldest first (by
    ``created_at`` then ``id``), optionally of one client and in one phase, encoded by PostgreSQL in
    one statement."""
    args: list[Any] = [now, limit]
    if after is not None:
        args += after
    if client_id is not None:
        args.append(client_id)
    if phase is not None:
        args.append(phase)
    statement = _page_statement(
        status.part("delivery_due_on"),
        after=after is not None,
        client=client_id is not None,
        phase=phase is not None,
    )
    row = await conn.fetchrow(statement, *args)
    assert row is not None
    last_id: UUID | None = row["last_id"]
    return PageJson(
        items=row["items"], next_after=None if last_id is None else (row["last_created_at"], last_id)
    )


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


class OpenHold(msgspec.Struct, frozen=True):
    """The project's hold that has not ended yet."""

    id: UUID
    from_phase: str
    reason: str
    held_at: datetime
    paused_timer_ids: list[UUID]


async def insert_hold(
    conn: Conn,
    project_id: UUID,
    *,
    from_phase: str,
    reason: str,
    held_at: datetime,
    held_by_key_id: UUID | None,
    paused_timer_ids: list[UUID],
) -> None:
    await conn.execute(
        """
        INSERT INTO project_holds (project_id, from_phase, reason, held_at, held_by_key_id, paused_timer_ids)
        VALUES ($1, $2, $3, $4, $5, $6)
        """,
        project_id,
        from_phase,
        reason,
        held_at,
        held_by_key_id,
        paused_timer_ids,
    )


async def open_hold(conn: Conn, project_id: UUID) -> OpenHold | None:
    row = await conn.fetchrow(
        """
        SELECT id, from_phase, reason, held_at, paused_timer_ids FROM project_holds
        WHERE project_id = $1 AND ended_at IS NULL
        """,
        project_id,
    )
    return None if row is None else msgspec.convert(dict(row), OpenHold)


async def end_hold(
    conn: Conn,
    hold_id: UUID,
    *,
    at: datetime,
    outcome: str,
    business_days_held: int | None,
    amendment_number: int | None,
) -> None:
    await conn.execute(
        """
        UPDATE project_holds SET ended_at = $2, outcome = $3, business_days_held = $4, amendment_number = $5
        WHERE id = $1
        """,
        hold_id,
        at,
        outcome,
        business_days_held,
        amendment_number,
    )


async def set_criteria_waiver(conn: Conn, project_id: UUID, *, reason: str, by: UUID | None) -> None:
    await conn.execute(
        "UPDATE projects SET criteria_waiver_reason = $2, criteria_waived_by = $3 WHERE id = $1",
        project_id,
        reason,
        by,
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
    conn: Conn, project_id: UUID, *, now: datetime, client_id: UUID | None, event_types: Sequence[str]
) -> bytes | None:
    """The status JSON document as PostgreSQL encoded it; None when absent or outside ``client_id``.
    ``updated_at`` counts only events of ``event_types``."""
    body: bytes | None = await conn.fetchval(status.statement(), project_id, now, client_id, event_types)
    return body


async def history(
    conn: Conn, project_id: UUID, *, before: int | None, limit: int, types: Sequence[str] | None
) -> list[HistoryEvent]:
    """Events of the project older than sequence ``before``, newest first; only ``types`` when given."""
    rows = await conn.fetch(
        """
        SELECT id, seq, type, subject_type, subject_id, actor_role, data, occurred_at
        FROM domain_events
        WHERE project_id = $1 AND ($2::bigint IS NULL OR seq < $2)
          AND ($4::text[] IS NULL OR type = ANY ($4::text[]))
        ORDER BY seq DESC
        LIMIT $3
        """,
        project_id,
        before,
        limit,
        types,
    )
    return [msgspec.convert(dict(r), HistoryEvent) for r in rows]


def as_json(value: msgspec.Struct) -> dict[str, Any]:
    """A struct as the plain JSON object stored in a ``jsonb`` column."""
    result: dict[str, Any] = msgspec.to_builtins(value)
    return result
