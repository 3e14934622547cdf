"""Dates, times and money in a recipient's locale (Babel), read defensively from event data.

- An instant is shown in the recipient's zone with the zone named twice: its abbreviation at that
  instant (``CET``/``CEST``, or an offset where the zone has none) and its IANA id, e.g.
  ``środa, 25 listopada 2026, 10:30 CET (Europe/Warsaw)``. Date and time are joined as the locale joins
  them (CLDR's medium date-time pattern). Babel gives weekdays in the nominative, so templates never
  put an instant after a preposition that governs another case ("do czwartek"): they write
  ``termin: <instant>`` and the like.
- A count of business days takes the plural form the locale's plural rules (CLDR, through Babel) ask
  for: ``1 dzień roboczy``, ``3 dni robocze``, ``5 dni roboczych``; ``1 business day``, ``2 business
  days``.
- Money arrives in its wire form ``{"amount": "28000.00", "currency": "EUR"}`` and is shown with the
  locale's grouping and symbol (``28 000,00 €`` in ``pl``). Amounts are parsed as ``Decimal``, never float.
- Every helper returns ``None`` for a missing or malformed value, so templates can fall back to a
  generic sentence instead of failing.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_time
from babel.numbers import UnknownCurrencyError, format_currency, format_decimal

DEFAULT_LOCALE = "en"


def parse_locale(value: object) -> Locale:
    """The Babel locale for a tag such as ``pl``, ``en-GB`` or ``de_AT``; English when unknown."""
    if isinstance(value, str) and value.strip():
        try:
            return Locale.parse(value.strip().replace("-", "_"))
        except (UnknownLocaleError, ValueError, TypeError):
            pass
    return Locale.parse(DEFAULT_LOCALE)


def zone(value: object, fallback: str) -> ZoneInfo:
    """The IANA zone named by ``value``, else ``fallback`` (the shop's calendar zone), else UTC."""
    for candidate in (value, fallback):
        if isinstance(candidate, str) and candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def parse_instant(value: object) -> datetime | None:
    """An aware datetime from a datetime or an RFC 3339 string; ``None`` otherwise (naive counts as UTC)."""
    if isinstance(value, datetime):
        instant = value
    elif isinstance(value, str):
        try:
            instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=ZoneInfo("UTC"))
    return instant


def instant(value: object, locale: Locale, tz: ZoneInfo) -> str | None:
    """``Wednesday, November 25, 2026 10:30 AM CET (Europe/Warsaw)`` in ``locale``."""
    parsed = parse_instant(value)
    if parsed is None:
        return None
    local = parsed.astimezone(tz)
    abbreviation = local.tzname() or ""
    glue = str(locale.datetime_formats.get("medium", "{1} {0}"))
    shown = glue.format(format_time(local, "short", locale=locale), format_date(local, "full", locale=locale))
    if abbreviation and abbreviation != tz.key:
        shown += f" {abbreviation}"
    return f"{shown} ({tz.key})"


def day(value: object, locale: Locale) -> str | None:
    """A calendar date (``2027-03-05`` or an instant's date) in the locale's long form."""
    if isinstance(value, str):
        try:
            return format_date(date.fromisoformat(value[:10]), "long", locale=locale)
        except ValueError:
            return None
    if isinstance(value, date):
        return format_date(value, "long", locale=locale)
    return None


def money(value: object, locale: Locale) -> str | None:
    """Wire money ``{"amount": "123.45", "currency": "EUR"}`` in the locale's currency format."""
    if not isinstance(value, dict):
        return None
    amount: Any = value.get("amount")
    currency: Any = value.get("currency")
    if not isinstance(amount, str) or not isinstance(currency, str):
        return None
    try:
        return format_currency(Decimal(amount), currency.upper(), locale=locale)
    except (InvalidOperation, UnknownCurrencyError, ValueError):
        return None


#: Business days in each plural category of CLDR (``one``, ``few``, ``many``, ``other``) per language.
_BUSINESS_DAYS: dict[str, dict[str, str]] = {
    "en": {"one": "business day", "other": "business days"},
    "pl": {"one": "dzień roboczy", "few": "dni robocze", "many": "dni roboczych", "other": "dnia roboczego"},
}


def business_days(value: object, locale: Locale) -> str | None:
    """``5 dni roboczych``, ``1 business day``: the count in the locale's number format with the words
    in the plural form its rules ask for (English words for languages without their own)."""
    shown = number(value, locale)
    if shown is None:
        return None
    count = abs(Decimal(str(value)))
    language = str(locale.language)
    rules = locale if language in _BUSINESS_DAYS else Locale.parse(DEFAULT_LOCALE)
    words = _BUSINESS_DAYS.get(language, _BUSINESS_DAYS[DEFAULT_LOCALE])
    form = rules.plural_form(int(count) if count == count.to_integral_value() else count)
    return f"{shown} {words.get(form, words['other'])}"


def number(value: object, locale: Locale) -> str | None:
    """An integer or decimal string in the locale's number format (``-3``, ``1 250``)."""
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        return None
    try:
        return format_decimal(Decimal(value), locale=locale)
    except (InvalidOperation, ValueError):
        return None
