"""Fault tests with real processes (``./scripts/test-slow tests/faults``; not in CI).

- Redis stopped for ``FAULT_REDIS_DOWN_SECONDS`` (default 60) under a steady intake load, with the API
  as uvicorn (2 workers) and the worker as its own process: every POST answers 201; after Redis returns
  (empty: it keeps nothing on disk) every inquirer gets one acknowledgement and every event one webhook.
- PostgreSQL (a private cluster) restarted under load: requests during the outage answer 503 problems
  within the acquire timeout (no hang), and ``/ready`` answers 200 within 5 s of the database returning,
  without restarting the API.
- The logs of every process in these scenarios hold no API key, webhook secret or bearer value.

The worker killed with SIGKILL mid-batch is ``tests/workers/test_notifications_slow.py``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api import devenv
from api.__main__ import migrate
from api.settings import Settings
from tests.conftest import bearer
from tests.faults.processes import (
    PrivateCluster,
    PrivateRedis,
    api_process,
    wait_healthy,
    wait_until,
    worker_process,
)
from tests.notify_support import Receiver, SmtpSink, free_port

pytestmark = pytest.mark.slow

REDIS_DOWN_SECONDS = float(os.environ.get("FAULT_REDIS_DOWN_SECONDS", "60"))
PG_DOWN_SECONDS = float(os.environ.get("FAULT_PG_DOWN_SECONDS", "10"))
ACQUIRE_TIMEOUT = 2.0


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


def service_env(database_url: str, redis_url: str, smtp: SmtpSink) -> dict[str, str]:
    return {
        "SCOPEKEEPER_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_TIMEOUT": "2",
        "STAFF_EMAILS": "staff@shop.com",
        "WEBHOOKS_ALLOW_HTTP": "true",
        "WEBHOOKS_ALLOW_PRIVATE": "true",
        "WEBHOOK_TIMEOUT": "2",
        "DELIVERY_LEASE_SECONDS": "5",
        "OUTBOX_SWEEP_AGE_SECONDS": "0",
        "RATE_LIMIT_PER_MINUTE": "100000",
        "INQUIRY_FLOOD_PER_HOUR": "100000",
        "INTAKE_PER_KEY_PER_HOUR": "100000",
        "INTAKE_PER_ADDRESS_PER_HOUR": "100000",
        "DB_ACQUIRE_TIMEOUT": str(ACQUIRE_TIMEOUT),
        "DB_STATEMENT_TIMEOUT_MS": "3000",
        "AUTH_CACHE_SECONDS": "0",
    }


async def new_key(database_url: str, role: str) -> str:
    """Create an API key with the service's own command; returns its secret."""
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "api", "create-key", "--role", role, "--name", f"fault {role}"],
        cwd=devenv.ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        check=True,
        timeout=60,
    )
    return done.stdout.decode().strip().splitlines()[-1]


def inquiry(n: int) -> dict[str, Any]:
    return {
        "name": f"Lead {n}",
        "email": f"lead{n}@engines{n}.co.uk",
        "company": f"Company {n}",
        "message": f"Inquiry number {n}: please extract the recommender from our monolith and serve it.",
        "source": "website",
        "consent": True,
    }


def assert_no_secrets(logs: str, secrets: list[str]) -> None:
    assert logs.strip(), "no output captured"
    for secret in secrets:
        assert secret not in logs
        assert secret.split("_", 2)[-1] not in logs
    assert "Bearer sk_" not in logs


