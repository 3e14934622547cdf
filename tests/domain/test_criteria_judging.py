"""Judging measured values: exact at every boundary, for every comparator, across unit conversions."""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.domain.criteria.judging import (
    COMPARATORS,
    UNITS,
    Comparator,
    UnitMismatch,
    compatible,
    decimal_text,
    is_decimal_text,
    judge,
    normalise_unit,
    parse_decimal,
)

D = Decimal

# (threshold, comparator, measured, verdict): both sides of each boundary, and the boundary itself.
BOUNDARIES = [
    ("150", "<", "150", "not_met"),
    ("150", "<", "149.999", "met"),
    ("150", "<", "150.001", "not_met"),
    ("150", "<", "149.99999999999999999999", "met"),
    ("150", "<=", "150", "met"),
    ("150", "<=", "150.000", "met"),
    ("150", "<=", "150.0000000001", "not_met"),
    ("150", "<=", "149.999", "met"),
    ("150", ">", "150", "not_met"),
    ("150", ">", "150.001", "met"),
    ("150", ">", "149.999", "not_met"),
    ("150", ">=", "150", "met"),
    ("150", ">=", "149.999", "not_met"),
    ("150", ">=", "150.001", "met"),
    ("150", "==", "150", "met"),
    ("150", "==", "150.000", "met"),
    ("150", "==", "150.001", "not_met"),
    ("150", "==", "149.999", "not_met"),
    ("0.40", ">", "0.4", "not_met"),
    ("0.40", ">", "0.40000000001", "met"),
    ("0.40", ">", "0.39999999999", "not_met"),
    ("0.40", ">=", "0.4", "met"),
    ("0.40", ">=", "0.39999999999", "not_met"),
    ("0.40", "<", "0.4", "not_met"),
    ("0.40", "<", "0.39999999999", "met"),
    ("0.40", "<", "0.40000000001", "not_met"),
    ("0.40", "<=", "0.4", "met"),
    ("0.40", "<=", "0.40000000001", "not_met"),
    ("0.40", "==", "0.4", "met"),
    ("0.40", "==", "0.40000000001", "not_met"),
    ("0.3", "==", "0.30", "met"),  # 0.1 + 0.2 in floats is not 0.3; in decimals 0.30 is
    ("-5", "<", "-5.0001", "met"),
    ("-5", "<", "-5", "not_met"),
    ("0", ">=", "-0", "met"),
]


@pytest.mark.parametrize(("threshold", "comparator", "measured", "verdict"), BOUNDARIES)
def test_boundaries_are_exact(threshold: str, comparator: Comparator, measured: str, verdict: str) -> None:
    assert judge(D(measured), "ms", comparator, D(threshold), "ms") == verdict


def test_every_comparator_is_covered_on_both_sides() -> None:
    for comparator in COMPARATORS:
        verdicts = {v for _, c, _, v in BOUNDARIES if c == comparator}
        assert verdicts == {"met", "not_met"}, comparator


# (measured, measured unit, comparator, threshold, unit, verdict)
CONVERSIONS = [
    ("0.15", "s", "<", "150", "ms", "not_met"),
    ("0.149999", "s", "<", "150", "ms", "met"),
    ("150", "ms", "==", "0.15", "s", "met"),
    ("1440", "min", "<=", "24", "hours", "met"),
    ("1440.0001", "min", "<=", "24", "hours", "not_met"),
    ("86400000", "ms", "==", "1", "days", "met"),
    ("1.5", "hours", ">", "89", "min", "met"),
    ("40", "percent", ">", "0.40", "ratio", "not_met"),
    ("40.000001", "percent", ">", "0.40", "ratio", "met"),
    ("0.999", "ratio", ">=", "99.9", "percent", "met"),
    ("0.99899999", "ratio", ">=", "99.9", "percent", "not_met"),
    ("1", "min", ">", "0.0166666666666666666", "hours", "met"),  # 1/60 h has no finite decimal
    ("1", "min", "<", "0.0166666666666666667", "hours", "met"),
]


