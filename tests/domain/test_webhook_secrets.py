"""Webhook signing secrets at rest: sealed in the database, opened by the worker, rotated by the CLI.

The API runs with ``WEBHOOK_SECRET_KEYS=old:...``; workers and the CLI run with other rings to play a
rotation (``new`` first, ``old`` kept), the end of it (``old`` removed), and a key removed too early.
"""

from __future__ import annotations

import base64
import logging
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest
from litestar import Litestar
from standardwebhooks import Webhook

from api.devenv import ROOT
from api.kit import secretbox
from api.kit.clock import FrozenClock
from api.settings import Settings
from tests.notify_support import Receiver, SmtpSink, deliveries, emit, run_worker_once

OLD = "old:" + secretbox.encode_key(secretbox.generate_key())
NEW = "new:" + secretbox.encode_key(secretbox.generate_key())


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpSink) -> dict[str, str]:
    return {
        **env,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "WEBHOOK_TIMEOUT": "2",
        "WEBHOOK_SECRET_KEYS": OLD,
    }


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


def with_keys(env: dict[str, str], keys: str) -> Settings:
    return Settings.from_env({**env, "WEBHOOK_SECRET_KEYS": keys})


async def subscribe(client: httpx.AsyncClient, staff: dict[str, str], url: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhook-endpoints", json={"url": url, "event_types": ["quote.sent"]}, headers=staff
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def sealed_of(db: asyncpg.Connection, endpoint_id: str) -> bytes:
    value = await db.fetchval("SELECT secret_sealed FROM webhook_endpoints WHERE id = $1::uuid", endpoint_id)
    assert isinstance(value, bytes)
    return value


def reencrypt(env: dict[str, str], keys: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api", "reencrypt-webhook-secrets"],
        env={**os.environ, **env, "WEBHOOK_SECRET_KEYS": keys},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_the_stored_row_holds_neither_the_secret_nor_its_body(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection, settings: Settings
) -> None:
    endpoint = await subscribe(client, staff, "http://127.0.0.1:9/hooks")
    secret: str = endpoint["secret"]
    body = secret.removeprefix("whsec_")
    raw = base64.b64decode(body)
    row = await db.fetchrow("SELECT * FROM webhook_endpoints WHERE id = $1::uuid", endpoint["id"])
    assert row is not None
    sealed = bytes(row["secret_sealed"])
    for trace in (secret.encode(), body.encode(), raw, base64.urlsafe_b64encode(raw).rstrip(b"=")):
        assert trace not in sealed
    as_text = repr(dict(row))
    assert secret not in as_text
    assert body not in as_text
    assert "secret" not in row
    # what is stored is the secret sealed under the first key, bound to this endpoint's id
    assert secretbox.key_id_of(sealed) == "old"
    keys = settings.webhook_secret_keys
    assert secretbox.unseal(keys, sealed, row["id"].bytes) == secret


async def test_rotation_signs_throughout_and_reencryption_frees_the_old_key(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    receiver: Receiver,
    db: asyncpg.Connection,
    env: dict[str, str],
) -> None:
    endpoint = await subscribe(client, staff, receiver.url)
    verifier = Webhook(endpoint["secret"])

    # 1. the new key comes first, the old one stays: secrets sealed under the old key still sign
    await emit(app, clock, "quote.sent", {"n": 1})
    await run_worker_once(with_keys(env, f"{NEW},{OLD}"), clock)
    assert len(receiver.requests) == 1
    verifier.verify(receiver.requests[0].body, receiver.requests[0].headers)

    # 2. re-sealing moves every secret under the new key
    before = await sealed_of(db, endpoint["id"])
    done = reencrypt(env, f"{NEW},{OLD}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "re-sealed 1 webhook signing secrets under key id new"
    assert endpoint["secret"] not in done.stdout + done.stderr
    after = await sealed_of(db, endpoint["id"])
    assert after != before
    assert secretbox.key_id_of(after) == "new"

    # 3. the old key removed: still signed with the same secret
    await emit(app, clock, "quote.sent", {"n": 2})
    await run_worker_once(with_keys(env, NEW), clock)
    assert len(receiver.requests) == 2
    assert verifier.verify(receiver.requests[1].body, receiver.requests[1].headers)["data"] == {"n": 2}
    assert {r["state"] for r in await deliveries(db, "webhook")} == {"delivered"}


async def test_a_secret_no_configured_key_opens_fails_the_attempt_and_is_retried(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    receiver: Receiver,
    db: asyncpg.Connection,
    env: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    endpoint = await subscribe(client, staff, receiver.url)
    await emit(app, clock, "quote.sent", {})
    await run_worker_once(with_keys(env, NEW), clock)  # "old" removed before re-sealing
    [row] = await deliveries(db, "webhook")
    assert row["state"] == "pending"
    assert row["attempts"] == row["logged"] == 1
    assert row["last_error"] == "signing secret cannot be decrypted (key id old not configured)"
    assert row["next_attempt_at"] > clock.now()
    assert receiver.requests == []
    errors = [r for r in caplog.records if r.name == "scopekeeper.worker.notifications"]
    assert any("key id old not configured" in r.getMessage() for r in errors)
    assert endpoint["secret"] not in caplog.text
    assert endpoint["secret"].removeprefix("whsec_") not in caplog.text

    # the key put back, the retry due: delivered and signed
    clock.set(row["next_attempt_at"])
    await run_worker_once(with_keys(env, f"{NEW},{OLD}"), clock)
    [row] = await deliveries(db, "webhook")
    assert row["state"] == "delivered"
    [request] = receiver.requests
    Webhook(endpoint["secret"]).verify(request.body, request.headers)


async def test_a_sealed_secret_copied_onto_another_endpoint_does_not_decrypt(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    receiver: Receiver,
    db: asyncpg.Connection,
    settings: Settings,
) -> None:
    first = await subscribe(client, staff, receiver.url)
    second = await subscribe(client, staff, receiver.url + "?second")
    await db.execute(
        "UPDATE webhook_endpoints SET secret_sealed = $1 WHERE id = $2::uuid",
        await sealed_of(db, first["id"]),
        second["id"],
    )
    await emit(app, clock, "quote.sent", {})
    await run_worker_once(settings, clock)
    rows = {str(r["endpoint_id"]): r for r in await deliveries(db, "webhook")}
    assert rows[first["id"]]["state"] == "delivered"
    moved = rows[second["id"]]
    assert moved["state"] == "pending"
    assert moved["last_error"].startswith("signing secret cannot be decrypted (authentication failed")
    assert [r.target for r in receiver.requests] == ["/hooks"]


async def test_reencryption_names_what_it_cannot_open_and_reseals_the_rest(
    client: httpx.AsyncClient, staff: dict[str, str], db: asyncpg.Connection, env: dict[str, str]
) -> None:
    lost = await subscribe(client, staff, "http://127.0.0.1:9/lost")
    kept = await subscribe(client, staff, "http://127.0.0.1:9/kept")
    lost_before = await sealed_of(db, lost["id"])
    await db.execute(
        "UPDATE webhook_endpoints SET secret_sealed = $1 WHERE id = $2::uuid",
        secretbox.seal(secretbox.parse(NEW), kept["secret"], UUID(kept["id"]).bytes),
        kept["id"],
    )
    third = "third:" + secretbox.encode_key(secretbox.generate_key())
    done = reencrypt(env, f"{third},{NEW}")
    assert done.returncode == 1
    assert done.stdout.strip() == "re-sealed 1 webhook signing secrets under key id third"
    assert done.stderr.strip() == f"webhook endpoint {lost['id']}: left as it was, key id old not configured"
    assert await sealed_of(db, lost["id"]) == lost_before
    resealed = await sealed_of(db, kept["id"])
    assert secretbox.key_id_of(resealed) == "third"
    for secret in (lost["secret"], kept["secret"]):
        assert secret not in done.stdout + done.stderr
