"""Settings, read once from the environment and passed down.

Nothing in the code base reads ``os.environ`` at import time: ``Settings.from_env()`` is called by the
entry points (the API factory, the worker, the CLI) and the resulting object travels as an argument.
A malformed variable raises :class:`SettingsError` naming the variable and what was expected.

``WEBHOOK_SECRET_KEYS`` (``key_id:base64url-32-byte-key``, comma-separated, the first one sealing) is
required in production. Elsewhere, when it is unset, the fixed and public ``insecure-development`` key
is used so that a developer machine and the tests need no set-up; production refuses that key. Errors
about the variable name the key id or the item's position, never key material.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Mapping
from datetime import time
from typing import Any, TypeVar
from urllib.parse import urlsplit

import msgspec

from api.kit import secretbox
from api.kit.secretbox import Key, Keyring

T = TypeVar("T")

#: The id of the built-in development key. It seals webhook signing secrets only when
#: ``WEBHOOK_SECRET_KEYS`` is unset outside production; production refuses it.
DEVELOPMENT_KEY_ID = "insecure-development"
#: INSECURE: a fixed, public key so that a developer machine and the tests run with no set-up. Anything
#: sealed with it is as good as clear text; it is never accepted in production.
INSECURE_DEVELOPMENT_KEYS = Keyring((Key(DEVELOPMENT_KEY_ID, b"scopekeeper-insecure-dev-key-001"),))
#: The blended-rate bands (currency, low, high per hour in whole units) when ``RATE_BANDS`` is unset:
#: the same band of roughly 35 to 55 euro an hour, expressed in each currency.
DEFAULT_RATE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("EUR", 35, 55),
    ("USD", 40, 60),
    ("GBP", 30, 50),
    ("CHF", 35, 55),
    ("PLN", 150, 250),
)


class SettingsError(ValueError):
    """A configuration variable is missing or malformed; the message names it."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the service is configured with. Defaults suit a developer machine."""

    environment: str = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/scopekeeper"
    redis_url: str = "redis://127.0.0.1:6379/0"
    db_pool_min: int = 2
    db_pool_max: int = 10
    db_acquire_timeout: float = 5.0
    db_statement_timeout_ms: int = 10_000
    base_url: str = "http://127.0.0.1:8000"
    # mail
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_tls: str = "none"  # none | starttls | tls
    smtp_timeout: float = 10.0
    mail_from: str = "Scopekeeper <no-reply@scopekeeper.local>"
    staff_emails: tuple[str, ...] = ()
    # business calendar defaults (the stored calendar wins once it exists)
    calendar_time_zone: str = "Europe/Warsaw"
    calendar_country: str = "PL"
    calendar_open: time = time(9, 0)
    calendar_close: time = time(18, 0)
    # limits
    rate_limit_per_minute: int = 600
    inquiry_flood_per_hour: int = 5
    # new inquiries an intake key may post per hour, and per client address (all intake keys together)
    intake_per_key_per_hour: int = 600
    intake_per_address_per_hour: int = 60
    # proxies (addresses or networks) whose X-Forwarded-For names the client; none: the socket's peer is
    trusted_proxies: tuple[str, ...] = ()
    # who may read /metrics: the bearer token, or clients from these networks; with neither, /metrics
    # answers outside production only
    metrics_token: str | None = None
    metrics_allow_from: tuple[str, ...] = ()
    max_body_bytes: int = 1024 * 1024
    auth_cache_seconds: float = 5.0
    # webhooks
    webhooks_allow_http: bool = False
    webhooks_allow_private: bool = False
    webhook_timeout: float = 10.0
    webhook_disable_after_failures: int = 20
    # keys sealing webhook signing secrets at rest: the first seals, all open (see api.kit.secretbox)
    webhook_secret_keys: Keyring = INSECURE_DEVELOPMENT_KEYS
    # how long a worker holds a delivery it is sending before another may take it over
    delivery_lease_seconds: int = 300
    # quotes and change requests: the blended hourly rate band per currency, in whole units per hour
    rate_bands: tuple[tuple[str, int, int], ...] = DEFAULT_RATE_BANDS
    # cors
    cors_allow_origins: tuple[str, ...] = ()
    # sweeps
    outbox_sweep_age_seconds: int = 30

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def rate_band(self, currency: str) -> tuple[int, int] | None:
        """The shop's blended-rate band (low, high) in whole ``currency`` per hour; None when it has none."""
        for code, low, high in self.rate_bands:
            if code == currency:
                return low, high
        return None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build the settings from ``env`` (default: the process environment)."""
        source = os.environ if env is None else env
        values: dict[str, Any] = {}
        for field, (variable, parse) in _VARIABLES.items():
            raw = source.get(variable)
            if raw is None or raw == "":
                continue
            try:
                values[field] = parse(raw)
            except (ValueError, TypeError) as exc:
                raise SettingsError(variable, str(exc)) from None
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Cross-field checks, each naming the variable at fault."""
        if self.db_pool_min > self.db_pool_max:
            raise SettingsError("DB_POOL_MIN", "must not exceed DB_POOL_MAX")
        if self.calendar_open >= self.calendar_close:
            raise SettingsError("CALENDAR_OPEN", "must be earlier than CALENDAR_CLOSE")
        if self.delivery_lease_seconds <= max(self.webhook_timeout, self.smtp_timeout):
            raise SettingsError("DELIVERY_LEASE_SECONDS", "must exceed WEBHOOK_TIMEOUT and SMTP_TIMEOUT")
        if self.is_production and DEVELOPMENT_KEY_ID in self.webhook_secret_keys.ids:
            raise SettingsError(
                "WEBHOOK_SECRET_KEYS",
                "required in production (the built-in development key is public and refused there)",
            )


