"""Who is told what along an engagement, and mail that reads as Polish: real SMTP, the worker, the API."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from litestar import Litestar

from api.kit.clock import FrozenClock
from api.settings import Settings
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.engagement_helpers import (
    assessed,
    assessment,
    body,
    in_delivery,
    in_discovery,
    read,
    submit,
)
from tests.domain.project_helpers import ARCHITECTURE, new_project, post, walk
from tests.notify_support import SmtpSink, run_worker_once, text_of

STAFF = "pm@shop.com"
CONTACT = "ada@acme.com"
RunWorker = Callable[[], Awaitable[int]]
#: A weekday in the nominative right after a preposition that governs another case
WRONG_CASE = re.compile(r"\bdo (poniedziałek|wtorek|środa|czwartek|piątek|sobota|niedziela)\b")


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpSink) -> dict[str, str]:
    return {
        **env,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "STAFF_EMAILS": STAFF,
        "BASE_URL": "https://sk.example.com",
    }


@pytest.fixture
def run_worker(settings: Settings, clock: FrozenClock) -> RunWorker:
    async def run() -> int:
        return await run_worker_once(settings, clock)

    return run


async def organisation(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker, locale: str = "en"
) -> tuple[dict[str, Any], dict[str, str]]:
    org = await create_client_org(
        client, staff, "Acme", contacts=[{"name": "Ada Client", "email": CONTACT, "locale": locale}]
    )
    return org, bearer(await make_key("client", org["id"]))


def subjects(smtp: SmtpSink, address: str) -> list[str]:
    return [str(m["Subject"]) for m in smtp.to(address)]


async def test_the_client_is_told_the_architecture_awaits_sign_off_and_staff_that_it_was_signed(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    make_key: KeyMaker,
    smtp: SmtpSink,
    run_worker: RunWorker,
) -> None:
    org, client_key = await organisation(client, staff, make_key)
    project = await in_discovery(client, staff, client_key, org["id"])
    await run_worker()
    smtp.messages.clear()

    body(await post(client, project["id"], "architecture", staff, ARCHITECTURE))
    await run_worker()
    assert subjects(smtp, CONTACT) == ["Architecture of Recommender awaits your sign-off"]
    text = text_of(smtp.to(CONTACT)[0])
    assert "we have completed the architecture document of Recommender. It awaits your sign-off." in text
    assert f"Document: {ARCHITECTURE['document_url']}" in text
    assert "/v1/" not in text
    assert smtp.to(STAFF) == []

    body(await post(client, project["id"], "architecture", staff, ARCHITECTURE))  # a revised document
    await run_worker()
    assert "we have revised the architecture document" in text_of(smtp.to(CONTACT)[1])

    body(await post(client, project["id"], "architecture/approve", client_key))
    await run_worker()
    assert subjects(smtp, STAFF) == ["Architecture signed off: Recommender"]
    assert "The client (Acme) signed off the architecture of Recommender." in text_of(smtp.to(STAFF)[0])
    assert len(smtp.to(CONTACT)) == 2


async def test_the_client_is_told_the_project_launched(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    make_key: KeyMaker,
    smtp: SmtpSink,
    run_worker: RunWorker,
) -> None:
    org, client_key = await organisation(client, staff, make_key, locale="pl")
    project = await new_project(client, staff, org["id"])
    await walk(client, app, clock, staff, client_key, project["id"], "acceptance")
    await run_worker()
    smtp.messages.clear()
    await walk_launch(client, staff, project["id"])
    await run_worker()
    assert subjects(smtp, CONTACT) == ["Projekt uruchomiony: Recommender"]
    text = text_of(smtp.to(CONTACT)[0])
    assert "projekt Recommender został uruchomiony." in text
    # 30 days after the launch at START (Tuesday 10:30 in Warsaw)
    assert "Koniec wsparcia: czwartek, 24 grudnia 2026, 10:30 CET (Europe/Warsaw)" in text
    assert smtp.to(STAFF) == []


async def walk_launch(client: httpx.AsyncClient, staff: dict[str, str], project_id: str) -> None:
    launched = await post(client, project_id, "launch", staff, {"without_criteria_reason": "Dashboards"})
    assert launched.status_code == 200, launched.text


async def test_staff_hear_of_changes_the_client_submits_but_not_of_their_own(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    make_key: KeyMaker,
    smtp: SmtpSink,
    run_worker: RunWorker,
) -> None:
    org, client_key = await organisation(client, staff, make_key)
    project = await in_delivery(client, clock, staff, client_key, org["id"])
    await run_worker()
    smtp.messages.clear()

    await submit(client, staff, project["id"], title="Shop's own idea")
    await run_worker()
    assert smtp.to(STAFF) == []
    change = await submit(client, client_key, project["id"], title="Nightly export")
    await run_worker()
    assert subjects(smtp, STAFF) == ["Change request from the client: Nightly export (Recommender)"]
    text = text_of(smtp.to(STAFF)[0])
    assert 'The client submitted change request 2 "Nightly export".' in text
    assert "Assessment due: Friday, November 27, 2026, 10:00\u202fAM CET (Europe/Warsaw)" in text
    assert f"https://sk.example.com/v1/change-requests/{change['id']}" in text


async def test_staff_hear_when_the_client_answers_a_support_question(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    make_key: KeyMaker,
    smtp: SmtpSink,
    run_worker: RunWorker,
) -> None:
    org, client_key = await organisation(client, staff, make_key)
    project = await new_project(client, staff, org["id"])
    await walk(client, app, clock, staff, client_key, project["id"], "support")
    opened = body(
        await client.post(
            f"/v1/projects/{project['id']}/support-requests",
            json={"kind": "bug", "subject": "Empty results", "body": "The API answers []."},
            headers=client_key,
        ),
        201,
    )
    path = f"/v1/support-requests/{opened['id']}/responses"
    body(
        await client.post(path, json={"message": "Which user id?", "awaiting_client": True}, headers=staff),
        201,
    )
    await run_worker()
    smtp.messages.clear()

    body(await client.post(path, json={"message": "User 42."}, headers=client_key), 201)
    await run_worker()
    assert subjects(smtp, STAFF) == ["Client answered: Empty results (Recommender)"]
    assert "User 42." in text_of(smtp.to(STAFF)[0])
    assert smtp.to(CONTACT) == []


async def test_polish_mail_uses_plural_forms_translated_risk_and_no_preposition_before_a_weekday(
    client: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    make_key: KeyMaker,
    smtp: SmtpSink,
    run_worker: RunWorker,
) -> None:
    org, client_key = await organisation(client, staff, make_key, locale="pl")
    project = await in_delivery(client, clock, staff, client_key, org["id"])
    await run_worker()
    smtp.messages.clear()
    for days, risk in ((5, "high"), (1, "low"), (3, "medium")):
        change = await submit(client, staff, project["id"], title=f"Change of {days}")
        await assessed(client, staff, change["id"], assessment("1200.00", days, risk=risk))
    await run_worker()

    by_title: dict[str, str] = {}
    for mail in smtp.to(CONTACT):
        text = text_of(mail)
        found = re.search(r"Change of \d", text)
        assert found is not None
        by_title[found.group(0)] = text
    texts = [by_title["Change of 5"], by_title["Change of 1"], by_title["Change of 3"]]
    assert "Wpływ na termin: 5 dni roboczych" in texts[0]
    assert "Ryzyko: wysokie" in texts[0]
    assert "Wpływ na termin: 1 dzień roboczy" in texts[1]
    assert "Ryzyko: niskie" in texts[1]
    assert "Wpływ na termin: 3 dni robocze" in texts[2]
    assert "Ryzyko: średnie" in texts[2]
    # 5 business days from Wednesday 10:00: Wednesday 2 December 10:00
    assert "Prosimy o decyzję (termin: środa, 2 grudnia 2026, 10:00 CET (Europe/Warsaw))." in texts[0]
    for text in texts:
        assert WRONG_CASE.search(text) is None, text


async def test_the_polish_acknowledgement_names_its_deadline_in_the_right_case(
    client: httpx.AsyncClient, make_key: KeyMaker, smtp: SmtpSink, run_worker: RunWorker
) -> None:
    intake = bearer(await make_key("intake"))
    response = await client.post(
        "/v1/inquiries",
        json={
            "name": "Ola Nowak",
            "email": "ola@firma.pl",
            "message": "Rekomendacje dla sklepu.",
            "source": "website",
            "consent": True,
            "locale": "pl",
        },
        headers=intake,
    )
    assert response.status_code == 201, response.text
    await run_worker()
    [ack] = smtp.to("ola@firma.pl")
    text = text_of(ack)
    # received at START, Tuesday 10:30 in Warsaw: one business day later
    assert "Odpowiemy w ciągu jednego dnia roboczego (termin: środa, 25 listopada 2026, 10:30 CET" in text
    assert WRONG_CASE.search(text) is None


async def test_the_feature_request_answer_says_what_happens_next_without_an_api_path(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    make_key: KeyMaker,
    smtp: SmtpSink,
    run_worker: RunWorker,
) -> None:
    org, client_key = await organisation(client, staff, make_key)
    project = await new_project(client, staff, org["id"])
    await walk(client, app, clock, staff, client_key, project["id"], "support")
    await run_worker()
    smtp.messages.clear()
    opened = body(
        await client.post(
            f"/v1/projects/{project['id']}/support-requests",
            json={"kind": "feature_request", "subject": "Mobile app", "body": "An app for the warehouse."},
            headers=client_key,
        ),
        201,
    )
    assert opened["status"] == "redirected"
    answer = opened["conversation"][-1]["message"]
    assert "/v1" not in answer
    assert "assesses its price and timeline" in answer
    await run_worker()
    [mail] = smtp.to(CONTACT)
    assert "/v1" not in text_of(mail)
    assert "assesses its price and timeline" in text_of(mail)
    change = await read(client, staff, f"/v1/change-requests/{opened['change_request_id']}")
    assert change["status"] == "submitted"
