"""The business calendar: hand-computed deadlines on the default calendar, spec validation, and properties.

Expected instants are literals in UTC; the comment next to each gives the Warsaw wall time
(CET is UTC+1 until 29 March 2026 and from 25 October 2026, CEST is UTC+2 in between).
"""

from __future__ import annotations

import time as stopwatch
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.kit.calendar import BusinessCalendar, CalendarError, CalendarSpec, Window, standard_day

WARSAW = ZoneInfo("Europe/Warsaw")
HOUR = timedelta(hours=1)
DAY = timedelta(hours=9)


def waw(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WARSAW)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def split_week() -> list[Window]:
    return [
        Window(weekday=weekday, start=start, end=end)
        for weekday in range(1, 6)
        for start, end in ((time(9), time(13)), (time(14), time(18)))
    ]


DEFAULT = BusinessCalendar(CalendarSpec())
SPLIT = BusinessCalendar(
    CalendarSpec(weekly=split_week(), closed_dates=[date(2026, 3, 11), date(2027, 6, 1), date(2028, 1, 3)])
)
# Sundays only, 01:00-04:00: both 2026 changes in Warsaw fall inside this window.
NIGHT = BusinessCalendar(CalendarSpec(country=None, weekly=[Window(weekday=7, start=time(1), end=time(4))]))


# --- the examples of domain.md and their neighbours, default calendar --------------------------------


@pytest.mark.parametrize(
    ("start", "duration", "due"),
    [
        pytest.param(waw(2026, 3, 10, 10), DAY, utc(2026, 3, 11, 9), id="tue 10:00 -> wed 10:00"),
        pytest.param(waw(2026, 3, 10, 20), DAY, utc(2026, 3, 11, 17), id="tue 20:00 -> wed 18:00"),
        pytest.param(waw(2026, 3, 13, 15), DAY, utc(2026, 3, 16, 14), id="fri 15:00 -> mon 15:00"),
        pytest.param(waw(2026, 3, 14, 11), DAY, utc(2026, 3, 16, 17), id="sat 11:00 -> mon 18:00"),
        pytest.param(waw(2026, 3, 15, 23, 59), HOUR, utc(2026, 3, 16, 9), id="sun 23:59 +1h -> mon 10:00"),
        pytest.param(waw(2026, 1, 6, 10), DAY, utc(2026, 1, 7, 17), id="epiphany tue 10:00 -> wed 18:00"),
        pytest.param(waw(2026, 3, 10, 18), DAY, utc(2026, 3, 11, 17), id="tue 18:00 -> wed 18:00"),
        pytest.param(waw(2026, 3, 10, 8, 59), DAY, utc(2026, 3, 10, 17), id="tue 08:59 -> tue 18:00"),
        pytest.param(waw(2026, 3, 10, 9), DAY, utc(2026, 3, 10, 17), id="tue 09:00 -> tue 18:00, no roll"),
        pytest.param(waw(2026, 3, 10, 17), HOUR, utc(2026, 3, 10, 17), id="lands on closing, stays"),
        # 6 h on Wed 23 Dec; Thu 24 (Wigilia), Fri 25, Sat 26 (Christmas), Sunday closed; 3 h on Mon 28.
        pytest.param(waw(2026, 12, 23, 12), DAY, utc(2026, 12, 28, 11), id="christmas chain -> mon 12:00"),
        # Spring change on Sunday 29 March: Monday 15:00 CEST is 13:00 UTC.
        pytest.param(waw(2026, 3, 27, 15), DAY, utc(2026, 3, 30, 13), id="spring dst fri 15:00 -> mon 15:00"),
        # Autumn change on Sunday 25 October: Monday 15:00 CET is 14:00 UTC.
        pytest.param(
            waw(2026, 10, 23, 15), DAY, utc(2026, 10, 26, 14), id="autumn dst fri 15:00 -> mon 15:00"
        ),
        pytest.param(
            waw(2026, 3, 28, 3), DAY, utc(2026, 3, 30, 16), id="sat before spring change -> mon 18:00"
        ),
        # 2 business days from Tue 1 Dec 10:00 (CET) -> Thu 3 Dec 10:00.
        pytest.param(waw(2026, 12, 1, 10), 2 * DAY, utc(2026, 12, 3, 9), id="two business days"),
        # 5 business days from Wed 29 Apr 2026 11:00: Fri 1 May is a holiday -> Thu 7 May 11:00 CEST.
        pytest.param(waw(2026, 4, 29, 11), 5 * DAY, utc(2026, 5, 7, 9), id="five days over 1 may"),
    ],
)
def test_add_on_the_default_calendar(start: datetime, duration: timedelta, due: datetime) -> None:
    result = DEFAULT.add(start, duration)
    assert result == due
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("start", "due"),
    [
        pytest.param(waw(2026, 3, 10, 11, 17), utc(2026, 3, 10, 10, 17), id="inside: start itself"),
        pytest.param(waw(2026, 3, 10, 9), utc(2026, 3, 10, 8), id="at opening: start itself"),
        pytest.param(waw(2026, 3, 10, 18), utc(2026, 3, 10, 17), id="at closing: start itself"),
        pytest.param(waw(2026, 3, 10, 18, 1), utc(2026, 3, 11, 8), id="after closing: next opening"),
        pytest.param(waw(2026, 3, 14, 11), utc(2026, 3, 16, 8), id="weekend: monday opening"),
        pytest.param(waw(2026, 12, 24, 9, 30), utc(2026, 12, 28, 8), id="holiday: next opening"),
    ],
)
def test_add_zero_is_start_inside_a_window_else_the_next_opening(start: datetime, due: datetime) -> None:
    assert DEFAULT.add(start, timedelta(0)) == due


