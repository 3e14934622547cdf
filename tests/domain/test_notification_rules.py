"""Pure parts of notifications: the retry schedule, the rules table and the templates."""

from __future__ import annotations

import itertools
import random
import statistics
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.domain.notifications import backoff
from api.domain.notifications.rules import RULES, register, rules_for
from api.domain.notifications.templates import TEMPLATES, Context, Event, Recipient

START = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def event(event_type: str, data: Any, actor_role: str | None = "staff") -> Event:
    return Event(
        id=uuid.uuid4(),
        type=event_type,
        subject_type="thing",
        subject_id=uuid.uuid4(),
        client_id=None,
        project_id=None,
        actor_role=actor_role,
        data=data,
        occurred_at=START,
    )


# backoff ---------------------------------------------------------------------------------------


def test_envelope_doubles_then_stays_at_the_cap() -> None:
    envelopes = [backoff.envelope(n) for n in range(1, 40)]
    assert envelopes[:4] == [timedelta(seconds=s) for s in (5, 10, 20, 40)]
    growing = [e for e in envelopes if e < backoff.CAP]
    assert growing == sorted(set(growing))
    assert envelopes[-1] == backoff.CAP
    assert max(envelopes) == backoff.CAP


def test_delays_are_jittered_within_the_envelope_and_grow_on_average() -> None:
    rng = random.Random(7)
    means = []
    for failures in range(1, 16):
        samples = [backoff.delay(failures, rng) for _ in range(400)]
        assert all(backoff.FLOOR <= s <= max(backoff.FLOOR, backoff.envelope(failures)) for s in samples)
        assert len(set(samples)) > 300  # jittered, not a fixed step
        means.append(statistics.fmean(s.total_seconds() for s in samples))
    growing = [m for n, m in enumerate(means, start=1) if backoff.envelope(n) < backoff.CAP]
    assert len(growing) == 13
    assert growing == sorted(growing)
    capped = means[len(growing) :]
    assert all(abs(m - backoff.CAP.total_seconds() / 2) < backoff.CAP.total_seconds() * 0.1 for m in capped)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_the_whole_schedule_lasts_at_most_three_days(seed: int) -> None:
    times = backoff.schedule(START, random.Random(seed))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert times[-1] == START + backoff.WINDOW  # the last attempt is at the end of the window
    assert all(timedelta(0) <= g <= backoff.CAP for g in gaps)
    assert times == sorted(times)
    assert 10 <= len(times) <= 200


def test_no_attempt_after_the_window() -> None:
    assert backoff.next_attempt(START, 3, START + backoff.WINDOW) is None
    late = START + backoff.WINDOW - timedelta(seconds=2)
    assert backoff.next_attempt(START, 30, late, random.Random(1)) == START + backoff.WINDOW


# rules and templates -----------------------------------------------------------------------------

KNOWN = [
    "inquiry.received",
    "inquiry.reply_warning",
    "inquiry.reply_overdue",
    "inquiry.replied",
    "quote.sent",
    "quote.accepted",
    "quote.declined",
    "quote.expired",
    "change_request.submitted",
    "change_request.assessed",
    "change_request.approved",
    "change_request.rejected",
    "change_request.decision_reminder",
    "change_request.assessment_warning",
    "change_request.assessment_overdue",
    "change_request.decision_overdue",
    "support_request.opened",
    "support_request.responded",
    "support_request.response_warning",
    "support_request.response_breached",
    "project.architecture_review_warning",
    "project.architecture_review_overdue",
    "project.architecture_submitted",
    "project.architecture_approved",
    "project.launched",
    "project.closed",
    "webhook_endpoint.disabled",
]


def test_every_known_event_has_a_rule_and_sla_breached_mails_nobody() -> None:
    assert set(KNOWN) <= set(RULES)
    assert "sla.breached" not in RULES
    for rules in RULES.values():
        for rule in rules:
            assert rule.template in TEMPLATES


