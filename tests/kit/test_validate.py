"""Shared field checks: IANA zone names only, and dates within 2000-01-01..2100-12-31."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import httpx
import pytest

from api.errors import Invalid
from api.kit import validate
from api.settings import Settings, SettingsError

#: Names the tz database ships that are not zones anybody lives in (the probe's finding).
NOT_ZONES = ["localtime", "Factory", "posixrules", "Mars/Base", "", "../etc/passwd", "europe/warsaw"]


@pytest.mark.parametrize("name", NOT_ZONES)
def test_only_iana_zone_names_are_zones(name: str) -> None:
    assert not validate.is_zone(name)
    with pytest.raises(Invalid):
        validate.time_zone(name, "/time_zone")
    with pytest.raises(SettingsError, match="CALENDAR_TIME_ZONE"):
        Settings.from_env({"CALENDAR_TIME_ZONE": name} if name else {"CALENDAR_TIME_ZONE": "?"})


@pytest.mark.parametrize("name", ["Europe/Warsaw", "UTC", "America/Argentina/Buenos_Aires", "Asia/Kolkata"])
def test_zone_names_are_accepted(name: str) -> None:
    assert validate.time_zone(name, "/time_zone") == name


async def test_zones_that_are_not_iana_names_are_refused_where_they_are_taken(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    for name in ("localtime", "Factory", "posixrules"):
        body = {"name": "Zoned", "contacts": [{"name": "A", "email": "a@zoned.com", "time_zone": name}]}
        response = await client.post("/v1/clients", json=body, headers=staff)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["pointer"] == "/contacts/0/time_zone"
        calendar = {
            "time_zone": name,
            "weekly": [{"weekday": 1, "start": "09:00:00", "end": "17:00:00"}],
            "country": "PL",
        }
        response = await client.put("/v1/calendar", json=calendar, headers=staff)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["pointer"] == "/time_zone"


def test_days_and_instants_outside_the_range_are_refused() -> None:
    assert validate.day(date(2000, 1, 1), "/d") == date(2000, 1, 1)
    assert validate.day(date(2100, 12, 31), "/d") == date(2100, 12, 31)
    for far in (date(1999, 12, 31), date(2101, 1, 1), date(9999, 12, 31), date(1, 1, 1)):
        with pytest.raises(Invalid):
            validate.day(far, "/d")
    edge = datetime(2100, 12, 31, 23, 59, tzinfo=UTC)
    assert validate.instant(edge, "/t") == edge
    # the UTC date counts: 2101-01-01 00:30 in UTC is out, even when written at -01:00
    with pytest.raises(Invalid):
        validate.instant(datetime(2100, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))), "/t")
    for far in (
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59))),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59))),
        datetime(2026, 1, 1),  # no offset
    ):
        with pytest.raises(Invalid):
            validate.instant(far, "/t")
