"""Money: integer minor units plus an ISO 4217 currency; a decimal string on the wire.

On the wire money is ``{"amount": "28000.00", "currency": "EUR"}``. The amount must be a JSON string
with exactly the currency's minor digits (``"12.5"`` is refused for EUR, ``"12.50"`` accepted; JPY takes
none, KWD three); a JSON number is refused by the schema. Inside the service money is
``MinorMoney(minor: int, currency)`` and no float ever holds it.

Currencies come from the Unicode CLDR as Babel ships it (a maintained source): a code is accepted when
CLDR lists it as legal tender of some territory today, and its minor digits are CLDR's. That refuses
unknown codes, the testing and "no currency" codes (``XTS``, ``XXX``), units without minor units
(gold ``XAU``, special drawing rights ``XDR``), fund codes that are no tender (``BOV``, ``CLF``) and
currencies no longer in use (``DEM``, ``HRK``), although Babel's full list still names them. Amounts
already stored keep their currency and digits: reading them never depends on this check.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Annotated

import msgspec
from babel.core import get_global
from babel.numbers import get_currency_precision, get_territory_currencies

from api.errors import Invalid, invalid

_AMOUNT = re.compile(r"^(-)?(\d{1,15})(?:\.(\d+))?$")

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


@lru_cache(maxsize=4)
def currencies_in_use(on: date) -> frozenset[str]:
    """The ISO 4217 codes CLDR lists as legal tender of some territory on ``on``."""
    found: set[str] = set()
    for territory in get_global("territory_currencies"):
        found.update(get_territory_currencies(territory, on, tender=True, non_tender=False))
    return frozenset(found)


def is_currency(code: str, on: date | None = None) -> bool:
    """Whether ``code`` is a currency money may be written in (see the module's rules)."""
    return code in currencies_in_use(on or date.today())


def check_currency(code: str, pointer: str) -> str:
    """``code`` when money may be written in it, else a 422 at ``pointer``."""
    if not is_currency(code):
        raise invalid(
            pointer,
            f"{code!r} is not an ISO 4217 currency in current use (XXX, XTS, metals, fund codes and "
            "withdrawn currencies are refused)",
        )
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


def from_wire(money: Money) -> MinorMoney:
    """Money the service wrote itself (read back from storage) in minor units; no currency check, so
    amounts stored in a currency no longer accepted still read."""
    digits = minor_digits(money.currency)
    return MinorMoney(int(Decimal(money.amount).scaleb(digits)), money.currency)


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
    "currencies_in_use",
    "from_wire",
    "is_currency",
    "minor_digits",
    "parse",
    "to_wire",
    "total",
]