async def test_redis_down_for_a_minute_under_intake_load(
    database_url: str, smtp: SmtpSink, receiver: Receiver, tmp_path: Path
) -> None:
    redis = PrivateRedis(tmp_path)
    redis.start()
    env = service_env(database_url, redis.url, smtp)
    port = free_port()
    api = api_process(env, tmp_path / "api.log", port)
    worker = worker_process(env, tmp_path / "worker.log")
    base = f"http://127.0.0.1:{port}"
    intake = bearer(await new_key(database_url, "intake"))
    staff_secret = await new_key(database_url, "staff")
    staff = bearer(staff_secret)
    api.start()
    worker.start()
    statuses: Counter[int] = Counter()
    slowest = 0.0
    sent = 0
    try:
        await wait_healthy(base)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            hook = await http.post(
                "/v1/webhook-endpoints",
                json={"url": receiver.url, "event_types": ["inquiry.received"]},
                headers=staff,
            )
            assert hook.status_code == 201, hook.text
            webhook_secret = hook.json()["secret"]

            async def post_for(seconds: float, rate: float = 4.0) -> None:
                nonlocal sent, slowest
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    started = time.monotonic()
                    response = await http.post("/v1/inquiries", json=inquiry(sent), headers=intake)
                    slowest = max(slowest, time.monotonic() - started)
                    statuses[response.status_code] += 1
                    assert response.status_code == 201, response.text
                    sent += 1
                    await asyncio.sleep(max(0.0, 1 / rate - (time.monotonic() - started)))

            await post_for(3)
            redis.stop()
            down_at = time.monotonic()
            await post_for(REDIS_DOWN_SECONDS)
            ready_during = (await http.get("/ready")).status_code
            redis.start()
            outage = time.monotonic() - down_at
            await post_for(3)

        db = await asyncpg.connect(database_url)
        try:

            async def delivered() -> bool:
                pending = await db.fetchval(
                    "SELECT count(*) FROM deliveries WHERE state <> 'delivered'"
                ) + await db.fetchval("SELECT count(*) FROM domain_events WHERE dispatched_at IS NULL")
                ids = {r.headers["webhook-id"] for r in receiver.requests}
                return pending == 0 and len(ids) >= sent and len(smtp.messages) >= 2 * sent

            recovered = await wait_until(delivered, 240, "every notification after Redis returned")
            received = await db.fetchval("SELECT count(*) FROM domain_events WHERE type = 'inquiry.received'")
        finally:
            await db.close()
    finally:
        worker.stop()
        api.stop()
        redis.stop()

    assert statuses == {201: sent}
    assert ready_during == 503
    assert received == sent
    webhook_ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert len(webhook_ids) == sent
    assert set(webhook_ids.values()) == {1}, "a webhook was delivered twice"
    acks = Counter(m["To"].addresses[0].addr_spec for m in smtp.messages)
    assert all(acks[f"lead{n}@engines{n}.co.uk"] == 1 for n in range(sent)), acks
    assert acks["staff@shop.com"] == sent
    assert_no_secrets(
        api.output() + worker.output(), [staff_secret, intake["Authorization"][7:], webhook_secret]
    )
    print(
        f"redis down {outage:.1f} s: {sent} POSTs all 201, slowest {slowest * 1000:.0f} ms; "
        f"all {sent} acknowledgements and webhooks delivered once, {recovered:.1f} s after Redis returned"
    )


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    """A private cluster in a directory the ``postgres`` user can reach (pytest's tmp_path is root's)."""
    directory = Path(tempfile.mkdtemp(prefix="sk-fault-pg-"))
    pg = PrivateCluster(directory)
    try:
        pg.init()
        pg.start()
        yield pg
    finally:
        pg.destroy()
        shutil.rmtree(directory, ignore_errors=True)


async def test_postgres_restart_under_load(
    cluster: PrivateCluster, redis_url: str, smtp: SmtpSink, tmp_path: Path
) -> None:
    database_url = devenv.with_database(cluster.url, "scopekeeper")
    admin = await asyncpg.connect(cluster.url)
    await admin.execute("CREATE DATABASE scopekeeper")
    await admin.close()
    await asyncio.to_thread(migrate, database_url)
    env = service_env(database_url, redis_url, smtp)
    Settings.from_env(env)
    port = free_port()
    api = api_process(env, tmp_path / "api.log", port)
    base = f"http://127.0.0.1:{port}"
    staff_secret = await new_key(database_url, "staff")
    staff = bearer(staff_secret)
    api.start()
    outcomes: list[tuple[float, int, float]] = []  # (sent at, status, seconds)
    stop = asyncio.Event()
    try:
        await wait_healthy(base)
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:

            async def load() -> None:
                n = 0
                while not stop.is_set():
                    started = time.monotonic()
                    if n % 2:
                        response = await http.post("/v1/clients", json={"name": f"Load {n}"}, headers=staff)
                    else:
                        response = await http.get("/v1/clients", headers=staff)
                    elapsed = time.monotonic() - started
                    outcomes.append((started, response.status_code, elapsed))
                    if response.status_code >= 500:
                        assert response.status_code == 503, response.text
                        assert response.headers["content-type"] == "application/problem+json"
                    n += 1
                    await asyncio.sleep(0.05)

            loaders = [asyncio.create_task(load()) for _ in range(4)]
            await asyncio.sleep(3)
            await asyncio.to_thread(cluster.stop)
            stopped_at = time.monotonic()
            await asyncio.sleep(PG_DOWN_SECONDS)
            restarting_at = time.monotonic()
            await asyncio.to_thread(cluster.start)
            back_at = time.monotonic()

            async def ready() -> bool:
                return (await http.get("/ready")).status_code == 200

            ready_after = await wait_until(ready, 30, "/ready after the database returned")
            await asyncio.sleep(3)
            stop.set()
            await asyncio.gather(*loaders)
            after = [s for t, s, _ in outcomes if t > back_at + ready_after + 1]
    finally:
        stop.set()
        api.stop()

    during = [(s, e) for t, s, e in outcomes if stopped_at + 0.5 < t < restarting_at]
    assert during, "no request was sent during the outage"
    assert {s for s, _ in during} == {503}, Counter(s for s, _ in during)
    slowest = max(e for _, e in during)
    assert slowest < ACQUIRE_TIMEOUT * 2 + 1, slowest
    assert ready_after < 5, ready_after
    assert after
    assert set(after) <= {200, 201}, Counter(after)
    assert_no_secrets(api.output(), [staff_secret])
    print(
        f"postgres down {back_at - stopped_at:.1f} s: {len(during)} requests answered 503 "
        f"(slowest {slowest * 1000:.0f} ms); /ready 200 {ready_after:.2f} s after it returned; "
        f"{len(after)} requests after recovery all succeeded"
    )
