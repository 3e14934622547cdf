"""Notifications end to end: events → deliveries → real SMTP and real HTTP, with the worker running."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from standardwebhooks import Webhook

from api.kit.clock import FrozenClock
from api.kit.jobs import create_redis
from api.settings import Settings
from tests.conftest import create_client_org
from tests.notify_support import (
    Receiver,
    SmtpSink,
    deliveries,
    emit,
    fanned_out,
    flush,
    run_worker_once,
    text_of,
)


@pytest.fixture
def run_worker(settings: Settings, clock: FrozenClock) -> Callable[[], Awaitable[int]]:
    """A burst worker per call, closed after it (so that many runs hold no connections)."""

    async def run() -> int:
        return await run_worker_once(settings, clock)

    return run


RunWorker = Callable[[], Awaitable[int]]


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpSink) -> dict[str, str]:
    return {
        **env,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "STAFF_EMAILS": "staff@shop.com,pm@shop.com",
        # long enough for a loaded machine; the one test of a timeout waits it out once
        "WEBHOOK_TIMEOUT": "2",
        "WEBHOOK_DISABLE_AFTER_FAILURES": "100",
        "BASE_URL": "https://sk.example.com",
    }


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


async def subscribe(
    client: httpx.AsyncClient, staff: dict[str, str], url: str, event_types: Any = "*"
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhook-endpoints", json={"url": url, "event_types": event_types}, headers=staff
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


INQUIRY = {
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "company": "Analytical Engines",
    "source": "website",
    "message": "We want to extract recommendations from our monolith.",
    "status": "received",
    "reply_due_at": "2026-11-25T09:30:00Z",  # Wednesday 10:30 in Warsaw
}


# email -------------------------------------------------------------------------------------------


async def test_inquiry_acknowledgement_names_the_promised_time_in_polish_and_english(
    client: httpx.AsyncClient, app: Litestar, clock: FrozenClock, smtp: SmtpSink, run_worker: RunWorker
) -> None:
    await emit(
        app, clock, "inquiry.received", {**INQUIRY, "email": "ola@example.pl", "name": "Ola", "locale": "pl"}
    )
    await emit(app, clock, "inquiry.received", {**INQUIRY, "locale": "en"})
    await run_worker()

    [polish] = smtp.to("ola@example.pl")
    assert polish["Subject"] == "Otrzymaliśmy Państwa zapytanie"
    text = text_of(polish)
    assert "Dzień dobry, Ola," in text
    assert (
        "Odpowiemy w ciągu jednego dnia roboczego (termin: środa, 25 listopada 2026, 10:30 CET (Europe/Warsaw))."
        in text
    )

    [english] = smtp.to("ada@example.com")
    assert english["Subject"] == "We have received your inquiry"
    text = text_of(english)
    assert "Hello Ada Lovelace," in text
    assert "We will reply by Wednesday, November 25, 2026, 10:30\u202fAM CET (Europe/Warsaw)." in text
    assert english["Auto-Submitted"] == "auto-generated"
    html = english.get_body(preferencelist=("html",))
    assert html is not None
    assert "Europe/Warsaw" in html.get_content()

    # staff hear of both inquiries, in English
    for address in ("staff@shop.com", "pm@shop.com"):
        mails = smtp.to(address)
        assert sorted(m["Subject"] for m in mails) == [
            "New inquiry: Ada Lovelace (Analytical Engines)",
            "New inquiry: Ola (Analytical Engines)",
        ]
        assert "extract recommendations" in text_of(mails[0])
        assert "https://sk.example.com/v1/inquiries/" in text_of(mails[0])


async def test_inquirer_zone_is_used_when_given_and_a_missing_promise_reads_generically(
    client: httpx.AsyncClient, app: Litestar, clock: FrozenClock, smtp: SmtpSink, run_worker: RunWorker
) -> None:
    await emit(
        app, clock, "inquiry.received", {**INQUIRY, "locale": "en-GB", "time_zone": "America/New_York"}
    )
    await emit(
        app,
        clock,
        "inquiry.received",
        {"email": "bare@example.com", "reply_due_at": "not a time", "locale": 7},
    )
    await run_worker()
    [mail] = smtp.to("ada@example.com")
    assert "We will reply by Wednesday, 25 November 2026, 04:30 EST (America/New_York)." in text_of(mail)
    [bare] = smtp.to("bare@example.com")
    assert "Hello," in text_of(bare)
    assert "We will reply within one business day." in text_of(bare)


async def test_quarantined_inquiry_mails_nobody(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    smtp: SmtpSink,
    db: asyncpg.Connection,
    run_worker: RunWorker,
) -> None:
    await emit(app, clock, "inquiry.received", {**INQUIRY, "status": "quarantined"})
    await run_worker()
    assert smtp.messages == []
    assert await deliveries(db) == []
    assert await db.fetchval("SELECT count(*) FROM domain_events WHERE dispatched_at IS NULL") == 0


async def test_client_contacts_read_in_their_own_locale_and_zone(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    smtp: SmtpSink,
    run_worker: RunWorker,
) -> None:
    org = await create_client_org(
        client,
        staff,
        "Kowalski",
        contacts=[
            {"name": "Jan", "email": "jan@kowalski.pl", "locale": "pl"},
            {"name": "Ann", "email": "ann@kowalski.pl", "locale": "en-GB", "time_zone": "Europe/London"},
        ],
    )
    data = {
        "project_name": "Recommendations",
        "title": "Add a fallback for cold starts",
        "assessment_revision": 2,
        "price_impact": {"amount": "4500.00", "currency": "EUR"},
        "timeline_impact_days": 3,
        "risk": "low",
        "decision_due_at": "2026-12-01T17:00:00Z",
    }
    await emit(app, clock, "change_request.assessed", data, client_id=org["id"])
    await run_worker()
    [jan] = smtp.to("jan@kowalski.pl")
    assert jan["Subject"] == "Wycena zmiany: Add a fallback for cold starts"
    text = text_of(jan)
    assert "Wpływ na cenę: 4\xa0500,00\xa0€" in text
    assert "Prosimy o decyzję (termin: wtorek, 1 grudnia 2026, 18:00 CET (Europe/Warsaw))." in text
    [ann] = smtp.to("ann@kowalski.pl")
    text = text_of(ann)
    assert "Price impact: €4,500.00" in text
    assert "Timeline impact: 3 business days" in text
    assert "Please approve or reject it by Tuesday, 1 December 2026, 17:00 GMT (Europe/London)." in text
    assert smtp.to("staff@shop.com") == []


async def test_conditional_rules(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    smtp: SmtpSink,
    run_worker: RunWorker,
) -> None:
    org = await create_client_org(client, staff, "Cond")
    reply = {"email": "ada@example.com", "name": "Ada", "message": "Happy to help: let us talk on Friday."}
    await emit(app, clock, "inquiry.replied", {**reply, "send_email": False})
    await emit(app, clock, "inquiry.replied", {**reply, "email": "bob@example.com", "send_email": True})
    await emit(
        app,
        clock,
        "support_request.responded",
        {"subject": "Slow API", "message": "Fixed.", "responder_role": "staff"},
        client_id=org["id"],
    )
    await emit(
        app,
        clock,
        "support_request.responded",
        {"subject": "Still slow", "message": "Thanks", "responder_role": "client"},
        client_id=org["id"],
    )
    await emit(app, clock, "sla.breached", {"kind": "inquiry_reply"})
    await run_worker()
    assert smtp.to("ada@example.com") == []
    [bob] = smtp.to("bob@example.com")
    assert "Happy to help: let us talk on Friday." in text_of(bob)
    [answer] = smtp.to("ada@cond.com")
    assert answer["Subject"] == "Re: Slow API"
    assert "Fixed." in text_of(answer)
    # the client's answer goes to staff, not back to the client
    [heard] = smtp.to("staff@shop.com")
    assert heard["Subject"] == "Client answered: Still slow (a project)"


async def test_duplicate_dispatch_and_delivery_jobs_send_once(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    smtp: SmtpSink,
    receiver: Receiver,
    staff: dict[str, str],
    db: asyncpg.Connection,
    redis_url: str,
    run_worker: RunWorker,
) -> None:
    await subscribe(client, staff, receiver.url, ["inquiry.received"])
    event_id = await emit(app, clock, "inquiry.received", INQUIRY)
    redis = create_redis(redis_url)
    try:
        # the same dispatch enqueued again under other ids, as a crashed and retried run would
        for n in range(3):
            await redis.enqueue_job("dispatch_event", str(event_id), _job_id=f"again:{n}")
        await run_worker()
        rows = await deliveries(db)
        assert len(rows) == 4  # inquirer, two staff, one endpoint
        for row in rows:  # and every delivery job twice more
            function = "deliver_email" if row["channel"] == "email" else "deliver_webhook"
            for n in range(2):
                await redis.enqueue_job(function, str(row["id"]), _job_id=f"dup:{row['id']}:{n}")
        await run_worker()
    finally:
        await redis.aclose()
        await redis.connection_pool.disconnect()
    assert len(smtp.messages) == 3
    assert sorted(a for _, rcpt in smtp.envelopes for a in rcpt) == [
        "ada@example.com",
        "pm@shop.com",
        "staff@shop.com",
    ]
    assert len(receiver.requests) == 1
    assert {r["state"] for r in await deliveries(db)} == {"delivered"}
    assert all(r["attempts"] == 1 and r["logged"] == 1 for r in await deliveries(db))


async def test_the_dispatch_job_makes_the_first_attempts_itself(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    smtp: SmtpSink,
    receiver: Receiver,
    db: asyncpg.Connection,
    redis_url: str,
    settings: Any,
) -> None:
    from workers.tasks.events import dispatch_event

    await subscribe(client, staff, receiver.url, ["inquiry.received"])
    event_id = await emit(app, clock, "inquiry.received", INQUIRY)
    redis = create_redis(redis_url)
    try:
        await redis.flushdb()
        ctx = {"pool": app.state.pool, "clock": clock, "settings": settings, "redis": redis}
        assert await dispatch_event(ctx, str(event_id)) is True
        assert await redis.queued_jobs(queue_name="scopekeeper:queue") == []
    finally:
        await redis.aclose()
        await redis.connection_pool.disconnect()
    assert {(r["channel"], r["state"], r["attempts"]) for r in await deliveries(db)} == {
        ("email", "delivered", 1),
        ("webhook", "delivered", 1),
    }
    assert len(receiver.requests) == 1
    assert len(smtp.messages) == 3


async def test_an_attempt_that_raises_is_handed_to_its_own_job(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    smtp: SmtpSink,
    receiver: Receiver,
    db: asyncpg.Connection,
    redis_url: str,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from api.domain.notifications.service import job_id
    from workers.tasks import events

    async def broken(ctx: dict[str, Any], delivery_id: str) -> str:
        raise ConnectionResetError("the database went away")

    monkeypatch.setitem(events.ATTEMPT, "webhook", broken)
    await subscribe(client, staff, receiver.url, ["inquiry.received"])
    event_id = await emit(app, clock, "inquiry.received", INQUIRY)
    redis = create_redis(redis_url)
    try:
        await redis.flushdb()
        ctx = {"pool": app.state.pool, "clock": clock, "settings": settings, "redis": redis}
        await events.dispatch_event(ctx, str(event_id))
        queued = await redis.queued_jobs(queue_name="scopekeeper:queue")
    finally:
        await redis.aclose()
        await redis.connection_pool.disconnect()
    [webhook] = await deliveries(db, "webhook")
    assert [(j.function, j.job_id) for j in queued] == [("deliver_webhook", job_id(webhook["id"], 0))]
    assert webhook["state"] == "pending"
    assert len(smtp.messages) == 3  # the e-mails went out meanwhile
    monkeypatch.undo()
    await run_worker_once(settings, clock)
    assert len(receiver.requests) == 1


async def test_lost_jobs_are_found_again_by_the_sweep(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    smtp: SmtpSink,
    db: asyncpg.Connection,
    redis_url: str,
    settings: Any,
) -> None:
    event_id = await emit(app, clock, "quote.accepted", {"project_name": "Recs", "accepted_by_name": "Ann"})
    await fanned_out(app, settings, clock, event_id)  # the dispatch committed, then died
    assert len(await deliveries(db)) == 2
    await flush(redis_url)  # and Redis lost every job
    await run_worker_once(settings, clock)
    assert sorted(a for _, rcpt in smtp.envelopes for a in rcpt) == ["pm@shop.com", "staff@shop.com"]


async def test_a_job_held_by_a_dead_worker_does_not_hold_its_delivery_back(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    smtp: SmtpSink,
    db: asyncpg.Connection,
    redis_url: str,
    settings: Any,
) -> None:
    from api.domain.notifications.service import job_id
    from workers.tasks.notifications import STUCK_AFTER, sweep_deliveries

    event_id = await emit(app, clock, "quote.expired", {"project_name": "Recs"})
    await fanned_out(app, settings, clock, event_id)
    redis = create_redis(redis_url)
    try:
        ctx = {"pool": app.state.pool, "clock": clock, "settings": settings, "redis": redis}
        await redis.flushdb()
        rows = await deliveries(db)
        # arq still holds each delivery's job id (as for a job whose worker was killed mid-run)
        for row in rows:
            await redis.enqueue_job(
                "deliver_email", str(row["id"]), _job_id=job_id(row["id"], 0), _defer_by=3600
            )
        assert await sweep_deliveries(ctx) == 0
        clock.advance(STUCK_AFTER)
        assert await sweep_deliveries(ctx) == len(rows)
        assert await sweep_deliveries(ctx) == 0  # the late id is not doubled either
        queued = sorted(str(j.job_id) for j in await redis.queued_jobs(queue_name="scopekeeper:queue"))
        assert queued == sorted(
            [job_id(r["id"], 0) for r in rows] + [f"{job_id(r['id'], 0)}:late" for r in rows]
        )
    finally:
        await redis.aclose()
        await redis.connection_pool.disconnect()


async def test_a_worker_that_died_while_sending_is_taken_over_after_its_lease(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    smtp: SmtpSink,
    db: asyncpg.Connection,
    redis_url: str,
    settings: Any,
    run_worker: RunWorker,
) -> None:
    from api.domain.notifications import service

    event_id = await emit(app, clock, "quote.expired", {"project_name": "Recs"})
    await fanned_out(app, settings, clock, event_id)
    await flush(redis_url)
    rows = await deliveries(db)
    async with app.state.pool.acquire() as conn:
        for row in rows:  # a worker claims them and dies before sending
            assert await service.claim(conn, row["id"], clock.now(), timedelta(minutes=5)) is not None
    await run_worker()
    assert smtp.messages == []  # the lease still holds
    clock.advance(timedelta(seconds=settings.delivery_lease_seconds + 1))
    await run_worker()
    assert len(smtp.messages) == 2
    assert {r["state"] for r in await deliveries(db)} == {"delivered"}
    assert {r["attempts"] for r in await deliveries(db)} == {2}


async def test_message_id_is_stable_per_event_and_recipient(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    smtp: SmtpSink,
    db: asyncpg.Connection,
    run_worker: RunWorker,
) -> None:
    await emit(app, clock, "quote.declined", {"project_name": "Recs", "reason": "Too expensive"})
    await run_worker()
    rows = {r["recipient"]: r["id"] for r in await deliveries(db)}
    for message in smtp.messages:
        address = message["To"].addresses[0].addr_spec
        assert message["Message-ID"] == f"<{rows[address]}@scopekeeper.local>"
        assert "Reason: Too expensive" in text_of(message)


async def test_smtp_outage_is_retried_with_backoff(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    smtp: SmtpSink,
    db: asyncpg.Connection,
    run_worker: RunWorker,
) -> None:
    smtp.stop()
    await emit(app, clock, "support_request.opened", {"subject": "Login fails", "kind": "bug"})
    await run_worker()
    rows = await deliveries(db)
    assert {r["state"] for r in rows} == {"pending"}
    assert all(r["next_attempt_at"] > clock.now() and r["last_error"] for r in rows)
    smtp.start()
    clock.set(max(r["next_attempt_at"] for r in rows))
    await run_worker()
    assert {r["state"] for r in await deliveries(db)} == {"delivered"}
    assert [m["Subject"] for m in smtp.messages] == ["Support request: Login fails (a project)"] * 2


# webhooks ----------------------------------------------------------------------------------------


async def test_tls_settings_are_built_once_not_per_delivery(
    receiver: Receiver, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl

    from api.domain.webhooks import sender, urls

    built: list[int] = []
    original = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(ssl, "create_default_context", counting)
    sender.tls_context.cache_clear()
    target = await urls.check(receiver.url, settings)
    for _ in range(3):
        outcome = await sender.post(target, b"{}", {"content-type": "application/json"}, 2)
        assert outcome.ok
    assert len(receiver.requests) == 3
    assert len(built) == 1


async def test_webhook_is_signed_per_standard_webhooks(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    receiver: Receiver,
    run_worker: RunWorker,
) -> None:
    endpoint = await subscribe(client, staff, receiver.url, ["quote.accepted"])
    event_id = await emit(app, clock, "quote.accepted", {"total": {"amount": "28000.00", "currency": "EUR"}})
    await emit(app, clock, "quote.declined", {})
    await run_worker()
    [request] = receiver.requests
    payload = Webhook(endpoint["secret"]).verify(request.body, request.headers)
    assert payload == {
        "id": str(event_id),
        "type": "quote.accepted",
        "created_at": "2026-11-24T09:30:00Z",
        "data": {"total": {"amount": "28000.00", "currency": "EUR"}},
    }
    assert request.headers["webhook-id"] == str(event_id)
    assert request.headers["content-type"] == "application/json"
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "A" * 43 + "=").verify(request.body, request.headers)


async def test_a_host_name_is_pinned_to_its_checked_address_and_keeps_its_host_header(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    receiver: Receiver,
    run_worker: RunWorker,
) -> None:
    endpoint = await subscribe(client, staff, f"http://localhost:{receiver.port}/hooks?crm=1")
    await emit(app, clock, "quote.sent", {})
    await run_worker()
    [request] = receiver.requests
    assert request.headers["host"] == f"localhost:{receiver.port}"
    assert request.target == "/hooks?crm=1"
    Webhook(endpoint["secret"]).verify(request.body, request.headers)


async def test_webhook_retries_on_500_and_timeouts_with_the_same_id(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    receiver: Receiver,
    db: asyncpg.Connection,
    run_worker: RunWorker,
) -> None:
    receiver.respond = lambda n: {1: 500, 2: None}.get(n, 204)  # 500, then hang, then success
    receiver.body = b"x" * 5000
    endpoint = await subscribe(client, staff, receiver.url)
    event_id = await emit(app, clock, "project.closed", {"project_name": "Recs"})
    await run_worker()
    [row] = await deliveries(db, "webhook")
    assert row["state"] == "pending"
    assert row["attempts"] == 1
    assert row["last_error"] == "HTTP 500"
    first_wait = row["next_attempt_at"] - clock.now()
    assert timedelta(seconds=1) <= first_wait <= timedelta(seconds=5)

    clock.set(row["next_attempt_at"])
    await run_worker()
    [row] = await deliveries(db, "webhook")
    assert row["state"] == "pending"
    assert row["last_error"] == "timed out after 2 s"

    clock.set(row["next_attempt_at"])
    await run_worker()
    [row] = await deliveries(db, "webhook")
    assert row["state"] == "delivered"
    assert [r.headers["webhook-id"] for r in receiver.requests] == [str(event_id)] * 3
    for request in receiver.requests:
        Webhook(endpoint["secret"]).verify(request.body, request.headers)

    log = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=staff)
    assert log.status_code == 200, log.text
    [item] = log.json()["items"]
    assert item["event_id"] == str(event_id)
    assert item["event_type"] == "project.closed"
    assert item["state"] == "delivered"
    attempts = item["attempts"]
    assert [a["status_code"] for a in attempts] == [500, None, 204]
    assert [a["succeeded"] for a in attempts] == [False, False, True]
    assert attempts[0]["response_body"] == "x" * 2048
    assert attempts[1]["error"] == "timed out after 2 s"
    assert attempts[1]["latency_ms"] >= 2000
    assert all(isinstance(a["latency_ms"], int) for a in attempts)


async def test_webhook_gives_up_after_three_days_and_staff_are_told(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    receiver: Receiver,
    smtp: SmtpSink,
    db: asyncpg.Connection,
    run_worker: RunWorker,
) -> None:
    # Retry jobs wait in Redis until their simulated time; keep three simulated days in the real past
    # so that each is due at once and the burst worker never waits for the real clock.
    clock.set(datetime(2026, 1, 6, 9, 30, tzinfo=UTC))
    receiver.respond = lambda n: 503
    endpoint = await subscribe(client, staff, receiver.url, ["quote.sent"])
    await emit(app, clock, "quote.sent", {"project_name": "Recs"})
    start = clock.now()
    await run_worker()
    for _ in range(200):
        [row] = await deliveries(db, "webhook")
        if row["state"] != "pending":
            break
        clock.set(row["next_attempt_at"])
        await run_worker()
    assert row["state"] == "failed"
    assert row["failed_at"] == start + timedelta(days=3)
    assert len(receiver.requests) == row["attempts"] == row["logged"]
    assert 12 <= row["attempts"] <= 60
    failed = await db.fetchrow("SELECT data FROM domain_events WHERE type = 'webhook_delivery.failed'")
    assert failed is not None
    data = json.loads(failed["data"])
    assert data["endpoint_id"] == endpoint["id"]
    assert data["event_type"] == "quote.sent"
    await run_worker()
    subjects = [m["Subject"] for m in smtp.to("staff@shop.com")]
    assert subjects == [f"Webhook delivery failed: quote.sent to {receiver.url}"]
    # the endpoint is not sent news of its own failure
    assert {json.loads(r.body)["type"] for r in receiver.requests} == {"quote.sent"}


async def test_endpoint_is_disabled_after_consecutive_failures_and_enabled_again(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    receiver: Receiver,
    smtp: SmtpSink,
    db: asyncpg.Connection,
    env: dict[str, str],
) -> None:
    limit = 3
    settings = Settings.from_env({**env, "WEBHOOK_DISABLE_AFTER_FAILURES": str(limit)})

    async def run_worker() -> int:
        return await run_worker_once(settings, clock)

    receiver.respond = lambda n: 500
    endpoint = await subscribe(client, staff, receiver.url, ["quote.expired"])
    for _ in range(limit):
        await emit(app, clock, "quote.expired", {"project_name": "Recs"})
    await run_worker()
    assert len(receiver.requests) == limit
    current = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=staff)).json()
    assert current["status"] == "disabled"
    assert current["consecutive_failures"] == limit
    disabled = await db.fetch("SELECT data FROM domain_events WHERE type = 'webhook_endpoint.disabled'")
    assert len(disabled) == 1
    await run_worker()
    assert f"Webhook endpoint disabled: {receiver.url}" in [m["Subject"] for m in smtp.to("staff@shop.com")]

    # while disabled, events wait and nothing is sent, even when their retry time comes
    await emit(app, clock, "quote.expired", {"project_name": "Later"})
    clock.advance(timedelta(hours=12))
    await run_worker()
    assert len(receiver.requests) == limit
    rows = await deliveries(db, "webhook")
    assert {r["state"] for r in rows} == {"pending"}
    assert {r["next_attempt_at"] for r in rows} == {None}
    retry = await client.post(f"/v1/webhook-deliveries/{rows[0]['id']}/retry", headers=staff)
    assert retry.status_code == 409
    assert retry.json()["rule"] == "endpoint-disabled"

    receiver.respond = lambda n: 200
    enabled = await client.post(f"/v1/webhook-endpoints/{endpoint['id']}/enable", headers=staff)
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["status"] == "active"
    assert enabled.json()["consecutive_failures"] == 0
    await run_worker()
    assert {r["state"] for r in await deliveries(db, "webhook")} == {"delivered"}
    assert len(receiver.requests) == 2 * limit + 1


async def test_a_success_resets_the_failure_count(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    receiver: Receiver,
    env: dict[str, str],
) -> None:
    limit = 3
    settings = Settings.from_env({**env, "WEBHOOK_DISABLE_AFTER_FAILURES": str(limit)})
    receiver.respond = lambda n: 200 if n == limit else 500
    endpoint = await subscribe(client, staff, receiver.url)
    for _ in range(limit + 1):  # one at a time: 500, 500, 200, 500
        await emit(app, clock, "quote.expired", {})
        await run_worker_once(settings, clock)
    assert len(receiver.requests) == limit + 1
    current = (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=staff)).json()
    assert current["status"] == "active"
    assert current["consecutive_failures"] == 1


async def test_manual_retry_sends_a_failed_delivery_now(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    receiver: Receiver,
    db: asyncpg.Connection,
    run_worker: RunWorker,
) -> None:
    receiver.respond = lambda n: 500
    await subscribe(client, staff, receiver.url)
    await emit(app, clock, "quote.expired", {})
    await run_worker()
    [row] = await deliveries(db, "webhook")
    await db.execute(
        "UPDATE deliveries SET state = 'failed', next_attempt_at = NULL WHERE id = $1", row["id"]
    )
    receiver.respond = lambda n: 200
    response = await client.post(f"/v1/webhook-deliveries/{row['id']}/retry", headers=staff)
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "pending"
    await run_worker()
    [row] = await deliveries(db, "webhook")
    assert row["state"] == "delivered"
    again = await client.post(f"/v1/webhook-deliveries/{row['id']}/retry", headers=staff)
    assert again.status_code == 409
    assert again.json()["rule"] == "already-delivered"


async def test_url_rules_apply_again_at_delivery_time(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    receiver: Receiver,
    db: asyncpg.Connection,
    env: dict[str, str],
) -> None:
    await subscribe(client, staff, receiver.url)  # allowed when the endpoint was created
    await emit(app, clock, "quote.expired", {})
    strict = Settings.from_env({**env, "WEBHOOKS_ALLOW_PRIVATE": "false"})
    await run_worker_once(strict, clock)
    assert receiver.requests == []
    [row] = await deliveries(db, "webhook")
    assert row["state"] == "pending"
    assert row["last_error"].startswith("URL refused: the host 127.0.0.1 resolves to a private")
