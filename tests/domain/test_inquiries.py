"""Inquiry intake through the HTTP API: receipt, validation, duplicates, spam quarantine and roles."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar

from api.kit.clock import FrozenClock
from tests.conftest import KeyMaker, asgi_client, bearer, create_client_org
from tests.domain.inquiry_support import INQUIRIES, body, count, events, inquiry, post, timers_of
from tests.timers_support import utc, waw, z


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {
        **env,
        "INQUIRY_FLOOD_PER_HOUR": "3",
        "CORS_ALLOW_ORIGINS": "https://www.shop.com",
        # a hundred concurrent posts from one address: the intake limits have tests of their own
        "INTAKE_PER_ADDRESS_PER_HOUR": "1000",
    }


@pytest.fixture
async def intake(make_key: KeyMaker) -> dict[str, str]:
    return bearer(await make_key("intake", name="website form"))


# --- receipt -------------------------------------------------------------------------------------


async def test_receipt_promises_a_reply_one_business_day_later(
    client: httpx.AsyncClient, intake: dict[str, str], db: asyncpg.Connection
) -> None:
    # Tuesday 10:30 in Warsaw → due Wednesday 10:30
    response = await client.post(
        INQUIRIES,
        json=body(phone="+48 22 123 45 67", budget="30-40k EUR", timeline="Q3", locale="en-GB"),
        headers={**intake, "User-Agent": "FormBackend/1.0", "X-Forwarded-For": "203.0.113.7"},
    )
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert set(receipt) == {"id", "status", "received_at", "reply_due_at"}
    assert receipt["status"] == "received"
    assert receipt["received_at"] == "2026-11-24T09:30:00Z"
    assert receipt["reply_due_at"] == z(waw(2026, 11, 25, 10, 30))
    assert response.headers["location"] == f"{INQUIRIES}/{receipt['id']}"

    stored = await inquiry(client, intake, receipt["id"])
    assert stored["locale"] == "en_GB"
    assert stored["company"] == "Analytical Engines"
    assert stored["phone"] == "+48 22 123 45 67"
    assert stored["consent"] is True
    assert stored["overdue"] is False
    assert stored["timer"]["state"] == "running"
    assert stored["timer"]["started_at"] == receipt["received_at"]
    assert stored["timer"]["due_at"] == receipt["reply_due_at"]
    assert stored["timer"]["warn_at"] == z(waw(2026, 11, 24, 17, 15))  # 75% of 9 business hours
    assert stored["timer"]["warned_at"] is None
    assert stored["timer"]["met_at"] is None

    [event] = await events(db, "inquiry.received", receipt["id"])
    assert event["subject_type"] == "inquiry"
    assert event["actor_role"] == "intake"
    data = event["data"]
    for field, value in {
        "name": "Ada Lovelace",
        "email": "ada@engines.co.uk",
        "company": "Analytical Engines",
        "source": "website",
        "locale": "en_GB",
        "status": "received",
        "budget": "30-40k EUR",
        "timeline": "Q3",
        "reply_due_at": receipt["reply_due_at"],
    }.items():
        assert data[field] == value, field
    assert data["message"].startswith("Please extract")
    [timer] = await timers_of(db, receipt["id"])
    assert json.loads(timer["data"]) == {
        "inquiry_id": receipt["id"],
        "name": "Ada Lovelace",
        "email": "ada@engines.co.uk",
        "company": "Analytical Engines",
    }


async def test_received_event_carries_the_inquiry_and_its_timer(
    client: httpx.AsyncClient, intake: dict[str, str], db: asyncpg.Connection
) -> None:
    receipt = await post(
        client, intake, source="crm", external_id="hs-9", phone="+48 600", budget="10k", timeline="May"
    )
    [timer] = await timers_of(db, receipt["id"])
    [event] = await events(db, "inquiry.received", receipt["id"])
    assert event["data"] == {
        "inquiry_id": receipt["id"],
        "status": "received",
        "name": "Ada Lovelace",
        "email": "ada@engines.co.uk",
        "company": "Analytical Engines",
        "phone": "+48 600",
        "source": "crm",
        "external_id": "hs-9",
        "budget": "10k",
        "timeline": "May",
        "message": "Please extract the recommender from our monolith and serve it behind an API.",
        "locale": "en",
        "time_zone": None,
        "consent": True,
        "received_at": "2026-11-24T09:30:00Z",
        "timer_id": str(timer["id"]),
        "reply_due_at": receipt["reply_due_at"],
    }
    assert (event["subject_type"], str(event["subject_id"]), event["client_id"], event["project_id"]) == (
        "inquiry",
        receipt["id"],
        None,
        None,
    )
    assert timer["started_at"] == timer["created_at"] == utc(2026, 11, 24, 9, 30)
    assert (timer["policy_version"], timer["calendar_version"], timer["state"]) == (1, 0, "running")


async def test_raw_submission_is_kept_exactly_as_posted(
    client: httpx.AsyncClient, intake: dict[str, str], db: asyncpg.Connection
) -> None:
    raw = b'{"source":"website","name":"Ada  Lovelace ","email":"ada@engines.co.uk",  "message":"Hi","consent":true}'
    response = await client.post(
        INQUIRIES,
        content=raw,
        headers={
            **intake,
            "Content-Type": "application/json",
            "User-Agent": "Mozilla/5.0 (X11)",
            "Origin": "https://www.shop.com",
            "X-Forwarded-For": "203.0.113.7, 10.0.0.1",
        },
    )
    assert response.status_code == 201, response.text
    row = await db.fetchrow("SELECT * FROM inquiry_submissions")
    assert row is not None
    assert bytes(row["body"]) == raw
    assert row["user_agent"] == "Mozilla/5.0 (X11)"
    assert row["origin"] == "https://www.shop.com"
    assert row["forwarded_for"] == "203.0.113.7, 10.0.0.1"
    assert row["ip"] == "127.0.0.1"
    detail = await inquiry(client, intake, response.json()["id"])
    assert detail["name"] == "Ada  Lovelace"
    assert detail["submission"]["body"] == raw.decode()
    assert detail["submission"]["user_agent"] == "Mozilla/5.0 (X11)"


async def test_locale_defaults_to_english_and_staff_may_post(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    receipt = await post(client, staff, source="referral")
    assert (await inquiry(client, staff, receipt["id"]))["locale"] == "en"


async def test_due_dates_endpoint_promises_the_same_time(
    client: httpx.AsyncClient, intake: dict[str, str], clock: FrozenClock
) -> None:
    clock.set(utc(2026, 11, 27, 14, 0))  # Friday 15:00 in Warsaw
    promise = await client.get("/v1/calendar/due-dates", params={"kind": "inquiry_reply"}, headers=intake)
    assert promise.status_code == 200, promise.text
    receipt = await post(client, intake)
    assert receipt["reply_due_at"] == promise.json()["due_at"] == z(waw(2026, 11, 30, 15, 0))


# --- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "pointer"),
    [
        ({"email": "not an email"}, "/email"),
        ({"email": "ada@"}, "/email"),
        ({"email": "ada@[127.0.0.1]"}, "/email"),
        ({"email": 42}, "/email"),
        ({"source": "fax"}, "/source"),
        ({"consent": "yes"}, "/consent"),
        ({"locale": "xx-nowhere"}, "/locale"),
        ({"name": "x" * 201}, "/name"),
        ({"name": "   "}, "/name"),
        ({"message": ""}, "/message"),
        ({"message": " \n "}, "/message"),
        ({"message": "m" * 20_001}, "/message"),
        ({"company": "c" * 201}, "/company"),
        ({"phone": "call me maybe"}, "/phone"),
        ({"external_id": "e" * 201}, "/external_id"),
        ({"budget": "b" * 201}, "/budget"),
        ({"colour": "red"}, "/colour"),
        ({"name": "Ada\u0000"}, "/name"),
        ({"message": "\u0000"}, "/message"),
        ({"company": "A\u0000E"}, "/company"),
        ({"external_id": "x\u0000"}, "/external_id"),
        ({"timeline": "soon\u0000"}, "/timeline"),
    ],
)
async def test_invalid_bodies_are_refused_with_a_pointer_and_store_nothing(
    client: httpx.AsyncClient,
    intake: dict[str, str],
    db: asyncpg.Connection,
    fields: dict[str, Any],
    pointer: str,
) -> None:
    response = await client.post(INQUIRIES, json=body(**fields), headers=intake)  # None: field left out
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert pointer in [e["pointer"] for e in response.json()["errors"]]
    assert await count(db, "inquiries") == 0


async def test_consent_must_be_given(
    client: httpx.AsyncClient, intake: dict[str, str], db: asyncpg.Connection
) -> None:
    missing = await client.post(INQUIRIES, json=body(consent=None), headers=intake)
    assert missing.status_code == 422
    assert "`consent`" in missing.json()["detail"]
    for source in ("website", "crm"):
        response = await client.post(INQUIRIES, json=body(consent=False, source=source), headers=intake)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["rule"] == "consent-required"
        assert problem["errors"] == [{"pointer": "/consent", "detail": "must be true"}]
    assert await count(db, "inquiries") == 0


# --- duplicates ----------------------------------------------------------------------------------


async def test_same_source_and_external_id_returns_the_first(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str], db: asyncpg.Connection
) -> None:
    first = await client.post(INQUIRIES, json=body(source="crm", external_id="hs-1"), headers=intake)
    assert first.status_code == 201
    again = await client.post(
        INQUIRIES, json=body(source="crm", external_id="hs-1", message="edited in the CRM"), headers=intake
    )
    assert again.status_code == 200, again.text
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert await count(db, "inquiries") == 1
    assert await count(db, "inquiry_submissions") == 1
    assert len(await events(db, "inquiry.received")) == 1
    assert await count(db, "sla_timers") == 1
    for _ in range(3):  # duplicates create nothing, so they do not count towards a flood either
        assert (
            await client.post(INQUIRIES, json=body(source="crm", external_id="hs-1"), headers=intake)
        ).status_code == 200
    # another source, or no external id: new inquiries (the 2nd and 3rd from this address this hour)
    assert (await post(client, intake, source="email", external_id="hs-1"))["status"] == "received"
    assert (await post(client, intake))["status"] == "received"
    assert (await post(client, intake))["status"] == "quarantined"  # INQUIRY_FLOOD_PER_HOUR=3
    assert await count(db, "inquiries") == 4


async def test_duplicates_belong_to_the_sending_integration(
    client: httpx.AsyncClient,
    intake: dict[str, str],
    staff: dict[str, str],
    make_key: KeyMaker,
    db: asyncpg.Connection,
) -> None:
    """The probe's finding: a second integration posting another person under the same (source,
    external_id) got 200 with the first integration's inquiry id, and its inquiry was dropped."""
    crm = bearer(await make_key("intake", name="other crm"))
    mine_keys = (await client.get("/v1/api-keys", headers=staff)).json()["items"]
    [form_key] = [k for k in mine_keys if k["name"] == "website form"]
    rotated_body = {
        "role": "intake",
        "name": "website form (rotated)",
        "integration_id": form_key["integration_id"],
    }
    rotated_response = await client.post("/v1/api-keys", json=rotated_body, headers=staff)
    assert rotated_response.status_code == 201, rotated_response.text
    rotated = bearer(rotated_response.json()["key"])

    first = await client.post(INQUIRIES, json=body(source="crm", external_id="X"), headers=intake)
    assert first.status_code == 201
    other = await client.post(
        INQUIRIES,
        json=body(source="crm", external_id="X", name="Bob Other", email="bob@other.example.org"),
        headers=crm,
    )
    assert other.status_code == 201, other.text
    assert other.json()["id"] != first.json()["id"]
    assert first.json()["id"] not in other.text
    stored = await db.fetchrow("SELECT name, email FROM inquiries WHERE id = $1", other.json()["id"])
    assert stored is not None
    assert (stored["name"], stored["email"]) == ("Bob Other", "bob@other.example.org")
    # the rotated key of the first integration keeps its duplicates and reads its inquiries
    again = await client.post(INQUIRIES, json=body(source="crm", external_id="X"), headers=rotated)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert (await client.get(f"{INQUIRIES}/{first.json()['id']}", headers=rotated)).status_code == 200
    assert (await client.get(f"{INQUIRIES}/{first.json()['id']}", headers=crm)).status_code == 404
    assert (await client.get(f"{INQUIRIES}/{other.json()['id']}", headers=intake)).status_code == 404

    # Idempotency-Key records are the integration's too
    keyed = body(email="keyed@engines.co.uk")
    replayed_before = await client.post(INQUIRIES, json=keyed, headers={**intake, "Idempotency-Key": "K"})
    assert replayed_before.status_code == 201
    replay = await client.post(INQUIRIES, json=keyed, headers={**rotated, "Idempotency-Key": "K"})
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == replayed_before.json()
    foreign = await client.post(
        INQUIRIES, json=body(email="bob@other.example.org"), headers={**crm, "Idempotency-Key": "K"}
    )
    assert foreign.status_code == 201
    assert "idempotent-replayed" not in foreign.headers
    assert replayed_before.json()["id"] not in foreign.text
    assert await count(db, "inquiries") == 4


