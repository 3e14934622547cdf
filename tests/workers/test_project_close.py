"""The worker closes projects whose 30-day support window has ended, once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from litestar import Litestar

from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.project_helpers import new_project, walk
from tests.notify_support import SmtpSink

RunWorker = Callable[[], Awaitable[int]]


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpSink) -> dict[str, str]:
    return {**env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port)}


async def launched(
    client: httpx.AsyncClient, app: Litestar, clock: FrozenClock, staff: dict[str, str], make_key: KeyMaker
) -> dict[str, Any]:
    org = await create_client_org(client, staff, "Acme")
    key = bearer(await make_key("client", org["id"]))
    project = await new_project(client, staff, org["id"])
    return await walk(client, app, clock, staff, key, project["id"], "support")


async def closed_events(db: asyncpg.Connection, project_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT data, actor_role, client_id FROM domain_events"
        " WHERE project_id = $1 AND type = 'project.closed' ORDER BY seq",
        UUID(project_id),
    )
    return [
        {**json.loads(r["data"]), "actor_role": r["actor_role"], "client_id": str(r["client_id"])}
        for r in rows
    ]


async def test_worker_closes_a_project_once_its_support_window_ended(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    make_key: KeyMaker,
    db: asyncpg.Connection,
    run_worker: RunWorker,
) -> None:
    project = await launched(client, app, clock, staff, make_key)
    ends = datetime.fromisoformat(project["support_ends_at"])
    assert ends == datetime(2026, 12, 24, 9, 30, tzinfo=UTC)

    clock.set(ends - timedelta(seconds=1))
    await run_worker()
    read = (await client.get(f"/v1/projects/{project['id']}", headers=staff)).json()
    assert read["phase"] == "support"
    assert await closed_events(db, project["id"]) == []

    clock.set(ends)
    await run_worker()
    read = (await client.get(f"/v1/projects/{project['id']}", headers=staff)).json()
    assert read["phase"] == "closed"
    assert read["closed_at"] == "2026-12-24T09:30:00Z"
    assert read["phase_history"][-1] == {
        "from_phase": "support",
        "to_phase": "closed",
        "reason": "support window ended",
        "actor_key_id": None,
        "actor_role": None,
        "at": "2026-12-24T09:30:00Z",
    }
    assert await closed_events(db, project["id"]) == [
        {
            "from": "support",
            "to": "closed",
            "reason": "support window ended",
            "project_name": "Recommender",
            "client_name": "Acme",
            "early": False,
            "support_ends_at": "2026-12-24T09:30:00+00:00",
            "ended": {"timers_cancelled": []},
            "actor_role": None,
            "client_id": read["client_id"],
        }
    ]

    clock.advance(timedelta(days=1))
    await run_worker()
    assert len(await closed_events(db, project["id"])) == 1
    assert (await client.get(f"/v1/projects/{project['id']}", headers=staff)).json()["version"] == read[
        "version"
    ]


async def test_worker_leaves_other_phases_alone(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    make_key: KeyMaker,
    db: asyncpg.Connection,
    run_worker: RunWorker,
) -> None:
    project = await launched(client, app, clock, staff, make_key)
    held = await client.post(f"/v1/projects/{project['id']}/hold", json={"reason": "Pause"}, headers=staff)
    assert held.status_code == 200
    clock.advance(timedelta(days=40))
    await run_worker()
    assert (await client.get(f"/v1/projects/{project['id']}", headers=staff)).json()["phase"] == "on_hold"
    assert await closed_events(db, project["id"]) == []
    resumed = await client.post(f"/v1/projects/{project['id']}/resume", json={}, headers=staff)
    assert resumed.json()["phase"] == "support"
    await run_worker()
    assert (await client.get(f"/v1/projects/{project['id']}", headers=staff)).json()["phase"] == "closed"
