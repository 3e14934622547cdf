"""The one-statement claim of an Idempotency-Key: its placeholder row, and what it costs."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg
import httpx
from litestar import Litestar

from api.kit.clock import FrozenClock
from tests.conftest import asgi_client
from tests.domain.test_project_status import counting

BODY = {"name": "Acme", "contacts": [{"name": "Ada", "email": "ada@acme.com"}]}


async def key_id_of(db: asyncpg.Connection, headers: dict[str, str]) -> object:
    token = headers["Authorization"].removeprefix("Bearer ")
    return await db.fetchval("SELECT id FROM api_keys WHERE prefix = $1", token.split("_")[1])


async def test_a_new_key_is_claimed_in_one_statement_and_a_replay_writes_nothing(
    app: Litestar, client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    headers = {**staff, "Idempotency-Key": "one-statement"}
    async with counting(app) as pool:
        first = await client.post("/v1/clients", json=BODY, headers=headers)
    assert first.status_code == 201
    statements = [q for q in pool.queries if "FROM api_keys" not in q]
    assert sum("idempotency_records" in q for q in statements) == 2, statements  # the claim, the store
    assert sum("pg_try_advisory_xact_lock" in q for q in statements) == 1
    row_version = await db.fetchval("SELECT xmin::text FROM idempotency_records")
    replayed = await client.post("/v1/clients", json=BODY, headers=headers)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.content == first.content
    assert await db.fetchval("SELECT xmin::text FROM idempotency_records") == row_version
    stored = await db.fetchrow("SELECT status, expires_at, created_at FROM idempotency_records")
    assert stored is not None
    assert stored["status"] == 201
    assert stored["expires_at"] - stored["created_at"] == timedelta(hours=24)


async def test_a_placeholder_left_behind_counts_as_no_record(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection, clock: FrozenClock
) -> None:
    key_id = await key_id_of(db, staff)
    integration_id = await db.fetchval("SELECT integration_id FROM api_keys WHERE id = $1", key_id)
    await db.execute(
        """
        INSERT INTO idempotency_records (integration_id, key, fingerprint, status, body_sealed, headers,
                                         created_at, expires_at)
        VALUES ($1, 'left-behind', '\\x00', 0, NULL, '{}', $2, $2)
        """,
        integration_id,
        clock.now(),
    )
    headers = {**staff, "Idempotency-Key": "left-behind"}
    first = await client.post("/v1/clients", json=BODY, headers=headers)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = await client.post("/v1/clients", json=BODY, headers=headers)
    assert again.headers["idempotent-replayed"] == "true"
    assert await db.fetchval("SELECT count(*) FROM idempotency_records") == 1


async def test_a_record_committed_by_a_concurrent_request_is_replayed_not_run_again(
    app: Litestar, client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    headers = {**staff, "Idempotency-Key": "storm"}
    for _ in range(3):
        async with asgi_client(app) as http:
            responses = await asyncio.gather(
                *(http.post("/v1/clients", json=BODY, headers=headers) for _ in range(40))
            )
        assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
    assert await db.fetchval("SELECT count(*) FROM clients") == 1
    assert await db.fetchval("SELECT count(*) FROM idempotency_records") == 1
