from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.db import Conn
from api.domain.clients.schemas import Client, Contact

_SELECT = """
    SELECT c.id, c.name, c.email_domain, c.created_at, c.updated_at, c.version,
           coalesce((SELECT jsonb_agg(jsonb_build_object('name', k.name, 'email', k.email, 'locale', k.locale,
                                                         'time_zone', k.time_zone) ORDER BY k.position)
                     FROM client_contacts k WHERE k.client_id = c.id), '[]'::jsonb) AS contacts
    FROM clients c
"""


def _client(row: asyncpg.Record) -> Client:
    return msgspec.convert(dict(row), Client)


async def exists(conn: Conn, client_id: UUID) -> bool:
    value: bool = await conn.fetchval("SELECT EXISTS (SELECT 1 FROM clients WHERE id = $1)", client_id)
    return value


async def get(conn: Conn, client_id: UUID, *, for_update: bool = False) -> Client | None:
    row = await conn.fetchrow(
        _SELECT + " WHERE c.id = $1" + (" FOR UPDATE OF c" if for_update else ""), client_id
    )
    return None if row is None else _client(row)


async def by_domain(conn: Conn, domain: str) -> Client | None:
    row = await conn.fetchrow(_SELECT + " WHERE c.email_domain = $1", domain)
    return None if row is None else _client(row)


async def page(
    conn: Conn,
    *,
    after: tuple[datetime, UUID] | None,
    limit: int,
    only: UUID | None,
    name: str | None,
) -> list[Client]:
    rows = await conn.fetch(
        _SELECT
        + """
        WHERE ($1::timestamptz IS NULL OR (c.created_at, c.id) > ($1, $2::uuid))
          AND ($3::uuid IS NULL OR c.id = $3)
          AND ($4::text IS NULL OR c.name ILIKE '%' || $4 || '%')
        ORDER BY c.created_at, c.id
        LIMIT $5
        """,
        after[0] if after else None,
        after[1] if after else None,
        only,
        name,
        limit,
    )
    return [_client(r) for r in rows]


async def insert(conn: Conn, *, name: str, email_domain: str | None, now: datetime) -> UUID:
    client_id: UUID = await conn.fetchval(
        """
        INSERT INTO clients (name, email_domain, created_at, updated_at) VALUES ($1, $2, $3, $3)
        RETURNING id
        """,
        name,
        email_domain,
        now,
    )
    return client_id


async def update(conn: Conn, client_id: UUID, fields: dict[str, Any], now: datetime) -> None:
    await conn.execute(
        """
        UPDATE clients SET
            name = CASE WHEN $2 THEN $3 ELSE name END,
            email_domain = CASE WHEN $4 THEN $5 ELSE email_domain END,
            updated_at = $6, version = version + 1
        WHERE id = $1
        """,
        client_id,
        "name" in fields,
        fields.get("name"),
        "email_domain" in fields,
        fields.get("email_domain"),
        now,
    )


async def replace_contacts(conn: Conn, client_id: UUID, contacts: list[Contact]) -> None:
    await conn.execute("DELETE FROM client_contacts WHERE client_id = $1", client_id)
    if contacts:
        await conn.executemany(
            """
            INSERT INTO client_contacts (client_id, position, name, email, locale, time_zone)
            VALUES ($1, $2, $3, $4, $5, $6)
            """,
            [(client_id, i, c.name, c.email, c.locale, c.time_zone) for i, c in enumerate(contacts)],
        )