def test_the_installed_holidays_close_christmas_eve_from_2025_on() -> None:
    assert {date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26)} <= DEFAULT.public_holidays(2026)
    assert date(2025, 12, 24) in DEFAULT.public_holidays(2025)
    assert date(2024, 12, 24) not in DEFAULT.public_holidays(2024)
    assert not DEFAULT.is_working_day(date(2026, 12, 24))


def test_split_day() -> None:
    assert standard_day(SPLIT.spec) == timedelta(hours=8)
    assert SPLIT.add(waw(2026, 3, 9, 12), 2 * HOUR) == utc(2026, 3, 9, 14)  # Monday 15:00
    assert SPLIT.add(waw(2026, 3, 9, 12), HOUR) == utc(2026, 3, 9, 12)  # lunch starts: stays at 13:00
    assert SPLIT.add(waw(2026, 3, 9, 13, 30), timedelta(0)) == utc(2026, 3, 9, 13)  # lunch: 14:00
    # 0.5 h + 4 h on Monday 9 March, 3.5 h on Tuesday -> Tuesday 12:30.
    assert SPLIT.add(waw(2026, 3, 9, 12, 30), 8 * HOUR) == utc(2026, 3, 10, 11, 30)
    # Tuesday 10 March 15:00 + 8 h: 3 h Tuesday, Wednesday 11 March is a closed date, 5 h Thursday -> 15:00.
    assert SPLIT.add(waw(2026, 3, 10, 15), 8 * HOUR) == utc(2026, 3, 12, 14)
    assert SPLIT.elapsed(waw(2026, 3, 9, 12), waw(2026, 3, 9, 15)) == 2 * HOUR


@pytest.mark.parametrize(
    ("start", "end", "business"),
    [
        pytest.param(waw(2026, 3, 13, 15), waw(2026, 3, 16, 10), 4 * HOUR, id="over a weekend"),
        pytest.param(waw(2026, 3, 10, 20), waw(2026, 3, 11, 8), timedelta(0), id="closed night"),
        pytest.param(waw(2026, 3, 11, 10), waw(2026, 3, 10, 10), timedelta(0), id="end before start"),
        pytest.param(waw(2026, 12, 23, 12), waw(2026, 12, 28, 12), DAY, id="over christmas"),
        pytest.param(waw(2026, 3, 27, 9), waw(2026, 3, 30, 18), 2 * DAY, id="over the spring change"),
        pytest.param(waw(2026, 1, 1, 0), waw(2027, 1, 1, 0), 253 * DAY, id="working days of 2026"),
    ],
)
def test_elapsed_on_the_default_calendar(start: datetime, end: datetime, business: timedelta) -> None:
    assert DEFAULT.elapsed(start, end) == business


