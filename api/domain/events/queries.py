from __future__ import annotations

from typing import Any

import msgspec

from api.db import Conn
from api.domain.events.schemas import FeedEvent


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