async def test_a_key_joins_an_integration_of_its_own_role_and_organisation(
    client: httpx.AsyncClient, staff: dict[str, str], intake: dict[str, str]
) -> None:
    form = [
        k for k in (await client.get("/v1/api-keys", headers=staff)).json()["items"] if k["role"] == "intake"
    ]
    integration = form[0]["integration_id"]
    for wrong in (
        {"role": "staff", "name": "x", "integration_id": integration},
        {"role": "intake", "name": "x", "integration_id": "00000000-0000-4000-8000-000000000000"},
    ):
        response = await client.post("/v1/api-keys", json=wrong, headers=staff)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["pointer"] == "/integration_id"


async def test_idempotency_key_replays_the_first_response(
    client: httpx.AsyncClient, intake: dict[str, str], db: asyncpg.Connection
) -> None:
    headers = {**intake, "Idempotency-Key": "form-submit-1"}
    first = await client.post(INQUIRIES, json=body(), headers=headers)
    again = await client.post(INQUIRIES, json=body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await count(db, "inquiries") == 1
    other = await client.post(INQUIRIES, json=body(name="Someone Else"), headers=headers)
    assert other.status_code == 422


async def test_hundred_concurrent_posts_create_one_inquiry(
    app: Litestar, client: httpx.AsyncClient, intake: dict[str, str], db: asyncpg.Connection
) -> None:
    payload = body(source="crm", external_id="pipedrive-77")
    async with asgi_client(app) as http:
        responses = await asyncio.gather(
            *(http.post(INQUIRIES, json=payload, headers=intake) for _ in range(100))
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 99 + [201], [r.text for r in responses if r.status_code not in (200, 201)]
    assert len({r.json()["id"] for r in responses}) == 1
    assert {r.json()["status"] for r in responses} == {"received"}
    assert await count(db, "inquiries") == 1
    assert await count(db, "inquiry_submissions") == 1
    assert await count(db, "sla_timers") == 1
    assert len(await events(db, "inquiry.received")) == 1


async def test_hundred_concurrent_posts_with_one_idempotency_key_create_one_inquiry(
    app: Litestar, client: httpx.AsyncClient, intake: dict[str, str], db: asyncpg.Connection
) -> None:
    """Without an external id only the key tells the duplicates apart: one creates, the others are told
    the first is in flight (409) or get its response replayed."""
    headers = {**intake, "Idempotency-Key": "form-submit-77"}
    async with asgi_client(app) as http:
        responses = await asyncio.gather(
            *(http.post(INQUIRIES, json=body(), headers=headers) for _ in range(100))
        )
    assert {r.status_code for r in responses} <= {201, 409}, [r.text for r in responses]
    created = [r for r in responses if r.status_code == 201]
    assert len([r for r in created if "idempotent-replayed" not in r.headers]) == 1
    assert len({r.content for r in created}) == 1
    assert await count(db, "inquiries") == 1
    assert await count(db, "inquiry_submissions") == 1
    assert await count(db, "sla_timers") == 1
    assert len(await events(db, "inquiry.received")) == 1
    again = await client.post(INQUIRIES, json=body(), headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.content == created[0].content


# --- spam ----------------------------------------------------------------------------------------


async def _assert_quarantined(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    db: asyncpg.Connection,
    receipt: dict[str, Any],
    reason: str,
) -> None:
    assert receipt["status"] == "quarantined"
    assert receipt["reply_due_at"] is None
    detail = await inquiry(client, staff, receipt["id"])
    assert detail["quarantine_reason"] == reason
    assert detail["timer"] is None
    assert detail["submission"] is not None
    assert await timers_of(db, receipt["id"]) == []
    assert await events(db, "inquiry.received", receipt["id"]) == []
    [event] = await events(db, "inquiry.quarantined", receipt["id"])
    assert event["data"]["quarantine_reason"] == reason


async def test_filled_honeypot_quarantines(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str], db: asyncpg.Connection
) -> None:
    receipt = await post(client, intake, website="http://cheap-pills.example")
    await _assert_quarantined(client, staff, db, receipt, "honeypot")
    # an empty or blank honeypot is what a browser sends for the hidden field
    for blank in ("", "  "):
        assert (await post(client, intake, website=blank, email=f"x{len(blank)}@engines.co.uk"))[
            "status"
        ] == "received"


@pytest.mark.parametrize(
    "email",
    ["ada@localhost", "ada@intranet", "ada@mail.test", "ada@shop.invalid", "ada@example.com", "a@x.local"],
)
async def test_undeliverable_looking_email_quarantines(
    client: httpx.AsyncClient,
    intake: dict[str, str],
    staff: dict[str, str],
    db: asyncpg.Connection,
    email: str,
) -> None:
    receipt = await post(client, intake, email=email)
    await _assert_quarantined(client, staff, db, receipt, "undeliverable_email")


async def test_flood_from_one_address_quarantines_until_the_hour_ends(
    client: httpx.AsyncClient,
    intake: dict[str, str],
    staff: dict[str, str],
    db: asyncpg.Connection,
    clock: FrozenClock,
) -> None:
    clock.set(utc(2026, 11, 24, 9, 0))
    accepted = [await post(client, intake, email=e) for e in ("bob@firm.com", "BOB@firm.com", "bob@FIRM.com")]
    assert [r["status"] for r in accepted] == ["received"] * 3  # INQUIRY_FLOOD_PER_HOUR=3
    fourth = await post(client, intake, email="Bob@Firm.com")
    await _assert_quarantined(client, staff, db, fourth, "flood")
    assert (await post(client, intake, email="carol@firm.com"))["status"] == "received"
    clock.advance(timedelta(hours=1))
    assert (await post(client, intake, email="bob@firm.com"))["status"] == "received"


async def test_release_starts_the_flow_from_the_original_receipt(
    client: httpx.AsyncClient,
    intake: dict[str, str],
    staff: dict[str, str],
    db: asyncpg.Connection,
    clock: FrozenClock,
) -> None:
    receipt = await post(client, intake, website="filled by a bot")
    clock.advance(timedelta(hours=2))  # Tuesday 12:30 in Warsaw
    response = await client.post(f"{INQUIRIES}/{receipt['id']}/release", headers=staff)
    assert response.status_code == 200, response.text
    released = response.json()
    assert released["status"] == "received"
    assert released["quarantine_reason"] == "honeypot"
    assert released["released_at"] == z(clock.now())
    assert released["timer"]["started_at"] == receipt["received_at"]
    assert released["reply_due_at"] == z(waw(2026, 11, 25, 10, 30))
    [event] = await events(db, "inquiry.received", receipt["id"])
    assert event["data"]["reply_due_at"] == released["reply_due_at"]
    assert event["data"]["released_at"] == released["released_at"]
    assert event["actor_role"] == "staff"
    again = await client.post(f"{INQUIRIES}/{receipt['id']}/release", headers=staff)
    assert again.status_code == 409
    assert again.json()["rule"] == "status-transition"


async def test_release_after_the_due_time_fires_warning_and_breach_at_once(
    app: Litestar,
    client: httpx.AsyncClient,
    intake: dict[str, str],
    staff: dict[str, str],
    db: asyncpg.Connection,
    clock: FrozenClock,
) -> None:
    from api.domain.timers.firing import fire_due

    receipt = await post(client, intake, email="ada@localhost")
    clock.advance(timedelta(days=3))
    response = await client.post(f"{INQUIRIES}/{receipt['id']}/release", headers=staff)
    assert response.status_code == 200, response.text
    assert response.json()["overdue"] is True
    [event] = await events(db, "inquiry.received", receipt["id"])
    assert "reply_due_at" not in event["data"]
    assert event["data"]["overdue"] is True
    assert await fire_due(app.state.pool, clock) == (1, 1)
    assert len(await events(db, "inquiry.reply_warning", receipt["id"])) == 1
    assert len(await events(db, "inquiry.reply_overdue", receipt["id"])) == 1


# --- actions -------------------------------------------------------------------------------------


async def test_first_reply_meets_the_timer_and_later_ones_are_recorded(
    client: httpx.AsyncClient,
    intake: dict[str, str],
    staff: dict[str, str],
    db: asyncpg.Connection,
    clock: FrozenClock,
) -> None:
    receipt = await post(client, intake)
    clock.advance(timedelta(hours=1))
    url = f"{INQUIRIES}/{receipt['id']}/reply"
    first = await client.post(
        url, json={"message": "Thanks, when can we talk?", "send_email": True}, headers=staff
    )
    assert first.status_code == 200, first.text
    replied = first.json()
    assert replied["status"] == "replied"
    assert replied["replied_at"] == z(clock.now())
    assert replied["timer"]["state"] == "met"
    assert replied["timer"]["met_at"] == z(clock.now())
    assert first.headers["etag"] == f'"{replied["version"]}"'
    clock.advance(timedelta(hours=1))
    second = await client.post(url, json={"message": "Following up.", "send_email": False}, headers=staff)
    assert second.status_code == 200, second.text
    later = second.json()
    assert later["status"] == "replied"
    assert later["replied_at"] == replied["replied_at"]
    assert later["timer"]["met_at"] == replied["timer"]["met_at"]
    assert [(r["message"], r["first"], r["send_email"]) for r in later["replies"]] == [
        ("Thanks, when can we talk?", True, True),
        ("Following up.", False, False),
    ]
    sent = await events(db, "inquiry.replied", receipt["id"])
    assert [(e["data"]["send_email"], e["data"]["first"], e["data"]["email"]) for e in sent] == [
        (True, True, "ada@engines.co.uk"),
        (False, False, "ada@engines.co.uk"),
    ]
    assert sent[0]["data"]["message"] == "Thanks, when can we talk?"
    assert len(await events(db, "sla.met")) == 1


async def test_reply_needs_a_message_and_the_email_choice(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str]
) -> None:
    receipt = await post(client, intake)
    url = f"{INQUIRIES}/{receipt['id']}/reply"
    for bad, pointer in [
        ({"message": "  ", "send_email": True}, "/message"),
        ({"message": "Hi\u0000", "send_email": True}, "/message"),
        ({"message": "Hi", "send_email": "yes"}, "/send_email"),
        ({"message": "Hi", "send_email": True, "cc": "boss@firm.com"}, "/cc"),
    ]:
        response = await client.post(url, json=bad, headers=staff)
        assert response.status_code == 422, response.text
        assert [e["pointer"] for e in response.json()["errors"]] == [pointer]
    # a phone call cannot be mailed; an email reply is mailed unless send_email says otherwise
    phoned = await client.post(
        url, json={"message": "Hi", "channel": "phone", "send_email": True}, headers=staff
    )
    assert phoned.status_code == 422
    assert [e["pointer"] for e in phoned.json()["errors"]] == ["/send_email"]
    assert (await inquiry(client, staff, receipt["id"]))["status"] == "received"


async def test_actions_honour_if_match(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str]
) -> None:
    receipt = await post(client, intake)
    current = await client.get(f"{INQUIRIES}/{receipt['id']}", headers=staff)
    etag = current.headers["etag"]
    stale = await client.post(
        f"{INQUIRIES}/{receipt['id']}/reply",
        json={"message": "Hello", "send_email": False},
        headers={**staff, "If-Match": '"999"'},
    )
    assert stale.status_code == 412
    fresh = await client.post(
        f"{INQUIRIES}/{receipt['id']}/reply",
        json={"message": "Hello", "send_email": False},
        headers={**staff, "If-Match": etag},
    )
    assert fresh.status_code == 200, fresh.text


