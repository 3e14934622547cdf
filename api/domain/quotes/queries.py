from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.db import Conn
from api.domain.projects import status
from api.domain.quotes.schemas import Instalment, Revision, StoredLine

_COLUMNS = """
    q.id, q.project_id, p.client_id, q.revision, q.status, q.currency, q.lines, q.assumptions, q.exclusions,
    q.payment_schedule, q.total_minor, q.total_hours, q.valid_until, q.delivery_date, q.revised_from,
    q.document_sha256, q.sent_at, q.accepted_at, q.accepted_by_name, q.accepted_ip, q.accepted_user_agent,
    q.evidence_sha256, q.declined_at, q.decline_reason, q.expired_at, q.superseded_at, q.superseded_by,
    q.withdrawn_at, q.withdrawal_reason,
    q.created_at, q.updated_at, q.version
"""
_SELECT = f"SELECT {_COLUMNS} FROM quotes q JOIN projects p ON p.id = q.project_id"

#: The status document's ``quote_awaiting_acceptance``: the project's sent revision (at most one, index
#: ``quotes_one_sent``), or null.
STATUS_QUOTE = """(SELECT json_build_object(
        'id', q.id, 'revision', q.revision,
        'total', json_build_object('amount', money_text(q.total_minor, q.minor_digits), 'currency', q.currency),
        'valid_until', q.valid_until, 'delivery_date', q.delivery_date, 'sent_at', rfc3339(q.sent_at))
    FROM quotes q WHERE q.project_id = p.id AND q.status = 'sent')"""

status.set_part("quote", STATUS_QUOTE)


class Content(msgspec.Struct, frozen=True, kw_only=True):
    """The editable content of a draft, validated and in stored form."""

    lines: list[StoredLine]
    assumptions: list[str]
    exclusions: list[str]
    payment_schedule: list[Instalment]
    total_minor: int
    total_hours: Decimal
    valid_until: date | None
    delivery_date: date | None


class ProjectNames(msgspec.Struct, frozen=True):
    project_name: str
    client_name: str


def _revision(row: asyncpg.Record) -> Revision:
    return msgspec.convert(dict(row), Revision)


async def get(conn: Conn, quote_id: UUID, *, for_update: bool = False) -> Revision | None:
    row = await conn.fetchrow(
        _SELECT + " WHERE q.id = $1" + (" FOR UPDATE OF q" if for_update else ""), quote_id
    )
    return None if row is None else _revision(row)


async def page(
    conn: Conn,
    project_id: UUID,
    *,
    include_drafts: bool,
    status: str | None,
    before: int | None,
    limit: int,
) -> list[Revision]:
    """Revisions of a project, newest first; the cursor is the revision number."""
    rows = await conn.fetch(
        _SELECT
        + """
        WHERE q.project_id = $1
          AND ($2 OR q.status <> 'draft')
          AND ($3::text IS NULL OR q.status = $3)
          AND ($4::integer IS NULL OR q.revision < $4)
        ORDER BY q.revision DESC
        LIMIT $5
        """,
        project_id,
        include_drafts,
        status,
        before,
        limit,
    )
    return [_revision(r) for r in rows]


async def draft_of(conn: Conn, project_id: UUID) -> UUID | None:
    found: UUID | None = await conn.fetchval(
        "SELECT id FROM quotes WHERE project_id = $1 AND status = 'draft'", project_id
    )
    return found


async def next_revision(conn: Conn, project_id: UUID) -> int:
    value: int = await conn.fetchval(
        "SELECT coalesce(max(revision), 0) + 1 FROM quotes WHERE project_id = $1", project_id
    )
    return value


def _lines(lines: list[StoredLine]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(line) for line in lines]


def _schedule(items: list[Instalment]) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(item) for item in items]


async def insert(
    conn: Conn,
    *,
    project_id: UUID,
    revision: int,
    currency: str,
    minor_digits: int,
    content: Content,
    revised_from: UUID | None,
    now: datetime,
) -> UUID:
    quote_id: UUID = await conn.fetchval(
        """
        INSERT INTO quotes (project_id, revision, status, currency, minor_digits, lines, assumptions,
                            exclusions, payment_schedule, total_minor, total_hours, valid_until,
                            delivery_date, revised_from, created_at, updated_at)
        VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14)
        RETURNING id
        """,
        project_id,
        revision,
        currency,
        minor_digits,
        _lines(content.lines),
        content.assumptions,
        content.exclusions,
        _schedule(content.payment_schedule),
        content.total_minor,
        content.total_hours,
        content.valid_until,
        content.delivery_date,
        revised_from,
        now,
    )
    return quote_id


