"""Money: integer minor units plus an ISO 4217 currency; a decimal string on the wire.

On the wire money is ``{"amount": "28000.00", "currency": "EUR"}``. The amount must be a JSON string
with exactly the currency's minor digits (``"12.5"`` is refused for EUR, ``"12.50"`` accepted); a JSON
number is refused by the schema. Inside the service money is ``MinorMoney(minor: int, currency)`` and
no float ever holds it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Annotated

import msgspec
from babel.numbers import get_currency_precision, list_currencies

from api.errors import Invalid, invalid

_AMOUNT = re.compile(r"^(-)?(\d{1,15})(?:\.(\d+))?$")
_CURRENCIES = frozenset(list_currencies())

CurrencyCode = Annotated[
    str,
    msgspec.Meta(pattern=r"^[A-Z]{3}$", description="ISO 4217 currency code", examples=["EUR"]),
]


class Money(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An amount of money as it travels: a decimal string with the currency's minor digits."""

    amount: Annotated[
        str,
        msgspec.Meta(
            pattern=r"^-?\d{1,15}(\.\d{1,4})?$",
            description="Decimal string with exactly the currency's minor digits; a JSON number is refused.",
            examples=["28000.00"],
        ),
    ]
    currency: CurrencyCode


class MinorMoney(msgspec.Struct, frozen=True):
    """Money inside the service: a whole number of minor units."""

    minor: int
    currency: str

    def __add__(self, other: MinorMoney) -> MinorMoney:
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return MinorMoney(self.minor + other.minor, self.currency)

    def __neg__(self) -> MinorMoney:
        return MinorMoney(-self.minor, self.currency)

    def to_wire(self) -> Money:
        return to_wire(self.minor, self.currency)

    def as_decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-minor_digits(self.currency))


def minor_digits(currency: str) -> int:
    """How many digits the currency has after the decimal point (JPY 0, EUR 2, KWD 3)."""
    return int(get_currency_precision(currency))


def is_currency(code: str) -> bool:
    return code in _CURRENCIES


def check_currency(code: str, pointer: str) -> str:
    if not is_currency(code):
        raise invalid(pointer, f"{code!r} is not an ISO 4217 currency code")
    return code


def parse(money: Money, pointer: str = "", *, allow_negative: bool = False) -> MinorMoney:
    """Validate a wire amount and convert it to minor units, or raise a 422 naming ``pointer``."""
    check_currency(money.currency, f"{pointer}/currency")
    match = _AMOUNT.match(money.amount)
    if match is None:
        raise invalid(f"{pointer}/amount", f'{money.amount!r} is not a decimal amount such as "120.00"')
    sign, whole, fraction = match.groups()
    digits = minor_digits(money.currency)
    fraction = fraction or ""
    if len(fraction) != digits:
        expected = "no decimal places" if digits == 0 else f"exactly {digits} decimal places"
        raise invalid(f"{pointer}/amount", f"{money.currency} amounts take {expected}, got {money.amount!r}")
    minor = int(whole) * 10**digits + (int(fraction) if fraction else 0)
    if sign:
        minor = -minor
    if minor < 0 and not allow_negative:
        raise invalid(f"{pointer}/amount", "the amount must not be negative")
    return MinorMoney(minor, money.currency)


def to_wire(minor: int, currency: str) -> Money:
    digits = minor_digits(currency)
    sign = "-" if minor < 0 else ""
    whole, fraction = divmod(abs(minor), 10**digits)
    amount = f"{sign}{whole}" if digits == 0 else f"{sign}{whole}.{fraction:0{digits}d}"
    return Money(amount=amount, currency=currency)


def total(items: list[MinorMoney], currency: str) -> MinorMoney:
    """Sum amounts of one currency exactly."""
    result = MinorMoney(0, currency)
    for item in items:
        result = result + item
    return result


__all__ = [
    "CurrencyCode",
    "Invalid",
    "MinorMoney",
    "Money",
    "check_currency",
    "is_currency",
    "minor_digits",
    "parse",
    "to_wire",
    "total",
]
