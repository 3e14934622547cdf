"""A criterion as one readable sentence (``sentence`` in responses, events and verifications).

- A statement criterion reads as its statement.
- A measurable one reads ``[p<percentile> ]<metric> <comparator> <threshold><unit>`` followed by its
  qualifiers in this order: ``for <share>% of requests``, ``on the <dataset> set``, ``over <window>``,
  ``for <n> consecutive minutes``; a ``monitoring`` criterion is the condition of an alert and reads
  ``alert when ...``.
- Units read ``150 ms``, ``2 s``, ``5 min``, ``24 hours`` (``1 hour``), ``30 days``, ``99.9%``;
  ``ratio`` and ``count`` add nothing (``Recall@10 > 0.40``); any other unit follows the number.
- Numbers read as written (``0.40`` stays ``0.40``); a share of requests reads as a percentage
  (``0.95`` → ``95%``).

Examples:
  ``p99 latency < 150 ms for 95% of requests``; ``Recall@10 > 0.40 on the holdout set``;
  ``alert when p95 latency > 300 ms for 5 consecutive minutes``;
  ``p100 first response time <= 24 hours over 30 days``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

from api.domain.criteria.judging import decimal_text
from api.domain.criteria.schemas import Qualifiers

_WINDOW_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day", "w": "week"}


class Renderable(Protocol):
    """What a sentence is made of: a request body, a stored definition or a response all have it."""

    @property
    def kind(self) -> str: ...
    @property
    def metric(self) -> str | None: ...
    @property
    def comparator(self) -> str | None: ...
    @property
    def threshold(self) -> str | None: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def qualifiers(self) -> Qualifiers | None: ...
    @property
    def statement(self) -> str | None: ...


def _plural(count: str, singular: str, plural: str) -> str:
    return singular if count == "1" else plural


def quantity(value: str, unit: str | None) -> str:
    """A threshold with its unit as people write it."""
    match unit:
        case None | "ratio" | "count":
            return value
        case "percent":
            return f"{value}%"
        case "hours":
            return f"{value} {_plural(value, 'hour', 'hours')}"
        case "days":
            return f"{value} {_plural(value, 'day', 'days')}"
        case _:
            return f"{value} {unit}"


def share_as_percent(share: str) -> str:
    """``0.95`` → ``95``; ``0.999`` → ``99.9``."""
    return decimal_text((Decimal(share) * 100).normalize())


def window_phrase(window: str) -> str:
    """``5m`` → ``5 minutes``; ``1h`` → ``1 hour``."""
    count, letter = window[:-1], window[-1]
    word = _WINDOW_UNITS[letter]
    return f"{count} {word if count == '1' else word + 's'}"


def _dataset_phrase(dataset: str) -> str:
    name = dataset.strip()
    return f"on the {name}" if name.lower().endswith("set") else f"on the {name} set"


def render_sentence(criterion: Renderable) -> str:
    """The criterion as one sentence (rules in the module docstring)."""
    if criterion.metric is None or criterion.comparator is None or criterion.threshold is None:
        return (criterion.statement or "").strip()
    q = criterion.qualifiers or Qualifiers()
    metric = criterion.metric.strip()
    if q.percentile is not None:
        metric = f"p{q.percentile} {metric}"
    parts = [metric, criterion.comparator, quantity(criterion.threshold, criterion.unit)]
    if q.share_of_requests is not None:
        parts.append(f"for {share_as_percent(q.share_of_requests)}% of requests")
    if q.dataset is not None:
        parts.append(_dataset_phrase(q.dataset))
    if q.window is not None:
        parts.append(f"over {window_phrase(q.window)}")
    if q.consecutive_minutes is not None:
        parts.append(
            f"for {q.consecutive_minutes} consecutive {_plural(str(q.consecutive_minutes), 'minute', 'minutes')}"
        )
    sentence = " ".join(parts)
    return f"alert when {sentence}" if criterion.kind == "monitoring" else sentence
