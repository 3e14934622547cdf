"""All SQL of post-launch support, including its part of the project status document."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg
import msgspec

from api.db import Conn
from api.domain.projects import status
from api.domain.support.schemas import SlaReport, SupportRequest, SupportRequestDetail

#: The end of a launched project's support window: ``support_ends_at``, or earlier when the project was
#: closed or cancelled before then (``LEAST`` ignores nulls). Null while the project has not launched.
WINDOW_ENDS = "(CASE WHEN p.launched_at IS NULL THEN NULL ELSE LEAST(p.support_ends_at, p.closed_at, p.cancelled_at) END)"

#: First-response outcomes of the project ``p``'s support timers (index ``sla_timers_project``).
_FIRST_RESPONSE = """(SELECT json_build_object(
            'met', count(*) FILTER (WHERE t.state = 'met'),
            'breached', count(*) FILTER (WHERE t.state = 'breached'),
            'met_ratio', CASE WHEN count(*) FILTER (WHERE t.state IN ('met', 'breached')) = 0 THEN NULL
                              ELSE round(count(*) FILTER (WHERE t.state = 'met')::numeric
                                         / count(*) FILTER (WHERE t.state IN ('met', 'breached')), 4)::text
                         END)
        FROM sla_timers t
        WHERE t.project_id = p.id AND t.kind = 'support_first_response'
          AND t.subject_type = 'support_request')"""

#: The ``support`` part of the project status document (see ``api.domain.projects.status``).
STATUS_PART = f"""json_build_object(
        'window_starts_at', rfc3339(p.launched_at),
        'window_ends_at', rfc3339({WINDOW_ENDS}),
        'open_requests', (SELECT count(*) FROM support_requests r
                          WHERE r.project_id = p.id AND r.status IN ('open', 'awaiting_client')),
        'first_response', {_FIRST_RESPONSE})"""

status.set_part("support", STATUS_PART)


class Window(msgspec.Struct, frozen=True):
    """What opening a request under a project needs to know about it."""

    id: UUID
    client_id: UUID
    name: str
    client_name: str
    business_hours_support: bool
    launched_at: datetime | None
    window_ends_at: datetime | None
    closed_at: datetime | None
    cancelled_at: datetime | None


async def window(conn: Conn, project_id: UUID, *, lock: bool = False) -> Window | None:
    """The project's support window; ``lock`` holds the project row ``FOR SHARE`` (so a concurrent close
    or cancel waits for the request being opened, and the request sees a window that stays true)."""
    row = await conn.fetchrow(
        f"""
        SELECT p.id, p.client_id, p.name, c.name AS client_name, p.business_hours_support, p.launched_at,
               {WINDOW_ENDS} AS window_ends_at, p.closed_at, p.cancelled_at
        FROM projects p JOIN clients c ON c.id = p.client_id
        WHERE p.id = $1
        """
        + (" FOR SHARE OF p" if lock else ""),
        project_id,
    )
    return None if row is None else msgspec.convert(dict(row), Window)


_SELECT = """
    SELECT r.id, r.project_id, r.client_id, r.kind, r.subject, r.body, r.status, r.opened_at,
           r.opened_by_role AS opened_by, t.due_at AS first_response_due_at, r.first_response_at,
           r.resolved_at, r.reopened_at, r.change_request_id,
           (SELECT count(*) FROM support_responses s WHERE s.support_request_id = r.id) AS responses,
           r.updated_at, r.version
"""

_FROM = """
    FROM support_requests r
    JOIN sla_timers t ON t.id = r.timer_id
"""

_DETAIL = (
    _SELECT
    + """,
           coalesce((SELECT json_agg(json_build_object(
                         'id', s.id, 'by', s.author_role, 'author_key_id', s.author_key_id,
                         'author_name', s.author_name, 'message', s.message,
                         'awaiting_client', s.awaiting_client, 'first_response', s.first_response,
                         'automatic', s.automatic, 'created_at', rfc3339(s.created_at)) ORDER BY s.seq)
                     FROM support_responses s WHERE s.support_request_id = r.id), '[]'::json) AS conversation,
           json_build_object(
               'id', t.id, 'state', t.state, 'unit', t.unit, 'started_at', rfc3339(t.started_at),
               'warn_at', rfc3339(t.warn_at), 'due_at', rfc3339(t.due_at),
               'warned_at', rfc3339(t.warned_at), 'breached_at', rfc3339(t.breached_at),
               'met_at', rfc3339(t.met_at), 'paused_at', rfc3339(t.paused_at),
               'paused_seconds', extract(epoch FROM t.paused_total)::float8) AS timer
