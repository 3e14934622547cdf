"""The business calendar in force: reading it (cached per version), and replacing it.

Rules:
- Until a calendar is stored, the calendar in force is version 0: the zone, country and working window
  (Monday to Friday, ``CALENDAR_OPEN``-``CALENDAR_CLOSE``) of the settings. Code that has no settings at
  hand (the timer service) uses the settings the process was configured with (``configure``; the API
  and the worker call it at start), else the built-in defaults.
- Every PUT stores a new version (previous versions stay, timers name the version they were computed
  on). ``If-Match`` is honoured (412 when stale; version 0 has the ETag ``"0"``).
- A PUT is validated as a whole and refused with 422 and a pointer at the offending field: a window that
  does not open before it closes (``/weekly/<i>``), windows of a weekday that overlap or a week without
  any window (``/weekly``), an unknown zone (``/time_zone``), country (``/country``) or subdivision
  (``/subdivision``). Closed dates are kept sorted and without repeats; the country is upper-cased.
- A PUT recomputes every running or paused timer counted in business time, in the same transaction (see
  ``api.domain.timers.recompute``), and emits ``calendar.updated`` with the number of timers whose due
  or warning time moved.
- ``BusinessCalendar`` objects are cached per version in the process; reading the calendar in force
  costs one small query for the current version (plus one for the spec on a cache miss).
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import NamedTuple

import msgspec

from api.db import Conn, UnitOfWork
from api.domain.calendar import queries
from api.domain.calendar.queries import CurrentRow
from api.domain.calendar.schemas import Calendar, CalendarIn, WorkingWindow
from api.domain.events import outbox
from api.domain.timers.recompute import recompute as recompute_timers
from api.errors import invalid
from api.kit import validate
from api.kit.auth import Principal
from api.kit.calendar import BusinessCalendar, CalendarError, CalendarSpec, Window
from api.kit.etag import check_if_match
from api.settings import Settings

_CACHE_SIZE = 32
_cache: OrderedDict[object, BusinessCalendar] = OrderedDict()
_configured: CalendarSpec | None = None


class InForce(NamedTuple):
    """The calendar in force: its version (0: settings defaults), spec, arithmetic and change time."""

    version: int
    spec: CalendarSpec
    calendar: BusinessCalendar
    updated_at: datetime | None


def default_spec(settings: Settings) -> CalendarSpec:
    """The calendar the settings describe: Monday to Friday, one window, the configured zone and country."""
    return CalendarSpec(
        time_zone=settings.calendar_time_zone,
        weekly=[
            Window(weekday=day, start=settings.calendar_open, end=settings.calendar_close)
            for day in range(1, 6)
        ],
        country=settings.calendar_country or None,
    )


def configure(settings: Settings) -> None:
    """Remember the settings' default calendar for code that has no settings at hand."""
    global _configured  # noqa: PLW0603 - one process-wide default, set by the entry points
    _configured = default_spec(settings)


def configured_default() -> CalendarSpec:
    return _configured if _configured is not None else default_spec(Settings())


def _remember(key: object, spec: CalendarSpec) -> BusinessCalendar:
    found = _cache.get(key)
    if found is None:
        found = BusinessCalendar(spec)
        _cache[key] = found
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    else:
        _cache.move_to_end(key)
    return found


async def in_force(conn: Conn, row: CurrentRow, defaults: CalendarSpec | None = None) -> InForce:
    """The calendar of ``row`` (as read by ``queries.current``); version 0 uses ``defaults``."""
    if row.version_id is None:
        spec = defaults if defaults is not None else configured_default()
        calendar = _remember(("default", msgspec.json.encode(spec)), spec)
        return InForce(0, spec, calendar, row.updated_at)
    cached = _cache.get(row.version_id)
    if cached is not None:
        _cache.move_to_end(row.version_id)
        return InForce(row.version, cached.spec, cached, row.updated_at)
    spec = msgspec.convert(await queries.spec(conn, row.version_id), CalendarSpec)
    return InForce(row.version, spec, _remember(row.version_id, spec), row.updated_at)


async def current(conn: Conn, settings: Settings | None = None, *, lock: queries.Lock = None) -> InForce:
    """The calendar in force; ``settings`` give version 0 (default: the configured process settings)."""
    row = await queries.current(conn, lock=lock)
    return await in_force(conn, row, default_spec(settings) if settings is not None else None)


def _wire(found: InForce) -> Calendar:
    spec = found.spec
    return Calendar(
        version=found.version,
        stored=found.version > 0,
        time_zone=spec.time_zone,
        weekly=[WorkingWindow(weekday=w.weekday, start=w.start, end=w.end) for w in spec.weekly],
        country=spec.country,
        subdivision=spec.subdivision,
        closed_dates=list(spec.closed_dates),
        business_day=found.calendar.business_day,
        updated_at=found.updated_at,
    )


async def get(conn: Conn, settings: Settings) -> Calendar:
    return _wire(await current(conn, settings))


def build_spec(data: CalendarIn) -> CalendarSpec:
    """A ``CalendarSpec`` from the request, or a 422 pointing at the field that makes it unusable."""
    windows: list[Window] = []
    for i, item in enumerate(data.weekly):
        try:
            windows.append(Window(weekday=item.weekday, start=item.start, end=item.end))
        except CalendarError as exc:
            raise invalid(f"/weekly/{i}", str(exc)) from None
    country = data.country.upper() if data.country is not None else None
    checks: list[tuple[str, dict[str, object]]] = [
        ("/time_zone", {"time_zone": data.time_zone, "country": None}),
        ("/weekly", {"weekly": windows, "country": None}),
        ("/country", {"country": country}),
        ("/subdivision", {"country": country, "subdivision": data.subdivision}),
    ]
    for pointer, fields in checks:
        try:
            CalendarSpec(**fields)  # type: ignore[arg-type]
        except CalendarError as exc:
            raise invalid(pointer, str(exc)) from None
    for i, closed in enumerate(data.closed_dates):
        validate.day(closed, f"/closed_dates/{i}")
    return CalendarSpec(
        time_zone=data.time_zone,
        weekly=windows,
        country=country,
        subdivision=data.subdivision,
        closed_dates=sorted(set(data.closed_dates)),
    )


async def put(
    uow: UnitOfWork,
    actor: Principal,
    data: CalendarIn,
    if_match: str | None,
    settings: Settings,
    now: datetime,
) -> Calendar:
    """Store a new calendar version and recompute the running timers on it, in one transaction."""
    spec = build_spec(data)
    row = await queries.current(uow.conn, lock="update")
    check_if_match(if_match, row.version)
    version = row.version + 1
    version_id = await queries.store(
        uow.conn, version=version, spec=msgspec.to_builtins(spec), now=now, actor_key_id=actor.key_id
    )
    found = InForce(version, spec, _remember(version_id, spec), now)
    moved = await recompute_timers(uow, calendar=found.calendar, calendar_version=version, now=now)
    await outbox.emit(
        uow,
        "calendar.updated",
        subject_type="calendar",
        subject_id=version_id,
        data={"version": version, "previous_version": row.version, "timers_recomputed": moved},
        now=now,
        actor=actor,
    )
    return _wire(found)
