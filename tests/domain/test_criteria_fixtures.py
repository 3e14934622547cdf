"""Helpers and example criteria of the acceptance criteria tests (this module holds no tests).

The examples are the recommendation feature of a typical engagement.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import asyncpg
import httpx

LATENCY: dict[str, Any] = {
    "kind": "performance",
    "title": "Recommendation latency",
    "metric": "latency",
    "comparator": "<",
    "threshold": "150",
    "unit": "ms",
    "qualifiers": {"percentile": 99, "share_of_requests": "0.95"},
}
RECALL: dict[str, Any] = {
    "kind": "quality",
    "title": "Recommendation quality",
    "metric": "Recall@10",
    "comparator": ">",
    "threshold": "0.40",
    "unit": "ratio",
    "qualifiers": {"dataset": "holdout"},
}
FALLBACK: dict[str, Any] = {
    "kind": "fallback",
    "title": "Low-confidence fallback",
    "statement": "When fewer than 3 recommendations have confidence 0.5, return the top-3 popular items "
    "of the category",
}
ALERTING: dict[str, Any] = {
    "kind": "monitoring",
    "title": "Latency alert",
    "metric": "latency",
    "comparator": ">",
    "threshold": "300",
    "unit": "ms",
    "qualifiers": {"percentile": 95, "consecutive_minutes": 5},
}
SUPPORT: dict[str, Any] = {
    "kind": "support",
    "title": "Questions answered within 24 hours",
    "metric": "first response time",
    "comparator": "<=",
    "threshold": "24",
    "unit": "hours",
    "qualifiers": {"percentile": 100, "window": "30d"},
}

SENTENCES = {
    "Recommendation latency": "p99 latency < 150 ms for 95% of requests",
    "Recommendation quality": "Recall@10 > 0.40 on the holdout set",
    "Low-confidence fallback": FALLBACK["statement"],
    "Latency alert": "alert when p95 latency > 300 ms for 5 consecutive minutes",
    "Questions answered within 24 hours": "p100 first response time <= 24 hours over 30 days",
}


def problem(response: httpx.Response, status: int, rule: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    if rule is not None:
        assert body.get("rule") == rule, body
    return body


def pointers(body: dict[str, Any]) -> list[str]:
    return [e["pointer"] for e in body.get("errors") or []]


async def add(
    http: httpx.AsyncClient, staff: dict[str, str], project_id: str, body: dict[str, Any]
) -> dict[str, Any]:
    response = await http.post(f"/v1/projects/{project_id}/criteria", json=body, headers=staff)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def verify(
    http: httpx.AsyncClient, headers: dict[str, str], criterion_id: str, body: dict[str, Any]
) -> httpx.Response:
    return await http.post(f"/v1/criteria/{criterion_id}/verifications", json=body, headers=headers)


async def read(http: httpx.AsyncClient, headers: dict[str, str], criterion_id: str) -> dict[str, Any]:
    response = await http.get(f"/v1/criteria/{criterion_id}", headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


async def events(db: asyncpg.Connection, criterion_id: str) -> list[dict[str, Any]]:
    """The criterion's domain events, oldest first: type, client_id, project_id, data."""
    rows = await db.fetch(
        "SELECT type, client_id, project_id, data FROM domain_events"
        " WHERE subject_type = 'criterion' AND subject_id = $1 ORDER BY seq",
        UUID(criterion_id),
    )
    return [
        {
            "type": r["type"],
            "client_id": str(r["client_id"]),
            "project_id": str(r["project_id"]),
            "data": json.loads(r["data"]),
        }
        for r in rows
    ]
