from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from api.db import Conn
from api.domain.api_keys.schemas import ApiKey

_COLUMNS = "id, role, name, client_id, prefix, created_at, revoked_at"


async def insert(
    conn: Conn,
    *,
    role: str,
    name: str,
    client_id: UUID | None,
    prefix: str,
    secret_hash: bytes,
    created_by: UUID | None,
    now: datetime,
) -> ApiKey:
    row = await conn.fetchrow(
        f"""
        INSERT INTO api_keys (role, name, client_id, prefix, secret_hash, created_by, created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7)
        RETURNING {_COLUMNS}
        """,
        role,
        name,
        client_id,
        prefix,
        secret_hash,
        created_by,
        now,
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


async def revoke(conn: Conn, key_id: UUID, now: datetime) -> ApiKey | None:
    row = await conn.fetchrow(
        f"""
        UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1
        RETURNING {_COLUMNS}
        """,
        key_id,
        now,
    )
    return None if row is None else msgspec.convert(dict(row), ApiKey)


async def count_active_staff(conn: Conn) -> int:
    value: int = await conn.fetchval(
        "SELECT count(*) FROM api_keys WHERE role = 'staff' AND revoked_at IS NULL"
    )
    return value


async def any_keys(conn: Conn) -> bool:
    value: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM api_keys)")
    return value