async def test_reply_is_refused_for_quarantined_and_closed_inquiries(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str]
) -> None:
    held = await post(client, intake, website="bot")
    reply = {"message": "Hello", "send_email": True}
    response = await client.post(f"{INQUIRIES}/{held['id']}/reply", json=reply, headers=staff)
    assert response.status_code == 409
    assert response.json()["rule"] == "status-transition"
    assert response.json()["extra"] == {
        "status": "quarantined",
        "allowed_from": ["received", "replied", "qualified"],
    }
    closed = await post(client, intake, email="other@engines.co.uk")
    assert (
        await client.post(f"{INQUIRIES}/{closed['id']}/close", json={"reason": "wrong"}, headers=staff)
    ).status_code == 200
    assert (
        await client.post(f"{INQUIRIES}/{closed['id']}/reply", json=reply, headers=staff)
    ).status_code == 409


async def test_close_needs_a_reason_and_cancels_the_timer(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str], db: asyncpg.Connection
) -> None:
    receipt = await post(client, intake)
    url = f"{INQUIRIES}/{receipt['id']}/close"
    nul = await client.post(url, json={"reason": "spam\u0000"}, headers=staff)
    assert nul.status_code == 422
    assert [e["pointer"] for e in nul.json()["errors"]] == ["/reason"]
    for bad in ({}, {"reason": ""}, {"reason": "   "}, {"reason": None}):
        response = await client.post(url, json=bad, headers=staff)
        assert response.status_code == 422, response.text
        assert response.json()["rule"] == "reason-required"
        assert [e["pointer"] for e in response.json()["errors"]] == ["/reason"]
    response = await client.post(url, json={"reason": "  Not a software project "}, headers=staff)
    assert response.status_code == 200, response.text
    closed = response.json()
    assert closed["status"] == "closed"
    assert closed["close_reason"] == "Not a software project"
    assert closed["timer"]["state"] == "cancelled"
    [event] = await events(db, "inquiry.closed", receipt["id"])
    assert event["data"]["timer_cancelled"] is True
    again = await client.post(url, json={"reason": "again"}, headers=staff)
    assert again.status_code == 409
    # spam may be closed without a release
    spam = await post(client, intake, website="bot")
    response = await client.post(f"{INQUIRIES}/{spam['id']}/close", json={"reason": "spam"}, headers=staff)
    assert response.status_code == 200
    assert response.json()["timer"] is None


