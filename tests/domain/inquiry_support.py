"""Helpers of the inquiry tests: a valid body, posting, and reading rows and events back."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg
import httpx

INQUIRIES = "/v1/inquiries"


def body(**fields: Any) -> dict[str, Any]:
    """A valid inquiry body; ``fields`` override or add (``None`` values are dropped)."""
    base: dict[str, Any] = {
        "name": "Ada Lovelace",
        "email": "ada@engines.co.uk",
        "company": "Analytical Engines",
        "message": "Please extract the recommender from our monolith and serve it behind an API.",
        "source": "website",
        "consent": True,
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


async def post(http: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> dict[str, Any]:
    """Post an inquiry that must be accepted as new (201); returns the receipt."""
    response = await http.post(INQUIRIES, json=body(**fields), headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def inquiry(http: httpx.AsyncClient, headers: dict[str, str], inquiry_id: str) -> dict[str, Any]:
    response = await http.get(f"{INQUIRIES}/{inquiry_id}", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def events(
    db: asyncpg.Connection, event_type: str, subject_id: str | None = None
) -> list[dict[str, Any]]:
    rows = await db.fetch(
        """
        SELECT type, subject_type, subject_id, client_id, project_id, actor_role, data FROM domain_events
        WHERE type = $1 AND ($2::uuid IS NULL OR subject_id = $2) ORDER BY seq
        """,
        event_type,
        UUID(subject_id) if subject_id else None,
    )
    return [{**dict(r), "data": json.loads(r["data"])} for r in rows]


async def count(db: asyncpg.Connection, table: str) -> int:
    assert table in {
        "inquiries",
        "inquiry_submissions",
        "inquiry_replies",
        "sla_timers",
        "clients",
        "projects",
    }
    value: int = await db.fetchval(f"SELECT count(*) FROM {table}")
    return value


async def timers_of(db: asyncpg.Connection, inquiry_id: str) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            "SELECT * FROM sla_timers WHERE subject_id = $1 AND kind = 'inquiry_reply' ORDER BY created_at",
            UUID(str(inquiry_id)),
        )
    )
