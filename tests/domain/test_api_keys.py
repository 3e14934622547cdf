from __future__ import annotations

import asyncio
import hashlib
import os
import sys

import asyncpg
import httpx

from api.devenv import ROOT
from tests.conftest import KeyMaker, bearer, create_client_org


async def test_key_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection
) -> None:
    response = await client.post(
        "/v1/api-keys", json={"role": "intake", "name": "website form"}, headers=staff
    )
    assert response.status_code == 201
    created = response.json()
    secret = created["key"]
    assert secret.startswith(f"sk_{created['prefix']}_")
    row = await db.fetchrow("SELECT prefix, secret_hash FROM api_keys WHERE id = $1", created["id"])
    assert row is not None
    assert bytes(row["secret_hash"]) == hashlib.sha256(secret.encode()).digest()
    dump = await db.fetchval("SELECT string_agg(t::text, ' ') FROM api_keys t")
    assert secret not in dump
    listed = (await client.get("/v1/api-keys", headers=staff)).json()["items"]
    assert created["id"] in [k["id"] for k in listed]
    assert all("key" not in k for k in listed)
    assert (
        await client.get("/v1/clients", headers=bearer(secret))
    ).status_code == 403  # intake: not a staff route


async def test_client_key_needs_an_existing_organisation(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    missing = await client.post("/v1/api-keys", json={"role": "client", "name": "c"}, headers=staff)
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["pointer"] == "/client_id"
    unknown = await client.post(
        "/v1/api-keys",
        json={"role": "client", "name": "c", "client_id": "00000000-0000-0000-0000-000000000000"},
        headers=staff,
    )
    assert unknown.status_code == 422
    org = await create_client_org(client, staff)
    stray = await client.post(
        "/v1/api-keys", json={"role": "staff", "name": "s", "client_id": org["id"]}, headers=staff
    )
    assert stray.status_code == 422
    ok = await client.post(
        "/v1/api-keys", json={"role": "client", "name": "c", "client_id": org["id"]}, headers=staff
    )
    assert ok.status_code == 201
    assert ok.json()["client_id"] == org["id"]


async def test_revoked_key_stops_working(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    created = (
        await client.post("/v1/api-keys", json={"role": "staff", "name": "temp"}, headers=staff)
    ).json()
    temp = bearer(created["key"])
    assert (await client.get("/v1/clients", headers=temp)).status_code == 200
    assert (await client.delete(f"/v1/api-keys/{created['id']}", headers=staff)).status_code == 204
    assert (await client.get("/v1/clients", headers=temp)).status_code == 401
    assert (await client.delete(f"/v1/api-keys/{created['id']}", headers=staff)).status_code == 204
    listed = (await client.get("/v1/api-keys", params={"include_revoked": "true"}, headers=staff)).json()[
        "items"
    ]
    assert [k["revoked_at"] is not None for k in listed if k["id"] == created["id"]] == [True]


async def test_last_staff_key_cannot_be_revoked(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    own = (await client.get("/v1/api-keys", headers=staff)).json()["items"]
    assert len(own) == 1
    response = await client.delete(f"/v1/api-keys/{own[0]['id']}", headers=staff)
    assert response.status_code == 409
    assert response.json()["rule"] == "keep-one-staff-key"
    assert (await client.get("/v1/clients", headers=staff)).status_code == 200


async def test_only_staff_manage_keys(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker
) -> None:
    org = await create_client_org(client, staff)
    client_key = bearer(await make_key("client", org["id"]))
    assert (
        await client.post("/v1/api-keys", json={"role": "staff", "name": "x"}, headers=client_key)
    ).status_code == 403
    assert (await client.get("/v1/api-keys", headers=client_key)).status_code == 403


async def test_unknown_key_id_is_404(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    response = await client.delete("/v1/api-keys/00000000-0000-0000-0000-000000000000", headers=staff)
    assert response.status_code == 404


async def test_create_key_command_prints_a_working_key(database_url: str, db: asyncpg.Connection) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api",
        "create-key",
        "--role",
        "staff",
        "--name",
        "first",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    stdout, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0
    secret = stdout.decode().strip()
    assert secret.startswith("sk_")
    digest = hashlib.sha256(secret.encode()).digest()
    assert await db.fetchval("SELECT role FROM api_keys WHERE secret_hash = $1", digest) == "staff"


async def test_two_staff_keys_revoking_each_other_at_once_leave_one(
    client: httpx.AsyncClient, staff: dict[str, str], database_url: str, db: asyncpg.Connection
) -> None:
    """The probe's finding: A revokes B while B revokes A; each request revoked, then counted the staff
    keys left (seeing the other still active), and both succeeded: no staff key was left.

    Both requests are held at their last write (the audit entry) by a lock the test takes, so each
    has done its check before either commits; only then is the lock released."""
    second = (await client.post("/v1/api-keys", json={"role": "staff", "name": "B"}, headers=staff)).json()
    b = bearer(second["key"])
    a_id = next(
        k["id"] for k in (await client.get("/v1/api-keys", headers=staff)).json()["items"] if k["name"] != "B"
    )
    holder = await asyncpg.connect(database_url)
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute("LOCK TABLE audit_entries IN EXCLUSIVE MODE")
        revocations = [
            asyncio.ensure_future(client.delete(f"/v1/api-keys/{second['id']}", headers=staff)),
            asyncio.ensure_future(client.delete(f"/v1/api-keys/{a_id}", headers=b)),
        ]
        for _ in range(500):  # until both requests wait on a lock (the table's, or the first one's rows)
            waiting = await db.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if waiting >= 2:
                break
            await asyncio.sleep(0.01)
        assert waiting >= 2
        await tx.commit()
        answers = sorted(r.status_code for r in await asyncio.gather(*revocations))
    finally:
        await holder.close()
    assert answers == [204, 409]
    assert await db.fetchval("SELECT count(*) FROM api_keys WHERE role = 'staff' AND revoked_at IS NULL") == 1
