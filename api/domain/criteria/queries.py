from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.db import Conn
from api.domain.criteria.judging import Comparator
from api.domain.criteria.schemas import (
    Change,
    CriterionSnapshot,
    CriterionVersion,
    Definition,
    Kind,
    LastVerification,
    Qualifiers,
    State,
    Verification,
    Waiver,
)
from api.kit.auth import Principal


class ProjectScope(msgspec.Struct, frozen=True):
    """What the criteria rules need of a project."""

    id: UUID
    client_id: UUID
    phase: str
    scope_frozen_at: datetime | None


class CriterionRow(msgspec.Struct, frozen=True):
    id: UUID
    seq: int
    project_id: UUID
    client_id: UUID
    kind: Kind
    title: str
    metric: str | None
    comparator: Comparator | None
    threshold: str | None
    unit: str | None
    qualifiers: Qualifiers | None
    statement: str | None
    state: State
    waiver: Waiver | None
    last_verification: LastVerification | None
    removed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


#: The acceptance part of the project status document (see ``api.domain.projects.status``): counts of
#: the project's criteria by state, removed ones left out. One probe of ``acceptance_criteria_project``.
STATUS_ACCEPTANCE = """(SELECT json_build_object(
            'total', count(*),
            'met', count(*) FILTER (WHERE a.state = 'met'),
            'not_met', count(*) FILTER (WHERE a.state = 'not_met'),
            'pending', count(*) FILTER (WHERE a.state = 'pending'),
            'waived', count(*) FILTER (WHERE a.state = 'waived'))
         FROM acceptance_criteria a WHERE a.project_id = p.id AND a.state <> 'removed')"""

_SELECT = """
    SELECT a.id, a.seq, a.project_id, p.client_id, a.kind, a.title, a.metric, a.comparator,
           a.threshold::text AS threshold, a.unit, a.qualifiers, a.statement, a.state,
           CASE WHEN a.waived_at IS NULL THEN NULL ELSE json_build_object(
               'reason', a.waive_reason, 'waived_at', rfc3339(a.waived_at), 'waived_by', a.waived_by)
           END AS waiver,
           (SELECT json_build_object(
                       'id', v.id, 'verdict', v.verdict, 'measured_value', v.measured_value::text,
                       'unit', v.unit, 'passed', v.passed, 'verified_at', rfc3339(v.verified_at))
            FROM criterion_verifications v WHERE v.criterion_id = a.id
            ORDER BY v.seq DESC LIMIT 1) AS last_verification,
           a.removed_at, a.created_at, a.updated_at, a.version
    FROM acceptance_criteria a
    JOIN projects p ON p.id = a.project_id
"""


def _row(record: asyncpg.Record) -> CriterionRow:
    return msgspec.convert(dict(record), CriterionRow)


def _threshold(definition: Definition) -> Decimal | None:
    return None if definition.threshold is None else Decimal(definition.threshold)


def _qualifiers(definition: Definition) -> dict[str, Any] | None:
    if definition.qualifiers is None:
        return None
    value: dict[str, Any] = msgspec.to_builtins(definition.qualifiers)
    return value


async def project_scope(conn: Conn, project_id: UUID, *, share_lock: bool = False) -> ProjectScope | None:
    """The project's scope facts; ``share_lock`` holds the row ``FOR SHARE`` until the transaction ends,
    so that a sign-off or a launch (which lock it ``FOR UPDATE``) waits for this change, or this change
    sees their result."""
    row = await conn.fetchrow(
        "SELECT id, client_id, phase, scope_frozen_at FROM projects WHERE id = $1"
        + (" FOR SHARE" if share_lock else ""),
        project_id,
    )
    return None if row is None else msgspec.convert(dict(row), ProjectScope)


async def get(conn: Conn, criterion_id: UUID, *, for_update: bool = False) -> CriterionRow | None:
    row = await conn.fetchrow(
        _SELECT + " WHERE a.id = $1" + (" FOR UPDATE OF a" if for_update else ""), criterion_id
    )
    return None if row is None else _row(row)