async def test_closing_an_overdue_inquiry_keeps_the_breach(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str], clock: FrozenClock
) -> None:
    receipt = await post(client, intake)
    clock.advance(timedelta(days=2))
    listed = await client.get(INQUIRIES, params={"overdue": "true"}, headers=staff)
    assert [i["id"] for i in listed.json()["items"]] == [receipt["id"]]
    response = await client.post(f"{INQUIRIES}/{receipt['id']}/close", json={"reason": "gone"}, headers=staff)
    timer = response.json()["timer"]
    assert timer["state"] == "breached"
    assert timer["cancelled_at"] == z(clock.now())
    assert response.json()["overdue"] is False


# --- conversion ----------------------------------------------------------------------------------


async def _replied(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str], **fields: Any
) -> str:
    receipt = await post(client, intake, **fields)
    response = await client.post(
        f"{INQUIRIES}/{receipt['id']}/reply",
        json={"message": "Let us talk", "send_email": False},
        headers=staff,
    )
    assert response.status_code == 200, response.text
    inquiry_id: str = receipt["id"]
    return inquiry_id


async def test_convert_creates_client_and_project_then_reuses_the_client_by_domain(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str], db: asyncpg.Connection
) -> None:
    first = await _replied(client, intake, staff, email="ada@engines.co.uk", company="Analytical Engines")
    response = await client.post(f"{INQUIRIES}/{first}/convert", json={"currency": "EUR"}, headers=staff)
    assert response.status_code == 201, response.text
    converted = response.json()
    assert converted["status"] == "qualified"
    assert converted["client_created"] is True
    assert response.headers["location"] == f"/v1/projects/{converted['project_id']}"
    org = (await client.get(f"/v1/clients/{converted['client_id']}", headers=staff)).json()
    assert org["name"] == "Analytical Engines"
    assert org["email_domain"] == "engines.co.uk"
    assert [(c["name"], c["email"]) for c in org["contacts"]] == [("Ada Lovelace", "ada@engines.co.uk")]
    project = (await client.get(f"/v1/projects/{converted['project_id']}", headers=staff)).json()
    assert project["client_id"] == converted["client_id"]
    assert project["inquiry_id"] == first
    assert project["name"] == "Analytical Engines project"
    assert project["currency"] == "EUR"
    assert project["phase"] == "proposal"
    detail = await inquiry(client, staff, first)
    assert (detail["status"], detail["client_id"], detail["project_id"]) == (
        "qualified",
        converted["client_id"],
        converted["project_id"],
    )
    [event] = await events(db, "inquiry.qualified", first)
    assert event["client_id"] is not None
    assert str(event["project_id"]) == converted["project_id"]

    second = await _replied(client, intake, staff, email="charles@Engines.co.uk", company="AE Ltd")
    response = await client.post(
        f"{INQUIRIES}/{second}/convert",
        json={"currency": "EUR", "project_name": "Difference engine"},
        headers=staff,
    )
    assert response.status_code == 201, response.text
    reused = response.json()
    assert reused["client_id"] == converted["client_id"]
    assert reused["client_created"] is False
    assert await count(db, "clients") == 1
    assert await count(db, "projects") == 2
    again = await client.post(f"{INQUIRIES}/{second}/convert", json={"currency": "EUR"}, headers=staff)
    assert again.status_code == 409


