"""Idempotency-Key: replay, mismatch, in flight, expiry, and failures that store nothing."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import httpx

from api.kit.clock import FrozenClock
from api.kit.idempotency import fingerprint

BODY = {"name": "Acme", "contacts": [{"name": "Ada", "email": "ada@acme.com"}]}


async def count_clients(db: asyncpg.Connection) -> int:
    value: int = await db.fetchval("SELECT count(*) FROM clients")
    return value


async def test_replay_returns_the_first_response_and_creates_nothing(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    headers = {**staff, "Idempotency-Key": "create-acme-1"}
    first = await client.post("/v1/clients", json=BODY, headers=headers)
    second = await client.post("/v1/clients", json=BODY, headers=headers)
    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second.headers["location"] == first.headers["location"]
    assert second.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert await count_clients(db) == 1
    assert await db.fetchval("SELECT count(*) FROM domain_events WHERE type = 'client.created'") == 1


async def test_same_key_with_another_body_is_422(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    headers = {**staff, "Idempotency-Key": "k-2"}
    assert (await client.post("/v1/clients", json=BODY, headers=headers)).status_code == 201
    other = await client.post("/v1/clients", json={**BODY, "name": "Other"}, headers=headers)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:scopekeeper:problem:idempotency-key-reused"
    assert await count_clients(db) == 1


async def test_keys_belong_to_their_api_key(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: object, db: asyncpg.Connection
) -> None:
    from tests.conftest import bearer

    other = bearer(await make_key())  # type: ignore[operator]
    assert (
        await client.post("/v1/clients", json=BODY, headers={**staff, "Idempotency-Key": "same"})
    ).status_code == 201
    second = await client.post(
        "/v1/clients", json={**BODY, "name": "Beta"}, headers={**other, "Idempotency-Key": "same"}
    )
    assert second.status_code == 201
    assert await count_clients(db) == 2


async def test_request_in_flight_is_409(
    client: httpx.AsyncClient, staff: dict[str, str], database_url: str, db: asyncpg.Connection
) -> None:
    token = staff["Authorization"].removeprefix("Bearer ")
    key_id = await db.fetchval("SELECT integration_id FROM api_keys WHERE prefix = $1", token.split("_")[1])
    holder = await asyncpg.connect(database_url)
    try:
        async with holder.transaction():
            # the first request with this key, still running, holds the key's lock
            await holder.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1::text || ':' || $2, 7))",
                str(key_id),
                "busy",
            )
            response = await client.post(
                "/v1/clients", json=BODY, headers={**staff, "Idempotency-Key": "busy"}
            )
            assert response.status_code == 409
            assert response.json()["type"] == "urn:scopekeeper:problem:request-in-flight"
    finally:
        await holder.close()
    assert (
        await client.post("/v1/clients", json=BODY, headers={**staff, "Idempotency-Key": "busy"})
    ).status_code == 201


async def test_records_expire_after_24_hours(
    client: httpx.AsyncClient, staff: dict[str, str], clock: FrozenClock, db: asyncpg.Connection
) -> None:
    headers = {**staff, "Idempotency-Key": "daily"}
    assert (await client.post("/v1/clients", json=BODY, headers=headers)).status_code == 201
    clock.advance(timedelta(hours=23, minutes=59))
    assert (await client.post("/v1/clients", json=BODY, headers=headers)).headers.get("idempotent-replayed")
    clock.advance(timedelta(minutes=2))
    fresh = await client.post("/v1/clients", json={**BODY, "name": "Next day"}, headers=headers)
    assert fresh.status_code == 201
    assert "idempotent-replayed" not in fresh.headers
    assert await count_clients(db) == 2


async def test_a_failed_request_stores_nothing(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    headers = {**staff, "Idempotency-Key": "retry-me"}
    bad = {"name": "Acme", "contacts": [{"name": "Ada", "email": "broken"}]}
    assert (await client.post("/v1/clients", json=bad, headers=headers)).status_code == 422
    assert (await client.post("/v1/clients", json=BODY, headers=headers)).status_code == 201
    assert await db.fetchval("SELECT count(*) FROM idempotency_records") == 1


async def test_overlong_key_is_refused(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    response = await client.post("/v1/clients", json=BODY, headers={**staff, "Idempotency-Key": "k" * 300})
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "header:Idempotency-Key"


def test_fingerprint_separates_parts() -> None:
    assert fingerprint("POST", "/a", b"bc") != fingerprint("POST", "/ab", b"c")
    assert fingerprint("POST", "/a", b"x") == fingerprint("POST", "/a", b"x")


async def test_the_same_json_written_otherwise_is_the_same_request(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    """The fingerprint compares the decoded body: a retry that serialises the same JSON with other
    whitespace or key order is replayed, not refused as a reused key."""
    headers = {**staff, "Idempotency-Key": "reordered", "Content-Type": "application/json"}
    compact = b'{"name":"Acme","contacts":[{"name":"Ada","email":"ada@acme.com"}]}'
    spaced = b'{ "contacts" : [ { "email": "ada@acme.com", "name": "Ada" } ],\n  "name": "Acme" }'
    first = await client.post("/v1/clients", content=compact, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post("/v1/clients", content=spaced, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == first.content
    changed = spaced.replace(b"Acme", b"Acne")
    assert (await client.post("/v1/clients", content=changed, headers=headers)).status_code == 422
    assert await count_clients(db) == 1


def test_fingerprint_compares_meaning_not_bytes() -> None:
    assert fingerprint("POST", "/a", b'{"a": 1, "b": [1, 2]}') == fingerprint(
        "POST", "/a", b'{"b":[1,2],"a":1}'
    )
    assert fingerprint("POST", "/a", b'{"a": 1}') != fingerprint("POST", "/a", b'{"a": 2}')
    assert fingerprint("POST", "/a", b'{"a": 1}') != fingerprint("POST", "/a", b'{"a": "1"}')
    # not JSON: compared as bytes, and never equal to a JSON body
    assert fingerprint("POST", "/a", b"not json") == fingerprint("POST", "/a", b"not json")
    assert fingerprint("POST", "/a", b"not  json") != fingerprint("POST", "/a", b"not json")
    assert fingerprint("POST", "/a", b'"x"\xff') != fingerprint("POST", "/a", b'"x"')
