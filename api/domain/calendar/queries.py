from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

from api.db import Conn


class CurrentRow(msgspec.Struct, frozen=True):
    """Which calendar is in force: ``version_id`` is None for version 0 (the configured default)."""

    version: int
    version_id: UUID | None
    updated_at: datetime | None


_CURRENT = "SELECT version, version_id, updated_at FROM business_calendar WHERE singleton"

Lock = Literal["share", "update"] | None


async def current(conn: Conn, *, lock: Lock = None) -> CurrentRow:
    """The calendar in force; ``lock`` takes the row lock (inside a transaction)."""
    suffix = {None: "", "share": " FOR SHARE", "update": " FOR UPDATE"}[lock]
    row = await conn.fetchrow(_CURRENT + suffix)
    assert row is not None, "the business_calendar row is created by the migration"
    return msgspec.convert(dict(row), CurrentRow)


async def spec(conn: Conn, version_id: UUID) -> dict[str, Any]:
    value: dict[str, Any] | None = await conn.fetchval(
        "SELECT spec FROM calendar_versions WHERE id = $1", version_id
    )
    assert value is not None, "business_calendar.version_id references calendar_versions"
    return value


async def store(
    conn: Conn, *, version: int, spec: dict[str, Any], now: datetime, actor_key_id: UUID | None
) -> UUID:
    """Insert a new version and make it the one in force (the caller holds the ``update`` lock)."""
    version_id: UUID = await conn.fetchval(
        """
        WITH stored AS (
            INSERT INTO calendar_versions (version, spec, created_at, created_by)
            VALUES ($1, $2, $3, $4)
            RETURNING id, version
        )
        UPDATE business_calendar b SET version = stored.version, version_id = stored.id, updated_at = $3
        FROM stored
        WHERE b.singleton
        RETURNING stored.id
        """,
        version,
        spec,
        now,
        actor_key_id,
    )
    return version_id
