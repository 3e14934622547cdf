from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.db import Conn
from api.domain.contracts.schemas import AmendmentRow, ContractRow

_COLUMNS = """
    k.id, k.project_id, p.client_id, k.quote_id, q.revision AS quote_revision, k.currency,
    k.baseline_price_minor, k.baseline_delivery_date, k.accepted_at, k.approved_changes_minor,
    k.timeline_impact_days, k.current_delivery_date, k.amendment_count, k.updated_at, k.version
"""
_FROM = """
    FROM contracts k
    JOIN projects p ON p.id = k.project_id
    JOIN quotes q ON q.id = k.quote_id
    WHERE k.project_id = $1
"""
_LEDGER = """
    coalesce((SELECT json_agg(json_build_object(
                  'id', a.id, 'number', a.number, 'kind', a.kind, 'change_request_id', a.change_request_id,
                  'reason', a.reason,
                  'price_impact_minor', a.price_impact_minor, 'timeline_impact_days', a.timeline_impact_days,
                  'criteria_changes', a.criteria_changes, 'approved_at', rfc3339(a.approved_at),
                  'price_after_minor', a.price_after_minor, 'delivery_date_after', a.delivery_date_after,
                  'recorded_at', rfc3339(a.recorded_at)) ORDER BY a.number)
              FROM contract_amendments a WHERE a.contract_id = k.id), '[]'::json) AS amendments
"""


def _contract(row: asyncpg.Record) -> ContractRow:
    return msgspec.convert({k: row[k] for k in ContractRow.__struct_fields__}, ContractRow)


async def get(conn: Conn, project_id: UUID, *, for_update: bool = False) -> ContractRow | None:
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} {_FROM}" + (" FOR UPDATE OF k" if for_update else ""), project_id
    )
    return None if row is None else _contract(row)


async def with_amendments(conn: Conn, project_id: UUID) -> tuple[ContractRow, list[AmendmentRow]] | None:
    """The contract and its whole ledger in one statement."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS}, {_LEDGER} {_FROM}", project_id)
    if row is None:
        return None
    return _contract(row), msgspec.convert(row["amendments"], list[AmendmentRow])


async def insert(
    conn: Conn,
    *,
    project_id: UUID,
    quote_id: UUID,
    currency: str,
    minor_digits: int,
    baseline_price_minor: int,
    baseline_delivery_date: date,
    accepted_at: datetime,
    now: datetime,
) -> UUID:
    contract_id: UUID = await conn.fetchval(
        """
        INSERT INTO contracts (project_id, quote_id, currency, minor_digits, baseline_price_minor,
                               baseline_delivery_date, accepted_at, current_delivery_date, created_at,
                               updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $8, $8)
        RETURNING id
        """,
        project_id,
        quote_id,
        currency,
        minor_digits,
        baseline_price_minor,
        baseline_delivery_date,
        accepted_at,
        now,
    )
    return contract_id


async def amended_by(conn: Conn, change_request_id: UUID) -> int | None:
    """The number of the amendment a change request already made, if any."""
    found: int | None = await conn.fetchval(
        "SELECT number FROM contract_amendments WHERE change_request_id = $1", change_request_id
    )
    return found


async def append(
    conn: Conn,
    *,
    contract: ContractRow,
    number: int,
    change_request_id: UUID | None,
    price_impact_minor: int,
    timeline_impact_days: int,
    criteria_changes: list[dict[str, Any]],
    approved_at: datetime,
    price_after_minor: int,
    delivery_date_after: date,
    actor_key_id: UUID | None,
    actor_role: str | None,
    now: datetime,
    kind: str = "change_request",
    reason: str | None = None,
) -> UUID:
    """Insert the amendment and move the contract's running figures, in one statement."""
    amendment_id: UUID = await conn.fetchval(
        """
        WITH added AS (
            INSERT INTO contract_amendments (contract_id, project_id, number, change_request_id,
                                             price_impact_minor, timeline_impact_days, criteria_changes,
                                             approved_at, price_after_minor, delivery_date_after,
                                             actor_key_id, actor_role, recorded_at, kind, reason)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            RETURNING id
        ), moved AS (
            UPDATE contracts SET approved_changes_minor = approved_changes_minor + $5,
                                 timeline_impact_days = timeline_impact_days + $6,
                                 current_delivery_date = $10, amendment_count = $3,
                                 updated_at = $13, version = version + 1
            WHERE id = $1
        )
        SELECT id FROM added
        """,
        contract.id,
        contract.project_id,
        number,
        change_request_id,
        price_impact_minor,
        timeline_impact_days,
        criteria_changes,
        approved_at,
        price_after_minor,
        delivery_date_after,
        actor_key_id,
        actor_role,
        now,
        kind,
        reason,
    )
    return amendment_id