def test_windows_on() -> None:
    assert DEFAULT.windows_on(date(2026, 3, 10)) == [(utc(2026, 3, 10, 8), utc(2026, 3, 10, 17))]
    assert DEFAULT.windows_on(date(2026, 3, 30)) == [(utc(2026, 3, 30, 7), utc(2026, 3, 30, 16))]
    assert DEFAULT.windows_on(date(2026, 3, 14)) == []
    assert DEFAULT.windows_on(date(2026, 12, 24)) == []
    assert SPLIT.windows_on(date(2026, 3, 9)) == [
        (utc(2026, 3, 9, 8), utc(2026, 3, 9, 12)),
        (utc(2026, 3, 9, 13), utc(2026, 3, 9, 17)),
    ]
    assert SPLIT.windows_on(date(2026, 3, 11)) == []


def test_a_window_across_a_dst_change_is_local_wall_time() -> None:
    # Spring: 01:00 CET = 00:00 UTC to 04:00 CEST = 02:00 UTC, two real hours.
    assert NIGHT.windows_on(date(2026, 3, 29)) == [(utc(2026, 3, 29, 0), utc(2026, 3, 29, 2))]
    # Autumn: 01:00 CEST = 23:00 UTC the day before to 04:00 CET = 03:00 UTC, four real hours.
    assert NIGHT.windows_on(date(2026, 10, 25)) == [(utc(2026, 10, 24, 23), utc(2026, 10, 25, 3))]
    # Two real hours on 29 March, then half an hour on Sunday 5 April from 01:00 CEST (23:00 UTC).
    assert NIGHT.add(waw(2026, 3, 28, 12), timedelta(hours=2, minutes=30)) == utc(2026, 4, 4, 23, 30)


def test_skipped_and_repeated_wall_times() -> None:
    calendar = BusinessCalendar(
        CalendarSpec(
            country=None,
            weekly=[
                Window(weekday=7, start=time(2, 15), end=time(2, 45)),
                Window(weekday=7, start=time(2, 50), end=time(5)),
            ],
        )
    )
    # Spring: 02:00-03:00 never happens; a skipped time is the instant of the jump (01:00 UTC).
    assert calendar.windows_on(date(2026, 3, 29)) == [(utc(2026, 3, 29, 1), utc(2026, 3, 29, 3))]
    # Autumn: 02:00-03:00 happens twice; a repeated time is its first occurrence (CEST).
    assert calendar.windows_on(date(2026, 10, 25)) == [
        (utc(2026, 10, 25, 0, 15), utc(2026, 10, 25, 0, 45)),
        (utc(2026, 10, 25, 0, 50), utc(2026, 10, 25, 4)),
    ]


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        (date(2026, 12, 23), 1, date(2026, 12, 28)),
        (date(2026, 12, 28), -1, date(2026, 12, 23)),
        (date(2026, 12, 26), 0, date(2026, 12, 28)),
        (date(2026, 12, 23), 0, date(2026, 12, 23)),
        (date(2026, 4, 3), 5, date(2026, 4, 13)),
        (date(2026, 4, 13), -5, date(2026, 4, 3)),
        (date(2026, 3, 14), 1, date(2026, 3, 16)),
        (date(2026, 3, 14), -1, date(2026, 3, 13)),
    ],
)
def test_add_business_days(day: date, n: int, expected: date) -> None:
    assert DEFAULT.add_business_days(day, n) == expected


