"""The business calendar through the API: defaults, due dates, replacing it, recomputing timers, roles.

Expected instants are literals in UTC; the comment beside each gives the Warsaw wall time (CET is UTC+1,
CEST UTC+2 between 29 March and 25 October 2026). The test clock stands at Tue 2026-11-24 10:30 Warsaw.
"""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
import pytest
from litestar import Litestar

from api.domain.timers import service as timers
from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.test_conventions import assert_problem
from tests.timers_support import events_of, log_of, uow_of, utc, waw, z

WEEKDAYS = range(1, 6)


def week(*windows: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"weekday": day, "start": start, "end": end} for day in WEEKDAYS for start, end in windows]


def calendar_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "time_zone": "Europe/Warsaw",
        "weekly": week(("09:00:00", "18:00:00")),
        "country": "PL",
        "subdivision": None,
        "closed_dates": [],
    }
    body.update(changes)
    return body


async def due(
    client: httpx.AsyncClient, headers: dict[str, str], kind: str, start: str | None = None, **params: str
) -> dict[str, Any]:
    query = {"kind": kind, **params}
    if start is not None:
        query["from"] = start
    response = await client.get("/v1/calendar/due-dates", params=query, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- the calendar in force ------------------------------------------------------------------------------


async def test_default_calendar_comes_from_the_settings(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    response = await client.get("/v1/calendar", headers=staff)
    assert response.status_code == 200
    assert response.headers["etag"] == '"0"'
    assert response.json() == {
        "version": 0,
        "stored": False,
        "time_zone": "Europe/Warsaw",
        "weekly": week(("09:00:00", "18:00:00")),
        "country": "PL",
        "subdivision": None,
        "closed_dates": [],
        "business_day": "PT32400S",
        "updated_at": None,
    }


class TestSettingsDefaults:
    @pytest.fixture
    def env(self, env: dict[str, str]) -> dict[str, str]:
        return {**env, "CALENDAR_TIME_ZONE": "UTC", "CALENDAR_OPEN": "08:00", "CALENDAR_CLOSE": "16:00"}

    async def test_configured_window_and_zone_apply_until_a_calendar_is_stored(
        self, client: httpx.AsyncClient, staff: dict[str, str]
    ) -> None:
        body = (await client.get("/v1/calendar", headers=staff)).json()
        assert (body["time_zone"], body["business_day"]) == ("UTC", "PT28800S")
        assert body["weekly"][0] == {"weekday": 1, "start": "08:00:00", "end": "16:00:00"}
        # Tue 10:00 UTC + 8 business hours on 08:00-16:00 UTC -> Wed 10:00 UTC
        found = await due(client, staff, "inquiry_reply", z(utc(2026, 11, 24, 10)))
        assert found["due_at"] == "2026-11-25T10:00:00Z"


# --- the examples of domain.md, default calendar --------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "due_at", "warn_at"),
    [
        # Tue 10:00 -> Wed 10:00 (warning after 6h45 of business time: Tue 16:45)
        pytest.param(waw(2026, 11, 24, 10), "2026-11-25T09:00:00Z", "2026-11-24T15:45:00Z", id="tue-10"),
        # Tue 20:00 -> the clock starts Wed 09:00 -> Wed 18:00
        pytest.param(waw(2026, 11, 24, 20), "2026-11-25T17:00:00Z", "2026-11-25T14:45:00Z", id="tue-20"),
        # Fri 15:00 -> Mon 15:00
        pytest.param(waw(2026, 11, 27, 15), "2026-11-30T14:00:00Z", "2026-11-30T11:45:00Z", id="fri-15"),
        # Sat 11:00 -> end of Monday, 18:00
        pytest.param(waw(2026, 11, 28, 11), "2026-11-30T17:00:00Z", "2026-11-30T14:45:00Z", id="saturday"),
        # Wed 11 November (Independence Day) 10:00 -> end of Thursday, 18:00
        pytest.param(waw(2026, 11, 11, 10), "2026-11-12T17:00:00Z", "2026-11-12T14:45:00Z", id="holiday"),
        # Wed 23 Dec 15:00; 24, 25, 26 Dec are holidays, then the weekend -> Mon 28 Dec 15:00
        pytest.param(
            waw(2026, 12, 23, 15), "2026-12-28T14:00:00Z", "2026-12-28T11:45:00Z", id="holiday-chain"
        ),
        # Fri 23 Oct 15:00 CEST; clocks go back on Sunday -> Mon 26 Oct 15:00 CET (one more hour in UTC)
        pytest.param(waw(2026, 10, 23, 15), "2026-10-26T14:00:00Z", "2026-10-26T11:45:00Z", id="dst-autumn"),
    ],
)
async def test_inquiry_reply_due_dates(
    client: httpx.AsyncClient, staff: dict[str, str], start: Any, due_at: str, warn_at: str
) -> None:
    body = await due(client, staff, "inquiry_reply", z(start))
    assert body == {
        "kind": "inquiry_reply",
        "from": z(start),
        "warn_at": warn_at,
        "due_at": due_at,
        "calendar_version": 0,
        "policy_version": 1,
        "unit": "business",
        "target": "PT32400S",
    }


async def test_five_business_days_across_the_spring_change(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    # Wed 25 March 10:00 CET + 5 business days -> Wed 1 April 10:00 CEST (08:00 UTC, not 09:00)
    body = await due(client, staff, "cr_client_decision", z(waw(2026, 3, 25, 10)))
    assert body["due_at"] == "2026-04-01T08:00:00Z"
    # 75% of 45 h: Mon 30 March 16:45 CEST
    assert body["warn_at"] == "2026-03-30T14:45:00Z"


async def test_cr_assessment_is_two_business_days(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    # Thu 10:00 -> Mon 10:00 (Friday and Monday morning)
    body = await due(client, staff, "cr_assessment", z(waw(2026, 11, 26, 10)))
    assert (body["due_at"], body["target"]) == ("2026-11-30T09:00:00Z", "PT64800S")


async def test_due_dates_default_to_now(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    body = await due(client, staff, "inquiry_reply")
    assert body["from"] == "2026-11-24T09:30:00Z"  # the test clock: Tue 10:30
    assert body["due_at"] == "2026-11-25T09:30:00Z"  # Wed 10:30
    assert body["warn_at"] == "2026-11-24T16:15:00Z"  # Tue 17:15


async def test_architecture_review_falls_due_at_the_end_of_the_fifth_business_day(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    # discovery starts Tue 24 Nov 10:30: day 1 Tue ... day 5 Mon 30 Nov, due at its closing 18:00
    body = await due(client, staff, "architecture_review", "2026-11-24T09:30:00Z")
    assert body["due_at"] == "2026-11-30T17:00:00Z"
    # the target is the business time to then: 7.5 h + 4 x 9 h = 43.5 h; 75% of it ends Fri 27 Nov 16:07:30
    assert body["target"] == "P1DT70200S"
    assert body["warn_at"] == "2026-11-27T15:07:30Z"


async def test_support_first_response_in_clock_or_business_hours(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    clock = await due(client, staff, "support_first_response", "2026-11-24T09:30:00Z")
    assert (clock["unit"], clock["due_at"], clock["warn_at"]) == (
        "clock",
        "2026-11-25T09:30:00Z",
        "2026-11-25T03:30:00Z",
    )
    # 24 business hours from Tue 10:30: Tue 7.5 h, Wed 9 h, Thu 7.5 h -> Thu 16:30
    business = await due(
        client, staff, "support_first_response", "2026-11-24T09:30:00Z", business_hours="true"
    )
    assert (business["unit"], business["due_at"]) == ("business", "2026-11-26T15:30:00Z")


async def test_due_dates_refuse_bad_input(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    naive = await client.get(
        "/v1/calendar/due-dates",
        params={"kind": "inquiry_reply", "from": "2026-11-24T10:00:00"},
        headers=staff,
    )
    assert assert_problem(naive, 422)["errors"] == [
        {"pointer": "query:from", "detail": "give an instant with an offset, e.g. 2026-11-24T09:30:00Z"}
    ]
    far = await client.get(
        "/v1/calendar/due-dates",
        params={"kind": "inquiry_reply", "from": "9999-12-31T23:00:00Z"},
        headers=staff,
    )
    assert [e["pointer"] for e in assert_problem(far, 422)["errors"]] == ["query:from"]  # type: ignore[attr-defined]
    assert_problem(await client.get("/v1/calendar/due-dates", params={"kind": "coffee"}, headers=staff), 422)
    assert_problem(await client.get("/v1/calendar/due-dates", headers=staff), 422)
    unit = await client.get(
        "/v1/calendar/due-dates", params={"kind": "inquiry_reply", "business_hours": "false"}, headers=staff
    )
    assert [e["pointer"] for e in assert_problem(unit, 422)["errors"]] == ["query:business_hours"]  # type: ignore[attr-defined]


async def test_due_dates_roles(client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker) -> None:
    intake = bearer(await make_key("intake"))
    assert (await due(client, intake, "inquiry_reply"))["due_at"] == "2026-11-25T09:30:00Z"
    org = await create_client_org(client, staff)
    client_key = bearer(await make_key("client", org["id"]))
    assert_problem(await client.get("/v1/calendar/due-dates?kind=inquiry_reply", headers=client_key), 403)
    assert_problem(await client.get("/v1/calendar/due-dates?kind=inquiry_reply"), 401)


# --- replacing the calendar -----------------------------------------------------------------------------


async def test_put_stores_a_new_version_and_due_dates_follow_it(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    split = calendar_body(weekly=week(("09:00:00", "13:00:00"), ("14:00:00", "18:00:00")))
    response = await client.put("/v1/calendar", json=split, headers={**staff, "If-Match": '"0"'})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"1"'
    body = response.json()
    assert (body["version"], body["stored"], body["business_day"]) == (1, True, "PT28800S")
    assert body["updated_at"] == "2026-11-24T09:30:00Z"
    assert (await client.get("/v1/calendar", headers=staff)).json() == body
    # Tue 13:30 falls in the lunch break: the clock starts at 14:00; 8 h -> Wed 13:00, warning at 6 h: Wed 11:00
    found = await due(client, staff, "inquiry_reply", z(waw(2026, 11, 24, 13, 30)))
    assert (found["due_at"], found["warn_at"], found["calendar_version"]) == (
        "2026-11-25T12:00:00Z",
        "2026-11-25T10:00:00Z",
        1,
    )
    [event] = await events_of(db, "calendar.updated")
    assert event["data"] == {"version": 1, "previous_version": 0, "timers_recomputed": 0}
    # every version is kept
    again = await client.put("/v1/calendar", json=calendar_body(), headers={**staff, "If-Match": '"1"'})
    assert again.headers["etag"] == '"2"'
    assert await db.fetchval("SELECT array_agg(version ORDER BY version) FROM calendar_versions") == [1, 2]
    found = await due(client, staff, "inquiry_reply", z(waw(2026, 11, 24, 13, 30)))
    assert (found["due_at"], found["calendar_version"]) == ("2026-11-25T12:30:00Z", 2)


async def test_closed_dates_and_subdivision(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    body = calendar_body(
        closed_dates=["2026-11-26", "2026-11-25", "2026-11-25"], country="de", subdivision="BY"
    )
    response = await client.put("/v1/calendar", json=body, headers=staff)
    assert response.status_code == 200, response.text
    stored = response.json()
    assert (stored["country"], stored["subdivision"]) == ("DE", "BY")
    assert stored["closed_dates"] == ["2026-11-25", "2026-11-26"]
    # Tue 10:00 + 1 business day, Wed and Thu closed -> Fri 10:00
    found = await due(client, staff, "inquiry_reply", z(waw(2026, 11, 24, 10)))
    assert found["due_at"] == "2026-11-27T09:00:00Z"


async def test_stale_if_match_is_412(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    assert (await client.put("/v1/calendar", json=calendar_body(), headers=staff)).status_code == 200
    stale = await client.put("/v1/calendar", json=calendar_body(), headers={**staff, "If-Match": '"0"'})
    assert assert_problem(stale, 412)["extra"] == {"current_etag": '"1"'}
    assert (await client.get("/v1/calendar", headers=staff)).headers["etag"] == '"1"'


@pytest.mark.parametrize(
    ("changes", "pointer"),
    [
        ({"weekly": [{"weekday": 1, "start": "18:00:00", "end": "09:00:00"}]}, "/weekly/0"),
        (
            {
                "weekly": [
                    {"weekday": 2, "start": "09:00:00", "end": "18:00:00"},
                    {"weekday": 2, "start": "08:00:00", "end": "12:00:00"},
                ]
            },
            "/weekly",
        ),
        ({"weekly": []}, "/weekly"),
        ({"weekly": [{"weekday": 8, "start": "09:00:00", "end": "18:00:00"}]}, "/weekly/0/weekday"),
        ({"weekly": [{"weekday": 1, "start": "09:00:00+01:00", "end": "18:00:00"}]}, "/weekly/0"),
        ({"weekly": [{"weekday": 1, "start": "9 am", "end": "18:00:00"}]}, "/weekly/0/start"),
        ({"time_zone": "Mars/Olympus_Mons"}, "/time_zone"),
        ({"country": "XX"}, "/country"),
        ({"subdivision": "ZZ"}, "/subdivision"),
        ({"country": None, "subdivision": "BY"}, "/subdivision"),
        ({"closed_dates": ["2026-02-30"]}, "/closed_dates/0"),
        ({"colour": "red"}, "/colour"),
    ],
)
async def test_invalid_calendar_is_422_with_a_pointer(
    client: httpx.AsyncClient, staff: dict[str, str], changes: dict[str, Any], pointer: str
) -> None:
    response = await client.put("/v1/calendar", json=calendar_body(**changes), headers=staff)
    problem = assert_problem(response, 422)
    assert [e["pointer"] for e in problem["errors"]] == [pointer]  # type: ignore[attr-defined]
    assert (await client.get("/v1/calendar", headers=staff)).json()["version"] == 0


async def test_missing_fields_are_422(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    response = await client.put("/v1/calendar", json={"time_zone": "Europe/Warsaw"}, headers=staff)
    assert assert_problem(response, 422)["errors"]


async def test_calendar_is_staff_only(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker
) -> None:
    org = await create_client_org(client, staff)
    for key in (await make_key("client", org["id"]), await make_key("intake")):
        assert_problem(await client.get("/v1/calendar", headers=bearer(key)), 403)
        assert_problem(await client.put("/v1/calendar", json=calendar_body(), headers=bearer(key)), 403)
    assert_problem(await client.get("/v1/calendar"), 401)
    assert_problem(await client.put("/v1/calendar", json=calendar_body()), 401)


# --- a calendar change recomputes running timers -------------------------------------------------------


async def test_put_recomputes_running_timers_and_logs_old_and_new_due(
    app: Litestar,
    client: httpx.AsyncClient,
    staff: dict[str, str],
    db: asyncpg.Connection,
    clock: FrozenClock,
) -> None:
    now = clock.now()  # Tue 10:30
    running, finished, support, untouched = uuid4(), uuid4(), uuid4(), uuid4()
    async with uow_of(app) as uow:
        live = await timers.start(
            uow,
            kind="inquiry_reply",
            subject_type="inquiry",
            subject_id=running,
            started_at=now,
            now=now,
            data={"name": "Ada"},
        )
        done = await timers.start(
            uow, kind="inquiry_reply", subject_type="inquiry", subject_id=finished, started_at=now, now=now
        )
        clock_timer = await timers.start(
            uow,
            kind="support_first_response",
            subject_type="support_request",
            subject_id=support,
            started_at=now,
            now=now,
        )
        later = await timers.start(
            uow,
            kind="cr_client_decision",
            subject_type="change_request",
            subject_id=untouched,
            started_at=now,
            now=now,
        )
    assert live.due_at == utc(2026, 11, 25, 9, 30)  # Wed 10:30
    async with uow_of(app) as uow:
        await timers.meet(uow, kind="inquiry_reply", subject_id=finished, at=now)

    # Wednesday 25 November becomes a closed date
    body = calendar_body(closed_dates=["2026-11-25"])
    response = await client.put("/v1/calendar", json=body, headers={**staff, "If-Match": '"0"'})
    assert response.status_code == 200, response.text

    recomputed = await db.fetchrow(
        "SELECT due_at, warn_at, calendar_version, version FROM sla_timers WHERE id = $1", live.id
    )
    assert recomputed is not None
    assert recomputed["due_at"] == utc(2026, 11, 26, 9, 30)  # Thu 10:30
    assert recomputed["warn_at"] == live.warn_at  # Tue 17:15 is still 75% of the way
    assert (recomputed["calendar_version"], recomputed["version"]) == (1, 2)
    log = await log_of(db, live.id)
    assert [e["event"] for e in log] == ["started", "recomputed"]
    assert (log[1]["old_due_at"], log[1]["due_at"]) == (utc(2026, 11, 25, 9, 30), utc(2026, 11, 26, 9, 30))
    assert log[1]["calendar_version"] == 1
    assert log[1]["details"] == {"previous_calendar_version": 0}
    [event] = [e for e in await events_of(db, "sla.recomputed") if e["subject_id"] == live.id]
    assert event["data"]["old_due_at"] == "2026-11-25T09:30:00Z"
    assert event["data"]["due_at"] == "2026-11-26T09:30:00Z"
    assert event["data"]["name"] == "Ada"
    assert (await events_of(db, "calendar.updated"))[0]["data"]["timers_recomputed"] == 2

    # the finished timer keeps its history and its calendar version
    kept = await db.fetchrow("SELECT state, due_at, calendar_version FROM sla_timers WHERE id = $1", done.id)
    assert kept is not None
    assert (kept["state"], kept["due_at"], kept["calendar_version"]) == ("met", utc(2026, 11, 25, 9, 30), 0)
    assert [e["event"] for e in await log_of(db, done.id)] == ["started", "met"]
    # a clock timer does not depend on the calendar
    assert (
        await db.fetchval("SELECT due_at FROM sla_timers WHERE id = $1", clock_timer.id) == clock_timer.due_at
    )
    assert [e["event"] for e in await log_of(db, clock_timer.id)] == ["started"]
    # five business days from Tue 10:30 now end a day later (Wed is closed)
    assert await db.fetchval("SELECT due_at FROM sla_timers WHERE id = $1", later.id) == utc(
        2026, 12, 2, 9, 30
    )

    # the timer view shows the recomputation
    detail = (await client.get(f"/v1/sla-timers/{live.id}", headers=staff)).json()
    assert detail["due_at"] == "2026-11-26T09:30:00Z"
    assert [(e["event"], e["old_due_at"], e["due_at"]) for e in detail["log"]] == [
        ("started", None, "2026-11-25T09:30:00Z"),
        ("recomputed", "2026-11-25T09:30:00Z", "2026-11-26T09:30:00Z"),
    ]


async def test_put_with_unchanged_times_logs_nothing(
    app: Litestar,
    client: httpx.AsyncClient,
    staff: dict[str, str],
    db: asyncpg.Connection,
    clock: FrozenClock,
) -> None:
    now = clock.now()
    async with uow_of(app) as uow:
        timer = await timers.start(
            uow, kind="inquiry_reply", subject_type="inquiry", subject_id=uuid4(), started_at=now, now=now
        )
    response = await client.put(
        "/v1/calendar", json=calendar_body(closed_dates=["2027-06-01"]), headers=staff
    )
    assert response.status_code == 200
    assert await db.fetchval("SELECT calendar_version FROM sla_timers WHERE id = $1", timer.id) == 1
    assert [e["event"] for e in await log_of(db, timer.id)] == ["started"]
    assert await events_of(db, "sla.recomputed") == []


async def test_a_new_timer_uses_the_calendar_in_force(
    app: Litestar, client: httpx.AsyncClient, staff: dict[str, str], clock: FrozenClock
) -> None:
    split = calendar_body(weekly=week(("09:00:00", "13:00:00"), ("14:00:00", "18:00:00")))
    assert (await client.put("/v1/calendar", json=split, headers=staff)).status_code == 200
    start = waw(2026, 11, 24, 13, 30)
    async with uow_of(app) as uow:
        timer = await timers.start(
            uow, kind="inquiry_reply", subject_type="inquiry", subject_id=uuid4(), started_at=start, now=start
        )
    assert (timer.calendar_version, timer.due_at) == (1, utc(2026, 11, 25, 12))
    assert timer.target.total_seconds() == 8 * 3600


async def test_a_calendar_change_waits_for_a_timer_being_started(
    app: Litestar,
    client: httpx.AsyncClient,
    staff: dict[str, str],
    db: asyncpg.Connection,
    clock: FrozenClock,
) -> None:
    now = clock.now()
    body = calendar_body(closed_dates=["2026-11-25"])
    async with uow_of(app) as uow:
        timer = await timers.start(
            uow, kind="inquiry_reply", subject_type="inquiry", subject_id=uuid4(), started_at=now, now=now
        )
        put = asyncio.create_task(client.put("/v1/calendar", json=body, headers=staff))
        for _ in range(500):  # until the PUT waits for the lock this transaction holds
            blocked = await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
            if blocked:
                break
            await asyncio.sleep(0.01)
        assert blocked == 1
        assert not put.done()
    response = await put
    assert response.status_code == 200, response.text
    row = await db.fetchrow("SELECT due_at, calendar_version FROM sla_timers WHERE id = $1", timer.id)
    assert row is not None
    assert (row["due_at"], row["calendar_version"]) == (utc(2026, 11, 26, 9, 30), 1)  # Thu 10:30
