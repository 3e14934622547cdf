"""Pure quote arithmetic and the canonical quote document; no I/O.

Rules:
- **Hours** are exact decimals (a JSON number is read by msgspec straight into a ``Decimal``, never a
  float): 0 to 99999.99 per line, at most 2 decimals, kept as a string with exactly 2 decimals.
- **Shares** of the payment schedule are fractions of the total as decimal strings (``"0.30"`` is 30%),
  each more than 0; together they make exactly 1.
- **Blended hourly rate** = total ÷ total hours (every line's hours, the free discovery and support lines
  included), in minor units per hour rounded half-even; none when the quote has no hours.
- **In band** when ``low <= rate <= high``, the band given in whole units of the quote's currency per hour
  (``RATE_BANDS``, one band per currency); none when there is no rate or no band for the currency. It
  informs and never blocks.
- **Canonical document**: the revision as the client sees it, encoded as UTF-8 JSON with sorted keys and
  no whitespace; money as ``{"amount": "<decimal string>", "currency": ...}``, hours, shares and
  dates as strings, ``sent_at`` in RFC 3339 UTC (``Z``). It carries the ids (quote, project, client),
  the revision number, currency, lines, assumptions, exclusions, payment schedule, total, total hours,
  ``valid_until``, ``delivery_date`` and ``sent_at``: everything that is fixed once the revision is sent,
  and nothing that can change afterwards (no status, no project name). Its SHA-256 is
  ``document_sha256``; recomputing it at any later time verifies acceptance evidence.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from typing import Any

import msgspec

from api.domain.quotes.schemas import Revision
from api.errors import invalid
from api.kit.money import minor_digits, to_wire

MAX_HOURS = Decimal("99999.99")
_CENT = Decimal("0.01")
_ONE = Decimal(1)


def hours(value: Decimal, pointer: str) -> str:
    """Validate one line's hours and return them as a string with exactly 2 decimals (422 otherwise)."""
    if not value.is_finite():
        raise invalid(pointer, "hours must be a finite number")
    if value < 0:
        raise invalid(pointer, "hours must not be negative")
    if value > MAX_HOURS:
        raise invalid(pointer, f"at most {MAX_HOURS} hours per line")
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -2 and value != value.quantize(_CENT):
        raise invalid(pointer, "hours take at most 2 decimals")
    return str(value.quantize(_CENT))


def share(value: str, pointer: str) -> Decimal:
    """One share of the payment schedule, more than 0 and at most 1."""
    try:
        parsed = Decimal(value)
    except ArithmeticError:
        raise invalid(pointer, f"{value!r} is not a decimal fraction such as 0.30") from None
    if not parsed.is_finite() or parsed <= 0 or parsed > _ONE:
        raise invalid(pointer, "a share must be more than 0 and at most 1")
    return parsed


def schedule_total(shares: Iterable[Decimal]) -> Decimal:
    return sum(shares, Decimal(0))


def total_hours(values: Iterable[str]) -> Decimal:
    return sum((Decimal(v) for v in values), Decimal("0.00")).quantize(_CENT)


def blended_rate_minor(total_minor: int, hours_total: Decimal) -> int | None:
    """Minor units per hour, half-even; None without hours."""
    if hours_total <= 0:
        return None
    with localcontext() as ctx:
        ctx.prec = 60
        return int((Decimal(total_minor) / hours_total).quantize(_ONE, rounding=ROUND_HALF_EVEN))


def within_band(rate_minor: int | None, currency: str, low: int, high: int) -> bool | None:
    """Whether the rate lies in ``[low, high]`` whole units per hour; None without a rate."""
    if rate_minor is None:
        return None
    scale: int = 10 ** minor_digits(currency)
    return bool(low * scale <= rate_minor <= high * scale)


def rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _money(minor: int, currency: str) -> dict[str, str]:
    wire = to_wire(minor, currency)
    return {"amount": wire.amount, "currency": wire.currency}


def document(revision: Revision) -> dict[str, Any]:
    """The canonical document of a revision as plain JSON values (see the module rules)."""
    currency = revision.currency
    return {
        "quote_id": str(revision.id),
        "project_id": str(revision.project_id),
        "client_id": str(revision.client_id),
        "revision": revision.revision,
        "currency": currency,
        "lines": [
            {
                "description": line.description,
                "phase": line.phase,
                "hours": line.hours,
                "amount": _money(line.amount_minor, currency),
            }
            for line in revision.lines
        ],
        "assumptions": list(revision.assumptions),
        "exclusions": list(revision.exclusions),
        "payment_schedule": [{"name": i.name, "share": i.share} for i in revision.payment_schedule],
        "total": _money(revision.total_minor, currency),
        "total_hours": str(revision.total_hours.quantize(_CENT)),
        "valid_until": revision.valid_until.isoformat() if revision.valid_until else None,
        "delivery_date": revision.delivery_date.isoformat() if revision.delivery_date else None,
        "sent_at": rfc3339(revision.sent_at) if revision.sent_at else None,
    }


def canonical_document(revision: Revision) -> bytes:
    """The revision as the client saw it: UTF-8 JSON, keys sorted, no whitespace."""
    return msgspec.json.encode(document(revision), order="sorted")


def document_sha256(revision: Revision) -> str:
    return hashlib.sha256(canonical_document(revision)).hexdigest()
