"""SLA timers: the service API other capabilities call, the timer routes and the SLA policy.

The test clock stands at Tue 2026-11-24 10:30 Warsaw (09:30 UTC); literals are UTC with the Warsaw wall
time beside them.
"""

from __future__ import annotations

import asyncio
from datetime import time, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from litestar import Litestar

from api.domain.timers import service as timers
from api.domain.timers.firing import fire_due
from api.domain.timers.schemas import Timer, TimerKind
from api.kit.calendar import BusinessCalendar, CalendarSpec, Window
from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.test_conventions import assert_problem
from tests.timers_support import events_of, log_of, uow_of, utc, waw

HOUR = timedelta(hours=1)
WEEKDAYS = [Window(weekday=d, start=time(9), end=time(18)) for d in range(1, 6)]


@pytest.fixture(autouse=True)
def _app_running(client: httpx.AsyncClient) -> None:
    """The app's lifespan (its pool) runs for every test of this module."""


async def start(
    app: Litestar,
    at: Any,
    *,
    kind: TimerKind = "inquiry_reply",
    subject_id: UUID | None = None,
    **options: Any,
) -> Timer:
    subject_type = {"inquiry_reply": "inquiry", "support_first_response": "support_request"}.get(
        kind, "thing"
    )
    async with uow_of(app) as uow:
        return await timers.start(
            uow,
            kind=kind,
            subject_type=subject_type,
            subject_id=subject_id or uuid4(),
            started_at=at,
            now=at,
            **options,
        )


async def for_subject(app: Litestar, **options: Any) -> Timer | None:
    async with app.state.pool.acquire() as conn:
        found: Timer | None = await timers.get_for_subject(conn, **options)
        return found


async def act(app: Litestar, action: str, timer: Timer, at: Any, **options: Any) -> Timer | None:
    async with uow_of(app) as uow:
        result: Timer | None = await getattr(timers, action)(
            uow, kind=timer.kind, subject_id=timer.subject_id, at=at, **options
        )
        return result


# --- start ---------------------------------------------------------------------------------------------


async def test_start_records_policy_calendar_and_log(
    app: Litestar, client: httpx.AsyncClient, db: asyncpg.Connection, clock: FrozenClock
) -> None:
    project, org = uuid4(), uuid4()
    timer = await start(
        app, clock.now(), project_id=project, client_id=org, data={"name": "Ada", "email": "a@b.c"}
    )
    assert timer.state == "running"
    assert (timer.unit, timer.measure, timer.amount, timer.warn_ratio) == (
        "business",
        "business_days",
        1,
        0.75,
    )
    assert (timer.policy_version, timer.calendar_version) == (1, 0)
    assert timer.started_at == utc(2026, 11, 24, 9, 30)
    assert timer.due_at == utc(2026, 11, 25, 9, 30)  # Wed 10:30
    assert timer.warn_at == utc(2026, 11, 24, 16, 15)  # Tue 17:15
    assert timer.target == timedelta(hours=9)
    assert (timer.project_id, timer.client_id, timer.data) == (
        project,
        org,
        {"name": "Ada", "email": "a@b.c"},
    )
    [entry] = await log_of(db, timer.id)
    assert (entry["event"], entry["due_at"], entry["details"]) == (
        "started",
        timer.due_at,
        {"policy_version": 1},
    )
    found = await for_subject(app, kind="inquiry_reply", subject_id=timer.subject_id)
    assert found == timer


async def test_start_is_idempotent_per_kind_and_subject(
    app: Litestar, db: asyncpg.Connection, clock: FrozenClock
) -> None:
    subject = uuid4()
    first = await start(app, clock.now(), subject_id=subject)
    again = await start(app, clock.now() + HOUR, subject_id=subject)
    assert again == first
    other_kind = await start(app, clock.now(), kind="cr_assessment", subject_id=subject)
    assert other_kind.id != first.id
    assert await db.fetchval("SELECT count(*) FROM sla_timers WHERE subject_id = $1", subject) == 2


async def test_concurrent_starts_make_one_timer(
    app: Litestar, db: asyncpg.Connection, clock: FrozenClock
) -> None:
    subject = uuid4()
    made = await asyncio.gather(*(start(app, clock.now(), subject_id=subject) for _ in range(5)))
    assert len({t.id for t in made}) == 1
    assert await db.fetchval("SELECT count(*) FROM sla_timers WHERE subject_id = $1", subject) == 1