async def test_convert_free_mail_and_explicit_client(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str]
) -> None:
    org = await create_client_org(client, staff, "Gmailers", email_domain="gmailers.com")
    lone = await _replied(client, intake, staff, email="jane@gmail.com", company=None, name="Jane Doe")
    converted = (
        await client.post(f"{INQUIRIES}/{lone}/convert", json={"currency": "PLN"}, headers=staff)
    ).json()
    created = (await client.get(f"/v1/clients/{converted['client_id']}", headers=staff)).json()
    assert created["name"] == "Jane Doe"
    assert created["email_domain"] is None
    idn = await _replied(client, intake, staff, email="zofia@żółw.pl", company="Żółw")
    converted = (
        await client.post(f"{INQUIRIES}/{idn}/convert", json={"currency": "PLN"}, headers=staff)
    ).json()
    created = (await client.get(f"/v1/clients/{converted['client_id']}", headers=staff)).json()
    assert (created["name"], created["email_domain"]) == ("Żółw", "xn--w-uga1v8h.pl")
    other = await _replied(client, intake, staff, email="john@gmail.com")
    response = await client.post(
        f"{INQUIRIES}/{other}/convert", json={"currency": "USD", "client_id": org["id"]}, headers=staff
    )
    assert response.status_code == 201, response.text
    assert response.json()["client_id"] == org["id"]