@pytest.mark.parametrize(("measured", "m_unit", "comparator", "threshold", "unit", "verdict"), CONVERSIONS)
def test_units_of_a_family_convert_exactly(
    measured: str, m_unit: str, comparator: Comparator, threshold: str, unit: str, verdict: str
) -> None:
    assert judge(D(measured), m_unit, comparator, D(threshold), unit) == verdict


@pytest.mark.parametrize(
    ("m_unit", "unit"),
    [("ms", "ratio"), ("percent", "count"), ("MB", "Mb"), ("req/s", "ms"), ("count", "items")],
)
def test_units_of_different_kinds_are_refused(m_unit: str, unit: str) -> None:
    assert not compatible(m_unit, unit)
    with pytest.raises(UnitMismatch):
        judge(D(1), m_unit, "<", D(2), unit)


def test_an_unknown_unit_matches_itself() -> None:
    assert judge(D("501"), "req/s", ">=", D("500"), "req/s") == "met"


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        ("ms", "ms"),
        ("MS", "ms"),
        ("milliseconds", "ms"),
        ("sec", "s"),
        ("seconds", "s"),
        ("minutes", "min"),
        ("h", "hours"),
        ("Hour", "hours"),
        ("hours", "hours"),
        ("d", "days"),
        ("%", "percent"),
        ("pct", "percent"),
        ("ratio", "ratio"),
        ("count", "count"),
        ("req/s", "req/s"),
        ("MB", "MB"),
    ],
)
def test_units_are_written_canonically(written: str, canonical: str) -> None:
    assert normalise_unit(written) == canonical


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("150", True),
        ("0.40", True),
        ("-3.5", True),
        ("1e3", False),
        ("+1", False),
        (".5", False),
        ("5.", False),
        ("NaN", False),
        ("Infinity", False),
        ("1" * 21, False),
        ("0." + "1" * 21, False),
        ("", False),
    ],
)
def test_decimal_text_is_plain_notation(text: str, ok: bool) -> None:
    assert is_decimal_text(text) is ok
    if not ok:
        with pytest.raises(ValueError, match="decimal number"):
            parse_decimal(text)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (D("0.0000001"), "0.0000001"),
        (D("1E+2"), "100"),
        (D("-0"), "0"),
        (D("0.40"), "0.40"),
        (D("-0.00"), "0.00"),
    ],
)
def test_decimal_text_never_uses_exponents(value: Decimal, text: str) -> None:
    assert decimal_text(value) == text


decimals = st.decimals(
    min_value=D("-99999999999999999999"),
    max_value=D("99999999999999999999"),
    places=8,
    allow_nan=False,
    allow_infinity=False,
)
comparators: st.SearchStrategy[Comparator] = st.sampled_from(COMPARATORS)
_EXACT: dict[str, Callable[[Fraction, Fraction], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}


@given(measured=decimals, threshold=decimals, comparator=comparators)
def test_judging_agrees_with_rational_arithmetic(
    measured: Decimal, threshold: Decimal, comparator: Comparator
) -> None:
    expected = _EXACT[comparator](Fraction(measured), Fraction(threshold))
    assert judge(measured, "count", comparator, threshold, "count") == ("met" if expected else "not_met")


time_units = st.sampled_from([u.name for u in UNITS.values() if u.family == "time"])


@given(measured=decimals, m_unit=time_units, threshold=decimals, unit=time_units, comparator=comparators)
def test_conversion_agrees_with_rational_arithmetic(
    measured: Decimal, m_unit: str, threshold: Decimal, unit: str, comparator: Comparator
) -> None:
    left = Fraction(measured) * UNITS[m_unit].factor
    right = Fraction(threshold) * UNITS[unit].factor
    expected = _EXACT[comparator](left, right)
    assert judge(measured, m_unit, comparator, threshold, unit) == ("met" if expected else "not_met")


@given(threshold=decimals, comparator=comparators)
def test_the_threshold_itself_meets_exactly_the_inclusive_comparators(
    threshold: Decimal, comparator: Comparator
) -> None:
    verdict = judge(threshold, "ms", comparator, threshold, "ms")
    assert (verdict == "met") == (comparator in ("<=", ">=", "=="))
