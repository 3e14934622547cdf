"""What a created inquiry costs in PostgreSQL round trips, and the calendar it is computed on.

Intake is the hot write path: a new inquiry with an ``Idempotency-Key`` runs ``BEGIN``, the key's claim
(one statement for a key never used), the inquiry with its raw submission, its reply timer with the
timer's log entry and ``inquiry.received``, the idempotency record and ``COMMIT``: six statements where
there were twelve. The timer's policy and calendar are cached
per process and checked against the versions in force inside the timer's own statement, so a calendar
changed by this process, another app instance or another process is never missed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar

from api.app import create_app
from api.domain.calendar.schemas import CalendarIn
from api.domain.calendar.service import build_spec
from api.kit.clock import FrozenClock
from api.settings import Settings
from tests.conftest import KeyMaker, asgi_client, bearer, running
from tests.domain.inquiry_support import INQUIRIES, body, events, post, timers_of
from tests.domain.test_project_status import counting
from tests.probes import PROBES
from tests.timers_support import utc, waw, z

#: BEGIN, key claim, inquiry + submission, timer + log + event, idempotency record, COMMIT
CREATE_WITH_KEY = 6
#: BEGIN, inquiry + submission, timer + log + event, COMMIT
CREATE_WITHOUT_KEY = 4

CALENDAR = "/v1/calendar"
#: Tuesday 2026-11-24 10:30 in Warsaw (the tests' START): on the default calendar due Wednesday 10:30
WEDNESDAY_1030 = z(waw(2026, 11, 25, 10, 30))


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "INQUIRY_FLOOD_PER_HOUR": "1000"}


@pytest.fixture
async def intake(make_key: KeyMaker) -> dict[str, str]:
    return bearer(await make_key("intake", name="crm sync"))


def _app_statements(queries: list[str]) -> list[str]:
    """The request's statements without the key look-up (cached in production, not here)."""
    return [q for q in queries if "FROM api_keys" not in q]


async def test_a_new_inquiry_costs_six_statements_with_a_key_and_four_without(
    app: Litestar, client: httpx.AsyncClient, intake: dict[str, str], db: asyncpg.Connection
) -> None:
    await post(client, intake, email="warm@firm.com", external_id="crm-0", source="crm")  # caches warm
    async with counting(app) as pool:
        response = await client.post(
            INQUIRIES,
            json=body(email="lead1@firm.com", source="crm", external_id="crm-1"),
            headers={**intake, "Idempotency-Key": "lead-1"},
        )
    assert response.status_code == 201, response.text
    statements = _app_statements(pool.queries)
    assert len(statements) == CREATE_WITH_KEY, statements
    assert statements[0] == "BEGIN;"
    assert statements[-1] == "COMMIT;"
    assert sum("INSERT INTO inquiries" in q for q in statements) == 1
    assert sum("INSERT INTO sla_timers" in q for q in statements) == 1
    assert sum("INSERT INTO domain_events" in q for q in statements) == 1
    receipt = response.json()
    assert receipt["status"] == "received"
    assert receipt["reply_due_at"] == WEDNESDAY_1030
    [timer] = await timers_of(db, receipt["id"])
    assert timer["due_at"] == waw(2026, 11, 25, 10, 30)
    assert len(await events(db, "inquiry.received", receipt["id"])) == 1

    async with counting(app) as pool:
        await post(client, intake, email="lead2@firm.com")
    assert len(_app_statements(pool.queries)) == CREATE_WITHOUT_KEY, pool.queries

    async with counting(app) as pool:
        replayed = await client.post(
            INQUIRIES,
            json=body(email="lead1@firm.com", source="crm", external_id="crm-1"),
            headers={**intake, "Idempotency-Key": "lead-1"},
        )
    assert replayed.headers["idempotent-replayed"] == "true"
    assert replayed.content == response.content
    assert len(_app_statements(pool.queries)) <= 4, pool.queries  # BEGIN, claim, look-up, ROLLBACK


async def test_quarantined_and_duplicate_inquiries_stay_cheap(
    app: Litestar, client: httpx.AsyncClient, intake: dict[str, str]
) -> None:
    first = await post(client, intake, source="crm", external_id="dup-1")
    async with counting(app) as pool:
        spam = await post(client, intake, website="bot", email="spam@firm.com")
    assert spam["status"] == "quarantined"
    # BEGIN, inquiry + submission, inquiry.quarantined, COMMIT
    assert len(_app_statements(pool.queries)) == 4, pool.queries
    async with counting(app) as pool:
        again = await client.post(INQUIRIES, json=body(source="crm", external_id="dup-1"), headers=intake)
    assert again.status_code == 200
    assert again.json() == first
    # BEGIN, the insert that conflicts, the first inquiry read back, COMMIT
    assert len(_app_statements(pool.queries)) == 4, pool.queries


# --- the calendar in force -----------------------------------------------------------------------