@pytest.mark.parametrize(
    ("payload", "pointer"),
    [
        ({"currency": "XYZ"}, "/currency"),
        ({"currency": "eur"}, "/currency"),
        ({"currency": "EUR", "client_id": "00000000-0000-0000-0000-000000000001"}, "/client_id"),
        ({"currency": "EUR", "project_name": ""}, "/project_name"),
        ({"currency": "EUR", "project_name": "P\u0000"}, "/project_name"),
    ],
)
async def test_convert_refuses_bad_input(
    client: httpx.AsyncClient,
    intake: dict[str, str],
    staff: dict[str, str],
    db: asyncpg.Connection,
    payload: dict[str, Any],
    pointer: str,
) -> None:
    inquiry_id = await _replied(client, intake, staff)
    response = await client.post(f"{INQUIRIES}/{inquiry_id}/convert", json=payload, headers=staff)
    assert response.status_code == 422, response.text
    assert pointer in [e["pointer"] for e in response.json()["errors"]]
    assert (await inquiry(client, staff, inquiry_id))["status"] == "replied"
    assert await count(db, "projects") == 0


async def test_convert_needs_a_reply_first(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str]
) -> None:
    receipt = await post(client, intake)
    response = await client.post(
        f"{INQUIRIES}/{receipt['id']}/convert", json={"currency": "EUR"}, headers=staff
    )
    assert response.status_code == 409
    assert response.json()["rule"] == "status-transition"


