from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated

import msgspec

Weekday = Annotated[
    int, msgspec.Meta(ge=1, le=7, description="ISO weekday: 1 = Monday ... 7 = Sunday", examples=[1])
]

#: A wall-clock time is documented as ``HH:MM:SS[.ffffff]``; the framework's default would call it a duration.
_WALL_TIME = {
    "extra": {"format": None, "pattern": r"^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?$"}
}


class WorkingWindow(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A working window on one ISO weekday, in the calendar's local wall time; it cannot cross midnight."""

    weekday: Weekday
    start: Annotated[
        time,
        msgspec.Meta(
            description="Opening, local wall time", examples=["09:00:00"], extra_json_schema=_WALL_TIME
        ),
    ]
    end: Annotated[
        time,
        msgspec.Meta(
            description="Closing, local wall time, after the opening",
            examples=["18:00:00"],
            extra_json_schema=_WALL_TIME,
        ),
    ]


class CalendarIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The whole business calendar; a PUT replaces the stored one."""

    time_zone: Annotated[
        str,
        msgspec.Meta(min_length=1, max_length=64, description="IANA time zone", examples=["Europe/Warsaw"]),
    ]
    weekly: Annotated[
        list[WorkingWindow],
        msgspec.Meta(
            max_length=168,
            description="Working windows; windows of one weekday may touch but not overlap; "
            "a weekday without windows is closed",
        ),
    ]
    country: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=2,
                max_length=3,
                description="ISO country whose public holidays close the shop (null: none)",
                examples=["PL"],
            ),
        ]
        | None
    )
    subdivision: (
        Annotated[
            str,
            msgspec.Meta(
                min_length=1,
                max_length=10,
                description="Subdivision of the country whose holidays also apply",
            ),
        ]
        | None
    ) = None
    closed_dates: Annotated[
        list[date],
        msgspec.Meta(
            max_length=2000, description="Extra local dates the shop is closed (2000-01-01 to 2100-12-31)"
        ),
    ] = []


class Calendar(msgspec.Struct, kw_only=True):
    """The business calendar in force. ``version`` 0 is the configured default (nothing stored yet)."""

    version: int
    stored: bool
    time_zone: str
    weekly: list[WorkingWindow]
    country: str | None
    subdivision: str | None
    closed_dates: list[date]
    business_day: Annotated[
        timedelta,
        msgspec.Meta(description="Length of one business day (ISO 8601 duration)", examples=["PT32400S"]),
    ]
    updated_at: datetime | None