"""
    + _FROM
)


class Locked(msgspec.Struct, frozen=True):
    """The columns the rules of an action need, read with the row locked."""

    id: UUID
    project_id: UUID
    client_id: UUID
    kind: str
    subject: str
    status: str
    first_response_at: datetime | None
    change_request_id: UUID | None
    version: int
    project_name: str


async def lock(conn: Conn, request_id: UUID) -> Locked | None:
    row = await conn.fetchrow(
        """
        SELECT r.id, r.project_id, r.client_id, r.kind, r.subject, r.status, r.first_response_at,
               r.change_request_id, r.version, p.name AS project_name
        FROM support_requests r JOIN projects p ON p.id = r.project_id
        WHERE r.id = $1
        FOR UPDATE OF r
        """,
        request_id,
    )
    return None if row is None else msgspec.convert(dict(row), Locked)


async def detail(
    conn: Conn, request_id: UUID, *, client_id: UUID | None = None
) -> SupportRequestDetail | None:
    """One request with conversation and timer; None when absent or outside ``client_id`` (when given)."""
    row = await conn.fetchrow(
        _DETAIL + " WHERE r.id = $1 AND ($2::uuid IS NULL OR r.client_id = $2)", request_id, client_id
    )
    return None if row is None else msgspec.convert(dict(row), SupportRequestDetail)


async def page(
    conn: Conn,
    project_id: UUID,
    *,
    after: tuple[datetime, UUID] | None,
    limit: int,
    status_is: str | None,
    kind: str | None,
) -> list[SupportRequest]:
    rows = await conn.fetch(
        _SELECT
        + _FROM
        + """
        WHERE r.project_id = $1
          AND ($2::timestamptz IS NULL OR (r.opened_at, r.id) > ($2, $3::uuid))
          AND ($4::text IS NULL OR r.status = $4)
          AND ($5::text IS NULL OR r.kind = $5)
        ORDER BY r.opened_at, r.id
        LIMIT $6
        """,
        project_id,
        after[0] if after else None,
        after[1] if after else None,
        status_is,
        kind,
        limit,
    )
    return [msgspec.convert(dict(r), SupportRequest) for r in rows]


async def insert(
    conn: Conn,
    *,
    request_id: UUID,
    project_id: UUID,
    client_id: UUID,
    kind: str,
    subject: str,
    body: str,
    opened_by_role: str,
    opened_by_key_id: UUID | None,
    timer_id: UUID,
    now: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO support_requests (id, project_id, client_id, kind, subject, body, status, opened_at,
                                      opened_by_role, opened_by_key_id, timer_id, created_at, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, 'open', $7, $8, $9, $10, $7, $7)
        """,
        request_id,
        project_id,
        client_id,
        kind,
        subject,
        body,
        now,
        opened_by_role,
        opened_by_key_id,
        timer_id,
    )


async def add_response(
    conn: Conn,
    request_id: UUID,
    *,
    author_role: str,
    author_key_id: UUID | None,
    author_name: str | None,
    message: str,
    awaiting_client: bool,
    first_response: bool,
    automatic: bool,
    now: datetime,
) -> UUID:
    response_id: UUID = await conn.fetchval(
        """
        INSERT INTO support_responses (support_request_id, author_role, author_key_id, author_name, message,
                                       awaiting_client, first_response, automatic, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING id
        """,
        request_id,
        author_role,
        author_key_id,
        author_name,
        message,
        awaiting_client,
        first_response,
        automatic,
        now,
    )
    return response_id


