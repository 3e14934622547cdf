"""Secrets: API keys and webhook secrets never reach the logs, the responses after creation, or the
database in clear.

A full scenario runs with every logger at DEBUG (the app, asyncpg, httpx, arq): keys are created, a
webhook endpoint subscribed, inquiries posted with an intake key, a wrong key tried, and the worker
delivers the events (mail and a signed webhook to a real local receiver). Then the captured output
(stdout, stderr and log records) must hold none of the key secrets, the webhook secret or any
``Authorization`` value; API keys are stored only as hashes; the webhook secret is stored only sealed
(neither it nor its base64 body is in the endpoint's row) and is never readable through a GET.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import httpx
import pytest

from api.kit.observability import redact
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain import inquiry_support
from tests.notify_support import Receiver, SmtpSink


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpSink) -> dict[str, str]:
    return {**env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port), "WEBHOOK_TIMEOUT": "2"}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


async def test_no_secret_reaches_logs_or_reads(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    make_key: KeyMaker,
    run_worker: Callable[[], Awaitable[int]],
    receiver: Receiver,
    db: asyncpg.Connection,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    staff_secret = staff["Authorization"].removeprefix("Bearer ")
    org = await create_client_org(client, staff, "Secretive")
    created_key = await client.post(
        "/v1/api-keys", json={"role": "client", "name": "portal", "client_id": org["id"]}, headers=staff
    )
    assert created_key.status_code == 201, created_key.text
    client_secret = created_key.json()["key"]
    intake_secret = await make_key("intake")
    endpoint = await client.post(
        "/v1/webhook-endpoints", json={"url": receiver.url, "event_types": "*"}, headers=staff
    )
    assert endpoint.status_code == 201, endpoint.text
    webhook_secret = endpoint.json()["secret"]

    for n in range(3):
        await inquiry_support.post(client, bearer(intake_secret), email=f"lead{n}@example.com")
    assert (await client.get(f"/v1/clients/{org['id']}", headers=bearer(client_secret))).status_code == 200
    wrong = client_secret[:-4] + "AAAA"
    assert (await client.get("/v1/clients", headers=bearer(wrong))).status_code == 401
    assert (await client.get("/v1/_probe/boom", headers=staff)).status_code == 500
    assert await run_worker() > 0
    assert receiver.requests, "the webhook was not delivered"
    assert all("webhook-signature" in r.headers for r in receiver.requests)

    # Never readable again through the API.
    endpoint_id = endpoint.json()["id"]
    reads = [
        await client.get("/v1/webhook-endpoints", headers=staff),
        await client.get(f"/v1/webhook-endpoints/{endpoint_id}", headers=staff),
        await client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=staff),
        await client.get("/v1/api-keys", headers=staff),
        await client.get("/v1/events", headers=staff),
    ]
    secrets = [staff_secret, client_secret, intake_secret, webhook_secret, wrong]
    for reply in reads:
        assert reply.status_code == 200, reply.text
        for secret in secrets:
            assert secret not in reply.text

    # The webhook secret is stored sealed only: no column of its row holds it or its body.
    endpoint_row = await db.fetchrow("SELECT * FROM webhook_endpoints WHERE id = $1::uuid", endpoint_id)
    assert endpoint_row is not None
    stored_endpoint = repr(dict(endpoint_row)).encode() + bytes(endpoint_row["secret_sealed"])
    webhook_body = webhook_secret.removeprefix("whsec_")
    for trace in (webhook_secret, webhook_body):
        assert trace.encode() not in stored_endpoint

    # API keys are stored as hashes only.
    stored = " ".join(str(dict(r)) for r in await db.fetch("SELECT * FROM api_keys"))
    for secret in (staff_secret, client_secret, intake_secret):
        assert secret not in stored
        assert secret.split("_")[2] not in stored

    out, err = capfd.readouterr()
    logged = "\n".join([out, err, caplog.text, *(str(r.args) for r in caplog.records)])
    assert "request" in logged, "nothing was captured: the scan would prove nothing"
    for secret in secrets:
        assert secret not in logged
        assert secret.split("_", 2)[-1] not in logged
    assert "Bearer sk_" not in logged


def test_redaction_masks_keys_secrets_and_bearer_values() -> None:
    text = redact("Authorization: Bearer sk_0123abcd_SECRETPART and whsec_c2VjcmV0+/= and Bearer opaque")
    assert "SECRETPART" not in text
    assert "c2VjcmV0" not in text
    assert "opaque" not in text
    assert text.startswith("Authorization: Bearer [redacted]")
    assert redact("key sk_0123abcd_SECRETPART") == "key sk_0123abcd_[redacted]"


async def _everything_stored(db: asyncpg.Connection, redis_url: str) -> bytes:
    """Every row of every table of the database as text (bytea as hex), and every value in Redis."""
    from redis.asyncio import Redis

    tables = [
        r["tablename"] for r in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ]
    dump = [
        (await db.fetchval(f"SELECT coalesce(string_agg(t::text, chr(10)), '') FROM \"{name}\" t"))
        for name in tables
    ]
    redis = Redis.from_url(redis_url)
    try:
        async for key in redis.scan_iter():
            kind = (await redis.type(key)).decode()
            if kind == "string":
                dump.append(repr(await redis.get(key)))
            elif kind == "zset":
                dump.append(repr(await redis.zrange(key, 0, -1)))
            elif kind == "hash":
                dump.append(repr(await redis.hgetall(key)))
            elif kind == "list":
                dump.append(repr(await redis.lrange(key, 0, -1)))
    finally:
        await redis.aclose()
    return "\n".join(dump).encode()


async def test_no_secret_is_stored_in_clear_by_an_idempotent_create(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    receiver: Receiver,
    db: asyncpg.Connection,
    redis_url: str,
) -> None:
    """The probe's finding: ``POST /v1/api-keys`` and ``POST /v1/webhook-endpoints`` with an
    ``Idempotency-Key`` kept the whole response, the new key or the signing secret with it, in clear in
    ``idempotency_records.body`` for 24 hours. The replay must still give back what the first call did."""
    import base64

    key_headers = {**staff, "Idempotency-Key": "new-key-1"}
    key_body = {"role": "intake", "name": "website form"}
    created = await client.post("/v1/api-keys", json=key_body, headers=key_headers)
    assert created.status_code == 201, created.text
    endpoint_headers = {**staff, "Idempotency-Key": "new-endpoint-1"}
    endpoint_body = {"url": receiver.url, "event_types": ["*"]}
    endpoint = await client.post("/v1/webhook-endpoints", json=endpoint_body, headers=endpoint_headers)
    assert endpoint.status_code == 201, endpoint.text
    key_secret, webhook_secret = created.json()["key"], endpoint.json()["secret"]

    for path, body, headers, first in (
        ("/v1/api-keys", key_body, key_headers, created),
        ("/v1/webhook-endpoints", endpoint_body, endpoint_headers, endpoint),
    ):
        replay = await client.post(path, json=body, headers=headers)
        assert replay.headers["idempotent-replayed"] == "true"
        assert replay.status_code == 201
        assert replay.content == first.content

    stored = await _everything_stored(db, redis_url)
    assert await db.fetchval("SELECT count(*) FROM idempotency_records WHERE status = 201") == 2
    webhook_body = webhook_secret.removeprefix("whsec_")
    for secret in (key_secret, webhook_secret, webhook_body):
        for trace in (secret.encode(), secret.encode().hex().encode(), base64.b64encode(secret.encode())):
            assert trace not in stored, f"{secret[:12]}... is stored in clear"
    raw = base64.b64decode(webhook_body)
    assert raw.hex().encode() not in stored
