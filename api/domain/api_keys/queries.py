from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from api.db import Conn
from api.domain.api_keys.schemas import ApiKey

_COLUMNS = "id, role, name, client_id, integration_id, prefix, created_at, revoked_at"


class Integration(msgspec.Struct):
    id: UUID
    role: str
    client_id: UUID | None


async def integration(conn: Conn, integration_id: UUID) -> Integration | None:
    row = await conn.fetchrow("SELECT id, role, client_id FROM integrations WHERE id = $1", integration_id)
    return None if row is None else msgspec.convert(dict(row), Integration)


async def insert(
    conn: Conn,
    *,
    role: str,
    name: str,
    client_id: UUID | None,
    prefix: str,
    secret_hash: bytes,
    created_by: UUID | None,
    integration_id: UUID | None,
    now: datetime,
) -> ApiKey:
    """Insert the key into ``integration_id``, or into a new integration named after it when None."""
    row = await conn.fetchrow(
        f"""
        WITH started AS (
            INSERT INTO integrations (name, role, client_id, created_at)
            SELECT $2, $1, $3, $7 WHERE $8::uuid IS NULL
            RETURNING id
        )
        INSERT INTO api_keys (role, name, client_id, prefix, secret_hash, created_by, created_at,
                              integration_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, coalesce($8::uuid, (SELECT id FROM started)))
        RETURNING {_COLUMNS}
        """,
        role,
        name,
        client_id,
        prefix,
        secret_hash,
        created_by,
        now,
        integration_id,
    )
    assert row is not None
    return msgspec.convert(dict(row), ApiKey)


async def page(
    conn: Conn, *, after: tuple[datetime, UUID] | None, limit: int, include_revoked: bool
) -> list[ApiKey]:
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM api_keys
        WHERE ($1::timestamptz IS NULL OR (created_at, id) > ($1, $2::uuid))
          AND ($3 OR revoked_at IS NULL)
        ORDER BY created_at, id
        LIMIT $4
        """,
        after[0] if after else None,
        after[1] if after else None,
        include_revoked,
        limit,
    )
    return [msgspec.convert(dict(r), ApiKey) for r in rows]


async def lock_for_revocation(conn: Conn, key_id: UUID) -> list[ApiKey]:
    """Lock, in id order, the key and every active staff key; return those still matching.

    Two revocations that both touch staff keys lock the same rows in the same order: the second waits
    for the first to commit and then no longer sees the key the first revoked (the condition is checked
    again on the locked row), so it cannot count it as the staff key that remains.
    """
    rows = await conn.fetch(
        f"""
        SELECT {_COLUMNS} FROM api_keys
        WHERE id = $1 OR (role = 'staff' AND revoked_at IS NULL)
        ORDER BY id
        FOR UPDATE
        """,
        key_id,
    )
    return [msgspec.convert(dict(r), ApiKey) for r in rows]


async def revoke(conn: Conn, key_id: UUID, now: datetime) -> ApiKey:
    row = await conn.fetchrow(
        f"UPDATE api_keys SET revoked_at = $2 WHERE id = $1 RETURNING {_COLUMNS}", key_id, now
    )
    assert row is not None
    return msgspec.convert(dict(row), ApiKey)


async def any_keys(conn: Conn) -> bool:
    value: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM api_keys)")
    return value