async def set_status(
    conn: Conn,
    request_id: UUID,
    status_to: str,
    *,
    now: datetime,
    resolved_at: datetime | None = None,
    reopened: bool = False,
) -> None:
    """Move the request to ``status_to``; ``resolved_at`` is set with ``resolved`` and cleared otherwise;
    ``reopened`` records ``now`` as ``reopened_at``."""
    await conn.execute(
        """
        UPDATE support_requests SET status = $2, resolved_at = $3,
                                    reopened_at = CASE WHEN $4 THEN $5 ELSE reopened_at END,
                                    updated_at = $5, version = version + 1
        WHERE id = $1
        """,
        request_id,
        status_to,
        resolved_at,
        reopened,
        now,
    )


async def record_first_response(
    conn: Conn, request_id: UUID, *, at: datetime, seconds: float, automatic: bool
) -> bool:
    """When the shop first responded and how long that took in the timer's unit, paused time excluded;
    False (nothing written) when the request's first response was recorded before (a reopened one)."""
    status = await conn.execute(
        """
        UPDATE support_requests SET first_response_at = $2, first_response_seconds = $3,
                                    first_response_automatic = $4
        WHERE id = $1 AND first_response_at IS NULL
        """,
        request_id,
        at,
        seconds,
        automatic,
    )
    return bool(status.endswith(" 1"))


async def set_timer(conn: Conn, request_id: UUID, timer_id: UUID) -> None:
    """Make ``timer_id`` the request's current first-response timer (a reopened request's new one)."""
    await conn.execute("UPDATE support_requests SET timer_id = $2 WHERE id = $1", request_id, timer_id)


async def link_change_request(conn: Conn, request_id: UUID, change_request_id: UUID) -> None:
    await conn.execute(
        "UPDATE support_requests SET change_request_id = $2 WHERE id = $1", request_id, change_request_id
    )


#: The SLA report of project $1 at $2, for organisation $3 (null: any); no row when absent or outside.
#: Outcomes count every first-response timer of the project (a reopened request has one per opening,
#: index ``sla_timers_project``); response times are the requests' first answers.
_REPORT = f"""
    SELECT p.id AS project_id,
           CASE WHEN p.business_hours_support THEN 'business' ELSE 'clock' END AS unit,
           p.launched_at AS window_starts_at, {WINDOW_ENDS} AS window_ends_at,
           f.requests, f.open_requests, g.met, g.breached, g.pending,
           CASE WHEN g.met + g.breached = 0 THEN NULL
                ELSE round(g.met::numeric / (g.met + g.breached), 4)::text END AS met_ratio,
           f.first_responses, f.median_first_response_seconds, f.p90_first_response_seconds,
           g.paused_seconds, $2::timestamptz AS generated_at
    FROM projects p
    CROSS JOIN LATERAL (
        SELECT count(*) AS requests,
               count(*) FILTER (WHERE r.status IN ('open', 'awaiting_client')) AS open_requests,
               count(r.first_response_seconds) FILTER (WHERE NOT r.first_response_automatic)
                   AS first_responses,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY r.first_response_seconds)
                   FILTER (WHERE NOT r.first_response_automatic) AS median_first_response_seconds,
               percentile_cont(0.9) WITHIN GROUP (ORDER BY r.first_response_seconds)
                   FILTER (WHERE NOT r.first_response_automatic) AS p90_first_response_seconds
        FROM support_requests r
        WHERE r.project_id = p.id
    ) AS f
    CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE t.state = 'met') AS met,
               count(*) FILTER (WHERE t.state = 'breached') AS breached,
               count(*) FILTER (WHERE t.state IN ('running', 'paused')) AS pending,
               coalesce(sum(extract(epoch FROM t.paused_total)), 0)::float8 AS paused_seconds
        FROM sla_timers t
        WHERE t.project_id = p.id AND t.kind = 'support_first_response' AND t.subject_type = 'support_request'
    ) AS g
    WHERE p.id = $1 AND ($3::uuid IS NULL OR p.client_id = $3)
"""


async def report(conn: Conn, project_id: UUID, *, now: datetime, client_id: UUID | None) -> SlaReport | None:
    row = await conn.fetchrow(_REPORT, project_id, now, client_id)
    return None if row is None else _report(row)


def _report(row: asyncpg.Record) -> SlaReport:
    return msgspec.convert(dict(row), SlaReport)