async def project_of(conn: Conn, criterion_id: UUID) -> tuple[UUID, UUID] | None:
    """(project id, client id) of a criterion."""
    row = await conn.fetchrow(
        "SELECT a.project_id, p.client_id FROM acceptance_criteria a JOIN projects p ON p.id = a.project_id"
        " WHERE a.id = $1",
        criterion_id,
    )
    return None if row is None else (row["project_id"], row["client_id"])


async def page(
    conn: Conn,
    project_id: UUID,
    *,
    after: int | None,
    limit: int,
    state: str | None,
    kind: str | None,
) -> list[CriterionRow]:
    rows = await conn.fetch(
        _SELECT
        + """
        WHERE a.project_id = $1
          AND ($2::bigint IS NULL OR a.seq > $2)
          AND (CASE WHEN $3::text IS NULL THEN a.state <> 'removed' ELSE a.state = $3 END)
          AND ($4::text IS NULL OR a.kind = $4)
        ORDER BY a.seq
        LIMIT $5
        """,
        project_id,
        after,
        state,
        kind,
        limit,
    )
    return [_row(r) for r in rows]


async def insert(conn: Conn, project_id: UUID, definition: Definition, *, now: datetime) -> UUID:
    criterion_id: UUID = await conn.fetchval(
        """
        INSERT INTO acceptance_criteria (project_id, kind, title, metric, comparator, threshold, unit,
                                         qualifiers, statement, state, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $10)
        RETURNING id
        """,
        project_id,
        definition.kind,
        definition.title,
        definition.metric,
        definition.comparator,
        _threshold(definition),
        definition.unit,
        _qualifiers(definition),
        definition.statement,
        now,
    )
    return criterion_id


async def update_definition(
    conn: Conn, criterion_id: UUID, definition: Definition, *, reset: bool, now: datetime
) -> int:
    """Store a new definition (version + 1). ``reset`` puts the criterion back to ``pending`` and drops
    its waiver: the evidence and the waiver were about the old definition. Returns the new version."""
    version: int = await conn.fetchval(
        """
        UPDATE acceptance_criteria SET
            kind = $2, title = $3, metric = $4, comparator = $5, threshold = $6, unit = $7,
            qualifiers = $8, statement = $9,
            state = CASE WHEN $10 THEN 'pending' ELSE state END,
            waived_at = CASE WHEN $10 THEN NULL ELSE waived_at END,
            waived_by = CASE WHEN $10 THEN NULL ELSE waived_by END,
            waive_reason = CASE WHEN $10 THEN NULL ELSE waive_reason END,
            updated_at = $11, version = version + 1
        WHERE id = $1
        RETURNING version
        """,
        criterion_id,
        definition.kind,
        definition.title,
        definition.metric,
        definition.comparator,
        _threshold(definition),
        definition.unit,
        _qualifiers(definition),
        definition.statement,
        reset,
        now,
    )
    return version


async def mark_removed(conn: Conn, criterion_id: UUID, *, now: datetime) -> int:
    version: int = await conn.fetchval(
        """
        UPDATE acceptance_criteria SET state = 'removed', removed_at = $2, updated_at = $2,
                                       version = version + 1
        WHERE id = $1
        RETURNING version
        """,
        criterion_id,
        now,
    )
    return version


