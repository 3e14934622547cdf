from __future__ import annotations

from datetime import time

import pytest

from api.kit import secretbox
from api.settings import DEVELOPMENT_KEY_ID, Settings, SettingsError

KEY_A = secretbox.encode_key(bytes(range(32)))
KEY_B = secretbox.encode_key(bytes(range(1, 33)))


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
        ("WEBHOOK_SECRET_KEYS", "k1:not*base64url"),
        ("WEBHOOK_SECRET_KEYS", f"k1:{KEY_A[:22]}"),
        ("WEBHOOK_SECRET_KEYS", f"k1:{KEY_A},k1:{KEY_B}"),
        ("WEBHOOK_SECRET_KEYS", KEY_A),
        ("RATE_BANDS", "EUR"),
        ("RATE_BANDS", "EUR:55-35"),
        ("RATE_BANDS", "XXX:1-2"),
        ("RATE_BANDS", "DEM:35-55"),
        ("RATE_BANDS", "EUR:35-55,EUR:40-60"),
        ("RATE_BANDS", "EUR:thirty-55"),
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


def test_webhook_secret_keys_are_read_in_order() -> None:
    settings = Settings.from_env({"WEBHOOK_SECRET_KEYS": f"new:{KEY_B}, old:{KEY_A}"})
    keys = settings.webhook_secret_keys
    assert keys.ids == ("new", "old")
    assert keys.primary.material == bytes(range(1, 33))
    assert KEY_A not in repr(settings)
    assert KEY_B not in repr(settings)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("k1:not*base64url", "key 'k1' is not base64url (A-Z a-z 0-9 - _)"),
        (f"k1:{KEY_A[:22]}", "key 'k1' must decode to 32 bytes, got 16"),
        (f"k1:{KEY_A}A", "key 'k1' must decode to 32 bytes, got 33"),
        (f"k1:{KEY_A},k1:{KEY_B}", "key id 'k1' is listed twice"),
        (KEY_A, "item 1 is not of the form key_id:base64url-key"),
    ],
)
def test_malformed_webhook_secret_keys_are_named_without_the_key(value: str, problem: str) -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"WEBHOOK_SECRET_KEYS": value})
    assert str(raised.value) == f"WEBHOOK_SECRET_KEYS: {problem}"
    assert KEY_A[:22] not in str(raised.value)


def test_webhook_secret_keys_are_required_in_production_only() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env({"SCOPEKEEPER_ENV": "production"})
    assert raised.value.variable == "WEBHOOK_SECRET_KEYS"
    assert "required in production" in str(raised.value)
    development_key = secretbox.encode_key(b"scopekeeper-insecure-dev-key-001")
    with pytest.raises(SettingsError, match="WEBHOOK_SECRET_KEYS"):
        Settings.from_env(
            {
                "SCOPEKEEPER_ENV": "production",
                "WEBHOOK_SECRET_KEYS": f"{DEVELOPMENT_KEY_ID}:{development_key}",
            }
        )
    production = Settings.from_env({"SCOPEKEEPER_ENV": "production", "WEBHOOK_SECRET_KEYS": f"k1:{KEY_A}"})
    assert production.webhook_secret_keys.ids == ("k1",)
    for environment in ("development", "test"):
        assert Settings.from_env({"SCOPEKEEPER_ENV": environment}).webhook_secret_keys.ids == (
            DEVELOPMENT_KEY_ID,
        )


def test_rate_bands_are_per_currency_with_defaults() -> None:
    defaults = Settings.from_env({})
    assert defaults.rate_band("EUR") == (35, 55)
    assert defaults.rate_band("PLN") == (150, 250)
    assert defaults.rate_band("JPY") is None
    custom = Settings.from_env({"RATE_BANDS": "eur:40-60, JPY:5000-9000"})
    assert custom.rate_band("EUR") == (40, 60)
    assert custom.rate_band("JPY") == (5000, 9000)
    assert custom.rate_band("PLN") is None
