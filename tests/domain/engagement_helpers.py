"""Helpers of the engagement tests: drive a project, its change requests and its support through the API."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
from litestar import Litestar

from api.domain.timers.firing import fire_due
from api.kit.clock import FrozenClock
from api.kit.jobs import create_redis
from tests.conftest import START
from tests.domain.project_helpers import ARCHITECTURE, HANDOVER, new_project, post
from tests.domain.quote_helpers import accepted, eur

# START is Tuesday 2026-11-24 09:30 UTC (10:30 in Warsaw): the quote is accepted then. The delivery date
# is Wednesday 2026-12-23, the day before the PL holidays of 24, 25 and 26 December.
DELIVERY = "2026-12-23"
QUOTE = {"valid_until": "2026-12-01", "delivery_date": DELIVERY}
SIGNED_AT = START + timedelta(minutes=30)  # the architecture sign-off: 11:00 in Warsaw
WED_10 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wednesday 10:00 in Warsaw
CSV = {"title": "CSV export", "description": "A weekly CSV export of the recommendations."}
LATENCY = {
    "kind": "performance",
    "title": "Recommendation latency",
    "metric": "latency",
    "comparator": "<",
    "threshold": "150",
    "unit": "ms",
}


def z(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def body(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


def error_pointers(problem: dict[str, Any]) -> list[str]:
    """The JSON pointers of a problem's ``errors``."""
    return [e["pointer"] for e in problem.get("errors") or []]


async def in_discovery(
    http: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], client_id: str, **fields: Any
) -> dict[str, Any]:
    """A project whose quote (20,000.00 EUR, delivery 2026-12-23) the client accepted at the clock's now."""
    project = await new_project(http, staff, client_id, **fields)
    await accepted(http, staff, client_key, project["id"], **QUOTE)
    return project


async def in_delivery(
    http: httpx.AsyncClient,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    client_id: str,
    **fields: Any,
) -> dict[str, Any]:
    """A project in delivery, signed off at SIGNED_AT; the clock then reads WED_10."""
    project = await in_discovery(http, staff, client_key, client_id, **fields)
    body(await post(http, project["id"], "architecture", staff, ARCHITECTURE))
    clock.set(SIGNED_AT)
    body(await post(http, project["id"], "architecture/approve", client_key))
    clock.set(WED_10)
    return project


async def handed_over(http: httpx.AsyncClient, staff: dict[str, str], project_id: str) -> dict[str, Any]:
    return body(await post(http, project_id, "handover", staff, HANDOVER))


def assessment(price: str = "1200.00", days: int = 3, **fields: Any) -> dict[str, Any]:
    return {
        "price_impact": eur(price),
        "timeline_impact_days": days,
        "risk": "medium",
        "notes": "One more batch job.",
        **fields,
    }


async def submit(
    http: httpx.AsyncClient, headers: dict[str, str], project_id: str, **fields: Any
) -> dict[str, Any]:
    response = await http.post(
        f"/v1/projects/{project_id}/change-requests", json={**CSV, **fields}, headers=headers
    )
    return body(response, 201)


async def assessed(
    http: httpx.AsyncClient, staff: dict[str, str], cr_id: str, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    response = await http.post(
        f"/v1/change-requests/{cr_id}/assessment", json=data or assessment(), headers=staff
    )
    return body(response, 201)


async def act(
    http: httpx.AsyncClient,
    cr_id: str,
    action: str,
    headers: dict[str, str],
    data: dict[str, Any] | None = None,
) -> httpx.Response:
    return await http.post(f"/v1/change-requests/{cr_id}/{action}", json=data or {}, headers=headers)


async def approved(
    http: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project_id: str, **fields: Any
) -> dict[str, Any]:
    """A change request submitted by staff, assessed (1,200.00 EUR, 3 days) and approved by the client."""
    cr = await submit(http, staff, project_id, **fields)
    await assessed(http, staff, cr["id"])
    return body(await act(http, cr["id"], "approve", client_key, {"assessment_revision": 1}))


async def read(http: httpx.AsyncClient, headers: dict[str, str], path: str) -> dict[str, Any]:
    return body(await http.get(path, headers=headers))


async def open_timers(db: asyncpg.Connection, project_id: str) -> list[tuple[str, str]]:
    """(kind, state) of the project's SLA timers neither met nor cancelled."""
    rows = await db.fetch(
        """
        SELECT kind, state FROM sla_timers
        WHERE project_id = $1 AND met_at IS NULL AND cancelled_at IS NULL ORDER BY started_at, kind
        """,
        project_id,
    )
    return [(r["kind"], r["state"]) for r in rows]


async def timer_of(db: asyncpg.Connection, subject_id: str, kind: str) -> dict[str, Any]:
    """The subject's latest timer of ``kind`` as stored."""
    row = await db.fetchrow(
        "SELECT * FROM sla_timers WHERE subject_id = $1 AND kind = $2 ORDER BY started_at DESC LIMIT 1",
        subject_id,
        kind,
    )
    assert row is not None
    return dict(row)


async def last_event(db: asyncpg.Connection, event_type: str, subject_id: str) -> dict[str, Any]:
    row = await db.fetchrow(
        "SELECT data, actor_role FROM domain_events WHERE type = $1 AND subject_id = $2 ORDER BY seq DESC LIMIT 1",
        event_type,
        subject_id,
    )
    assert row is not None, f"no {event_type} event for {subject_id}"
    data: dict[str, Any] = json.loads(row["data"])
    return data


async def sweep(app: Litestar, clock: FrozenClock, redis_url: str) -> tuple[int, int]:
    """Run the timer sweep at the clock's now: (warnings, breaches) fired."""
    redis = create_redis(redis_url)
    try:
        return await fire_due(app.state.pool, clock, redis=redis)
    finally:
        await redis.aclose()
        await redis.connection_pool.disconnect()
