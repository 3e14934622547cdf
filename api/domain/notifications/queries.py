"""SQL of notifications: events as the fan-out reads them, client contacts, deliveries and attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.db import Conn
from api.domain.notifications.templates import Event, Recipient

_DELIVERY_COLUMNS = """
    d.id, d.event_id, d.channel, d.recipient, d.endpoint_id, d.audience, d.template, d.recipient_name,
    d.locale, d.time_zone, d.state, d.attempts, d.next_attempt_at, d.lease_until, d.last_error,
    d.created_at, d.expires_at, d.delivered_at, d.failed_at
"""


class Delivery(msgspec.Struct):
    """One message to one recipient (an address or a webhook endpoint) about one event."""

    id: UUID
    event_id: UUID
    channel: str
    recipient: str
    endpoint_id: UUID | None
    audience: str | None
    template: str | None
    recipient_name: str | None
    locale: str | None
    time_zone: str | None
    state: str
    attempts: int
    next_attempt_at: datetime | None
    lease_until: datetime | None
    last_error: str | None
    created_at: datetime
    expires_at: datetime
    delivered_at: datetime | None
    failed_at: datetime | None


class PlannedEmail(msgspec.Struct, frozen=True):
    recipient: Recipient
    audience: str
    template: str


class Due(msgspec.Struct, frozen=True):
    id: UUID
    channel: str
    attempts: int
    #: since when the delivery has been due (its next attempt time, or the end of its lease)
    since: datetime | None = None


def _delivery(row: asyncpg.Record) -> Delivery:
    return msgspec.convert(dict(row), Delivery)


class Loaded(msgspec.Struct, frozen=True):
    event: Event
    seq: int
    dispatched: bool


async def event(conn: Conn, event_id: UUID, *, for_update: bool = False) -> Loaded | None:
    """The event, its sequence number and whether it was dispatched already."""
    row = await conn.fetchrow(
        """
        SELECT id, type, subject_type, subject_id, client_id, project_id, actor_role, data, occurred_at,
               seq, dispatched_at IS NOT NULL AS dispatched
        FROM domain_events WHERE id = $1
        """
        + (" FOR UPDATE" if for_update else ""),
        event_id,
    )
    if row is None:
        return None
    values: dict[str, Any] = dict(row)
    dispatched = bool(values.pop("dispatched"))
    seq = int(values.pop("seq"))
    if not isinstance(values["data"], dict):
        values["data"] = {}
    return Loaded(event=msgspec.convert(values, Event), seq=seq, dispatched=dispatched)


async def mark_dispatched(conn: Conn, event_id: UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE domain_events SET dispatched_at = $2 WHERE id = $1 AND dispatched_at IS NULL", event_id, now
    )


async def client_contacts(conn: Conn, client_id: UUID) -> list[Recipient]:
    rows = await conn.fetch(
        """
        SELECT email, name, locale, time_zone FROM client_contacts WHERE client_id = $1 ORDER BY position
        """,
        client_id,
    )
    return [
        Recipient(email=r["email"], name=r["name"], locale=r["locale"] or "en", time_zone=r["time_zone"])
        for r in rows
    ]


async def insert_emails(
    conn: Conn, event_id: UUID, planned: list[PlannedEmail], now: datetime, expires_at: datetime
) -> None:
    """One pending email delivery per address; an existing (event, address) row is left as it is."""
    if not planned:
        return
    await conn.executemany(
        """
        INSERT INTO deliveries (event_id, channel, recipient, audience, template, recipient_name, locale,
                                time_zone, state, next_attempt_at, created_at, expires_at)
        VALUES ($1, 'email', $2, $3, $4, $5, $6, $7, 'pending', $8, $8, $9)
        ON CONFLICT (event_id, channel, recipient) DO NOTHING
        """,
        [
            (
                event_id,
                p.recipient.email,
                p.audience,
                p.template,
                p.recipient.name,
                p.recipient.locale,
                p.recipient.time_zone,
                now,
                expires_at,
            )
            for p in planned
        ],
    )


async def due_for_event(conn: Conn, event_id: UUID) -> list[Due]:
    rows = await conn.fetch(
        """
        SELECT id, channel, attempts FROM deliveries
        WHERE event_id = $1 AND state = 'pending' AND next_attempt_at IS NOT NULL
        ORDER BY channel, recipient
        """,
        event_id,
    )
    return [Due(id=r["id"], channel=r["channel"], attempts=r["attempts"]) for r in rows]


async def due(conn: Conn, now: datetime, limit: int) -> list[Due]:
    """Pending deliveries whose time has come, and sending ones whose lease ran out (a worker died)."""
    rows = await conn.fetch(
        """
        (SELECT id, channel, attempts, next_attempt_at AS at FROM deliveries
         WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2)
        UNION ALL
        (SELECT id, channel, attempts, lease_until AS at FROM deliveries
         WHERE state = 'sending' AND lease_until <= $1 ORDER BY lease_until LIMIT $2)
        ORDER BY at
        LIMIT $2
        """,
        now,
        limit,
    )
    return [Due(id=r["id"], channel=r["channel"], attempts=r["attempts"], since=r["at"]) for r in rows]


async def lock(conn: Conn, delivery_id: UUID) -> Delivery | None:
    row = await conn.fetchrow(
        f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d WHERE d.id = $1 FOR UPDATE", delivery_id
    )
    return None if row is None else _delivery(row)


async def get(conn: Conn, delivery_id: UUID) -> Delivery | None:
    row = await conn.fetchrow(f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d WHERE d.id = $1", delivery_id)
    return None if row is None else _delivery(row)


async def start_attempt(conn: Conn, delivery_id: UUID, lease_until: datetime) -> int:
    """Mark the delivery ``sending`` under a lease; returns the number of this attempt."""
    number: int = await conn.fetchval(
        """
        UPDATE deliveries SET state = 'sending', attempts = attempts + 1, lease_until = $2
        WHERE id = $1 RETURNING attempts
        """,
        delivery_id,
        lease_until,
    )
    return number


async def park(conn: Conn, delivery_id: UUID) -> None:
    """Keep a delivery waiting without a time (its endpoint is disabled); enabling it re-arms it."""
    await conn.execute(
        "UPDATE deliveries SET state = 'pending', next_attempt_at = NULL, lease_until = NULL WHERE id = $1",
        delivery_id,
    )


async def cancel(conn: Conn, delivery_id: UUID, reason: str, now: datetime) -> None:
    await conn.execute(
        """
        UPDATE deliveries SET state = 'cancelled', next_attempt_at = NULL, lease_until = NULL,
                              last_error = $2, failed_at = $3
        WHERE id = $1
        """,
        delivery_id,
        reason,
        now,
    )


async def record_attempt(
    conn: Conn,
    delivery_id: UUID,
    number: int,
    *,
    started_at: datetime,
    latency_ms: int | None,
    status_code: int | None,
    response_body: str | None,
    error: str | None,
    succeeded: bool,
) -> None:
    await conn.execute(
        """
        INSERT INTO delivery_attempts (delivery_id, number, started_at, latency_ms, status_code,
                                       response_body, error, succeeded)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (delivery_id, number) DO NOTHING
        """,
        delivery_id,
        number,
        started_at,
        latency_ms,
        status_code,
        response_body,
        error,
        succeeded,
    )


async def finish(
    conn: Conn,
    delivery_id: UUID,
    number: int,
    *,
    state: str,
    next_attempt_at: datetime | None,
    error: str | None,
    now: datetime,
) -> bool:
    """Close attempt ``number``: ``delivered``, ``pending`` again (with its next time) or ``failed``.

    Only the holder of the current attempt may close it; a worker whose lease was taken over by another
    changes nothing (returns False).
    """
    result: str = await conn.execute(
        """
        UPDATE deliveries SET
            state = $3,
            next_attempt_at = $4,
            lease_until = NULL,
            last_error = $5,
            delivered_at = CASE WHEN $3 = 'delivered' THEN $6 ELSE delivered_at END,
            failed_at = CASE WHEN $3 = 'failed' THEN $6 ELSE failed_at END
        WHERE id = $1 AND attempts = $2 AND state = 'sending'
        """,
        delivery_id,
        number,
        state,
        next_attempt_at,
        error,
        now,
    )
    return result.endswith(" 1")


async def requeue(conn: Conn, delivery_id: UUID, now: datetime, expires_at: datetime) -> Delivery | None:
    """Make a pending or failed delivery due now with a fresh window (the manual retry)."""
    row = await conn.fetchrow(
        f"""
        UPDATE deliveries d SET state = 'pending', next_attempt_at = $2, expires_at = $3, failed_at = NULL
        WHERE d.id = $1 AND d.state IN ('pending', 'failed')
        RETURNING {_DELIVERY_COLUMNS}
        """,
        delivery_id,
        now,
        expires_at,
    )
    return None if row is None else _delivery(row)
