"""The business calendar: working windows, public holidays and closed dates, as pure arithmetic.

A calendar is data (``CalendarSpec``, stored as JSON): an IANA time zone, working windows per ISO
weekday (1 = Monday ... 7 = Sunday, several a day allowed), the public holidays of a country (and
optionally a subdivision) from the ``holidays`` package, and extra closed dates the staff add.
``BusinessCalendar`` is built once from a spec and answers questions about it without any I/O.

Rules
-----
- **Working day**: a date whose weekday has windows, that is not a public holiday of the calendar's
  country and not one of its closed dates.
- **Windows** are local wall-clock intervals inside one date: a window cannot cross midnight (the latest
  closing is 23:59:59.999999); on the wire their times are ``"HH:MM:SS"``. Windows of a weekday may
  not overlap; windows that touch (09:00-13:00 and 13:00-18:00) act as one window. A window contains
  both its opening and its closing instant.
- **Wall time to instant**: a local wall time on a date becomes the first instant at which the zone's
  clock shows that time or later. A time repeated when clocks go back is its first occurrence; a time
  skipped when clocks go forward is the instant of the jump. So a date's windows stay ordered and
  disjoint, and a window that contains a change is an hour longer or shorter in real time (the default
  09:00-18:00 never contains one in Europe/Warsaw, whose changes happen at 02:00/03:00).
- **Business time** is the real time that lies inside working windows. Since windows are placed in
  local wall time, a daylight-saving change outside the windows moves the UTC instant of a deadline,
  never its local wall time.
- ``add(start, d)``: the clock starts at ``start`` if it lies inside a window, else at the next opening,
  and then runs only inside windows. The result is the first instant at which ``d`` of business time has
  run; a result at a closing instant stays there and does not roll over to the next opening. Hence
  ``add(start, 0)`` is ``start`` itself inside a window (edges included), else the next opening.
- ``elapsed(start, end)`` is the business time between two instants, zero when ``end <= start``;
  ``elapsed(start, add(start, d)) == d`` always holds.
- **One business day** (``standard_day``) is the longest total of working windows of any weekday:
  9 h for Monday to Friday 09:00-18:00, 8 h for 09:00-13:00 + 14:00-18:00. A shorter day (a short Friday)
  therefore counts as part of a business day and never makes "one business day" end sooner than a full
  working day would. "n business days" is ``add(start, n * standard_day(spec))``.
- ``add_business_days(d, n)`` is the n-th working day after ``d`` (before it when ``n < 0``); with
  ``n == 0`` it is ``d`` when ``d`` is a working day, else the next working day.
- ``end_of_nth_business_day(start, n)`` is the last closing of the n-th working day, where day 1 is the
  start's local date if that is a working day and ``start`` is before its last closing, else the next
  working day ("the architecture review falls due at the end of the 5th business day of discovery").
- Every method takes aware datetimes (a naive one raises ``ValueError``) and returns UTC instants.
- A spec that cannot be used raises ``CalendarError`` (a ``ValueError``; callers answer 422). When a
  spec is decoded by msgspec the same check surfaces as a ``msgspec.ValidationError`` naming the field.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import msgspec

from api.kit import validate

__all__ = [
    "BusinessCalendar",
    "CalendarError",
    "CalendarSpec",
    "Window",
    "standard_day",
]

_ZERO = timedelta(0)
_ONE_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

Interval = tuple[datetime, datetime]
_DayPlan = tuple[tuple[time, time], ...]


class CalendarError(ValueError):
    """A calendar spec that cannot be used; the message says why."""


def _clock(t: time) -> str:
    return t.isoformat(timespec="minutes" if not (t.second or t.microsecond) else "auto")


def _since_midnight(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second, microseconds=t.microsecond)


class Window(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One working window: on an ISO weekday, from ``start`` to ``end`` in the calendar's local time."""

    weekday: Annotated[
        int, msgspec.Meta(ge=1, le=7, description="ISO weekday: 1 = Monday ... 7 = Sunday", examples=[1])
    ]
    start: Annotated[time, msgspec.Meta(description="Opening, local wall time", examples=["09:00:00"])]
    end: Annotated[
        time,
        msgspec.Meta(description="Closing, local wall time, later than the opening", examples=["18:00:00"]),
    ]

    def __post_init__(self) -> None:
        if isinstance(self.weekday, bool) or not 1 <= self.weekday <= 7:
            raise CalendarError(f"weekday must be 1 (Monday) to 7 (Sunday), got {self.weekday!r}")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise CalendarError("window times are local wall times and carry no offset")
        if self.start.replace(fold=0) >= self.end.replace(fold=0):
            raise CalendarError(
                f"the {_WEEKDAY_NAMES[self.weekday - 1]} window {_clock(self.start)}-{_clock(self.end)} "
                "must open before it closes (a window cannot cross midnight)"
            )