def test_conditions() -> None:
    assert rules_for(event("inquiry.received", {"status": "quarantined"})) == []
    assert len(rules_for(event("inquiry.received", {}))) == 2
    assert rules_for(event("inquiry.replied", {"send_email": False})) == []
    assert rules_for(event("inquiry.replied", {"send_email": "yes"})) == []
    assert len(rules_for(event("inquiry.replied", {"send_email": True}))) == 1
    [answered] = rules_for(event("support_request.responded", {}, actor_role="client"))
    assert (answered.audience, answered.template) == ("staff", "support_request.responded/staff")
    [responded] = rules_for(event("support_request.responded", {}, actor_role="staff"))
    assert responded.audience == "client_contacts"
    assert len(rules_for(event("change_request.submitted", {"requested_by": "client"}))) == 1
    assert rules_for(event("change_request.submitted", {"requested_by": "staff"})) == []
    drafted = {"requested_by": "client", "support_request_id": "5d1f0c7e-0000-4000-8000-000000000001"}
    assert rules_for(event("change_request.submitted", drafted)) == []
    [by_data] = rules_for(
        event("support_request.responded", {"responder_role": "client"}, actor_role="staff")
    )
    assert by_data.audience == "staff"


def test_register_refuses_unknown_templates() -> None:
    with pytest.raises(KeyError):
        register("thing.happened", "staff", "no/such-template")


GARBAGE: list[Any] = [
    {},
    {"name": None, "email": 5, "reply_due_at": "soon", "total": "12 EUR", "price_impact": {"amount": 1}},
    {"total": {"amount": "x", "currency": "EUR"}, "valid_until": 17, "timeline_impact_days": "many"},
    {"due_at": "2026-13-45T99:00:00Z", "subject": ["a"], "message": {"x": 1}, "revision": True},
    {"total": {"amount": "10.00", "currency": "ZZZ"}, "decision_due_at": "2026-12-01T10:00:00"},
]


@pytest.mark.parametrize("name", sorted(TEMPLATES))
@pytest.mark.parametrize("locale", ["en", "pl", "de-AT", "xx", ""])
def test_every_template_renders_whatever_the_data(name: str, locale: str) -> None:
    event_type = name.split("/", maxsplit=1)[0]
    for data in GARBAGE:
        context = Context(
            event(event_type, data),
            Recipient(email="a@b.com", locale=locale, time_zone="Nowhere/Atlantis"),
            shop_zone="Europe/Warsaw",
            base_url="https://sk.example.com/",
        )
        message = TEMPLATES[name](context)
        assert message.subject.strip()
        assert message.text.strip()
        assert "None" not in message.subject


def test_money_and_dates_follow_the_locale() -> None:
    data = {
        "total": {"amount": "28000.00", "currency": "EUR"},
        "valid_until": "2026-12-24",
        "project_name": "Recs",
    }
    for locale, total, day in [
        ("en", "€28,000.00", "December 24, 2026"),
        ("pl", "28\xa0000,00\xa0€", "24 grudnia 2026"),
        ("de-AT", "€\xa028.000,00", "24. Dezember 2026"),
    ]:
        context = Context(
            event("quote.sent", data),
            Recipient(email="a@b.com", locale=locale),
            shop_zone="Europe/Warsaw",
            base_url="https://x",
        )
        text = TEMPLATES["quote.sent/client_contacts"](context).text
        assert total in text, (locale, text)
        assert day in text, (locale, text)


def test_header_text_from_event_data_cannot_inject_headers() -> None:
    from api.domain.notifications import mail
    from api.domain.notifications.templates import Message

    composed = mail.compose(
        Message(subject="Hello\r\nBcc: victim@example.com", text="Body https://x.example/a"),
        Recipient(email="a@b.com", name="Eve\nBcc: other@example.com"),
        mail_from="Shop <no-reply@shop.example>",
        delivery_id=uuid.UUID(int=1),
        at=START,
        language="en",
    )
    assert composed["Subject"] == "Hello Bcc: victim@example.com"
    assert composed["Bcc"] is None
    assert composed["Message-ID"] == f"<{uuid.UUID(int=1)}@shop.example>"
    html = composed.get_body(preferencelist=("html",))
    assert html is not None
    assert '<a href="https://x.example/a">' in html.get_content()