def _url(schemes: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        parts = urlsplit(raw)
        if parts.scheme not in schemes:
            raise ValueError(
                f"expected a URL with scheme {' or '.join(schemes)}, got {raw.split(':', maxsplit=1)[0]!r}"
            )
        if not parts.hostname and not parts.path:
            raise ValueError("the URL names no host")
        return raw

    return parse


def _int(low: int, high: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"expected a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"expected a number from {low} to {high}, got {value}")
        return value

    return parse


def _float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"expected a number, got {raw!r}") from None
    if value < 0:
        raise ValueError("expected a number of at least 0")
    return value


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {raw!r}")


def _time(raw: str) -> time:
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"expected a time of day such as 09:00, got {raw!r}") from None


def _zone(raw: str) -> str:
    from api.kit.validate import is_zone

    if not is_zone(raw):
        raise ValueError(f"unknown IANA time zone {raw!r}")
    return raw


def _country(raw: str) -> str:
    import holidays

    code = raw.strip().upper()
    if code not in holidays.list_supported_countries():
        raise ValueError(f"no public holidays are known for country {raw!r}")
    return code


def _choice(*options: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(f"expected one of {', '.join(options)}, got {raw!r}")
        return raw

    return parse


def _list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _emails(raw: str) -> tuple[str, ...]:
    items = _list(raw)
    for item in items:
        if "@" not in item:
            raise ValueError(f"{item!r} is not an email address")
    return items


def _origins(raw: str) -> tuple[str, ...]:
    items = _list(raw)
    for item in items:
        if item != "*" and urlsplit(item).scheme not in {"http", "https"}:
            raise ValueError(f"{item!r} is not an origin such as https://example.com")
    return items


def _networks(raw: str) -> tuple[str, ...]:
    items = _list(raw)
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"{item!r} is not an IP address or network such as 10.0.0.0/8") from None
    return items


def _token(raw: str) -> str:
    if len(raw) < 16 or any(ch.isspace() for ch in raw):
        raise ValueError("expected at least 16 characters without spaces (the value is not shown)")
    return raw


def _rate_bands(raw: str) -> tuple[tuple[str, int, int], ...]:
    """``EUR:35-55,PLN:150-250``: a band per currency, whole units per hour, low not above high."""
    from api.kit.money import is_currency

    bands: list[tuple[str, int, int]] = []
    for item in _list(raw):
        code, colon, span = item.partition(":")
        code = code.strip().upper()
        low_text, dash, high_text = span.partition("-")
        if not colon or not dash or not low_text.strip().isdigit() or not high_text.strip().isdigit():
            raise ValueError(f"expected items such as EUR:35-55, got {item!r}")
        if not is_currency(code):
            raise ValueError(f"{code!r} is not an ISO 4217 currency in current use")
        low, high = int(low_text), int(high_text)
        if low > high or high > 1_000_000:
            raise ValueError(f"the band of {code} must run from low to high (at most 1000000), got {span!r}")
        if any(existing == code for existing, _, _ in bands):
            raise ValueError(f"{code} is given twice")
        bands.append((code, low, high))
    if not bands:
        raise ValueError("expected at least one band such as EUR:35-55")
    return tuple(bands)


