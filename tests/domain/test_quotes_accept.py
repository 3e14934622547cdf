"""Accepting and declining quotes: evidence, exclusivity under concurrency, validity and expiry."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from litestar import Litestar

from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.project_helpers import new_project
from tests.domain.quote_helpers import accept, draft, eur, pointers, problem, send, sent
from tests.notify_support import SmtpSink
from workers.tasks.quotes import expire_quotes

# Sent at START (Tuesday 2026-11-24 10:30 Warsaw): valid until 2026-12-24, i.e. until midnight in Warsaw,
# which is 23:00 UTC that day.
LAST_VALID_INSTANT = datetime(2026, 12, 24, 22, 59, 59, tzinfo=UTC)
EXPIRED_INSTANT = datetime(2026, 12, 24, 23, 0, tzinfo=UTC)


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpSink) -> dict[str, str]:
    return {**env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port)}


@pytest.fixture
async def org(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    return await create_client_org(client, staff, "Acme")


@pytest.fixture
async def client_key(make_key: KeyMaker, org: dict[str, Any]) -> dict[str, str]:
    return bearer(await make_key("client", org["id"]))


@pytest.fixture
async def project(client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> dict[str, Any]:
    return await new_project(client, staff, org["id"])


async def count(db: asyncpg.Connection, sql: str, *args: Any) -> int:
    value: int = await db.fetchval(sql, *args)
    return value


# --- accepting ------------------------------------------------------------------------------------


async def test_accepting_keeps_evidence_sets_the_contract_and_starts_discovery(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    quote = await sent(client, staff, project["id"])
    response = await client.post(
        f"/v1/quotes/{quote['id']}/accept",
        json={"accepted_by_name": "  Ada Client "},
        headers={**client_key, "User-Agent": "portal/1.0", "If-Match": f'"{quote["version"]}"'},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "accepted"
    assert body["accepted_at"] == "2026-11-24T09:30:00Z"
    assert body["evidence"] == {
        "accepted_by_name": "Ada Client",
        "accepted_at": "2026-11-24T09:30:00Z",
        "ip": "127.0.0.1",
        "user_agent": "portal/1.0",
        "document_sha256": quote["document_sha256"],
        "verified": True,
    }
    assert response.headers["etag"] == f'"{body["version"]}"'
    read = (await client.get(f"/v1/projects/{project['id']}", headers=client_key)).json()
    assert read["phase"] == "discovery"
    assert read["discovery_started_at"] == "2026-11-24T09:30:00Z"
    contract = (await client.get(f"/v1/projects/{project['id']}/contract", headers=client_key)).json()
    assert contract["quote_id"] == quote["id"]
    assert contract["baseline_price"] == eur("20000.00")
    assert contract["current_price"] == eur("20000.00")
    assert contract["baseline_delivery_date"] == "2027-03-05"
    assert contract["current_delivery_date"] == "2027-03-05"
    assert contract["amendments"] == []
    types = [
        r["type"]
        for r in await db.fetch(
            "SELECT type FROM domain_events WHERE project_id = $1 ORDER BY seq", UUID(project["id"])
        )
    ]
    assert {"contract.created", "quote.accepted", "project.discovery_started"} <= set(types)
    event = await db.fetchrow(
        "SELECT data, actor_role FROM domain_events WHERE type = 'quote.accepted' AND subject_id = $1",
        UUID(quote["id"]),
    )
    assert event is not None
    data = json.loads(event["data"])
    assert event["actor_role"] == "client"
    assert data["accepted_by_name"] == "Ada Client"
    assert data["total"] == eur("20000.00")
    assert data["project_name"] == "Recommender"
    assert data["client_name"] == "Acme"
    timer = await db.fetchrow(
        "SELECT state FROM sla_timers WHERE kind = 'architecture_review' AND subject_id = $1",
        UUID(project["id"]),
    )
    assert timer is not None
    assert timer["state"] == "running"


async def test_twenty_concurrent_accepts_make_one_acceptance(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    quote = await sent(client, staff, project["id"])
    responses = await asyncio.gather(
        *(accept(client, client_key, quote["id"], name=f"Signer {i}") for i in range(20))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 19, [r.text for r in responses if r.status_code not in (200, 409)]
    for response in responses:
        if response.status_code == 409:
            problem(response, 409, "quote-not-open")
    pid = UUID(project["id"])
    assert (
        await count(db, "SELECT count(*) FROM quotes WHERE project_id = $1 AND status = 'accepted'", pid) == 1
    )
    assert await count(db, "SELECT count(*) FROM contracts WHERE project_id = $1", pid) == 1
    assert (
        await count(
            db, "SELECT count(*) FROM domain_events WHERE type = 'quote.accepted' AND project_id = $1", pid
        )
        == 1
    )
    assert (
        await count(
            db,
            "SELECT count(*) FROM domain_events WHERE type = 'project.discovery_started' AND project_id = $1",
            pid,
        )
        == 1
    )
    winner = next(r.json() for r in responses if r.status_code == 200)
    read = (await client.get(f"/v1/quotes/{quote['id']}", headers=client_key)).json()
    assert read["evidence"]["accepted_by_name"] == winner["evidence"]["accepted_by_name"]


async def test_evidence_still_verifies_after_later_revisions(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
) -> None:
    first = await sent(client, staff, project["id"])
    second = (await client.post(f"/v1/quotes/{first['id']}/revise", headers=staff)).json()
    lines = [{"description": "Everything", "phase": "delivery", "hours": 10, "amount": eur("500.00")}]
    patched = await client.patch(f"/v1/quotes/{second['id']}", json={"lines": lines}, headers=staff)
    assert patched.status_code == 200
    response = await accept(client, client_key, first["id"])
    assert response.status_code == 200, response.text
    # the later draft changes again; the accepted revision's evidence is untouched
    await client.patch(f"/v1/quotes/{second['id']}", json={"exclusions": ["All"]}, headers=staff)
    read = (await client.get(f"/v1/quotes/{first['id']}", headers=client_key)).json()
    assert read["evidence"]["verified"] is True
    assert read["evidence"]["document_sha256"] == first["document_sha256"]
    document = await client.get(f"/v1/quotes/{first['id']}/document", headers=client_key)
    assert hashlib.sha256(document.content).hexdigest() == read["evidence"]["document_sha256"]


async def test_an_older_revisions_hash_verifies_after_a_newer_one_is_accepted(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
) -> None:
    first = await sent(client, staff, project["id"])
    declined = await client.post(
        f"/v1/quotes/{first['id']}/decline", json={"reason": "Too dear"}, headers=client_key
    )
    assert declined.status_code == 200
    second = (await client.post(f"/v1/quotes/{first['id']}/revise", headers=staff)).json()
    await client.patch(
        f"/v1/quotes/{second['id']}",
        json={
            "lines": [{"description": "Less", "phase": "delivery", "hours": 400, "amount": eur("16000.00")}]
        },
        headers=staff,
    )
    await send(client, staff, second["id"])
    accepted = (await accept(client, client_key, second["id"])).json()
    assert accepted["evidence"]["verified"] is True
    assert accepted["total"] == eur("16000.00")
    old = await client.get(f"/v1/quotes/{first['id']}/document", headers=client_key)
    assert hashlib.sha256(old.content).hexdigest() == first["document_sha256"]
    contract = (await client.get(f"/v1/projects/{project['id']}/contract", headers=staff)).json()
    assert contract["baseline_price"] == eur("16000.00")
    assert contract["quote_revision"] == 2


async def test_tampering_with_an_accepted_revision_fails_verification(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    quote = await sent(client, staff, project["id"])
    await accept(client, client_key, quote["id"])
    # a tampered row: written past the immutability trigger by a session that fires no triggers
    await db.execute("SET session_replication_role = replica")
    await db.execute(
        "UPDATE quotes SET exclusions = '[\"Everything\"]'::jsonb WHERE id = $1", UUID(quote["id"])
    )
    await db.execute("RESET session_replication_role")
    read = (await client.get(f"/v1/quotes/{quote['id']}", headers=staff)).json()
    assert read["evidence"]["verified"] is False


async def test_a_superseded_revision_cannot_be_accepted(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project: dict[str, Any]
) -> None:
    first = await sent(client, staff, project["id"])
    second = (await client.post(f"/v1/quotes/{first['id']}/revise", headers=staff)).json()
    await send(client, staff, second["id"])
    body = problem(await accept(client, client_key, first["id"]), 409, "quote-superseded")
    assert body["extra"]["superseded_by"] == second["id"]
    assert (await accept(client, client_key, second["id"])).status_code == 200


async def test_a_quote_is_valid_to_the_end_of_its_last_day_in_the_shops_zone(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    org: dict[str, Any],
    project: dict[str, Any],
) -> None:
    late = await sent(client, staff, project["id"])
    clock.set(EXPIRED_INSTANT)
    body = problem(await accept(client, client_key, late["id"]), 409, "quote-expired")
    assert body["extra"]["valid_until"] == "2026-12-24"
    problem(
        await client.post(f"/v1/quotes/{late['id']}/decline", json={}, headers=client_key),
        409,
        "quote-expired",
    )
    clock.set(datetime(2026, 11, 24, 9, 30, tzinfo=UTC))
    other = await new_project(client, staff, org["id"], name="Search")
    just_in_time = await sent(client, staff, other["id"])
    clock.set(LAST_VALID_INSTANT)
    assert (await accept(client, client_key, just_in_time["id"])).status_code == 200


async def test_declining(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    quote = await sent(client, staff, project["id"])
    response = await client.post(
        f"/v1/quotes/{quote['id']}/decline", json={"reason": "Over budget"}, headers=client_key
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "declined"
    assert body["declined_at"] == "2026-11-24T09:30:00Z"
    assert body["decline_reason"] == "Over budget"
    assert body["evidence"] is None
    problem(await accept(client, client_key, quote["id"]), 409, "quote-not-open")
    problem(
        await client.post(f"/v1/quotes/{quote['id']}/decline", json={}, headers=client_key),
        409,
        "quote-not-open",
    )
    event = await db.fetchrow(
        "SELECT data FROM domain_events WHERE type = 'quote.declined' AND subject_id = $1", UUID(quote["id"])
    )
    assert event is not None
    assert json.loads(event["data"])["reason"] == "Over budget"
    project_now = (await client.get(f"/v1/projects/{project['id']}", headers=staff)).json()
    assert project_now["phase"] == "proposal"
    contract = (await client.get(f"/v1/projects/{project['id']}/contract", headers=staff)).json()
    assert contract["quote_id"] is None


async def test_accept_needs_a_name_and_fresh_if_match(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project: dict[str, Any]
) -> None:
    quote = await sent(client, staff, project["id"])
    url = f"/v1/quotes/{quote['id']}/accept"
    blank = await client.post(url, json={"accepted_by_name": "   "}, headers=client_key)
    problem(blank, 422)
    assert pointers(blank) == ["/accepted_by_name"]
    missing = await client.post(url, json={}, headers=client_key)
    problem(missing, 422)
    stale = await client.post(
        url, json={"accepted_by_name": "Ada"}, headers={**client_key, "If-Match": '"1"'}
    )
    problem(stale, 412)
    read = (await client.get(f"/v1/quotes/{quote['id']}", headers=client_key)).json()
    assert read["status"] == "sent"


async def test_a_client_cannot_accept_a_draft(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project: dict[str, Any]
) -> None:
    quote = await draft(client, staff, project["id"])
    problem(await accept(client, client_key, quote["id"]), 404)


# --- expiry ---------------------------------------------------------------------------------------


async def test_expiry_marks_sent_quotes_past_their_last_day_once(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    quote = await sent(client, staff, project["id"])
    ctx = {"pool": app.state.pool, "redis": app.state.redis, "clock": clock}
    clock.set(LAST_VALID_INSTANT)
    assert await expire_quotes(ctx) == 0
    clock.set(EXPIRED_INSTANT)
    assert await expire_quotes(ctx) == 1
    assert await expire_quotes(ctx) == 0
    read = (await client.get(f"/v1/quotes/{quote['id']}", headers=client_key)).json()
    assert read["status"] == "expired"
    assert read["expired_at"] == "2026-12-24T23:00:00Z"
    events = await db.fetch(
        "SELECT data, project_id FROM domain_events WHERE type = 'quote.expired' AND subject_id = $1",
        UUID(quote["id"]),
    )
    assert len(events) == 1
    assert json.loads(events[0]["data"])["valid_until"] == "2026-12-24"
    problem(await accept(client, client_key, quote["id"]), 409, "quote-expired")
    revised = await client.post(f"/v1/quotes/{quote['id']}/revise", headers=staff)
    assert revised.status_code == 201


async def test_the_worker_expires_quotes_and_staff_are_told(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    project: dict[str, Any],
    run_worker: Callable[[], Awaitable[int]],
    smtp: SmtpSink,
) -> None:
    quote = await sent(client, staff, project["id"])
    clock.set(EXPIRED_INSTANT)
    await run_worker()
    read = (await client.get(f"/v1/quotes/{quote['id']}", headers=staff)).json()
    assert read["status"] == "expired"
    subjects = [m["Subject"] for m in smtp.messages]
    assert any(s.startswith("Expired: Quote revision 1 for Recommender") for s in subjects), subjects
    assert any(s == "Quote for Recommender" for s in subjects), subjects
