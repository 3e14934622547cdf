"""Event audiences: every event type the code can emit is in the catalog with its audience, the writers
refuse any other type, and client-facing reads show a client only the types meant for clients."""

from __future__ import annotations

import ast
import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from litestar import Litestar

from api.db import unit_of_work
from api.domain.events import catalog, outbox
from api.domain.events.catalog import UnknownEventType
from api.domain.events.schemas import NewEvent
from api.domain.timers import service as timers
from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain import quote_helpers
from tests.notify_support import emit, free_port

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.joinpath("api").rglob("*.py"), *ROOT.joinpath("workers").rglob("*.py")])

#: A string constant of this shape may be an event type ("area.what_happened").
EVENT_LIKE = re.compile(r"^[a-z][a-z_]*\.[a-z][a-z_]*$")
#: Shapes that are never event types: SQL aliases (``p.closed_at``), host and file names, loggers.
NOT_EVENT_PREFIXES = ("scopekeeper.", "uvicorn.", "arq.")
NOT_EVENT_SUFFIXES = (".com", ".net", ".org", ".pl", ".de", ".ru", ".me", ".local", ".ini", ".json")
#: Event-like constants that are not emitted events, each with the reason.
NOT_EVENTS = {
    "inquiry.released": "an audit action (the release emits inquiry.received)",
    "inquiry.reply_breached": "a notification rule's other name of inquiry.reply_overdue, never emitted",
}


def _event_like_constants() -> dict[str, list[str]]:
    """Every event-like string constant of api/ and workers/, with where it appears."""
    found: dict[str, list[str]] = {}
    for path in SOURCES:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            value = node.value
            if not EVENT_LIKE.match(value) or len(value.split(".")[0]) <= 2:
                continue
            if value.startswith(NOT_EVENT_PREFIXES) or value.endswith(NOT_EVENT_SUFFIXES):
                continue
            found.setdefault(value, []).append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


CONSTANTS = _event_like_constants()


def test_every_event_type_in_the_code_has_an_audience() -> None:
    missing = {
        value: places
        for value, places in CONSTANTS.items()
        if value not in catalog.AUDIENCE and value not in NOT_EVENTS
    }
    assert not missing, (
        "event types without an audience (add them to api/domain/events/catalog.py, or to NOT_EVENTS "
        f"here with the reason if they are not events): {missing}"
    )


def test_the_catalog_lists_only_types_the_code_emits() -> None:
    assert list(catalog.AUDIENCE) == sorted(catalog.AUDIENCE)
    assert set(catalog.AUDIENCE.values()) <= {"staff", "client"}
    stale = sorted(set(catalog.AUDIENCE) - set(CONSTANTS))
    assert not stale, f"catalog entries no code emits: {stale}"
    assert not set(NOT_EVENTS) & set(catalog.AUDIENCE)


def test_delivery_internals_are_staff_only() -> None:
    for event_type in catalog.AUDIENCE:
        if event_type.startswith(("email_delivery.", "webhook_delivery.", "webhook_endpoint.", "sla.")):
            assert catalog.audience(event_type) == "staff", event_type


def test_every_insert_into_domain_events_is_checked() -> None:
    """The statements writing events: ``events/queries.py`` (behind the outbox) and the timer start that
    writes its event in the same statement (checked in ``insert_guarded``). A new one fails here."""
    writers = sorted(
        f"{path.relative_to(ROOT)}"
        for path in SOURCES
        for _ in re.finditer(r"INSERT\s+INTO\s+domain_events", path.read_text(), re.IGNORECASE)
    )
    assert writers == [
        "api/domain/events/queries.py",
        "api/domain/events/queries.py",
        "api/domain/timers/queries.py",
    ]


