"""The pure quote arithmetic and the canonical document (no database)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from uuid import UUID

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.domain.contracts.service import scope_change_ratio
from api.domain.quotes import document
from api.domain.quotes.schemas import Instalment, Revision, StoredLine
from api.errors import Invalid


def revision(**fields: object) -> Revision:
    base: dict[str, object] = {
        "id": UUID("11111111-1111-4111-8111-111111111111"),
        "project_id": UUID("22222222-2222-4222-8222-222222222222"),
        "client_id": UUID("33333333-3333-4333-8333-333333333333"),
        "revision": 2,
        "status": "sent",
        "currency": "EUR",
        "lines": [
            StoredLine(
                description="Zażółć gęślą jaźń", phase="delivery", hours="12.50", amount_minor=1_250_000
            ),
            StoredLine(description="Support", phase="support", hours="20.00", amount_minor=0),
        ],
        "assumptions": ["A"],
        "exclusions": [],
        "payment_schedule": [Instalment(name="All", share="1.00")],
        "total_minor": 1_250_000,
        "total_hours": Decimal("32.50"),
        "valid_until": date(2026, 12, 24),
        "delivery_date": date(2027, 3, 5),
        "revised_from": None,
        "document_sha256": None,
        "sent_at": datetime(2026, 11, 24, 9, 30, 0, 123456, tzinfo=UTC),
        "accepted_at": None,
        "accepted_by_name": None,
        "accepted_ip": None,
        "accepted_user_agent": None,
        "evidence_sha256": None,
        "declined_at": None,
        "decline_reason": None,
        "expired_at": None,
        "superseded_at": None,
        "superseded_by": None,
        "withdrawn_at": None,
        "withdrawal_reason": None,
        "created_at": datetime(2026, 11, 24, tzinfo=UTC),
        "updated_at": datetime(2026, 11, 24, tzinfo=UTC),
        "version": 2,
    }
    base.update(fields)
    return Revision(**base)  # type: ignore[arg-type]


def test_canonical_document_is_sorted_compact_utf8_with_money_as_strings() -> None:
    raw = document.canonical_document(revision())
    parsed = json.loads(raw)
    assert raw == json.dumps(parsed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert parsed["lines"][0] == {
        "amount": {"amount": "12500.00", "currency": "EUR"},
        "description": "Zażółć gęślą jaźń",
        "hours": "12.50",
        "phase": "delivery",
    }
    assert parsed["total"] == {"amount": "12500.00", "currency": "EUR"}
    assert parsed["total_hours"] == "32.50"
    assert parsed["sent_at"] == "2026-11-24T09:30:00.123456Z"
    assert parsed["valid_until"] == "2026-12-24"
    assert parsed["quote_id"] == "11111111-1111-4111-8111-111111111111"
    assert "status" not in parsed
    assert document.document_sha256(revision()) == hashlib.sha256(raw).hexdigest()


def test_the_document_ignores_what_may_change_after_sending() -> None:
    sent = revision()
    later = msgspec.structs.replace(
        sent,
        status="accepted",
        accepted_at=datetime(2026, 12, 1, tzinfo=UTC),
        accepted_by_name="Ada",
        version=3,
        updated_at=datetime(2026, 12, 1, tzinfo=UTC),
    )
    assert document.document_sha256(later) == document.document_sha256(sent)
    changed = msgspec.structs.replace(sent, exclusions=["Mobile"])
    assert document.document_sha256(changed) != document.document_sha256(sent)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", "0.00"), ("0.1", "0.10"), ("12.5", "12.50"), ("12.500", "12.50"), ("99999.99", "99999.99")],
)
def test_hours_are_kept_with_two_decimals(value: str, expected: str) -> None:
    assert document.hours(Decimal(value), "/h") == expected


@pytest.mark.parametrize("value", ["-0.01", "100000", "1.005", "NaN", "Infinity", "1E+400"])
def test_bad_hours_are_refused(value: str) -> None:
    with pytest.raises(Invalid) as refused:
        document.hours(Decimal(value), "/lines/3/hours")
    assert refused.value.errors is not None
    assert [e.pointer for e in refused.value.errors] == ["/lines/3/hours"]


def test_no_float_reads_json_hours() -> None:
    class Line(msgspec.Struct):
        hours: Decimal

    parsed = msgspec.json.decode(b'{"hours": 0.1}', type=Line)
    assert document.hours(parsed.hours, "/h") == "0.10"
    values = [msgspec.json.decode(b'{"hours": 0.1}', type=Line).hours for _ in range(3)]
    assert document.total_hours(document.hours(v, "/h") for v in values) == Decimal("0.30")


def half_even(value: Fraction) -> int:
    floor = value.numerator // value.denominator
    rest = value - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        return floor + 1
    return floor


@given(
    total=st.integers(min_value=0, max_value=10**15),
    hundredths=st.integers(min_value=1, max_value=10**9),
)
def test_blended_rate_is_exact_half_even(total: int, hundredths: int) -> None:
    hours = Decimal(hundredths).scaleb(-2)
    assert document.blended_rate_minor(total, hours) == half_even(Fraction(total * 100, hundredths))


def test_blended_rate_without_hours_is_none() -> None:
    assert document.blended_rate_minor(1000, Decimal("0.00")) is None
    assert document.within_band(None, "EUR", 35, 55) is None


@pytest.mark.parametrize(
    ("rate", "currency", "inside"),
    [(3500, "EUR", True), (5500, "EUR", True), (3499, "EUR", False), (5501, "EUR", False), (40, "JPY", True)],
)
def test_band_limits_are_inclusive_in_the_quotes_currency(rate: int, currency: str, inside: bool) -> None:
    assert document.within_band(rate, currency, 35, 55) is inside


def half_up(value: Fraction, places: int) -> Fraction:
    scaled = abs(value) * 10**places
    floor = scaled.numerator // scaled.denominator
    rounded = floor + 1 if scaled - floor >= Fraction(1, 2) else floor
    return Fraction(rounded if value >= 0 else -rounded, 10**places)


@given(
    approved=st.integers(min_value=-(10**12), max_value=10**12),
    baseline=st.integers(min_value=1, max_value=10**12),
)
def test_scope_change_ratio_has_four_decimals_ties_away_from_zero(approved: int, baseline: int) -> None:
    text = scope_change_ratio(approved, baseline)
    assert len(text.split(".")[1]) == 4
    assert Fraction(Decimal(text)) == half_up(Fraction(approved, baseline), 4)
    assert scope_change_ratio(4500_00, 32000_00) == "0.1406"