async def test_start_refuses_reserved_data_and_wrong_unit(app: Litestar, clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="reserved"):
        await start(app, clock.now(), data={"due_at": "tomorrow"})
    with pytest.raises(ValueError, match="business time"):
        await start(app, clock.now(), business_hours=False)
    with pytest.raises(ValueError, match="aware"):
        await start(app, clock.now().replace(tzinfo=None))


async def test_support_timer_in_clock_or_business_hours(app: Litestar, clock: FrozenClock) -> None:
    clock_timer = await start(app, clock.now(), kind="support_first_response")
    assert (clock_timer.unit, clock_timer.calendar_version) == ("clock", None)
    assert clock_timer.due_at == clock.now() + 24 * HOUR
    assert clock_timer.warn_at == clock.now() + 18 * HOUR
    business = await start(app, clock.now(), kind="support_first_response", business_hours=True)
    assert (business.unit, business.calendar_version) == ("business", 0)
    assert business.due_at == utc(2026, 11, 26, 15, 30)  # Thu 16:30


async def test_architecture_review_timer(app: Litestar, clock: FrozenClock) -> None:
    timer = await start(app, clock.now(), kind="architecture_review")
    assert (timer.measure, timer.amount) == ("end_of_business_day", 5)
    assert timer.due_at == utc(2026, 11, 30, 17)  # Mon 30 Nov 18:00, end of the 5th business day


# --- start_and_emit ------------------------------------------------------------------------------------


def announce(timer: Timer) -> timers.Announcement:
    """The event the tests of ``start_and_emit`` ask for: built from the timer it is written with."""
    return timers.Announcement(
        "inquiry.received",
        "thing",
        timer.subject_id,
        {"timer_id": timer.id, "due_at": timer.due_at, "n": 1},
        client_id=timer.client_id,
        project_id=timer.project_id,
    )


async def start_and_emit(
    app: Litestar,
    at: Any,
    *,
    kind: TimerKind = "cr_assessment",
    subject_id: UUID | None = None,
    **options: Any,
) -> tuple[Timer, list[str]]:
    """``timers.start_and_emit``; returns the timer and the ids of the dispatch jobs it buffered."""
    async with uow_of(app) as uow:
        timer = await timers.start_and_emit(
            uow,
            kind=kind,
            subject_type="thing",
            subject_id=subject_id or uuid4(),
            started_at=at,
            now=at,
            event=announce,
            **options,
        )
        return timer, [job[2]["_job_id"] for job in uow.jobs]


async def test_start_and_emit_writes_the_timer_its_log_and_the_event(
    app: Litestar, db: asyncpg.Connection, clock: FrozenClock
) -> None:
    project, org = uuid4(), uuid4()
    timer, jobs = await start_and_emit(
        app, clock.now(), project_id=project, client_id=org, data={"name": "Ada", "ref": uuid4()}
    )
    assert await for_subject(app, kind="cr_assessment", subject_id=timer.subject_id) == timer
    assert timer.due_at == utc(2026, 11, 26, 9, 30)  # two business days: Thu 10:30
    assert (timer.policy_version, timer.calendar_version, timer.state) == (1, 0, "running")
    [entry] = await log_of(db, timer.id)
    assert (entry["event"], entry["due_at"], entry["details"]) == (
        "started",
        timer.due_at,
        {"policy_version": 1},
    )
    [event] = await events_of(db, "inquiry.received")
    assert event["data"] == {"timer_id": str(timer.id), "due_at": "2026-11-26T09:30:00Z", "n": 1}
    row = await db.fetchrow("SELECT id, client_id, project_id, occurred_at FROM domain_events")
    assert row is not None
    assert (row["client_id"], row["project_id"], row["occurred_at"]) == (org, project, clock.now())
    assert jobs == [f"event:{row['id']}"]


async def test_start_and_emit_with_an_open_timer_returns_it_and_emits_for_it(
    app: Litestar, db: asyncpg.Connection, clock: FrozenClock
) -> None:
    subject = uuid4()
    first = await start(app, clock.now(), kind="cr_assessment", subject_id=subject)
    again, jobs = await start_and_emit(app, clock.now() + HOUR, subject_id=subject)
    assert again == first
    [event] = await events_of(db, "inquiry.received")
    assert event["data"]["timer_id"] == str(first.id)
    assert len(jobs) == 1
    made = await asyncio.gather(*(start_and_emit(app, clock.now(), subject_id=uuid4()) for _ in range(3)))
    assert len({t.id for t, _ in made}) == 3
    shared = uuid4()
    racing = await asyncio.gather(*(start_and_emit(app, clock.now(), subject_id=shared) for _ in range(5)))
    assert len({t.id for t, _ in racing}) == 1
    assert await db.fetchval("SELECT count(*) FROM sla_timers WHERE subject_id = $1", shared) == 1


