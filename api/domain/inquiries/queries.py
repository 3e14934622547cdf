from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.db import Conn
from api.domain.inquiries.schemas import (
    Inquiry,
    InquiryStatus,
    InquiryTimer,
    QuarantineReason,
    Reply,
    Source,
    Submission,
)

_INQUIRY_COLUMNS = (
    "id",
    "status",
    "name",
    "email",
    "company",
    "phone",
    "message",
    "source",
    "external_id",
    "budget",
    "timeline",
    "consent",
    "locale",
    "time_zone",
    "quarantine_reason",
    "received_at",
    "replied_at",
    "released_at",
    "closed_at",
    "close_reason",
    "qualified_at",
    "client_id",
    "project_id",
    "created_by_key_id",
    "integration_id",
    "updated_at",
    "version",
)
_TIMER_COLUMNS = (
    "id",
    "state",
    "started_at",
    "warn_at",
    "due_at",
    "warned_at",
    "breached_at",
    "met_at",
    "cancelled_at",
)

#: The inquiry's reply timer: the open one, else the one started last (an inquiry has at most one).
#: ``$1`` is the instant ``overdue`` is judged at.
_SELECT = f"""
    SELECT {", ".join(f"i.{c}" for c in _INQUIRY_COLUMNS)},
           {", ".join(f"t.{c} AS timer_{c}" for c in _TIMER_COLUMNS)},
           coalesce(t.met_at IS NULL AND t.cancelled_at IS NULL
                    AND (t.state = 'breached' OR (t.state = 'running' AND t.due_at <= $1)), false) AS overdue
    FROM inquiries i
    LEFT JOIN LATERAL (
        SELECT {", ".join(_TIMER_COLUMNS)} FROM sla_timers
        WHERE subject_id = i.id AND kind = 'inquiry_reply'
        ORDER BY (met_at IS NULL AND cancelled_at IS NULL) DESC, started_at DESC
        LIMIT 1
    ) t ON true
"""

#: Fixed filter fragments of the list; values always travel as parameters.
_OVERDUE = (
    "(t.met_at IS NULL AND t.cancelled_at IS NULL"
    " AND (t.state = 'breached' OR (t.state = 'running' AND t.due_at <= $1)))"
)


def _inquiry(row: asyncpg.Record) -> Inquiry:
    values = {c: row[c] for c in _INQUIRY_COLUMNS}
    timer = (
        None
        if row["timer_id"] is None
        else msgspec.convert({c: row[f"timer_{c}"] for c in _TIMER_COLUMNS}, InquiryTimer)
    )
    values["timer"] = timer
    values["reply_due_at"] = timer.due_at if timer is not None else None
    values["overdue"] = row["overdue"]
    return msgspec.convert(values, Inquiry)


async def get(conn: Conn, inquiry_id: UUID, *, now: datetime) -> Inquiry | None:
    row = await conn.fetchrow(_SELECT + " WHERE i.id = $2", now, inquiry_id)
    return None if row is None else _inquiry(row)


async def by_external_id(
    conn: Conn, integration_id: UUID, source: Source, external_id: str, *, now: datetime
) -> Inquiry | None:
    """The integration's inquiry with this (source, external_id)."""
    row = await conn.fetchrow(
        _SELECT + " WHERE i.integration_id = $2 AND i.source = $3 AND i.external_id = $4",
        now,
        integration_id,
        source,
        external_id,
    )
    return None if row is None else _inquiry(row)


class Ref(msgspec.Struct):
    """The columns the state machine needs, read with the row locked."""

    id: UUID
    status: InquiryStatus
    name: str
    email: str
    company: str | None
    locale: str
    time_zone: str | None
    source: Source
    message: str
    quarantine_reason: QuarantineReason | None
    received_at: datetime
    created_by_key_id: UUID | None
    integration_id: UUID | None
    version: int


async def lock(conn: Conn, inquiry_id: UUID) -> Ref | None:
    row = await conn.fetchrow(
        """
        SELECT id, status, name, email, company, locale, time_zone, source, message, quarantine_reason,
               received_at, created_by_key_id, integration_id, version
        FROM inquiries WHERE id = $1 FOR UPDATE
        """,
        inquiry_id,
    )
    return None if row is None else msgspec.convert(dict(row), Ref)


async def page(
    conn: Conn,
    *,
    now: datetime,
    before: tuple[datetime, UUID] | None,
    limit: int,
    status: InquiryStatus | None,
    source: Source | None,
    overdue: bool | None,
) -> list[Inquiry]:
    """Newest first by (received_at, id); filters are ANDed."""
    conditions: list[str] = []
    args: list[Any] = [now]
    if before is not None:
        args.extend(before)
        conditions.append(f"(i.received_at, i.id) < (${len(args) - 1}, ${len(args)})")
    if status is not None:
        args.append(status)
        conditions.append(f"i.status = ${len(args)}")
    if source is not None:
        args.append(source)
        conditions.append(f"i.source = ${len(args)}")
    if overdue is True:
        # only a received inquiry has an open reply timer: the status index narrows the scan to the backlog
        conditions.append("i.status = 'received'")
        conditions.append(_OVERDUE)
    elif overdue is False:
        conditions.append(f"NOT coalesce({_OVERDUE}, false)")
    args.append(limit)
    where = (" WHERE " + " AND ".join(conditions)) if conditions else ""
    rows = await conn.fetch(
        _SELECT + where + f" ORDER BY i.received_at DESC, i.id DESC LIMIT ${len(args)}", *args
    )
    return [_inquiry(r) for r in rows]