@pytest.mark.parametrize(
    ("calendar", "start", "n", "due"),
    [
        pytest.param(DEFAULT, waw(2026, 3, 9, 10), 5, utc(2026, 3, 13, 17), id="monday 10:00: friday"),
        pytest.param(DEFAULT, waw(2026, 3, 9, 8), 5, utc(2026, 3, 13, 17), id="before opening: friday"),
        pytest.param(DEFAULT, waw(2026, 3, 9, 17, 59), 1, utc(2026, 3, 9, 17), id="1st day is today"),
        pytest.param(DEFAULT, waw(2026, 3, 9, 18), 5, utc(2026, 3, 16, 17), id="at closing: next day is 1"),
        pytest.param(DEFAULT, waw(2026, 3, 14, 10), 5, utc(2026, 3, 20, 17), id="saturday: monday is 1"),
        pytest.param(DEFAULT, waw(2026, 12, 23, 19), 1, utc(2026, 12, 28, 17), id="over christmas"),
        pytest.param(DEFAULT, waw(2026, 3, 25, 10), 5, utc(2026, 3, 31, 16), id="over the spring change"),
        pytest.param(SPLIT, waw(2026, 3, 9, 13, 30), 3, utc(2026, 3, 12, 17), id="split, closed wednesday"),
    ],
)
def test_end_of_nth_business_day(calendar: BusinessCalendar, start: datetime, n: int, due: datetime) -> None:
    assert calendar.end_of_nth_business_day(start, n) == due


def test_is_working_day() -> None:
    assert DEFAULT.is_working_day(date(2026, 3, 10))
    assert not DEFAULT.is_working_day(date(2026, 3, 14))
    assert not DEFAULT.is_working_day(date(2026, 11, 11))
    assert not SPLIT.is_working_day(date(2026, 3, 11))
    assert DEFAULT.is_working_day(date(2026, 3, 11))
    assert BusinessCalendar(CalendarSpec(country=None)).is_working_day(date(2026, 12, 24))


def test_a_thousand_business_days_are_quick() -> None:
    calendar = BusinessCalendar(CalendarSpec())
    began = stopwatch.perf_counter()
    due = calendar.add(waw(2026, 1, 5, 9), 1000 * DAY)
    spent = calendar.elapsed(waw(2026, 1, 5, 9), due)
    assert stopwatch.perf_counter() - began < 1.0
    assert spent == 1000 * DAY
    assert due.astimezone(WARSAW).time() == time(18)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        DEFAULT.add(datetime(2026, 3, 10, 10), DAY)
    with pytest.raises(ValueError, match="negative"):
        DEFAULT.add(waw(2026, 3, 10, 10), -HOUR)
    with pytest.raises(ValueError, match="from 1"):
        DEFAULT.end_of_nth_business_day(waw(2026, 3, 10, 10), 0)


# --- the spec -----------------------------------------------------------------------------------------


def test_standard_day_is_the_longest_weekday() -> None:
    assert standard_day(CalendarSpec()) == DAY
    assert DEFAULT.business_days(2) == 18 * HOUR
    uneven = [
        Window(weekday=1, start=time(8), end=time(18)),
        Window(weekday=5, start=time(9), end=time(15)),
    ]
    assert standard_day(CalendarSpec(weekly=uneven)) == 10 * HOUR
    saturday = [Window(weekday=6, start=time(10), end=time(14))]
    assert standard_day(CalendarSpec(weekly=saturday)) == 4 * HOUR


