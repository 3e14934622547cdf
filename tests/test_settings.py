from __future__ import annotations

from datetime import time

import pytest

from api.settings import Settings, SettingsError


def test_defaults_need_no_environment() -> None:
    settings = Settings.from_env({})
    assert settings.calendar_time_zone == "Europe/Warsaw"
    assert settings.calendar_country == "PL"
    assert (settings.calendar_open, settings.calendar_close) == (time(9), time(18))
    assert settings.max_body_bytes == 1024 * 1024


def test_values_are_parsed() -> None:
    settings = Settings.from_env(
        {
            "REDIS_URL": "redis://cache:6379/2",
            "STAFF_EMAILS": "a@x.io, b@x.io",
            "WEBHOOKS_ALLOW_HTTP": "yes",
            "CALENDAR_OPEN": "08:30",
            "RATE_LIMIT_PER_MINUTE": "100",
        }
    )
    assert settings.staff_emails == ("a@x.io", "b@x.io")
    assert settings.webhooks_allow_http is True
    assert settings.calendar_open == time(8, 30)
    assert settings.rate_limit_per_minute == 100


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "mysql://x/y"),
        ("REDIS_URL", "http://x"),
        ("DB_POOL_MAX", "many"),
        ("SMTP_PORT", "70000"),
        ("CALENDAR_TIME_ZONE", "Europe/Atlantis"),
        ("CALENDAR_COUNTRY", "XX"),
        ("SMTP_TLS", "maybe"),
        ("WEBHOOKS_ALLOW_HTTP", "perhaps"),
        ("CALENDAR_OPEN", "9am"),
        ("STAFF_EMAILS", "nobody"),
        ("CORS_ALLOW_ORIGINS", "example.com"),
    ],
)
def test_malformed_variable_is_named(variable: str, value: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({variable: value})
    assert raised.value.variable == variable
    assert str(raised.value).startswith(variable + ":")


def test_cross_field_checks_name_a_variable() -> None:
    with pytest.raises(SettingsError, match="CALENDAR_OPEN"):
        Settings.from_env({"CALENDAR_OPEN": "18:00", "CALENDAR_CLOSE": "09:00"})
    with pytest.raises(SettingsError, match="DB_POOL_MIN"):
        Settings.from_env({"DB_POOL_MIN": "20", "DB_POOL_MAX": "5"})