class NewSubmission(msgspec.Struct, frozen=True):
    """The raw request stored with a new inquiry (see ``inquiry_submissions``)."""

    body: bytes
    content_type: str | None
    ip: str | None
    forwarded_for: str | None
    user_agent: str | None
    origin: str | None


async def insert(
    conn: Conn,
    *,
    status: InquiryStatus,
    name: str,
    email: str,
    company: str | None,
    phone: str | None,
    message: str,
    source: Source,
    external_id: str | None,
    budget: str | None,
    timeline: str | None,
    consent: bool,
    locale: str,
    quarantine_reason: QuarantineReason | None,
    created_by_key_id: UUID,
    integration_id: UUID,
    submission: NewSubmission,
    now: datetime,
    time_zone: str | None = None,
) -> UUID | None:
    """Insert the inquiry and its raw submission in one statement; None when an inquiry of the same
    integration with the same (source, external_id) exists (then neither is written).

    A concurrent insert of the same pair waits for the first to commit and then writes nothing.
    """
    inquiry_id: UUID | None = await conn.fetchval(
        """
        WITH inquiry AS (
            INSERT INTO inquiries (status, name, email, company, phone, message, source, external_id, budget,
                                   timeline, consent, locale, quarantine_reason, received_at,
                                   created_by_key_id, integration_id, updated_at, time_zone)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $22, $14, $23)
            ON CONFLICT (integration_id, source, external_id) DO NOTHING
            RETURNING id
        ), submission AS (
            INSERT INTO inquiry_submissions (inquiry_id, body, content_type, ip, forwarded_for, user_agent,
                                             origin, received_at)
            SELECT id, $16, $17, $18, $19, $20, $21, $14 FROM inquiry
        )
        SELECT id FROM inquiry
        """,
        status,
        name,
        email,
        company,
        phone,
        message,
        source,
        external_id,
        budget,
        timeline,
        consent,
        locale,
        quarantine_reason,
        now,
        created_by_key_id,
        submission.body,
        submission.content_type,
        submission.ip,
        submission.forwarded_for,
        submission.user_agent,
        submission.origin,
        integration_id,
        time_zone,
    )
    return inquiry_id


async def quarantine(conn: Conn, inquiry_id: UUID, reason: QuarantineReason, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE inquiries SET status = 'quarantined', quarantine_reason = $2, updated_at = $3,
                             version = version + 1
        WHERE id = $1
        """,
        inquiry_id,
        reason,
        now,
    )


async def submission(conn: Conn, inquiry_id: UUID) -> Submission | None:
    row = await conn.fetchrow(
        """
        SELECT convert_from(body, 'UTF8') AS body, content_type, ip, forwarded_for, user_agent, origin,
               received_at
        FROM inquiry_submissions WHERE inquiry_id = $1
        """,
        inquiry_id,
    )
    return None if row is None else msgspec.convert(dict(row), Submission)


async def replies(conn: Conn, inquiry_id: UUID) -> list[Reply]:
    rows = await conn.fetch(
        """
        SELECT id, message, channel, send_email, first, replied_by_key_id, replied_at
        FROM inquiry_replies WHERE inquiry_id = $1 ORDER BY replied_at, seq
        """,
        inquiry_id,
    )
    return [msgspec.convert(dict(r), Reply) for r in rows]


async def insert_reply(
    conn: Conn,
    inquiry_id: UUID,
    *,
    message: str,
    send_email: bool,
    first: bool,
    replied_by_key_id: UUID,
    now: datetime,
    channel: str = "email",
) -> UUID:
    reply_id: UUID = await conn.fetchval(
        """
        INSERT INTO inquiry_replies (inquiry_id, message, send_email, first, replied_by_key_id, replied_at,
                                     channel)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        RETURNING id
        """,
        inquiry_id,
        message,
        send_email,
        first,
        replied_by_key_id,
        now,
        channel,
    )
    return reply_id


async def mark_replied(conn: Conn, inquiry_id: UUID, now: datetime) -> None:
    """The first reply: received → replied."""
    await conn.execute(
        """
        UPDATE inquiries SET status = 'replied', replied_at = $2, updated_at = $2, version = version + 1
        WHERE id = $1
        """,
        inquiry_id,
        now,
    )


async def touch(conn: Conn, inquiry_id: UUID, now: datetime) -> None:
    """A later reply changes no status but is a change of the inquiry."""
    await conn.execute(
        "UPDATE inquiries SET updated_at = $2, version = version + 1 WHERE id = $1", inquiry_id, now
    )


async def mark_closed(conn: Conn, inquiry_id: UUID, reason: str, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE inquiries SET status = 'closed', closed_at = $3, close_reason = $2, updated_at = $3,
                             version = version + 1
        WHERE id = $1
        """,
        inquiry_id,
        reason,
        now,
    )


async def mark_released(conn: Conn, inquiry_id: UUID, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE inquiries SET status = 'received', released_at = $2, updated_at = $2, version = version + 1
        WHERE id = $1
        """,
        inquiry_id,
        now,
    )


async def mark_qualified(
    conn: Conn, inquiry_id: UUID, client_id: UUID, project_id: UUID, now: datetime
) -> None:
    await conn.execute(
        """
        UPDATE inquiries SET status = 'qualified', client_id = $2, project_id = $3, qualified_at = $4,
                             updated_at = $4, version = version + 1
        WHERE id = $1
        """,
        inquiry_id,
        client_id,
        project_id,
        now,
    )