def _host(raw: str) -> str:
    if not raw or any(ch.isspace() for ch in raw) or "/" in raw:
        raise ValueError(f"expected a host name or address, got {raw!r}")
    return raw


_VARIABLES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "environment": ("SCOPEKEEPER_ENV", _choice("development", "test", "production")),
    "database_url": ("DATABASE_URL", _url(("postgresql", "postgres"))),
    "redis_url": ("REDIS_URL", _url(("redis", "rediss", "unix"))),
    "db_pool_min": ("DB_POOL_MIN", _int(0, 1000)),
    "db_pool_max": ("DB_POOL_MAX", _int(1, 1000)),
    "db_acquire_timeout": ("DB_ACQUIRE_TIMEOUT", _float),
    "db_statement_timeout_ms": ("DB_STATEMENT_TIMEOUT_MS", _int(0, 3_600_000)),
    "base_url": ("BASE_URL", _url(("http", "https"))),
    "smtp_host": ("SMTP_HOST", _host),
    "smtp_port": ("SMTP_PORT", _int(1, 65535)),
    "smtp_username": ("SMTP_USERNAME", str),
    "smtp_password": ("SMTP_PASSWORD", str),
    "smtp_tls": ("SMTP_TLS", _choice("none", "starttls", "tls")),
    "smtp_timeout": ("SMTP_TIMEOUT", _float),
    "mail_from": ("MAIL_FROM", str),
    "staff_emails": ("STAFF_EMAILS", _emails),
    "calendar_time_zone": ("CALENDAR_TIME_ZONE", _zone),
    "calendar_country": ("CALENDAR_COUNTRY", _country),
    "calendar_open": ("CALENDAR_OPEN", _time),
    "calendar_close": ("CALENDAR_CLOSE", _time),
    "rate_limit_per_minute": ("RATE_LIMIT_PER_MINUTE", _int(1, 10_000_000)),
    "inquiry_flood_per_hour": ("INQUIRY_FLOOD_PER_HOUR", _int(1, 1_000_000)),
    "intake_per_key_per_hour": ("INTAKE_PER_KEY_PER_HOUR", _int(1, 10_000_000)),
    "intake_per_address_per_hour": ("INTAKE_PER_ADDRESS_PER_HOUR", _int(1, 10_000_000)),
    "trusted_proxies": ("TRUSTED_PROXIES", _networks),
    "metrics_token": ("METRICS_TOKEN", _token),
    "metrics_allow_from": ("METRICS_ALLOW_FROM", _networks),
    "max_body_bytes": ("MAX_BODY_BYTES", _int(1024, 100 * 1024 * 1024)),
    "auth_cache_seconds": ("AUTH_CACHE_SECONDS", _float),
    "webhooks_allow_http": ("WEBHOOKS_ALLOW_HTTP", _bool),
    "webhooks_allow_private": ("WEBHOOKS_ALLOW_PRIVATE", _bool),
    "webhook_timeout": ("WEBHOOK_TIMEOUT", _float),
    "webhook_disable_after_failures": ("WEBHOOK_DISABLE_AFTER_FAILURES", _int(1, 10_000)),
    "webhook_secret_keys": ("WEBHOOK_SECRET_KEYS", secretbox.parse),
    "delivery_lease_seconds": ("DELIVERY_LEASE_SECONDS", _int(1, 86_400)),
    "rate_bands": ("RATE_BANDS", _rate_bands),
    "cors_allow_origins": ("CORS_ALLOW_ORIGINS", _origins),
    "outbox_sweep_age_seconds": ("OUTBOX_SWEEP_AGE_SECONDS", _int(0, 86_400)),
}

#: The variables and their meaning, for the README's configuration table and ``--help``.
VARIABLE_NAMES: tuple[str, ...] = tuple(name for name, _ in _VARIABLES.values())
