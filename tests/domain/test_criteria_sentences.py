"""Each criterion reads as one sentence: a table of definitions and the sentences they render."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from api.domain.criteria.schemas import CriterionIn
from api.domain.criteria.sentences import render_sentence
from api.domain.criteria.service import definition


def criterion(**fields: Any) -> CriterionIn:
    return msgspec.convert({"title": "A criterion", **fields}, CriterionIn)


TABLE: list[tuple[dict[str, Any], str]] = [
    (
        {
            "kind": "performance",
            "metric": "latency",
            "comparator": "<",
            "threshold": "150",
            "unit": "ms",
            "qualifiers": {"percentile": 99, "share_of_requests": "0.95"},
        },
        "p99 latency < 150 ms for 95% of requests",
    ),
    (
        {
            "kind": "quality",
            "metric": "Recall@10",
            "comparator": ">",
            "threshold": "0.40",
            "unit": "ratio",
            "qualifiers": {"dataset": "holdout"},
        },
        "Recall@10 > 0.40 on the holdout set",
    ),
    (
        {
            "kind": "monitoring",
            "metric": "latency",
            "comparator": ">",
            "threshold": "300",
            "unit": "ms",
            "qualifiers": {"percentile": 95, "consecutive_minutes": 5},
        },
        "alert when p95 latency > 300 ms for 5 consecutive minutes",
    ),
    (
        {
            "kind": "support",
            "metric": "first response time",
            "comparator": "<=",
            "threshold": "24",
            "unit": "hours",
            "qualifiers": {"percentile": 100, "window": "30d"},
        },
        "p100 first response time <= 24 hours over 30 days",
    ),
    (
        {
            "kind": "fallback",
            "statement": "When fewer than 3 recommendations have confidence 0.5, return the top-3 popular "
            "items of the category",
        },
        "When fewer than 3 recommendations have confidence 0.5, return the top-3 popular items of the "
        "category",
    ),
    (
        {"kind": "functional", "statement": "  Users can export their history as CSV  "},
        "Users can export their history as CSV",
    ),
    (
        {
            "kind": "performance",
            "metric": "availability",
            "comparator": ">=",
            "threshold": "99.9",
            "unit": "%",
            "qualifiers": {"window": "30d"},
        },
        "availability >= 99.9% over 30 days",
    ),
    (
        {"kind": "support", "metric": "resolution time", "comparator": "<=", "threshold": "1", "unit": "h"},
        "resolution time <= 1 hour",
    ),
    (
        {
            "kind": "performance",
            "metric": "cold start",
            "comparator": "<",
            "threshold": "2",
            "unit": "seconds",
        },
        "cold start < 2 s",
    ),
    (
        {
            "kind": "monitoring",
            "metric": "error rate",
            "comparator": ">",
            "threshold": "5",
            "unit": "percent",
            "qualifiers": {"window": "1h", "consecutive_minutes": 1},
        },
        "alert when error rate > 5% over 1 hour for 1 consecutive minute",
    ),
    (
        {
            "kind": "performance",
            "metric": "latency",
            "comparator": "<=",
            "threshold": "250",
            "unit": "ms",
            "qualifiers": {"percentile": "99.9", "share_of_requests": "0.999"},
        },
        "p99.9 latency <= 250 ms for 99.9% of requests",
    ),
    (
        {
            "kind": "quality",
            "metric": "NDCG@5",
            "comparator": ">=",
            "threshold": "0.3",
            "unit": "ratio",
            "qualifiers": {"dataset": "validation set", "percentile": "50"},
        },
        "p50 NDCG@5 >= 0.3 on the validation set",
    ),
    (
        {
            "kind": "performance",
            "metric": "throughput",
            "comparator": ">=",
            "threshold": "500",
            "unit": "req/s",
        },
        "throughput >= 500 req/s",
    ),
    (
        {
            "kind": "functional",
            "metric": "failed imports",
            "comparator": "==",
            "threshold": "0",
            "unit": "count",
        },
        "failed imports == 0",
    ),
    (
        {
            "kind": "performance",
            "metric": "latency",
            "comparator": "<",
            "threshold": "1",
            "unit": "days",
            "qualifiers": {"share_of_requests": "1", "window": "2w"},
        },
        "latency < 1 day for 100% of requests over 2 weeks",
    ),
    (
        {"kind": "performance", "metric": "batch time", "comparator": "<", "threshold": "90", "unit": "min"},
        "batch time < 90 min",
    ),
]


@pytest.mark.parametrize(("fields", "sentence"), TABLE, ids=[s for _, s in TABLE])
def test_sentences(fields: dict[str, Any], sentence: str) -> None:
    assert render_sentence(definition(criterion(**fields))) == sentence


def test_a_request_body_renders_as_it_is_written() -> None:
    body = criterion(kind="quality", metric="Recall@10", comparator=">", threshold="0.40", unit="ratio")
    assert render_sentence(body) == "Recall@10 > 0.40"
