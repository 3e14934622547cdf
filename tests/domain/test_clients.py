from __future__ import annotations

import asyncpg
import httpx

from tests.conftest import KeyMaker, bearer, create_client_org


async def test_create_and_read_client(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    created = await create_client_org(client, staff, "Acme", email_domain="ACME.com")
    assert created["email_domain"] == "acme.com"
    assert created["contacts"] == [
        {"name": "Ada Client", "email": "ada@acme.com", "locale": "en", "time_zone": None}
    ]
    response = await client.get(f"/v1/clients/{created['id']}", headers=staff)
    assert response.status_code == 200
    assert response.headers["etag"] == '"1"'
    assert response.json() == created


async def test_email_domain_is_unique(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    await create_client_org(client, staff, "One", email_domain="shared.com")
    response = await client.post(
        "/v1/clients", json={"name": "Two", "email_domain": "shared.com"}, headers=staff
    )
    assert response.status_code == 409
    assert response.json()["rule"] == "unique-email-domain"


async def test_contact_fields_are_validated(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    bad_email = {"name": "X", "contacts": [{"name": "A", "email": "not-an-address"}]}
    response = await client.post("/v1/clients", json=bad_email, headers=staff)
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/contacts/0/email"
    bad_zone = {"name": "X", "contacts": [{"name": "A", "email": "a@x.com", "time_zone": "Mars/Base"}]}
    response = await client.post("/v1/clients", json=bad_zone, headers=staff)
    assert response.json()["errors"][0]["pointer"] == "/contacts/0/time_zone"


async def test_patch_honours_if_match(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    created = await create_client_org(client, staff, "Acme")
    url = f"/v1/clients/{created['id']}"
    ok = await client.patch(url, json={"name": "Acme Ltd"}, headers={**staff, "If-Match": '"1"'})
    assert ok.status_code == 200
    assert ok.json()["version"] == 2
    assert ok.headers["etag"] == '"2"'
    stale = await client.patch(url, json={"name": "Lost update"}, headers={**staff, "If-Match": '"1"'})
    assert stale.status_code == 412
    assert (await client.get(url, headers=staff)).json()["name"] == "Acme Ltd"


async def test_patch_replaces_contacts(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    created = await create_client_org(client, staff, "Acme")
    contacts = [{"name": "Bo", "email": "bo@acme.com", "locale": "pl-PL", "time_zone": "Europe/Warsaw"}]
    response = await client.patch(f"/v1/clients/{created['id']}", json={"contacts": contacts}, headers=staff)
    assert response.json()["contacts"] == [
        {"name": "Bo", "email": "bo@acme.com", "locale": "pl_PL", "time_zone": "Europe/Warsaw"}
    ]


async def test_client_key_sees_only_its_organisation(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker
) -> None:
    mine = await create_client_org(client, staff, "Mine")
    other = await create_client_org(client, staff, "Other")
    key = bearer(await make_key("client", mine["id"]))
    assert (await client.get(f"/v1/clients/{mine['id']}", headers=key)).status_code == 200
    foreign = await client.get(f"/v1/clients/{other['id']}", headers=key)
    assert foreign.status_code == 404
    assert foreign.headers["content-type"] == "application/problem+json"
    listed = (await client.get("/v1/clients", headers=key)).json()["items"]
    assert [c["id"] for c in listed] == [mine["id"]]
    assert (await client.post("/v1/clients", json={"name": "Nope"}, headers=key)).status_code == 403
    assert (
        await client.patch(f"/v1/clients/{mine['id']}", json={"name": "x"}, headers=key)
    ).status_code == 403


async def test_list_paginates_without_gaps(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    ids = [(await create_client_org(client, staff, f"Org{i}"))["id"] for i in range(5)]
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/clients", params=params, headers=staff)).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(ids)
    assert len(seen) == 5


async def test_creating_a_client_writes_its_event(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    created = await create_client_org(client, staff, "Acme")
    rows = await db.fetch("SELECT type, client_id FROM domain_events WHERE subject_id = $1", created["id"])
    assert [(r["type"], str(r["client_id"])) for r in rows] == [("client.created", created["id"])]