async def test_start_and_emit_never_trusts_a_cached_context(
    app: Litestar, db: asyncpg.Connection, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached context naming the versions in force with other content (as one cached from another
    database would) is refused by the statement, and the timer is computed on the context in force."""
    from api.domain.calendar.queries import CurrentRow
    from api.domain.timers.queries import Context

    wrong_policy = Context(
        calendar=CurrentRow(version=0, version_id=None, updated_at=None),
        policy_version=1,
        measure="business_days",
        amount=7,
        unit="business",
        warn_ratio=0.5,
    )
    default = BusinessCalendar(CalendarSpec(time_zone="Europe/Warsaw", weekly=WEEKDAYS, country="PL"))
    monkeypatch.setitem(timers._bases, "cr_assessment", timers.Basis(wrong_policy, default))
    timer, _ = await start_and_emit(app, clock.now())
    assert (timer.amount, timer.warn_ratio, timer.due_at) == (2, 0.75, utc(2026, 11, 26, 9, 30))
    assert await for_subject(app, kind="cr_assessment", subject_id=timer.subject_id) == timer

    wrong_calendar = Context(
        calendar=CurrentRow(version=0, version_id=uuid4(), updated_at=None),
        policy_version=1,
        measure="business_days",
        amount=2,
        unit="business",
        warn_ratio=0.75,
    )
    every_hour = BusinessCalendar(
        CalendarSpec(
            time_zone="UTC", weekly=[Window(weekday=d, start=time(0), end=time(23)) for d in range(1, 8)]
        )
    )
    monkeypatch.setitem(timers._bases, "cr_assessment", timers.Basis(wrong_calendar, every_hour))
    with pytest.raises(ValueError, match="reserved"):
        await start_and_emit(app, clock.now(), data={"kind": "x"})
    with pytest.raises(ValueError, match="business time"):
        await start_and_emit(app, clock.now(), business_hours=False)
    timer, _ = await start_and_emit(app, clock.now())
    assert timer.due_at == utc(2026, 11, 26, 9, 30)
    assert timers._bases["cr_assessment"].context.calendar.version_id is None
    assert await db.fetchval("SELECT count(*) FROM sla_timers") == 2


# --- meet ----------------------------------------------------------------------------------------------


async def test_meet_in_time(app: Litestar, db: asyncpg.Connection, clock: FrozenClock) -> None:
    timer = await start(app, clock.now(), data={"name": "Ada"})
    met = await act(app, "meet", timer, clock.now() + 2 * HOUR)
    assert met is not None
    assert (met.state, met.met_at, met.breached_at) == ("met", clock.now() + 2 * HOUR, None)
    assert [e["event"] for e in await log_of(db, timer.id)] == ["started", "met"]
    [event] = await events_of(db, "sla.met")
    assert (event["subject_type"], event["subject_id"]) == ("sla_timer", timer.id)
    assert event["data"]["late"] is False
    assert event["data"]["name"] == "Ada"
    assert event["data"]["subject_id"] == str(timer.subject_id)
    # a met timer changes no more
    assert await act(app, "meet", timer, clock.now() + 3 * HOUR) is None
    assert await act(app, "cancel", timer, clock.now() + 3 * HOUR, reason="late") is None
    assert await act(app, "pause", timer, clock.now() + 3 * HOUR) is None
    assert await act(app, "resume", timer, clock.now() + 3 * HOUR) is None
    assert await db.fetchval("SELECT count(*) FROM sla_timer_events WHERE timer_id = $1", timer.id) == 2


async def test_meet_exactly_at_due_is_in_time(app: Litestar, clock: FrozenClock) -> None:
    timer = await start(app, clock.now())
    met = await act(app, "meet", timer, timer.due_at)
    assert met is not None
    assert met.state == "met"


async def test_met_after_due_keeps_the_breach(
    app: Litestar, db: asyncpg.Connection, clock: FrozenClock
) -> None:
    timer = await start(app, clock.now())
    late = timer.due_at + HOUR
    met = await act(app, "meet", timer, late)
    assert met is not None
    assert (met.state, met.breached_at, met.met_at) == ("breached", late, late)
    assert [e["event"] for e in await log_of(db, timer.id)] == ["started", "breached", "met"]
    [breach] = await events_of(db, "sla.breached")
    assert breach["data"]["noticed_when_stopped"] is True
    assert (await events_of(db, "sla.met"))[0]["data"]["late"] is True
    assert await events_of(db, "inquiry.reply_overdue") == []
    # the sweep has nothing left to fire for it
    clock.set(late + HOUR)
    assert await fire_due(app.state.pool, clock, 100) == (0, 0)


async def test_met_after_the_sweep_breached_it(
    app: Litestar, db: asyncpg.Connection, clock: FrozenClock
) -> None:
    timer = await start(app, clock.now())
    clock.set(timer.due_at + timedelta(minutes=1))
    assert await fire_due(app.state.pool, clock, 100) == (1, 1)
    met = await act(app, "meet", timer, timer.due_at + HOUR)
    assert met is not None
    assert (met.state, met.breached_at, met.met_at) == ("breached", clock.now(), timer.due_at + HOUR)
    assert len(await events_of(db, "sla.breached")) == 1
    assert [e["event"] for e in await log_of(db, timer.id)] == ["started", "warned", "breached", "met"]


# --- pause and resume ----------------------------------------------------------------------------------


async def test_meeting_a_paused_timer_counts_the_open_pause(
    app: Litestar, db: asyncpg.Connection, clock: FrozenClock
) -> None:
    timer = await start(app, clock.now(), kind="support_first_response")
    await act(app, "pause", timer, clock.now() + 2 * HOUR)
    met = await act(app, "meet", timer, clock.now() + 5 * HOUR)
    assert met is not None
    assert (met.state, met.met_at, met.paused_total) == ("met", clock.now() + 5 * HOUR, 3 * HOUR)
    assert [e["event"] for e in await log_of(db, timer.id)] == ["started", "paused", "resumed", "met"]


async def test_five_hour_pause_moves_a_clock_timer_by_five_hours(
    app: Litestar, db: asyncpg.Connection, clock: FrozenClock
) -> None:
    timer = await start(app, clock.now(), kind="support_first_response")
    paused = await act(app, "pause", timer, clock.now() + 2 * HOUR)
    assert paused is not None
    assert (paused.state, paused.paused_at) == ("paused", clock.now() + 2 * HOUR)
    assert await act(app, "pause", timer, clock.now() + 3 * HOUR) == paused  # already paused
    resumed = await act(app, "resume", timer, clock.now() + 7 * HOUR)
    assert resumed is not None
    assert (resumed.state, resumed.paused_at) == ("running", None)
    assert resumed.paused_total == 5 * HOUR
    assert resumed.due_at == timer.due_at + 5 * HOUR
    assert resumed.warn_at == timer.warn_at + 5 * HOUR
    log = await log_of(db, timer.id)
    assert [e["event"] for e in log] == ["started", "paused", "resumed"]
    assert (log[2]["old_due_at"], log[2]["due_at"]) == (timer.due_at, timer.due_at + 5 * HOUR)
    assert log[2]["details"] == {"paused": 5 * 3600.0}
    assert len(await events_of(db, "sla.paused")) == 1
    [event] = await events_of(db, "sla.resumed")
    assert event["data"]["paused"] == 5 * 3600.0
    assert await act(app, "resume", timer, clock.now() + 8 * HOUR) == resumed  # already running


async def test_pause_on_a_business_timer_counts_business_time_only(
    app: Litestar, db: asyncpg.Connection
) -> None:
    timer = await start(app, waw(2026, 11, 24, 10))
    assert (timer.due_at, timer.warn_at) == (
        utc(2026, 11, 25, 9),
        utc(2026, 11, 24, 15, 45),
    )  # Wed 10:00, Tue 16:45
    await act(app, "pause", timer, waw(2026, 11, 24, 17))
    # paused from Tue 17:00 to Wed 10:00: 17 clock hours, 2 business hours (17-18, 09-10)
    resumed = await act(app, "resume", timer, waw(2026, 11, 25, 10))
    assert resumed is not None
    assert resumed.paused_total == 2 * HOUR
    assert resumed.due_at == utc(2026, 11, 25, 11)  # Wed 12:00
    assert resumed.warn_at == timer.warn_at  # reached before the pause: it stays and fires at the next sweep
    assert resumed.calendar_version == 0
    log = await log_of(db, timer.id)
    assert (log[2]["event"], log[2]["old_due_at"], log[2]["due_at"]) == (
        "resumed",
        timer.due_at,
        resumed.due_at,
    )
    assert log[2]["details"] == {"paused": 2 * 3600.0}


async def test_pause_before_the_warning_moves_it_too(app: Litestar) -> None:
    timer = await start(app, waw(2026, 11, 24, 10))
    await act(app, "pause", timer, waw(2026, 11, 24, 12))
    # paused Tue 12:00 to Wed 10:00: 7 business hours; 2 h ran before, 7 h remain from Wed 10:00
    resumed = await act(app, "resume", timer, waw(2026, 11, 25, 10))
    assert resumed is not None
    assert resumed.paused_total == 7 * HOUR
    assert resumed.due_at == utc(2026, 11, 25, 16)  # Wed 17:00
    assert resumed.warn_at == utc(2026, 11, 25, 13, 45)  # 2 h + 4 h 45 of work: Wed 14:45


async def test_paused_timer_neither_warns_nor_breaches(app: Litestar, clock: FrozenClock) -> None:
    timer = await start(app, clock.now(), kind="support_first_response")
    await act(app, "pause", timer, clock.now() + HOUR)
    clock.set(timer.due_at + 10 * HOUR)
    assert await fire_due(app.state.pool, clock, 100) == (0, 0)
    met = await act(app, "meet", timer, clock.now())
    assert met is not None
    assert (met.state, met.breached_at) == ("met", None)


async def test_fired_warning_keeps_its_time_across_a_pause(app: Litestar, clock: FrozenClock) -> None:
    timer = await start(app, clock.now(), kind="support_first_response")
    clock.set(timer.warn_at + HOUR)
    assert await fire_due(app.state.pool, clock, 100) == (1, 0)
    await act(app, "pause", timer, clock.now())
    resumed = await act(app, "resume", timer, clock.now() + 3 * HOUR)
    assert resumed is not None
    assert resumed.warn_at == timer.warn_at
    assert resumed.due_at == timer.due_at + 3 * HOUR
    clock.set(resumed.due_at)
    assert await fire_due(app.state.pool, clock, 100) == (0, 1)


async def test_pausing_an_overdue_timer_records_the_breach(
    app: Litestar, db: asyncpg.Connection, clock: FrozenClock
) -> None:
    timer = await start(app, clock.now(), kind="support_first_response")
    result = await act(app, "pause", timer, timer.due_at + HOUR)
    assert result is not None
    assert (result.state, result.paused_at, result.breached_at) == ("breached", None, timer.due_at + HOUR)
    assert await act(app, "resume", timer, timer.due_at + 2 * HOUR) == result
    assert [e["event"] for e in await log_of(db, timer.id)] == ["started", "breached"]


# --- cancel --------------------------------------------------------------------------------------------


async def test_cancel(app: Litestar, db: asyncpg.Connection, clock: FrozenClock) -> None:
    timer = await start(app, clock.now())
    cancelled = await act(app, "cancel", timer, clock.now() + HOUR, reason="spam after all")
    assert cancelled is not None
    assert (cancelled.state, cancelled.cancelled_at, cancelled.cancel_reason) == (
        "cancelled",
        clock.now() + HOUR,
        "spam after all",
    )
    assert await act(app, "cancel", timer, clock.now() + HOUR, reason="again") is None
    assert await act(app, "meet", timer, clock.now() + HOUR) is None
    [event] = await events_of(db, "sla.cancelled")
    assert event["data"]["reason"] == "spam after all"
    log = await log_of(db, timer.id)
    assert [(e["event"], e["details"]) for e in log][1] == ("cancelled", {"reason": "spam after all"})
    # a fresh timer may start once the old one is cancelled; get_for_subject prefers the open one
    fresh = await start(app, clock.now() + 2 * HOUR, subject_id=timer.subject_id)
    assert fresh.id != timer.id
    assert await for_subject(app, kind="inquiry_reply", subject_id=timer.subject_id) == fresh
    await act(app, "meet", fresh, clock.now() + 3 * HOUR)
    latest = await for_subject(app, kind="inquiry_reply", subject_id=timer.subject_id)
    assert latest is not None
    assert latest.id == fresh.id


async def test_cancel_after_due_keeps_the_breach(app: Litestar, clock: FrozenClock) -> None:
    timer = await start(app, clock.now())
    cancelled = await act(app, "cancel", timer, timer.due_at + HOUR, reason="closed")
    assert cancelled is not None
    assert (cancelled.state, cancelled.breached_at, cancelled.cancelled_at) == (
        "breached",
        timer.due_at + HOUR,
        timer.due_at + HOUR,
    )


async def test_no_timer_for_the_subject(app: Litestar, db: asyncpg.Connection, clock: FrozenClock) -> None:
    ghost = uuid4()
    async with uow_of(app) as uow:
        for action in ("meet", "pause", "resume"):
            assert (
                await getattr(timers, action)(uow, kind="inquiry_reply", subject_id=ghost, at=clock.now())
                is None
            )
        assert (
            await timers.cancel(uow, kind="inquiry_reply", subject_id=ghost, at=clock.now(), reason="x")
            is None
        )
    assert await for_subject(app, kind="inquiry_reply", subject_id=ghost) is None
    assert await db.fetchval("SELECT count(*) FROM domain_events WHERE type LIKE 'sla.%'") == 0


# --- the timer routes ----------------------------------------------------------------------------------


async def test_list_timers_with_filters_and_pages(
    app: Litestar, client: httpx.AsyncClient, staff: dict[str, str], clock: FrozenClock
) -> None:
    now = clock.now()
    made = [await start(app, now + i * HOUR) for i in range(5)]
    support = await start(app, now, kind="support_first_response")
    await act(app, "meet", made[0], now + HOUR)

    everything = (await client.get("/v1/sla-timers", headers=staff)).json()
    in_order = sorted([*made, support], key=lambda t: (t.due_at, str(t.id)))
    assert [t["id"] for t in everything["items"]] == [str(t.id) for t in in_order]
    assert everything["next_cursor"] is None

    running = (await client.get("/v1/sla-timers?state=running&kind=inquiry_reply", headers=staff)).json()
    assert [t["id"] for t in running["items"]] == [str(t.id) for t in made[1:]]
    met = (await client.get("/v1/sla-timers?state=met", headers=staff)).json()
    assert [t["id"] for t in met["items"]] == [str(made[0].id)]
    due_before = (
        await client.get("/v1/sla-timers", params={"due_before": "2026-11-25T11:30:00Z"}, headers=staff)
    ).json()
    assert [t["id"] for t in due_before["items"]] == [
        str(t.id) for t in in_order if t.due_at < made[2].due_at
    ]
    by_subject = (await client.get(f"/v1/sla-timers?subject_id={support.subject_id}", headers=staff)).json()
    assert [t["id"] for t in by_subject["items"]] == [str(support.id)]

    pages: list[str] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/sla-timers", params=params, headers=staff)).json()
        pages.extend(t["id"] for t in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == [t["id"] for t in everything["items"]]

    items = {t["id"]: t for t in everything["items"]}
    assert (items[str(made[1].id)]["state"], items[str(made[1].id)]["target"]) == ("running", "PT32400S")
    assert (items[str(support.id)]["target"], items[str(support.id)]["paused_total"]) == ("P1D", "P0D")


async def test_list_timers_refuses_bad_filters(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    assert_problem(await client.get("/v1/sla-timers?state=sleeping", headers=staff), 422)
    assert_problem(await client.get("/v1/sla-timers?kind=coffee", headers=staff), 422)
    naive = await client.get("/v1/sla-timers", params={"due_before": "2026-11-25T10:00:00"}, headers=staff)
    assert [e["pointer"] for e in assert_problem(naive, 422)["errors"]] == ["query:due_before"]  # type: ignore[attr-defined]
    assert_problem(await client.get("/v1/sla-timers?cursor=nonsense", headers=staff), 422)


async def test_get_timer(
    app: Litestar, client: httpx.AsyncClient, staff: dict[str, str], clock: FrozenClock
) -> None:
    timer = await start(app, clock.now(), data={"name": "Ada"})
    body = (await client.get(f"/v1/sla-timers/{timer.id}", headers=staff)).json()
    assert body["id"] == str(timer.id)
    assert body["data"] == {"name": "Ada"}
    assert [e["event"] for e in body["log"]] == ["started"]
    assert_problem(await client.get(f"/v1/sla-timers/{uuid4()}", headers=staff), 404)


async def test_timer_routes_are_staff_only(
    app: Litestar, client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker, clock: FrozenClock
) -> None:
    timer = await start(app, clock.now())
    org = await create_client_org(client, staff)
    for key in (await make_key("client", org["id"]), await make_key("intake")):
        assert_problem(await client.get("/v1/sla-timers", headers=bearer(key)), 403)
        assert_problem(await client.get(f"/v1/sla-timers/{timer.id}", headers=bearer(key)), 403)
        assert_problem(await client.get("/v1/sla-policy", headers=bearer(key)), 403)
        assert_problem(await client.put("/v1/sla-policy", json=DEFAULT_POLICY, headers=bearer(key)), 403)
    assert_problem(await client.get("/v1/sla-timers"), 401)
    assert_problem(await client.get(f"/v1/sla-timers/{timer.id}"), 401)
    assert_problem(await client.get("/v1/sla-policy"), 401)
    assert_problem(await client.put("/v1/sla-policy", json=DEFAULT_POLICY), 401)


# --- the SLA policy ------------------------------------------------------------------------------------

DEFAULT_POLICY = {
    "inquiry_reply": {"measure": "business_days", "amount": 1, "unit": "business", "warn_ratio": 0.75},
    "cr_assessment": {"measure": "business_days", "amount": 2, "unit": "business", "warn_ratio": 0.75},
    "cr_client_decision": {"measure": "business_days", "amount": 5, "unit": "business", "warn_ratio": 0.75},
    "support_first_response": {"measure": "hours", "amount": 24, "unit": "clock", "warn_ratio": 0.75},
    "architecture_review": {
        "measure": "end_of_business_day",
        "amount": 5,
        "unit": "business",
        "warn_ratio": 0.75,
    },
}


async def test_policy_versions(
    app: Litestar,
    client: httpx.AsyncClient,
    staff: dict[str, str],
    db: asyncpg.Connection,
    clock: FrozenClock,
) -> None:
    response = await client.get("/v1/sla-policy", headers=staff)
    assert response.headers["etag"] == '"1"'
    body = response.json()
    assert {k: body[k] for k in DEFAULT_POLICY} == DEFAULT_POLICY
    old = await start(app, clock.now())

    changed = {
        **DEFAULT_POLICY,
        "inquiry_reply": {"measure": "business_days", "amount": 2, "warn_ratio": 0.5},
    }
    response = await client.put("/v1/sla-policy", json=changed, headers={**staff, "If-Match": '"1"'})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    assert response.json()["inquiry_reply"] == {
        "measure": "business_days",
        "amount": 2,
        "unit": "business",
        "warn_ratio": 0.5,
    }

    new = await start(app, clock.now())
    assert (new.policy_version, new.due_at, new.warn_at) == (
        2,
        utc(2026, 11, 26, 9, 30),
        utc(2026, 11, 25, 9, 30),
    )
    assert await db.fetchval("SELECT policy_version FROM sla_timers WHERE id = $1", old.id) == 1
    found = (await client.get("/v1/calendar/due-dates?kind=inquiry_reply", headers=staff)).json()
    assert (found["policy_version"], found["due_at"]) == (2, "2026-11-26T09:30:00Z")
    assert (await events_of(db, "sla.policy_updated"))[0]["data"] == {"version": 2, "previous_version": 1}

    stale = await client.put("/v1/sla-policy", json=changed, headers={**staff, "If-Match": '"1"'})
    assert_problem(stale, 412)


async def test_policy_validation(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    wrong_unit = {
        **DEFAULT_POLICY,
        "cr_assessment": {"measure": "business_days", "amount": 2, "unit": "clock"},
    }
    response = await client.put("/v1/sla-policy", json=wrong_unit, headers=staff)
    assert [e["pointer"] for e in assert_problem(response, 422)["errors"]] == ["/cr_assessment/unit"]  # type: ignore[attr-defined]
    ratio = {**DEFAULT_POLICY, "inquiry_reply": {"measure": "hours", "amount": 4, "warn_ratio": 1.0}}
    response = await client.put("/v1/sla-policy", json=ratio, headers=staff)
    assert [e["pointer"] for e in assert_problem(response, 422)["errors"]] == ["/inquiry_reply/warn_ratio"]  # type: ignore[attr-defined]
    missing = {k: v for k, v in DEFAULT_POLICY.items() if k != "architecture_review"}
    assert_problem(await client.put("/v1/sla-policy", json=missing, headers=staff), 422)
