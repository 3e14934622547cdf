from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from api.db import Conn
from api.domain.events.schemas import FeedEvent, NewEvent


class Row(msgspec.Struct):
    txid: int
    seq: int
    event: FeedEvent


async def feed(conn: Conn, *, after: tuple[int, int], types: list[str] | None, limit: int) -> list[Row]:
    """Events after the (transaction, sequence) position ``after``, of transactions older than every
    transaction still in flight, in (transaction, sequence) order."""
    rows = await conn.fetch(
        """
        SELECT txid::text::bigint AS txid, seq, id, type, occurred_at AS created_at, subject_type,
               subject_id, client_id, project_id, data
        FROM domain_events
        WHERE (txid, seq) > ($1::text::xid8, $2::bigint)
          AND txid < pg_snapshot_xmin(pg_current_snapshot())
          AND ($3::text[] IS NULL OR type = ANY ($3::text[]))
        ORDER BY txid, seq
        LIMIT $4
        """,
        str(after[0]),
        after[1],
        types,
        limit,
    )
    result = []
    for r in rows:
        values: dict[str, Any] = dict(r)
        txid = values.pop("txid")
        seq = values.pop("seq")
        if not isinstance(values["data"], dict):
            values["data"] = {}
        result.append(Row(txid=txid, seq=seq, event=msgspec.convert(values, FeedEvent)))
    return result


async def insert(
    conn: Conn, event: NewEvent, *, actor_key_id: UUID | None, actor_role: str | None, now: datetime
) -> UUID:
    """One event row; its id."""
    event_id: UUID = await conn.fetchval(
        """
        INSERT INTO domain_events (type, subject_type, subject_id, client_id, project_id, actor_key_id,
                                   actor_role, data, occurred_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING id
        """,
        event.type,
        event.subject_type,
        event.subject_id,
        event.client_id,
        event.project_id,
        actor_key_id,
        actor_role,
        event.data,
        now,
    )
    return event_id


async def insert_many(conn: Conn, events: list[NewEvent], now: datetime) -> list[UUID]:
    """Many event rows in one statement, in the order given; their ids in that order."""
    if not events:
        return []
    rows = await conn.fetch(
        """
        INSERT INTO domain_events (type, subject_type, subject_id, client_id, project_id, data, occurred_at)
        SELECT e.type, e.subject_type, e.subject_id, e.client_id, e.project_id, e.data, $7
        FROM unnest($1::text[], $2::text[], $3::uuid[], $4::uuid[], $5::uuid[], $6::jsonb[]) WITH ORDINALITY
            AS e(type, subject_type, subject_id, client_id, project_id, data, position)
        ORDER BY e.position
        RETURNING id
        """,
        [e.type for e in events],
        [e.subject_type for e in events],
        [e.subject_id for e in events],
        [e.client_id for e in events],
        [e.project_id for e in events],
        [e.data for e in events],
        now,
    )
    return [r["id"] for r in rows]


async def insert_audit(
    conn: Conn,
    action: str,
    *,
    actor_key_id: UUID | None,
    actor_role: str | None,
    subject_type: str,
    subject_id: UUID,
    details: dict[str, Any],
    now: datetime,
) -> None:
    await conn.execute(
        """
        INSERT INTO audit_entries (actor_key_id, actor_role, action, subject_type, subject_id, details, at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        """,
        actor_key_id,
        actor_role,
        action,
        subject_type,
        subject_id,
        details,
        now,
    )
