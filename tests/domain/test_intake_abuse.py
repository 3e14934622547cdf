"""The public form cannot be used to mail anyone a text of the sender's, nor to mail many.

The intake key of a website form lives in the page's JavaScript. The probe posted ``name: "Ada.
URGENT ... verify at https://phish.example/login"`` with a victim's address, and the shop mailed the
victim that text with a working link. Now automatic mail carries no text of the sender beyond an inert
name, every mail loses bidirectional controls, and intake is limited per key and per client address.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.message import EmailMessage

import asyncpg
import httpx
import pytest

from api.domain.notifications import inert
from api.settings import Settings
from tests.conftest import KeyMaker, bearer
from tests.domain.inquiry_support import INQUIRIES, body
from tests.notify_support import SmtpSink, text_of

HOSTILE = "Ada. URGENT: your account is locked, verify at https://phish.example/login"
MARKERS = ("phish", "URGENT", "verify", "locked", "+48 600", "Evil Corp", "\u202e")
VICTIM = "victim@customers-of-a-bank.com"


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpSink) -> dict[str, str]:
    return {
        **env,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "INTAKE_PER_KEY_PER_HOUR": "5",
        "INTAKE_PER_ADDRESS_PER_HOUR": "3",
        "TRUSTED_PROXIES": "127.0.0.1, 10.0.0.0/8",
    }


@pytest.fixture
async def intake(make_key: KeyMaker) -> dict[str, str]:
    return bearer(await make_key("intake", name="website form"))


def _whole(message: EmailMessage) -> str:
    return message.as_string() + "\n".join(str(v) for v in message.values())


async def test_the_acknowledgement_carries_no_text_of_the_sender(
    client: httpx.AsyncClient,
    intake: dict[str, str],
    smtp: SmtpSink,
    run_worker: Callable[[], Awaitable[int]],
) -> None:
    hostile = body(
        name=HOSTILE,
        email=VICTIM,
        company="Evil Corp \u202egnp.exe https://phish.example",
        phone="+48 600 100 200",
        message="URGENT verify at https://phish.example/login",
        budget="https://phish.example",
        timeline="URGENT",
        external_id="phish-1",
        source="crm",
    )
    response = await client.post(
        INQUIRIES, json=hostile, headers={**intake, "X-Forwarded-For": "203.0.113.9"}
    )
    assert response.status_code == 201, response.text
    await run_worker()
    [ack] = smtp.to(VICTIM)
    whole = _whole(ack)
    for marker in MARKERS:
        assert marker not in whole, f"{marker!r} reached the victim"
    assert text_of(ack).startswith("Hello,\r\n")
    assert str(ack["To"]) == VICTIM


async def test_an_inert_name_is_still_used(
    client: httpx.AsyncClient,
    intake: dict[str, str],
    smtp: SmtpSink,
    run_worker: Callable[[], Awaitable[int]],
) -> None:
    response = await client.post(
        INQUIRIES,
        json=body(name="Zoë  O'Brien-Łukasiewicz", email="zoe@lukasiewicz-family.pl"),
        headers=intake,
    )
    assert response.status_code == 201, response.text
    await run_worker()
    [ack] = smtp.to("zoe@lukasiewicz-family.pl")
    assert text_of(ack).startswith("Hello Zoë O'Brien-Łukasiewicz,")
    assert "Zoë O'Brien-Łukasiewicz" in str(ack["To"])


async def test_a_reply_greets_only_an_inert_name_and_no_mail_holds_bidi_controls(
    client: httpx.AsyncClient,
    intake: dict[str, str],
    staff: dict[str, str],
    smtp: SmtpSink,
    run_worker: Callable[[], Awaitable[int]],
) -> None:
    receipt = (await client.post(INQUIRIES, json=body(name=HOSTILE, email=VICTIM), headers=intake)).json()
    reply = {"message": "Thank you \u202eetihw\u202c, we can help.", "send_email": True}
    answered = await client.post(f"{INQUIRIES}/{receipt['id']}/reply", json=reply, headers=staff)
    assert answered.status_code == 200, answered.text
    await run_worker()
    mails = smtp.to(VICTIM)
    assert len(mails) == 2
    for mail in mails:
        whole = _whole(mail)
        assert "phish" not in whole
        assert not set(whole) & inert.BIDI_CONTROLS
    assert any("Thank you etihw, we can help." in text_of(m) for m in mails)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("Ada Lovelace", "Ada Lovelace"),
        ("  J. R.   Smith ", "J. R. Smith"),
        ("Anne-Marie D'Arcy", "Anne-Marie D'Arcy"),
        ("李小龙", "李小龙"),
        (HOSTILE, None),
        ("Ada phish.example", None),
        ("Ada 0800 123 456", None),
        ("ada@example.org", None),
        ("Ada\u202eecilA", None),
        ("Ada -- Admin", None),
        ("one two three four five six", None),
        ("x" * 61, None),
        ("", None),
        (None, None),
    ],
)
def test_inert_names(value: object, shown: str | None) -> None:
    assert inert.name(value) == shown


async def test_intake_is_limited_per_key_and_per_client_address(
    client: httpx.AsyncClient,
    intake: dict[str, str],
    make_key: KeyMaker,
    staff: dict[str, str],
    db: asyncpg.Connection,
    settings: Settings,
) -> None:
    """INTAKE_PER_ADDRESS_PER_HOUR=3 for one client address across keys; INTAKE_PER_KEY_PER_HOUR=5 for a
    key across addresses. The client address is the socket's peer, or X-Forwarded-For behind a
    trusted proxy (the test client's peer, 127.0.0.1, is one here)."""

    async def post(headers: dict[str, str], forwarded: str, n: int) -> httpx.Response:
        return await client.post(
            INQUIRIES,
            json=body(email=f"lead{n}@firm-{n}.com"),
            headers={**headers, "X-Forwarded-For": forwarded},
        )

    other_form = bearer(await make_key("intake", name="landing page"))
    answers = [(await post(intake if n % 2 else other_form, "198.51.100.7", n)).status_code for n in range(4)]
    assert answers == [201, 201, 201, 429]
    refused = await post(intake, "198.51.100.7", 99)
    assert refused.json()["type"] == "urn:scopekeeper:problem:rate-limited"
    assert int(refused.headers["retry-after"]) > 0
    # a client that writes its own X-Forwarded-For in front of the proxy's is still counted as itself
    spoofed = await post(other_form, "1.2.3.4, 198.51.100.7", 100)
    assert spoofed.status_code == 429
    # per key: another key, each post from an address of its own
    crm = bearer(await make_key("intake", name="crm"))
    answers = [(await post(crm, f"192.0.2.{n}", 200 + n)).status_code for n in range(6)]
    assert answers == [201, 201, 201, 201, 201, 429]
    # staff posts are not limited by intake limits
    assert (await post(staff, "198.51.100.7", 300)).status_code == 201
    assert await db.fetchval("SELECT count(*) FROM inquiries") == 3 + 5 + 1


def test_x_forwarded_for_counts_only_behind_a_trusted_proxy() -> None:
    from api.kit.http import client_address

    class _Request:
        def __init__(self, peer: str, forwarded: str | None) -> None:
            self.client = type("Peer", (), {"host": peer})()
            self.headers = {"x-forwarded-for": forwarded} if forwarded else {}

    cases = [
        ((), "203.0.113.5", "6.6.6.6", "203.0.113.5"),  # no trusted proxy: the peer
        (("10.0.0.0/8",), "203.0.113.5", "6.6.6.6", "203.0.113.5"),  # the peer is not a trusted proxy
        (("10.0.0.0/8",), "10.1.1.1", "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # the proxy's view
        (("10.0.0.0/8",), "10.1.1.1", "198.51.100.1, 10.2.2.2", "198.51.100.1"),  # two proxies
        (("10.0.0.0/8",), "10.1.1.1", "garbage", "10.1.1.1"),
        (("10.0.0.0/8",), "::ffff:10.1.1.1", "198.51.100.1", "198.51.100.1"),
        (("10.0.0.0/8",), "10.1.1.1", None, "10.1.1.1"),
    ]
    for trusted, peer, forwarded, expected in cases:
        assert client_address(_Request(peer, forwarded), trusted) == expected, (trusted, peer, forwarded)  # type: ignore[arg-type]