async def update_content(conn: Conn, quote_id: UUID, content: Content, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE quotes SET lines = $2, assumptions = $3, exclusions = $4, payment_schedule = $5,
                          total_minor = $6, total_hours = $7, valid_until = $8, delivery_date = $9,
                          updated_at = $10, version = version + 1
        WHERE id = $1 AND status = 'draft'
        """,
        quote_id,
        _lines(content.lines),
        content.assumptions,
        content.exclusions,
        _schedule(content.payment_schedule),
        content.total_minor,
        content.total_hours,
        content.valid_until,
        content.delivery_date,
        now,
    )


async def supersede_sent(conn: Conn, project_id: UUID, *, by: UUID, now: datetime) -> list[tuple[UUID, int]]:
    """Mark the project's sent revision (there is at most one) superseded by ``by``."""
    rows = await conn.fetch(
        """
        UPDATE quotes SET status = 'superseded', superseded_at = $3, superseded_by = $2,
                          updated_at = $3, version = version + 1
        WHERE project_id = $1 AND status = 'sent' AND id <> $2
        RETURNING id, revision
        """,
        project_id,
        by,
        now,
    )
    return [(r["id"], r["revision"]) for r in rows]


async def mark_sent(
    conn: Conn,
    quote_id: UUID,
    *,
    sent_at: datetime,
    valid_until: date,
    document_sha256: str,
    sent_by: UUID,
) -> None:
    await conn.execute(
        """
        UPDATE quotes SET status = 'sent', sent_at = $2, valid_until = $3, document_sha256 = $4, sent_by = $5,
                          updated_at = $2, version = version + 1
        WHERE id = $1 AND status = 'draft'
        """,
        quote_id,
        sent_at,
        valid_until,
        document_sha256,
        sent_by,
    )


async def mark_accepted(
    conn: Conn,
    quote_id: UUID,
    *,
    at: datetime,
    name: str,
    key_id: UUID,
    ip: str | None,
    user_agent: str | None,
    evidence_sha256: str,
) -> None:
    await conn.execute(
        """
        UPDATE quotes SET status = 'accepted', accepted_at = $2, accepted_by_name = $3, accepted_by_key = $4,
                          accepted_ip = $5, accepted_user_agent = $6, evidence_sha256 = $7,
                          updated_at = $2, version = version + 1
        WHERE id = $1 AND status = 'sent'
        """,
        quote_id,
        at,
        name,
        key_id,
        ip,
        user_agent,
        evidence_sha256,
    )


async def mark_declined(
    conn: Conn, quote_id: UUID, *, at: datetime, key_id: UUID, reason: str | None
) -> None:
    await conn.execute(
        """
        UPDATE quotes SET status = 'declined', declined_at = $2, declined_by_key = $3, decline_reason = $4,
                          updated_at = $2, version = version + 1
        WHERE id = $1 AND status = 'sent'
        """,
        quote_id,
        at,
        key_id,
        reason,
    )


async def claim_expired(conn: Conn, *, before: date, limit: int) -> list[UUID]:
    """Sent revisions whose last valid day is before ``before``, locked; rows others hold are skipped."""
    rows = await conn.fetch(
        """
        SELECT id FROM quotes
        WHERE status = 'sent' AND valid_until < $1
        ORDER BY valid_until, id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
        """,
        before,
        limit,
    )
    return [r["id"] for r in rows]


async def sent_of(conn: Conn, project_id: UUID) -> UUID | None:
    """The project's sent revision (at most one), locked ``FOR UPDATE``."""
    found: UUID | None = await conn.fetchval(
        "SELECT id FROM quotes WHERE project_id = $1 AND status = 'sent' FOR UPDATE", project_id
    )
    return found


async def mark_withdrawn(conn: Conn, quote_id: UUID, *, at: datetime, reason: str) -> None:
    await conn.execute(
        """
        UPDATE quotes SET status = 'withdrawn', withdrawn_at = $2, withdrawal_reason = $3, updated_at = $2,
                          version = version + 1
        WHERE id = $1 AND status = 'sent'
        """,
        quote_id,
        at,
        reason,
    )


async def mark_expired(conn: Conn, quote_id: UUID, *, at: datetime) -> None:
    await conn.execute(
        """
        UPDATE quotes SET status = 'expired', expired_at = $2, updated_at = $2, version = version + 1
        WHERE id = $1 AND status = 'sent'
        """,
        quote_id,
        at,
    )


async def names(conn: Conn, project_id: UUID) -> ProjectNames:
    """The project's and its client's names, for the texts of notifications."""
    row = await conn.fetchrow(
        """
        SELECT p.name AS project_name, c.name AS client_name
        FROM projects p JOIN clients c ON c.id = p.client_id
        WHERE p.id = $1
        """,
        project_id,
    )
    assert row is not None
    return msgspec.convert(dict(row), ProjectNames)