# --- listing -------------------------------------------------------------------------------------


async def test_list_filters_and_pages_newest_first(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str], clock: FrozenClock
) -> None:
    ids = []
    for n in range(5):
        ids.append(
            (await post(client, intake, email=f"p{n}@firm{n}.com", source="crm" if n % 2 else "website"))[
                "id"
            ]
        )
        clock.advance(timedelta(minutes=10))
    spam = (await post(client, intake, website="bot"))["id"]
    page = await client.get(INQUIRIES, params={"limit": 4}, headers=staff)
    assert page.status_code == 200, page.text
    first = page.json()
    assert [i["id"] for i in first["items"]] == [spam, ids[4], ids[3], ids[2]]
    rest = (
        await client.get(INQUIRIES, params={"limit": 4, "cursor": first["next_cursor"]}, headers=staff)
    ).json()
    assert [i["id"] for i in rest["items"]] == [ids[1], ids[0]]
    assert rest["next_cursor"] is None

    async def listed(**params: str) -> list[str]:
        response = await client.get(INQUIRIES, params=params, headers=staff)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert await listed(status="quarantined") == [spam]
    assert await listed(source="crm") == [ids[3], ids[1]]
    assert await listed(source="crm", status="received") == [ids[3], ids[1]]
    assert await listed(overdue="true") == []
    clock.advance(timedelta(days=1))  # every timer past due (none swept yet)
    reply = {"message": "Hi", "send_email": False}
    await client.post(f"{INQUIRIES}/{ids[0]}/reply", json=reply, headers=staff)
    assert await listed(overdue="true") == [ids[4], ids[3], ids[2], ids[1]]
    assert await listed(overdue="false") == [spam, ids[0]]
    assert await listed(overdue="true", source="website") == [ids[4], ids[2]]


