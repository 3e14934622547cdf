from __future__ import annotations

from litestar import Response, get, put
from litestar.datastructures import State
from litestar.params import JSONBody

from api.domain.calendar import service
from api.domain.calendar.schemas import Calendar, CalendarIn
from api.kit.auth import roles
from api.kit.etag import version_etag
from api.kit.http import Caller, IfMatch, Now, Uow

TAGS = ["Business calendar"]


def _with_etag(calendar: Calendar) -> Response[Calendar]:
    return Response(calendar, headers={"ETag": version_etag(calendar.version)})


@get("/v1/calendar", opt=roles("staff"), tags=TAGS, summary="Read the business calendar")
async def get_calendar(uow: Uow, state: State) -> Response[Calendar]:
    """The calendar every business-time deadline is computed on: IANA zone, working windows per ISO
    weekday (local wall time; several a day allowed), the public holidays of ``country`` (and
    ``subdivision``) from the ``holidays`` package, and extra closed dates. ``business_day`` is the
    length of one business day: the longest total of windows of any weekday (9 h for 09:00-18:00).

    Until a calendar is stored this is version 0, built from the settings (``CALENDAR_TIME_ZONE``,
    ``CALENDAR_COUNTRY``, ``CALENDAR_OPEN``-``CALENDAR_CLOSE`` Monday to Friday) with ``stored`` false.
    ``ETag`` carries the version."""
    return _with_etag(await service.get(uow.conn, state.settings))


@put("/v1/calendar", opt=roles("staff"), tags=TAGS, summary="Replace the business calendar")
async def put_calendar(
    data: JSONBody[CalendarIn], uow: Uow, principal: Caller, now: Now, state: State, if_match: IfMatch = None
) -> Response[Calendar]:
    """Store a new calendar version (the previous ones are kept) and, in the same transaction,
    recompute every running or paused timer counted in business time from its start on the new
    calendar. A timer whose due or warning time moves gets a ``recomputed`` log entry with the old and
    new times and an ``sla.recomputed`` event; a warning already fired keeps its time; timers that
    ended keep their history; clock-time timers are not affected.

    Rules: windows cannot cross midnight and must open before they close (422 at ``/weekly/<i>``);
    windows of one weekday may touch (09:00-13:00 and 13:00-18:00 act as one) but not overlap, and the
    week needs at least one window (422 at ``/weekly``); the zone, country and subdivision must be
    known (422 at ``/time_zone``, ``/country``, ``/subdivision``). Daylight-saving changes move UTC
    instants, never local deadlines. Send ``If-Match`` with the ETag you read (412 when stale; the
    settings default has ETag ``"0"``). Emits ``calendar.updated``."""
    return _with_etag(await service.put(uow, principal, data, if_match, state.settings, now))
