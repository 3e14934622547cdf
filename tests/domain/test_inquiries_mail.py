"""The reply promise end to end: HTTP API, PostgreSQL, Redis, the arq worker, the timer sweep and SMTP."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import asyncpg
import httpx
import pytest
from litestar import Litestar

from api.domain.timers.firing import fire_due
from api.kit.clock import FrozenClock
from api.settings import Settings
from tests.conftest import KeyMaker, bearer
from tests.domain.inquiry_support import INQUIRIES, events, post, timers_of
from tests.notify_support import SmtpSink, run_worker_once, text_of
from tests.timers_support import utc, waw, z

STAFF = "staff@shop.com"
FRIDAY_1500_WARSAW = utc(2026, 11, 27, 14, 0)
MONDAY_1500_WARSAW = utc(2026, 11, 30, 14, 0)
#: 75% of 9 business hours after Friday 15:00: 3 h on Friday, then 3 h 45 min from Monday 09:00
MONDAY_1245_WARSAW = utc(2026, 11, 30, 11, 45)

RunWorker = Callable[[], Awaitable[int]]


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpSink) -> dict[str, str]:
    return {
        **env,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "STAFF_EMAILS": STAFF,
        "BASE_URL": "https://sk.shop.com",
        "INQUIRY_FLOOD_PER_HOUR": "1",
    }


@pytest.fixture
def run_worker(settings: Settings, clock: FrozenClock) -> RunWorker:
    """A burst worker per call (its startup cron jobs include the timer sweep), closed after it."""

    async def run() -> int:
        return await run_worker_once(settings, clock)

    return run


@pytest.fixture
async def intake(make_key: KeyMaker) -> dict[str, str]:
    return bearer(await make_key("intake", name="website form"))


async def sweep(app: Litestar, clock: FrozenClock) -> tuple[int, int]:
    """The timer sweep the worker's cron runs, at the clock's time; returns (warnings, breaches)."""
    return await fire_due(app.state.pool, clock, redis=app.state.redis)


def subjects(smtp: SmtpSink, address: str) -> list[str]:
    return [str(m["Subject"]) for m in smtp.to(address)]


async def test_friday_inquiry_is_acknowledged_then_warned_and_overdue_exactly_once(
    app: Litestar,
    client: httpx.AsyncClient,
    intake: dict[str, str],
    staff: dict[str, str],
    clock: FrozenClock,
    smtp: SmtpSink,
    run_worker: RunWorker,
) -> None:
    clock.set(FRIDAY_1500_WARSAW)
    receipt = await post(client, intake, name="Ola Nowak", email="ola@firma.pl", company="Firma", locale="pl")
    assert receipt["reply_due_at"] == z(waw(2026, 11, 30, 15, 0)) == z(MONDAY_1500_WARSAW)
    await run_worker()

    [ack] = smtp.to("ola@firma.pl")
    assert ack["Subject"] == "Otrzymaliśmy Państwa zapytanie"
    assert (
        "Odpowiemy w ciągu jednego dnia roboczego (termin: poniedziałek, 30 listopada 2026, 15:00 CET (Europe/Warsaw))."
        in text_of(ack)
    )
    [new] = smtp.to(STAFF)
    assert new["Subject"] == "New inquiry: Ola Nowak (Firma)"
    assert "Reply due: Monday, November 30, 2026, 3:00\u202fPM CET (Europe/Warsaw)" in text_of(new)
    assert f"https://sk.shop.com/v1/inquiries/{receipt['id']}" in text_of(new)

    clock.set(MONDAY_1245_WARSAW - timedelta(minutes=1))
    assert await sweep(app, clock) == (0, 0)
    await run_worker()
    assert len(smtp.to(STAFF)) == 1

    clock.set(MONDAY_1245_WARSAW)
    assert await sweep(app, clock) == (1, 0)
    await run_worker()
    assert await sweep(app, clock) == (0, 0)
    await run_worker()
    assert subjects(smtp, STAFF) == ["New inquiry: Ola Nowak (Firma)", "Reply soon: inquiry from Ola Nowak"]
    warning = smtp.to(STAFF)[1]
    assert "Reply due: Monday, November 30, 2026, 3:00\u202fPM CET (Europe/Warsaw)" in text_of(warning)

    clock.set(MONDAY_1500_WARSAW)
    assert await sweep(app, clock) == (0, 1)
    await run_worker()
    clock.advance(timedelta(hours=5))
    assert await sweep(app, clock) == (0, 0)
    await run_worker()
    assert subjects(smtp, STAFF) == [
        "New inquiry: Ola Nowak (Firma)",
        "Reply soon: inquiry from Ola Nowak",
        "Overdue: inquiry from Ola Nowak",
    ]
    assert len(smtp.to("ola@firma.pl")) == 1
    listed = await client.get(INQUIRIES, params={"overdue": "true"}, headers=staff)
    assert [i["id"] for i in listed.json()["items"]] == [receipt["id"]]


async def test_a_reply_before_the_deadline_stops_warning_and_overdue(
    app: Litestar,
    client: httpx.AsyncClient,
    intake: dict[str, str],
    staff: dict[str, str],
    clock: FrozenClock,
    smtp: SmtpSink,
    run_worker: RunWorker,
) -> None:
    clock.set(FRIDAY_1500_WARSAW)
    receipt = await post(client, intake)
    await run_worker()
    [ack] = smtp.to("ada@engines.co.uk")
    assert ack["Subject"] == "We have received your inquiry"
    assert "We will reply by Monday, November 30, 2026, 3:00\u202fPM CET (Europe/Warsaw)." in text_of(ack)

    clock.set(utc(2026, 11, 30, 10, 0))  # Monday 11:00 in Warsaw, before the warning
    response = await client.post(
        f"{INQUIRIES}/{receipt['id']}/reply",
        json={"message": "Happy to help: shall we talk on Tuesday?", "send_email": True},
        headers=staff,
    )
    assert response.status_code == 200, response.text
    await run_worker()
    replies = smtp.to("ada@engines.co.uk")
    assert [str(m["Subject"]) for m in replies] == ["We have received your inquiry", "Re: your inquiry"]
    assert "Happy to help: shall we talk on Tuesday?" in text_of(replies[1])

    clock.set(MONDAY_1500_WARSAW + timedelta(days=1))
    assert await sweep(app, clock) == (0, 0)
    await run_worker()
    assert subjects(smtp, STAFF) == ["New inquiry: Ada Lovelace (Analytical Engines)"]
    assert len(smtp.to("ada@engines.co.uk")) == 2


async def test_a_reply_without_email_sends_nothing_to_the_inquirer(
    client: httpx.AsyncClient,
    intake: dict[str, str],
    staff: dict[str, str],
    smtp: SmtpSink,
    run_worker: RunWorker,
) -> None:
    receipt = await post(client, intake)
    response = await client.post(
        f"{INQUIRIES}/{receipt['id']}/reply",
        json={"message": "Called them.", "send_email": False},
        headers=staff,
    )
    assert response.status_code == 200
    await run_worker()
    assert subjects(smtp, "ada@engines.co.uk") == ["We have received your inquiry"]


async def test_quarantined_inquiries_send_nothing_until_released(
    app: Litestar,
    client: httpx.AsyncClient,
    intake: dict[str, str],
    staff: dict[str, str],
    clock: FrozenClock,
    smtp: SmtpSink,
    run_worker: RunWorker,
    db: asyncpg.Connection,
) -> None:
    honeypot = await post(client, intake, email="hp@firm.com", website="http://spam.biz")
    undeliverable = await post(client, intake, email="ada@localhost")
    first = await post(client, intake, email="bob@firm.com", name="Bob")
    flood = await post(client, intake, email="bob@firm.com", name="Bob")  # INQUIRY_FLOOD_PER_HOUR=1
    assert first["status"] == "received"
    held = {"honeypot": honeypot, "undeliverable_email": undeliverable, "flood": flood}
    for reason, receipt in held.items():
        assert receipt["status"] == "quarantined", reason
        assert await timers_of(db, receipt["id"]) == []
    await run_worker()
    assert smtp.to("hp@firm.com") == []
    assert subjects(smtp, "bob@firm.com") == ["We have received your inquiry"]
    assert subjects(smtp, STAFF) == ["New inquiry: Bob (Analytical Engines)"]
    assert len(smtp.messages) == 2

    reply = {"message": "Hello Bob", "send_email": False}
    assert (
        await client.post(f"{INQUIRIES}/{first['id']}/reply", json=reply, headers=staff)
    ).status_code == 200
    clock.advance(timedelta(days=3))
    assert await sweep(app, clock) == (0, 0)  # no timer runs for the quarantined ones
    await run_worker()
    assert len(smtp.messages) == 2

    # released within its reply window: the promise is the one made at the original receipt
    clock.set(utc(2026, 11, 24, 11, 0))
    response = await client.post(f"{INQUIRIES}/{honeypot['id']}/release", headers=staff)
    assert response.status_code == 200, response.text
    assert response.json()["reply_due_at"] == z(waw(2026, 11, 25, 10, 30))
    await run_worker()
    [ack] = smtp.to("hp@firm.com")
    assert "We will reply by Wednesday, November 25, 2026, 10:30\u202fAM CET (Europe/Warsaw)." in text_of(ack)
    assert len(smtp.to(STAFF)) == 2

    # released after its due time: a generic acknowledgement, then the warning and breach at once
    clock.set(utc(2026, 11, 27, 9, 0))
    response = await client.post(f"{INQUIRIES}/{flood['id']}/release", headers=staff)
    assert response.status_code == 200, response.text
    [timer] = await timers_of(db, flood["id"])
    assert timer["started_at"] == utc(2026, 11, 24, 9, 30)
    await run_worker()  # its startup sweep fires the honeypot's and the flood's overdue timers
    bob = smtp.to("bob@firm.com")
    assert len(bob) == 2
    assert "We will reply within one business day." in text_of(bob[1])
    flood_staff = sorted(s for s in subjects(smtp, STAFF) if "Bob" in s)  # the last two are sent concurrently
    assert flood_staff == [
        "New inquiry: Bob (Analytical Engines)",
        "New inquiry: Bob (Analytical Engines)",
        "Overdue: inquiry from Bob",
        "Reply soon: inquiry from Bob",
    ]
    assert len(await events(db, "inquiry.reply_overdue", flood["id"])) == 1
    assert await events(db, "inquiry.received", undeliverable["id"]) == []
