"""Field checks shared by the domains: email addresses, locales, time zones, domains, dates.

- Dates and instants the service takes (in bodies, query parameters and cursors) lie within
  2000-01-01..2100-12-31 (an instant: its UTC date); others are refused with a 422 where they are taken,
  so no calendar arithmetic or column ever meets year 9999.
- A time zone is an IANA zone name of the tz database (``Europe/Warsaw``, ``UTC``), not one of the
  files that sit beside them (``localtime``, ``posixrules``, ``Factory``).
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, date, datetime
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


#: The first and last day a date the service takes may name.
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
DATE_RANGE = f"{EARLIEST.isoformat()} to {LATEST.isoformat()}"
#: Names of the tz database that are not zones a person lives in.
NOT_ZONES = frozenset({"Factory", "localtime", "posixrules"})


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - NOT_ZONES)


def is_zone(value: str) -> bool:
    """True for an IANA zone name (see the module's rules)."""
    if value not in _zones():
        return False
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def time_zone(value: str, pointer: str) -> str:
    if not is_zone(value):
        raise invalid(pointer, f"unknown IANA time zone {value!r}; use a name such as Europe/Warsaw")
    return value


def day(value: date, pointer: str) -> date:
    """A date within ``EARLIEST``..``LATEST``, or a 422 at ``pointer``."""
    if not EARLIEST <= value <= LATEST:
        raise invalid(pointer, f"the date must lie from {DATE_RANGE}")
    return value


def instant(value: datetime, pointer: str) -> datetime:
    """An instant with an offset whose UTC date lies within ``EARLIEST``..``LATEST``, or a 422."""
    if value.utcoffset() is None:
        raise invalid(pointer, "give an instant with an offset, e.g. 2026-11-24T09:30:00Z")
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc.date() <= LATEST:
        raise invalid(pointer, f"the instant must lie from {DATE_RANGE}")
    return value


def domain(value: str, pointer: str) -> str:
    lowered = value.strip().lower()
    if not _DOMAIN.match(lowered):
        raise invalid(pointer, f"{value!r} is not a domain name such as example.com")
    return lowered
