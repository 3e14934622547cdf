"""Inquiries: a reply is recorded whatever its channel, and the sender's zone and language carry over."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import KeyMaker, bearer
from tests.domain.engagement_helpers import body, error_pointers, read
from tests.domain.inquiry_support import INQUIRIES, post
from tests.domain.quote_helpers import problem


@pytest.fixture
async def intake(make_key: KeyMaker) -> dict[str, str]:
    return bearer(await make_key("intake", name="website form"))


async def reply(
    client: httpx.AsyncClient, staff: dict[str, str], inquiry_id: str, **fields: Any
) -> httpx.Response:
    return await client.post(f"{INQUIRIES}/{inquiry_id}/reply", json=fields, headers=staff)


async def convert(client: httpx.AsyncClient, staff: dict[str, str], inquiry_id: str) -> dict[str, Any]:
    return body(
        await client.post(f"{INQUIRIES}/{inquiry_id}/convert", json={"currency": "EUR"}, headers=staff), 201
    )


async def test_a_phone_call_is_recorded_as_the_reply_and_the_inquiry_converts(
    client: httpx.AsyncClient, staff: dict[str, str], intake: dict[str, str]
) -> None:
    receipt = await post(client, intake)
    problem(
        await client.post(f"{INQUIRIES}/{receipt['id']}/convert", json={"currency": "EUR"}, headers=staff),
        409,
    )
    mailed = await reply(client, staff, receipt["id"], message="Called Ada", channel="phone", send_email=True)
    assert error_pointers(problem(mailed, 422)) == ["/send_email"]

    called = body(
        await reply(
            client, staff, receipt["id"], message="Called Ada: scope and budget agreed.", channel="phone"
        )
    )
    assert called["status"] == "replied"
    [recorded] = called["replies"]
    assert (recorded["channel"], recorded["send_email"], recorded["first"]) == ("phone", False, True)
    assert called["timer"]["state"] == "met"
    converted = await convert(client, staff, receipt["id"])
    assert converted["status"] == "qualified"


async def test_an_email_reply_is_mailed_by_default(
    client: httpx.AsyncClient, staff: dict[str, str], intake: dict[str, str]
) -> None:
    receipt = await post(client, intake)
    replied = body(await reply(client, staff, receipt["id"], message="Thank you, let us talk."))
    assert [(r["channel"], r["send_email"]) for r in replied["replies"]] == [("email", True)]


async def test_the_contact_made_from_an_inquiry_keeps_its_zone_and_language(
    client: httpx.AsyncClient, staff: dict[str, str], intake: dict[str, str]
) -> None:
    receipt = await post(client, intake, locale="de-AT", time_zone="Europe/Vienna", email="ada@engines.at")
    found = await read(client, staff, f"{INQUIRIES}/{receipt['id']}")
    assert (found["locale"], found["time_zone"]) == ("de_AT", "Europe/Vienna")
    body(await reply(client, staff, receipt["id"], message="Let us talk.", channel="meeting"))
    converted = await convert(client, staff, receipt["id"])
    organisation = await read(client, staff, f"/v1/clients/{converted['client_id']}")
    [contact] = organisation["contacts"]
    assert (contact["locale"], contact["time_zone"]) == ("de_AT", "Europe/Vienna")


async def test_without_a_zone_the_contact_gets_the_shops(
    client: httpx.AsyncClient, staff: dict[str, str], intake: dict[str, str]
) -> None:
    receipt = await post(client, intake, email="ada@engines.io")
    body(await reply(client, staff, receipt["id"], message="Let us talk."))
    converted = await convert(client, staff, receipt["id"])
    [contact] = (await read(client, staff, f"/v1/clients/{converted['client_id']}"))["contacts"]
    assert contact["time_zone"] == "Europe/Warsaw"


async def test_an_unknown_zone_is_refused_at_intake(
    client: httpx.AsyncClient, intake: dict[str, str]
) -> None:
    refused = await client.post(
        INQUIRIES,
        json={
            "name": "Ada",
            "email": "ada@engines.io",
            "message": "Hello",
            "source": "website",
            "consent": True,
            "time_zone": "Mars/Olympus",
        },
        headers=intake,
    )
    assert error_pointers(problem(refused, 422)) == ["/time_zone"]