def test_touching_windows_act_as_one() -> None:
    touching = [
        Window(weekday=2, start=time(13), end=time(18)),
        Window(weekday=2, start=time(9), end=time(13)),
    ]
    calendar = BusinessCalendar(CalendarSpec(weekly=touching))
    assert calendar.windows_on(date(2026, 3, 10)) == [(utc(2026, 3, 10, 8), utc(2026, 3, 10, 17))]
    assert calendar.add(waw(2026, 3, 10, 12), HOUR) == utc(2026, 3, 10, 12)
    assert calendar.business_day == DAY


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Window(weekday=1, start=time(18), end=time(9)), "must open before it closes"),
        (lambda: Window(weekday=1, start=time(9), end=time(9)), "must open before it closes"),
        (lambda: Window(weekday=0, start=time(9), end=time(18)), "weekday must be 1"),
        (lambda: Window(weekday=8, start=time(9), end=time(18)), "weekday must be 1"),
        (lambda: Window(weekday=1, start=time(9, tzinfo=UTC), end=time(18)), "no offset"),
        (
            lambda: CalendarSpec(
                weekly=[
                    Window(weekday=1, start=time(9), end=time(13)),
                    Window(weekday=1, start=time(12), end=time(18)),
                ]
            ),
            "Monday windows 09:00-13:00 and 12:00-18:00 overlap",
        ),
        (lambda: CalendarSpec(weekly=[]), "at least one working window"),
        (lambda: CalendarSpec(time_zone="Mars/Olympus"), "unknown IANA time zone"),
        (lambda: CalendarSpec(time_zone="Europe"), "unknown IANA time zone"),
        (lambda: CalendarSpec(time_zone="../etc"), "unknown IANA time zone"),
        (lambda: CalendarSpec(country="XX"), "no country 'XX'"),
        (lambda: CalendarSpec(country="PL", subdivision="ZZ"), "no subdivision 'ZZ'"),
        (lambda: CalendarSpec(country=None, subdivision="BY"), "needs a country"),
    ],
)
def test_unusable_specs_are_refused(make: Callable[[], object], message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        make()


def test_calendar_error_is_a_value_error() -> None:
    assert issubclass(CalendarError, ValueError)


def test_spec_json_shape() -> None:
    spec = CalendarSpec(
        weekly=[Window(weekday=1, start=time(9), end=time(13))],
        country="DE",
        subdivision="BY",
        closed_dates=[date(2026, 12, 31)],
    )
    encoded = msgspec.json.encode(spec)
    assert encoded == (
        b'{"time_zone":"Europe/Warsaw","weekly":[{"weekday":1,"start":"09:00:00","end":"13:00:00"}],'
        b'"country":"DE","subdivision":"BY","closed_dates":["2026-12-31"]}'
    )
    assert msgspec.json.decode(encoded, type=CalendarSpec) == spec
    assert msgspec.json.decode(b"{}", type=CalendarSpec) == CalendarSpec()


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            b'{"weekly":[{"weekday":1,"start":"09:00:00","end":"13:00:00"},'
            b'{"weekday":1,"start":"12:00:00","end":"18:00:00"}]}',
            "overlap",
        ),
        (b'{"weekly":[{"weekday":8,"start":"09:00:00","end":"13:00:00"}]}', "<= 7"),
        (b'{"weekly":[{"weekday":1,"start":"13:00:00","end":"09:00:00"}]}', "must open before"),
        (b'{"time_zone":"Nowhere/City"}', "unknown IANA time zone"),
        (b'{"opening":"09:00:00"}', "unknown field"),
    ],
)
def test_decoding_refuses_unusable_specs(document: bytes, message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message):
        msgspec.json.decode(document, type=CalendarSpec)


# --- properties ---------------------------------------------------------------------------------------

BASE = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_MINUTES = (datetime(2029, 1, 1, tzinfo=UTC) - BASE) // timedelta(minutes=1) - 1
EDGES = [
    time(0),
    time(8, 59),
    time(9),
    time(12, 59),
    time(13),
    time(13, 30),
    time(14),
    time(17, 59),
    time(18),
]

any_minute = st.integers(0, SPAN_MINUTES).map(lambda minutes: BASE + timedelta(minutes=minutes))
near_an_edge = st.builds(
    lambda days, wall: datetime.combine(date(2025, 1, 1) + timedelta(days=days), wall, tzinfo=WARSAW),
    st.integers(0, 1460),
    st.sampled_from(EDGES),
)
instants = st.one_of(any_minute, near_an_edge)
durations = st.one_of(
    st.integers(0, 40 * 9 * 60).map(lambda minutes: timedelta(minutes=minutes)),
    st.integers(0, 40).map(lambda days: days * DAY),
    st.integers(0, 40 * 8).map(lambda hours: hours * HOUR),
)
calendars = pytest.mark.parametrize("calendar", [DEFAULT, SPLIT], ids=["default", "split-closed"])
fast = settings(max_examples=200, deadline=None)


