"""Helpers of the project tests: create projects and walk them through their phases."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
from litestar import Litestar

from api.db import unit_of_work
from api.domain.projects import service
from api.kit.clock import FrozenClock

ARCHITECTURE = {
    "document_url": "https://docs.example.com/acme/architecture",
    "summary": {
        "data_flow": "Events from the shop land in a feature store every 5 minutes.",
        "serving_approach": "A two-tower model behind a FastAPI service, 3 replicas.",
        "api_design": "GET /recommendations?user_id=&k= returns ranked item ids.",
        "monitoring_plan": "p95 latency and Recall@10 dashboards with alerts.",
    },
}

HANDOVER = {
    "source_repository_url": "https://git.example.com/acme/recommender",
    "deployment_scripts_url": "https://git.example.com/acme/recommender/tree/main/deploy",
    "monitoring_url": "https://grafana.example.com/d/recommender",
    "runbook_url": "https://docs.example.com/acme/runbook",
}


async def new_project(
    http: httpx.AsyncClient, staff: dict[str, str], client_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"client_id": client_id, "name": "Recommender", "currency": "EUR", **fields}
    response = await http.post("/v1/projects", json=body, headers=staff)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def start_discovery(
    app: Litestar, clock: FrozenClock, project_id: str | UUID, at: datetime | None = None
) -> dict[str, Any]:
    """What accepting a quote does: the service call, in its own committed unit of work."""
    async with unit_of_work(app.state.pool, transactional=True, acquire_timeout=5) as uow:
        project = await service.start_discovery(
            uow, project_id=UUID(str(project_id)), at=at or clock.now(), actor=None, now=clock.now()
        )
    await app.state.jobs.send(uow.jobs)
    result: dict[str, Any] = {"id": str(project.id), "phase": project.phase, "version": project.version}
    return result


async def post(
    http: httpx.AsyncClient, project_id: str, action: str, headers: dict[str, str], body: Any = None
) -> httpx.Response:
    return await http.post(
        f"/v1/projects/{project_id}/{action}", json=body if body is not None else {}, headers=headers
    )


NO_CRITERIA_REASON = "The client judges the launch on its own dashboards"


async def has_criteria(http: httpx.AsyncClient, staff: dict[str, str], project_id: str) -> bool:
    """Whether the project has acceptance criteria that are not removed."""
    response = await http.get(f"/v1/projects/{project_id}/criteria", headers=staff)
    assert response.status_code == 200, response.text
    return any(c["state"] != "removed" for c in response.json()["items"])


async def walk(
    http: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    client_key: dict[str, str],
    project_id: str,
    to: str,
) -> dict[str, Any]:
    """Move a project in ``proposal`` forward until it reaches phase ``to``; returns the last response.

    A project without acceptance criteria launches with the staff's explicit waiver."""
    steps: list[tuple[str, str, dict[str, str], Any]] = [
        ("discovery", "", {}, None),
        ("architecture_review", "architecture", staff, ARCHITECTURE),
        ("delivery", "architecture/approve", client_key, None),
        ("acceptance", "handover", staff, HANDOVER),
        ("support", "launch", staff, None),
    ]
    body: dict[str, Any] = {}
    for phase, action, headers, payload in steps:
        if phase == "discovery":
            await start_discovery(app, clock, project_id)
            body = (await http.get(f"/v1/projects/{project_id}", headers=staff)).json()
        else:
            sent = payload
            if action == "launch" and not await has_criteria(http, staff, project_id):
                sent = {"without_criteria_reason": NO_CRITERIA_REASON}
            response = await post(http, project_id, action, headers, sent)
            assert response.status_code == 200, response.text
            body = response.json()
        assert body["phase"] == phase
        if phase == to:
            return body
    raise AssertionError(f"no phase {to} on the way")
