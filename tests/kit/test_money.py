from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.errors import Invalid
from api.kit.money import MinorMoney, Money, parse, to_wire, total


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("28000.00", "EUR", 2_800_000),
        ("0.10", "USD", 10),
        ("1500", "JPY", 1500),
        ("1.234", "KWD", 1234),
        ("-5.00", "EUR", -500),
    ],
)
def test_parse_reads_minor_units(amount: str, currency: str, minor: int) -> None:
    assert parse(Money(amount=amount, currency=currency), allow_negative=True) == MinorMoney(minor, currency)


@pytest.mark.parametrize("amount", ["1.5", "1", "1.000", "1e3", "0x10", " 1.00", "1,00", ""])
def test_parse_refuses_amounts_that_do_not_fit_eur(amount: str) -> None:
    with pytest.raises(Invalid) as raised:
        parse(Money(amount=amount, currency="EUR"), "/price")
    assert raised.value.errors is not None
    assert raised.value.errors[0].pointer == "/price/amount"


def test_negative_amounts_only_where_allowed() -> None:
    with pytest.raises(Invalid):
        parse(Money(amount="-1.00", currency="EUR"))


def test_ten_thousand_dimes_sum_exactly() -> None:
    lines = [parse(Money(amount="0.10", currency="EUR")) for _ in range(10_000)]
    assert total(lines, "EUR").to_wire() == Money(amount="1000.00", currency="EUR")


def test_adding_currencies_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot add"):
        _ = MinorMoney(1, "EUR") + MinorMoney(1, "USD")


@given(
    st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1), st.sampled_from(["EUR", "JPY", "KWD", "USD"])
)
def test_wire_round_trip(minor: int, currency: str) -> None:
    assert parse(to_wire(minor, currency), allow_negative=True) == MinorMoney(minor, currency)