#: Wednesday is a holiday; Monday to Friday 09:00-17:00 otherwise
NEW_CALENDAR: dict[str, Any] = {
    "time_zone": "Europe/Warsaw",
    "weekly": [{"weekday": d, "start": "09:00:00", "end": "17:00:00"} for d in range(1, 6)],
    "country": "PL",
    "closed_dates": ["2026-11-25"],
}
#: one business day (8 h) from Tuesday 10:30: 6.5 h on Tuesday, then 1.5 h from Thursday 09:00
THURSDAY_1030 = z(waw(2026, 11, 26, 10, 30))


async def _put_calendar(http: httpx.AsyncClient, staff: dict[str, str]) -> None:
    response = await http.put(CALENDAR, json=NEW_CALENDAR, headers=staff)
    assert response.status_code == 200, response.text


async def test_a_calendar_change_applies_to_the_next_inquiry_in_this_process(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str]
) -> None:
    assert (await post(client, intake, email="a@firm.com"))["reply_due_at"] == WEDNESDAY_1030
    await _put_calendar(client, staff)
    assert (await post(client, intake, email="b@firm.com"))["reply_due_at"] == THURSDAY_1030


async def test_a_calendar_change_made_by_another_app_instance_applies_at_once(
    client: httpx.AsyncClient,
    intake: dict[str, str],
    staff: dict[str, str],
    settings: Settings,
    clock: FrozenClock,
    db: asyncpg.Connection,
) -> None:
    other = create_app(settings, clock=clock, extra_handlers=PROBES)
    async with running(other), asgi_client(other) as second:
        assert (await post(second, intake, email="a@firm.com"))["reply_due_at"] == WEDNESDAY_1030
        assert (await post(client, intake, email="b@firm.com"))["reply_due_at"] == WEDNESDAY_1030
        await _put_calendar(second, staff)
        receipt = await post(client, intake, email="c@firm.com")
        assert receipt["reply_due_at"] == THURSDAY_1030
        [timer] = await timers_of(db, receipt["id"])
        assert timer["calendar_version"] == 1
        assert (await post(second, intake, email="d@firm.com"))["reply_due_at"] == THURSDAY_1030


async def test_a_calendar_stored_by_another_process_applies_at_once(
    client: httpx.AsyncClient, intake: dict[str, str], db: asyncpg.Connection
) -> None:
    """Another process's change reaches this one only through the database: no cache here knows it."""
    assert (await post(client, intake, email="a@firm.com"))["reply_due_at"] == WEDNESDAY_1030
    spec = msgspec.to_builtins(build_spec(msgspec.convert(NEW_CALENDAR, CalendarIn)))
    await db.execute(
        """
        WITH stored AS (
            INSERT INTO calendar_versions (version, spec, created_at) VALUES (1, $1::jsonb, now())
            RETURNING id
        )
        UPDATE business_calendar SET version = 1, version_id = stored.id, updated_at = now() FROM stored
        """,
        msgspec.json.encode(spec).decode(),
    )
    receipt = await post(client, intake, email="b@firm.com")
    assert receipt["reply_due_at"] == THURSDAY_1030
    [timer] = await timers_of(db, receipt["id"])
    assert timer["calendar_version"] == 1


async def test_a_policy_change_applies_to_the_next_inquiry(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str], db: asyncpg.Connection
) -> None:
    assert (await post(client, intake, email="a@firm.com"))["reply_due_at"] == WEDNESDAY_1030
    policy = await client.get("/v1/sla-policy", headers=staff)
    assert policy.status_code == 200, policy.text
    changed = {k: v for k, v in policy.json().items() if k not in {"version", "created_at"}}
    changed["inquiry_reply"] = {**changed["inquiry_reply"], "amount": 2}
    response = await client.put("/v1/sla-policy", json=changed, headers=staff)
    assert response.status_code == 200, response.text
    receipt = await post(client, intake, email="b@firm.com")
    assert receipt["reply_due_at"] == z(waw(2026, 11, 26, 10, 30))  # two business days
    [timer] = await timers_of(db, receipt["id"])
    assert timer["policy_version"] == 2


async def test_an_inquiry_on_a_later_day_is_computed_from_its_own_receipt(
    client: httpx.AsyncClient, intake: dict[str, str], clock: FrozenClock
) -> None:
    assert (await post(client, intake, email="a@firm.com"))["reply_due_at"] == WEDNESDAY_1030
    clock.set(utc(2026, 11, 27, 14, 0))  # Friday 15:00 in Warsaw → Monday 15:00
    receipt = await post(client, intake, email="b@firm.com")
    assert receipt["reply_due_at"] == z(waw(2026, 11, 30, 15, 0))
    assert receipt["received_at"] == z(utc(2026, 11, 27, 14, 0))
    clock.advance(timedelta(microseconds=1))
    assert (await post(client, intake, email="c@firm.com"))["received_at"] == "2026-11-27T14:00:00.000001Z"