def _default_weekly() -> list[Window]:
    return [Window(weekday=day, start=time(9), end=time(18)) for day in range(1, 6)]


class CalendarSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A business calendar as data: zone, weekly windows, public holidays and closed dates."""

    time_zone: Annotated[
        str, msgspec.Meta(description="IANA time zone of the windows", examples=["Europe/Warsaw"])
    ] = "Europe/Warsaw"
    weekly: Annotated[
        list[Window],
        msgspec.Meta(description="Working windows per ISO weekday; a weekday without windows is closed"),
    ] = msgspec.field(default_factory=_default_weekly)
    country: Annotated[
        str | None,
        msgspec.Meta(
            description="Country whose public holidays close the shop (None: none)", examples=["PL"]
        ),
    ] = "PL"
    subdivision: Annotated[
        str | None,
        msgspec.Meta(description="Subdivision of the country whose holidays also apply", examples=[None]),
    ] = None
    closed_dates: Annotated[
        list[date], msgspec.Meta(description="Extra dates the shop is closed, in local time")
    ] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        _zone(self.time_zone)
        _plan(self.weekly)
        if self.country is None:
            if self.subdivision is not None:
                raise CalendarError("a subdivision needs a country")
            return
        supported = _supported_countries()
        if self.country not in supported:
            raise CalendarError(f"the holidays package knows no country {self.country!r}")
        if self.subdivision is not None and self.subdivision not in supported[self.country]:
            raise CalendarError(f"country {self.country!r} has no subdivision {self.subdivision!r}")


@lru_cache(maxsize=1)
def _supported_countries() -> dict[str, list[str]]:
    return holidays.list_supported_countries(include_aliases=True)


def _zone(key: str) -> ZoneInfo:
    if not validate.is_zone(key):
        raise CalendarError(f"unknown IANA time zone {key!r}")
    try:
        return ZoneInfo(key)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CalendarError(f"unknown IANA time zone {key!r}") from None


def _plan(weekly: Iterable[Window]) -> dict[int, _DayPlan]:
    """Windows per weekday, sorted, touching windows merged; refuses overlaps and an empty week."""
    by_day: defaultdict[int, list[tuple[time, time]]] = defaultdict(list)
    for window in weekly:
        by_day[window.weekday].append((window.start.replace(fold=0), window.end.replace(fold=0)))
    plan: dict[int, _DayPlan] = {}
    for weekday in range(1, 8):
        merged: list[tuple[time, time]] = []
        for start, end in sorted(by_day[weekday]):
            if merged and start < merged[-1][1]:
                before = merged[-1]
                raise CalendarError(
                    f"the {_WEEKDAY_NAMES[weekday - 1]} windows {_clock(before[0])}-{_clock(before[1])} "
                    f"and {_clock(start)}-{_clock(end)} overlap"
                )
            if merged and start == merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        plan[weekday] = tuple(merged)
    if not any(plan.values()):
        raise CalendarError("a calendar needs at least one working window")
    return plan


def standard_day(spec: CalendarSpec) -> timedelta:
    """The length of one business day: the longest total of working windows of any weekday."""
    return max(
        sum((_since_midnight(end) - _since_midnight(start) for start, end in windows), _ZERO)
        for windows in _plan(spec.weekly).values()
    )


def _utc(instant: datetime, name: str) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return instant.astimezone(UTC)


class BusinessCalendar:
    """Business-time arithmetic on one calendar spec; pure and cheap to call repeatedly."""

    def __init__(self, spec: CalendarSpec, *, cache_days: int = 8192) -> None:
        self.spec = spec
        self.zone = _zone(spec.time_zone)
        self.business_day = standard_day(spec)
        self._plan = _plan(spec.weekly)
        self._closed = frozenset(spec.closed_dates)
        self._holidays = (
            None if spec.country is None else holidays.country_holidays(spec.country, subdiv=spec.subdivision)
        )
        self._holidays_by_year: dict[int, frozenset[date]] = {}
        self._windows = lru_cache(maxsize=cache_days)(self._compute_windows)

    def __repr__(self) -> str:
        return f"BusinessCalendar({self.spec!r})"

    def business_days(self, n: float) -> timedelta:
        """``n`` business days as a business duration (``n * standard_day``)."""
        return self.business_day * n

    def public_holidays(self, year: int) -> frozenset[date]:
        """The public holidays of the calendar's country in ``year`` (empty without a country)."""
        found = self._holidays_by_year.get(year)
        if found is None:
            if self._holidays is None:
                found = frozenset()
            else:
                self._holidays.get(date(year, 1, 1))  # a lookup loads the whole year
                found = frozenset(day for day in self._holidays if day.year == year)
            self._holidays_by_year[year] = found
        return found

    def is_working_day(self, d: date) -> bool:
        """Whether the weekday of ``d`` has windows and ``d`` is neither a public holiday nor closed."""
        return (
            bool(self._plan[d.isoweekday()])
            and d not in self._closed
            and d not in self.public_holidays(d.year)
        )

    def windows_on(self, d: date) -> list[Interval]:
        """The working windows of the local date ``d`` as UTC ``(opening, closing)`` pairs, in order."""
        return list(self._windows(d))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The instant at which ``duration`` of business time has run from ``start`` (see module rules)."""
        if duration < _ZERO:
            raise ValueError("a business duration cannot be negative")
        now = _utc(start, "start")
        remaining = duration
        day = self._local_date(now) - _ONE_DAY
        while True:
            for opens, closes in self._windows(day):
                if closes < now:
                    continue
                begin = max(opens, now)
                available = closes - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            day += _ONE_DAY

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants; zero when ``end <= start``."""
        low = _utc(start, "start")
        high = _utc(end, "end")
        total = _ZERO
        if high <= low:
            return total
        day = self._local_date(low) - _ONE_DAY
        last = self._local_date(high) + _ONE_DAY
        while day <= last:
            for opens, closes in self._windows(day):
                overlap = min(closes, high) - max(opens, low)
                if overlap > _ZERO:
                    total += overlap
            day += _ONE_DAY
        return total

    def add_business_days(self, d: date, n: int) -> date:
        """The n-th working day after ``d`` (before it if ``n < 0``); ``n == 0``: ``d`` or the next one."""
        if n == 0:
            while not self.is_working_day(d):
                d += _ONE_DAY
            return d
        step = _ONE_DAY if n > 0 else -_ONE_DAY
        left = abs(n)
        while left:
            d += step
            if self.is_working_day(d):
                left -= 1
        return d

    def end_of_nth_business_day(self, start: datetime, n: int) -> datetime:
        """The last closing of the n-th working day counted from ``start`` (see module rules)."""
        if n < 1:
            raise ValueError("n counts working days from 1")
        now = _utc(start, "start")
        today = self._local_date(now)
        if self.is_working_day(today) and now < self._last_closing(today):
            first = today
        else:
            first = self.add_business_days(today, 1)
        return self._last_closing(self.add_business_days(first, n - 1))

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()

    def _last_closing(self, d: date) -> datetime:
        return self._instant(d, self._plan[d.isoweekday()][-1][1])

    def _compute_windows(self, d: date) -> tuple[Interval, ...]:
        if not self.is_working_day(d):
            return ()
        spans = (
            (self._instant(d, start), self._instant(d, end)) for start, end in self._plan[d.isoweekday()]
        )
        return tuple((opens, closes) for opens, closes in spans if opens < closes)

    def _instant(self, d: date, wall: time) -> datetime:
        """The first instant at which the zone's clock shows ``wall`` on ``d`` or later, in UTC."""
        local = datetime.combine(d, wall, tzinfo=self.zone)
        instant = local.astimezone(UTC)
        naive = local.replace(tzinfo=None)
        if instant.astimezone(self.zone).replace(tzinfo=None) == naive:
            return instant
        before = local.replace(fold=1).astimezone(UTC)
        after = instant
        while after - before > _TICK:
            middle = before + (after - before) // 2
            if middle.astimezone(self.zone).replace(tzinfo=None) >= naive:
                after = middle
            else:
                before = middle
        return after