async def test_every_writer_refuses_a_type_not_in_the_catalog(
    client: httpx.AsyncClient, app: Litestar, clock: FrozenClock, db: asyncpg.Connection
) -> None:
    before = await db.fetchval("SELECT count(*) FROM domain_events")
    async with unit_of_work(app.state.pool, transactional=True, acquire_timeout=5) as uow:
        with pytest.raises(UnknownEventType, match=r"invented\.thing"):
            await outbox.emit(
                uow, "invented.thing", subject_type="test", subject_id=uuid4(), data={}, now=clock.now()
            )
        with pytest.raises(UnknownEventType):
            await outbox.emit_many(
                uow.conn,
                [
                    NewEvent("client.updated", "test", uuid4(), None, None, {}),
                    NewEvent("invented.thing", "test", uuid4(), None, None, {}),
                ],
                clock.now(),
            )
        with pytest.raises(UnknownEventType):
            await timers.start_and_emit(
                uow,
                kind="inquiry_reply",
                subject_type="inquiry",
                subject_id=uuid4(),
                started_at=clock.now(),
                now=clock.now(),
                event=lambda timer: timers.Announcement("invented.thing", "inquiry", timer.subject_id, {}),
            )
        assert uow.jobs == []
    assert await db.fetchval("SELECT count(*) FROM domain_events") == before
    assert await db.fetchval("SELECT count(*) FROM sla_timers") == 0


async def _project(http: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> str:
    body = {"client_id": org["id"], "name": "Audience", "currency": "EUR"}
    response = await http.post("/v1/projects", json=body, headers=staff)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _history(http: httpx.AsyncClient, project_id: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    response = await http.get(f"/v1/projects/{project_id}/history?limit=200", headers=headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_client_reads_only_client_events_of_its_project(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    make_key: KeyMaker,
    app: Litestar,
    clock: FrozenClock,
) -> None:
    org = await create_client_org(client, staff, "Audience")
    owner = bearer(await make_key("client", org["id"]))
    project_id = await _project(client, staff, org)
    for event_type in catalog.AUDIENCE:
        await emit(
            app,
            clock,
            event_type,
            {"secret": "staff@shop.com"},
            client_id=org["id"],
            project_id=UUID(project_id),
        )

    seen_by_client = await _history(client, project_id, owner)
    assert {e["type"] for e in seen_by_client} == set(catalog.client_types())
    assert all(catalog.audience(e["type"]) == "client" for e in seen_by_client)
    seen_by_staff = await _history(client, project_id, staff)
    assert {e["type"] for e in seen_by_staff} == set(catalog.AUDIENCE)

    # the status document counts only client events in updated_at (and so in its ETag)
    status = await client.get(f"/v1/projects/{project_id}/status", headers=owner)
    etag, updated_at = status.headers["etag"], status.json()["updated_at"]
    clock.advance(timedelta(hours=1))
    for staff_only in ("email_delivery.failed", "webhook_delivery.failed", "sla.warning"):
        await emit(app, clock, staff_only, {}, client_id=org["id"], project_id=UUID(project_id))
    for headers in (owner, staff):
        again = await client.get(f"/v1/projects/{project_id}/status", headers=headers)
        assert again.json()["updated_at"] == updated_at
        assert again.headers["etag"] == etag
    clock.advance(timedelta(hours=1))
    await emit(app, clock, "project.on_hold", {}, client_id=org["id"], project_id=UUID(project_id))
    moved = await client.get(f"/v1/projects/{project_id}/status", headers=owner)
    assert moved.json()["updated_at"] == "2026-11-24T11:30:00Z"


class _Refusing:
    """An SMTP server that refuses every recipient for good."""

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        return "550 5.1.1 mailbox unavailable at mx.internal.shop"


@pytest.fixture
def refusing_smtp() -> Any:
    port = free_port()
    controller = Controller(_Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def env(env: dict[str, str], refusing_smtp: int) -> dict[str, str]:
    return {**env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(refusing_smtp)}


async def test_a_failed_mail_to_the_client_stays_out_of_its_history(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    make_key: KeyMaker,
    run_worker: Any,
    db: asyncpg.Connection,
) -> None:
    """The probe's finding: a refused ``quote.sent`` mail wrote ``email_delivery.failed`` (the address
    and the server's answer) under the project, and the client read it in the history."""
    org = await create_client_org(client, staff, "Refused")
    owner = bearer(await make_key("client", org["id"]))
    project_id = await _project(client, staff, org)
    await quote_helpers.sent(client, staff, project_id)
    await run_worker()
    failed = await db.fetch(
        "SELECT data FROM domain_events WHERE type = 'email_delivery.failed' AND project_id = $1",
        UUID(project_id),
    )
    assert failed, "the refused mail should have failed"
    assert "mx.internal.shop" in str(failed[0]["data"])
    types = [e["type"] for e in await _history(client, project_id, owner)]
    assert "quote.sent" in types
    assert "email_delivery.failed" not in types
    assert "email_delivery.failed" in [e["type"] for e in await _history(client, project_id, staff)]