@pytest.mark.parametrize(
    "params", [{"status": "lost"}, {"source": "fax"}, {"overdue": "maybe"}, {"cursor": "!!"}, {"limit": "0"}]
)
async def test_list_refuses_bad_parameters(
    client: httpx.AsyncClient, staff: dict[str, str], params: dict[str, str]
) -> None:
    response = await client.get(INQUIRIES, params=params, headers=staff)
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"


# --- roles ---------------------------------------------------------------------------------------

ACTIONS: list[tuple[str, Any]] = [
    ("reply", {"message": "Hi", "send_email": False}),
    ("close", {"reason": "done"}),
    ("release", None),
    ("convert", {"currency": "EUR"}),
]


async def test_intake_key_reads_only_its_own(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str], make_key: KeyMaker
) -> None:
    mine = await post(client, intake)
    theirs_key = bearer(await make_key("intake", name="crm sync"))
    theirs = await post(client, theirs_key, email="someone@firm.com")
    assert (await client.get(f"{INQUIRIES}/{mine['id']}", headers=intake)).status_code == 200
    response = await client.get(f"{INQUIRIES}/{theirs['id']}", headers=intake)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get(f"{INQUIRIES}/{theirs['id']}", headers=theirs_key)).status_code == 200
    assert (await client.get(f"{INQUIRIES}/{theirs['id']}", headers=staff)).status_code == 200
    assert (await client.get(INQUIRIES, headers=intake)).status_code == 403
    for action, payload in ACTIONS:
        response = await client.post(f"{INQUIRIES}/{mine['id']}/{action}", json=payload, headers=intake)
        assert response.status_code == 403, (action, response.text)


async def test_client_keys_are_refused_and_anonymous_callers_unauthenticated(
    client: httpx.AsyncClient, intake: dict[str, str], staff: dict[str, str], make_key: KeyMaker
) -> None:
    receipt = await post(client, intake)
    org = await create_client_org(client, staff, "Acme")
    client_key = bearer(await make_key("client", org["id"]))
    one = f"{INQUIRIES}/{receipt['id']}"
    calls: list[tuple[str, str, Any]] = [
        ("POST", INQUIRIES, body()),
        ("GET", INQUIRIES, None),
        ("GET", one, None),
        *[("POST", f"{one}/{action}", payload) for action, payload in ACTIONS],
    ]
    for method, url, payload in calls:
        response = await client.request(method, url, json=payload, headers=client_key)
        assert response.status_code == 403, (method, url, response.text)
        response = await client.request(method, url, json=payload)
        assert response.status_code == 401, (method, url, response.text)
    assert (
        await client.get(f"{INQUIRIES}/00000000-0000-0000-0000-000000000001", headers=staff)
    ).status_code == 404


# --- CORS ----------------------------------------------------------------------------------------


async def test_preflight_from_an_allowed_origin_gets_cors_headers(client: httpx.AsyncClient) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
    }
    allowed = await client.options(INQUIRIES, headers={**preflight, "Origin": "https://www.shop.com"})
    assert allowed.status_code in (200, 204), allowed.text
    assert allowed.headers["access-control-allow-origin"] == "https://www.shop.com"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "idempotency-key" in allowed.headers["access-control-allow-headers"].lower()
    other = await client.options(INQUIRIES, headers={**preflight, "Origin": "https://evil.example.net"})
    assert "access-control-allow-origin" not in other.headers


async def test_actual_post_from_an_allowed_origin_is_readable(
    client: httpx.AsyncClient, intake: dict[str, str]
) -> None:
    response = await client.post(INQUIRIES, json=body(), headers={**intake, "Origin": "https://www.shop.com"})
    assert response.status_code == 201
    assert response.headers["access-control-allow-origin"] == "https://www.shop.com"
    other = await client.post(
        INQUIRIES, json=body(email="z@firm.com"), headers={**intake, "Origin": "https://evil.example.net"}
    )
    assert "access-control-allow-origin" not in other.headers