def in_window(calendar: BusinessCalendar, instant: datetime) -> bool:
    local_day = instant.astimezone(calendar.zone).date()
    return any(opens <= instant <= closes for opens, closes in calendar.windows_on(local_day))


@calendars
@fast
@given(start=instants, duration=durations)
def test_elapsed_undoes_add(calendar: BusinessCalendar, start: datetime, duration: timedelta) -> None:
    due = calendar.add(start, duration)
    assert due >= start
    assert calendar.elapsed(start, due) == duration


@calendars
@fast
@given(start=instants, duration=durations)
def test_add_lands_in_a_window_at_the_first_possible_instant(
    calendar: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    due = calendar.add(start, duration)
    assert in_window(calendar, due)
    if duration == timedelta(0) and in_window(calendar, start):
        assert due == start
    if duration > timedelta(0):
        tick = timedelta(microseconds=1)
        assert calendar.elapsed(start, due - tick) == duration - tick


@calendars
@fast
@given(first=instants, second=instants, duration=durations)
def test_add_is_monotonic_in_the_start(
    calendar: BusinessCalendar, first: datetime, second: datetime, duration: timedelta
) -> None:
    early, late = sorted((first, second))
    assert calendar.add(early, duration) <= calendar.add(late, duration)


@calendars
@fast
@given(start=instants, first=durations, second=durations)
def test_add_is_monotonic_in_the_duration(
    calendar: BusinessCalendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    short, long = sorted((first, second))
    assert calendar.add(start, short) <= calendar.add(start, long)


@calendars
@fast
@given(
    start=instants,
    gaps=st.tuples(
        st.integers(0, 30 * 24 * 60).map(lambda m: timedelta(minutes=m)),
        st.integers(0, 30 * 24 * 60).map(lambda m: timedelta(minutes=m)),
    ),
)
def test_elapsed_is_additive(
    calendar: BusinessCalendar, start: datetime, gaps: tuple[timedelta, timedelta]
) -> None:
    middle = start + gaps[0]
    end = middle + gaps[1]
    assert calendar.elapsed(start, end) == calendar.elapsed(start, middle) + calendar.elapsed(middle, end)


DST_WEEKS = [waw(2026, 3, 23, 0), waw(2026, 10, 19, 0)]  # the Mondays of the weeks with a change


def plus_weekdays(day: date, n: int) -> date:
    while n:
        day += timedelta(days=1)
        if day.isoweekday() <= 5:
            n -= 1
    return day


def test_the_dst_weeks_and_the_days_after_them_have_no_holidays() -> None:
    for monday in DST_WEEKS:
        for offset in range(12):
            day = monday.date() + timedelta(days=offset)
            assert DEFAULT.is_working_day(day) == (day.isoweekday() <= 5)


@fast
@given(
    week=st.sampled_from(DST_WEEKS),
    minute=st.integers(0, 7 * 24 * 60 - 1),
    days=st.integers(1, 5),
)
def test_dst_weeks_keep_local_deadlines(week: datetime, minute: int, days: int) -> None:
    start = week.astimezone(UTC) + timedelta(minutes=minute)
    local = start.astimezone(WARSAW)
    day, wall = local.date(), local.time()
    if day.isoweekday() <= 5 and time(9) < wall <= time(18):
        expected = datetime.combine(plus_weekdays(day, days), wall)
    elif day.isoweekday() <= 5 and wall <= time(9):
        expected = datetime.combine(plus_weekdays(day, days - 1), time(18))
    else:
        expected = datetime.combine(plus_weekdays(day, days), time(18))
    due = DEFAULT.add(start, days * DAY)
    assert due.astimezone(WARSAW).replace(tzinfo=None) == expected
