"""Hostile input found by schemathesis, kept as regressions: each is a 422 problem with a pointer,
never a 500."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.domain import project_helpers
from tests.test_tenant_matrix import FACTORIES

#: URLs the standard library refuses to split (it raises instead of answering).
UNSPLITTABLE = ["http://[::1", "http://exa\uff03mple.com/"]


@pytest.mark.parametrize("url", UNSPLITTABLE)
async def test_unsplittable_urls_of_a_project_are_422(
    client: httpx.AsyncClient, staff: dict[str, str], url: str
) -> None:
    project_id = uuid.uuid4()
    handover = {**project_helpers.HANDOVER, "monitoring_url": url}
    response = await client.post(f"/v1/projects/{project_id}/handover", json=handover, headers=staff)
    assert response.status_code == 422, response.text
    assert [e["pointer"] for e in response.json()["errors"]] == ["/monitoring_url"]
    architecture = {**project_helpers.ARCHITECTURE, "document_url": url}
    response = await client.post(f"/v1/projects/{project_id}/architecture", json=architecture, headers=staff)
    assert response.status_code == 422, response.text
    assert [e["pointer"] for e in response.json()["errors"]] == ["/document_url"]


@pytest.mark.parametrize("url", UNSPLITTABLE)
async def test_unsplittable_evidence_url_is_422(
    client: httpx.AsyncClient, staff: dict[str, str], url: str
) -> None:
    org = (await client.post("/v1/clients", json={"name": "Hostile"}, headers=staff)).json()
    criterion_id = await FACTORIES["criterion_id"](client, staff, org)
    response = await client.post(
        f"/v1/criteria/{criterion_id}/verifications",
        json={"passed": True, "evidence_url": url},
        headers=staff,
    )
    assert response.status_code == 422, response.text
    assert [e["pointer"] for e in response.json()["errors"]] == ["/evidence_url"]
