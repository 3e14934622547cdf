"""Judging a measured value against a criterion's threshold: exact decimal arithmetic, never float.

Numbers
-------
Thresholds, measured values and ``share_of_requests`` travel as decimal strings (``"150"``, ``"0.40"``,
``"-3.5"``): an optional minus, up to 20 integer digits, optionally a point and up to 20 fraction digits;
no exponent, no plus sign. They are read into :class:`decimal.Decimal` and stored as PostgreSQL
``numeric``, so ``"0.40"`` and ``"0.4"`` are the same number and ``"0.40000000001"`` is a different one.

Units
-----
A unit is a short token without spaces (``ms``, ``ratio``, ``req/s``). Known units are written in one
canonical form; their aliases are accepted and stored canonically:

==========  ====================================  =====================================
canonical   aliases                               family, exact factor to the family base
==========  ====================================  =====================================
``ms``      millisecond(s), msec                  time, 1
``s``       sec, second(s)                        time, 1 000
``min``     minute(s), mins                       time, 60 000
``hours``   h, hr, hrs, hour                      time, 3 600 000
``days``    d, day                                time, 86 400 000
``ratio``                                         share, 100
``percent`` %, pct                                share, 1
``count``                                         count, 1
==========  ====================================  =====================================

A measured value in another unit of the same family is converted exactly (both sides are multiplied
by integer factors: ``0.15 s`` is ``150 ms``, ``40 percent`` is ``0.40 ratio``). Any other unit
matches only itself, spelled the same way (case counts: ``MB`` is not ``Mb``). A unit that matches
neither way is refused (the caller gets a 422 on ``/unit``).
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow, localcontext
from typing import Literal, NamedTuple

Comparator = Literal["<", "<=", ">", ">=", "=="]
Verdict = Literal["met", "not_met"]

COMPARATORS: tuple[Comparator, ...] = ("<", "<=", ">", ">=", "==")
DECIMAL_PATTERN = r"^-?\d{1,20}(\.\d{1,20})?$"
UNIT_PATTERN = r"^[A-Za-z0-9%/@_.\-]{1,32}$"

_DECIMAL = re.compile(DECIMAL_PATTERN)
_COMPARE: dict[str, Callable[[Decimal, Decimal], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
}
# Inputs have at most 40 significant digits and factors at most 8: 100 digits never round, and if they
# ever did the Inexact trap would raise instead of judging on a rounded number.
_EXACT = Context(prec=100, traps=[Inexact, InvalidOperation, Overflow])


class Unit(NamedTuple):
    name: str
    family: str
    factor: int


UNITS: dict[str, Unit] = {
    unit.name: unit
    for unit in (
        Unit("ms", "time", 1),
        Unit("s", "time", 1_000),
        Unit("min", "time", 60_000),
        Unit("hours", "time", 3_600_000),
        Unit("days", "time", 86_400_000),
        Unit("ratio", "share", 100),
        Unit("percent", "share", 1),
        Unit("count", "count", 1),
    )
}

ALIASES: dict[str, str] = {
    "millisecond": "ms",
    "milliseconds": "ms",
    "msec": "ms",
    "sec": "s",
    "second": "s",
    "seconds": "s",
    "minute": "min",
    "minutes": "min",
    "mins": "min",
    "h": "hours",
    "hr": "hours",
    "hrs": "hours",
    "hour": "hours",
    "d": "days",
    "day": "days",
    "%": "percent",
    "pct": "percent",
}


class UnitMismatch(ValueError):
    """The measured value's unit cannot be compared with the criterion's unit."""


def is_decimal_text(text: str) -> bool:
    return _DECIMAL.match(text) is not None


def parse_decimal(text: str) -> Decimal:
    """A decimal string as described in the module docstring; ``ValueError`` otherwise."""
    if not is_decimal_text(text):
        raise ValueError(f"{text!r} is not a decimal number such as 150 or 0.40 (written as a string)")
    return Decimal(text)


def decimal_text(value: Decimal) -> str:
    """Plain notation (never ``1E-7``), keeping the scale it was written with (``0.40`` stays ``0.40``)."""
    return format(value.copy_abs() if value.is_zero() else value, "f")


def normalise_unit(text: str) -> str:
    """The canonical name of a known unit or alias (``h`` → ``hours``); any other unit as written."""
    stripped = text.strip()
    lowered = stripped.lower()
    if lowered in UNITS:
        return lowered
    return ALIASES.get(lowered, stripped)


def compatible(measured_unit: str, unit: str) -> bool:
    """True when a value in ``measured_unit`` can be judged against a threshold in ``unit``."""
    if measured_unit == unit:
        return True
    a, b = UNITS.get(measured_unit), UNITS.get(unit)
    return a is not None and b is not None and a.family == b.family


def compare(measured: Decimal, comparator: Comparator, threshold: Decimal) -> bool:
    """``measured <comparator> threshold``, exactly."""
    return _COMPARE[comparator](measured, threshold)


def judge(
    measured: Decimal, measured_unit: str, comparator: Comparator, threshold: Decimal, unit: str
) -> Verdict:
    """``met`` when ``measured`` (in ``measured_unit``) satisfies ``<comparator> threshold`` (in ``unit``).

    Units must be canonical (see :func:`normalise_unit`); incompatible ones raise :class:`UnitMismatch`.
    Both sides are scaled by integer factors to the family's base unit, so the comparison is exact.
    """
    if not compatible(measured_unit, unit):
        raise UnitMismatch(f"a value in {measured_unit!r} cannot be judged against a threshold in {unit!r}")
    left, right = measured, threshold
    if measured_unit != unit:
        with localcontext(_EXACT):
            left = measured * UNITS[measured_unit].factor
            right = threshold * UNITS[unit].factor
    return "met" if compare(left, comparator, right) else "not_met"