async def record_version(
    conn: Conn,
    criterion_id: UUID,
    *,
    version: int,
    change: Change,
    snapshot: CriterionSnapshot,
    reason: str | None,
    change_request_id: UUID | None,
    actor: Principal | None,
    at: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO criterion_versions (criterion_id, version, change, criterion, reason, change_request_id,
                                        actor_key_id, actor_role, at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        """,
        criterion_id,
        version,
        change,
        msgspec.to_builtins(snapshot),
        reason,
        change_request_id,
        actor.key_id if actor else None,
        actor.role if actor else None,
        at,
    )


async def versions(
    conn: Conn, criterion_id: UUID, *, after: int | None, limit: int
) -> list[CriterionVersion]:
    rows = await conn.fetch(
        """
        SELECT version, change, criterion, reason, change_request_id, actor_key_id, actor_role, at
        FROM criterion_versions
        WHERE criterion_id = $1 AND ($2::integer IS NULL OR version > $2)
        ORDER BY version
        LIMIT $3
        """,
        criterion_id,
        after,
        limit,
    )
    return [msgspec.convert(dict(r), CriterionVersion) for r in rows]


async def set_state(conn: Conn, criterion_id: UUID, state: State, *, now: datetime) -> None:
    await conn.execute(
        "UPDATE acceptance_criteria SET state = $2, updated_at = $3 WHERE id = $1", criterion_id, state, now
    )


async def waive(conn: Conn, criterion_id: UUID, *, reason: str, by: UUID, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE acceptance_criteria SET state = 'waived', waive_reason = $2, waived_by = $3, waived_at = $4,
                                       updated_at = $4
        WHERE id = $1
        """,
        criterion_id,
        reason,
        by,
        now,
    )


_VERIFICATION = """
    id, criterion_id, criterion_version, sentence, measured_value::text AS measured_value, passed, unit,
    evidence_url, notes, verdict, criterion_state, actor_key_id AS verified_by, actor_name AS verified_by_name,
    verified_at
"""


async def insert_verification(
    conn: Conn,
    criterion_id: UUID,
    *,
    criterion_version: int,
    sentence: str,
    measured_value: Decimal | None,
    passed: bool | None,
    unit: str | None,
    evidence_url: str | None,
    notes: str | None,
    verdict: str,
    criterion_state: str,
    actor: Principal,
    now: datetime,
) -> Verification:
    row = await conn.fetchrow(
        f"""
        INSERT INTO criterion_verifications (criterion_id, criterion_version, sentence, measured_value, passed,
                                             unit, evidence_url, notes, verdict, criterion_state, actor_key_id,
                                             actor_role, actor_name, verified_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
        RETURNING {_VERIFICATION}
        """,
        criterion_id,
        criterion_version,
        sentence,
        measured_value,
        passed,
        unit,
        evidence_url,
        notes,
        verdict,
        criterion_state,
        actor.key_id,
        actor.role,
        actor.name,
        now,
    )
    assert row is not None
    return msgspec.convert(dict(row), Verification)


async def verifications(
    conn: Conn, criterion_id: UUID, *, after: int | None, limit: int
) -> list[tuple[int, Verification]]:
    """Oldest first, paged by the append sequence; returns (seq, verification)."""
    rows = await conn.fetch(
        f"""
        SELECT seq, {_VERIFICATION}
        FROM criterion_verifications
        WHERE criterion_id = $1 AND ($2::bigint IS NULL OR seq > $2)
        ORDER BY seq
        LIMIT $3
        """,
        criterion_id,
        after,
        limit,
    )
    result = []
    for r in rows:
        record = dict(r)
        seq = record.pop("seq")
        result.append((seq, msgspec.convert(record, Verification)))
    return result


async def count_active(conn: Conn, project_id: UUID) -> int:
    """How many of the project's criteria are not removed."""
    found: int = await conn.fetchval(
        "SELECT count(*) FROM acceptance_criteria WHERE project_id = $1 AND state <> 'removed'", project_id
    )
    return found


async def blocking(conn: Conn, project_id: UUID) -> list[tuple[str, str]]:
    """(title, state) of the project's criteria that are neither met, waived nor removed, oldest first."""
    rows = await conn.fetch(
        """
        SELECT title, state FROM acceptance_criteria
        WHERE project_id = $1 AND state IN ('pending', 'not_met')
        ORDER BY seq
        """,
        project_id,
    )
    return [(r["title"], r["state"]) for r in rows]


async def states(conn: Conn, project_id: UUID, criterion_ids: list[UUID]) -> dict[UUID, str]:
    """State of each of these ids that names a criterion of this project."""
    rows = await conn.fetch(
        "SELECT id, state FROM acceptance_criteria WHERE project_id = $1 AND id = ANY($2::uuid[])",
        project_id,
        criterion_ids,
    )
    return {r["id"]: r["state"] for r in rows}
