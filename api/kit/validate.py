"""Field checks shared by the domains: email addresses, locales, time zones, domains."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from email_validator import EmailNotValidError, validate_email

from api.errors import invalid

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def email(value: str, pointer: str) -> str:
    """A syntactically valid address, normalised (domain lower-cased); no network look-up."""
    try:
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise invalid(pointer, f"not a valid email address: {exc}") from None


def locale(value: str, pointer: str) -> str:
    """A locale Babel knows, returned in its canonical form (``en_GB``)."""
    try:
        return str(Locale.parse(value.replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise invalid(pointer, f"unknown locale {value!r}; use a tag such as en, pl or en-GB") from None


def time_zone(value: str, pointer: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise invalid(pointer, f"unknown IANA time zone {value!r}") from None
    return value


def domain(value: str, pointer: str) -> str:
    lowered = value.strip().lower()
    if not _DOMAIN.match(lowered):
        raise invalid(pointer, f"{value!r} is not a domain name such as example.com")
    return lowered
