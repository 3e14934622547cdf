"""Fault tests of delivery with the worker as a real process (``./scripts/test-slow``; not in CI).

- SIGKILL in the middle of 1,000 webhook deliveries, then a restart: every event id arrives, and
  any duplicate carries the same ``webhook-id``.
- Redis unreachable while events are committed: once a worker runs against Redis again, every email
  and every webhook is delivered once per recipient.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from litestar import Litestar
from standardwebhooks import Webhook

from api import devenv
from api.app import create_app
from api.db import unit_of_work
from api.domain.events import outbox
from api.kit.clock import FrozenClock
from api.settings import Settings
from tests.conftest import asgi_client, bearer, running
from tests.notify_support import Receiver, SmtpSink, emit

pytestmark = pytest.mark.slow

EVENTS = 1000


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def env(env: dict[str, str], smtp: SmtpSink) -> dict[str, str]:
    return {
        **env,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_TIMEOUT": "2",
        "WEBHOOK_TIMEOUT": "2",
        "DELIVERY_LEASE_SECONDS": "5",
        "STAFF_EMAILS": "staff@shop.com,pm@shop.com",
    }


class WorkerProcess:
    """``python -m workers`` with the test's environment; its output goes to a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = {**os.environ, **env}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "workers"], cwd=devenv.ROOT, env=self.env, stdout=out, stderr=out
            )

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


async def wait_for(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        await asyncio.sleep(0.2)


async def subscribe(client: httpx.AsyncClient, headers: dict[str, str], url: str) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhook-endpoints", json={"url": url, "event_types": ["client.updated"]}, headers=headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_sigkill_in_the_middle_of_a_thousand_webhooks_loses_none(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    app: Litestar,
    clock: FrozenClock,
    receiver: Receiver,
    db: asyncpg.Connection,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    endpoint = await subscribe(client, staff, receiver.url)
    async with unit_of_work(app.state.pool, transactional=True, acquire_timeout=5) as uow:
        expected = set()
        for n in range(EVENTS):
            event_id = await outbox.emit(
                uow,
                "client.updated",
                subject_type="test",
                subject_id=endpoint["id"],
                data={"n": n},
                now=clock.now(),
            )
            expected.add(str(event_id))
    await app.state.jobs.send(uow.jobs)

    worker = WorkerProcess(env, tmp_path / "worker.log")
    started = time.monotonic()
    worker.start()
    try:

        async def some_arrived() -> bool:
            return len({r.headers["webhook-id"] for r in receiver.requests}) >= EVENTS // 4

        await wait_for(some_arrived, 120, "a quarter of the webhooks")
        worker.kill()
        first_run = time.monotonic() - started
        killed_at = len({r.headers["webhook-id"] for r in receiver.requests})
        assert killed_at < EVENTS, "the worker finished before it could be killed"
        worker.start()

        async def all_arrived() -> bool:
            return {r.headers["webhook-id"] for r in receiver.requests} >= expected

        await wait_for(all_arrived, 300, "every event id")

        async def all_delivered() -> bool:
            states = await db.fetch("SELECT state, count(*) FROM deliveries GROUP BY state")
            return {r["state"]: r["count"] for r in states} == {"delivered": EVENTS}

        await wait_for(all_delivered, 300, "every delivery marked delivered")
    finally:
        worker.stop()

    verifier = Webhook(endpoint["secret"])
    by_id: dict[str, set[bytes]] = {}
    for request in receiver.requests:
        payload = verifier.verify(request.body, request.headers)
        assert payload["id"] == request.headers["webhook-id"]  # a duplicate carries the same id
        by_id.setdefault(request.headers["webhook-id"], set()).add(request.body)
    assert set(by_id) == expected
    assert all(len(bodies) == 1 for bodies in by_id.values())  # and the same body
    duplicates = len(receiver.requests) - EVENTS
    print(
        f"killed after {killed_at} ids in {first_run:.1f} s (worker start included); "
        f"{len(receiver.requests)} requests, {duplicates} duplicates; all done after "
        f"{time.monotonic() - started:.1f} s"
    )


async def test_events_committed_while_redis_is_down_are_all_delivered_once(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    make_key: Any,
    clock: FrozenClock,
    receiver: Receiver,
    smtp: SmtpSink,
    db: asyncpg.Connection,
    env: dict[str, str],
    tmp_path: Path,
) -> None:
    await subscribe(client, staff, receiver.url)
    down = Settings.from_env({**env, "REDIS_URL": "redis://127.0.0.1:1/0"})  # nothing listens on port 1
    offline = create_app(down, clock=clock)
    count = 50
    async with running(offline), asgi_client(offline) as http:
        org = await http.post(
            "/v1/clients",
            json={
                "name": "Offline",
                "contacts": [{"name": "Ola", "email": "ola@offline.pl", "locale": "pl"}],
            },
            headers=bearer(await make_key()),
        )
        assert org.status_code == 201, org.text
        events = []
        for n in range(count):
            events.append(await emit(offline, clock, "client.updated", {"n": n}, client_id=org.json()["id"]))
            events.append(
                await emit(
                    offline, clock, "quote.sent", {"project_name": f"P{n}"}, client_id=org.json()["id"]
                )
            )
            events.append(await emit(offline, clock, "quote.accepted", {"project_name": f"P{n}"}))
    assert await db.fetchval("SELECT count(*) FROM domain_events WHERE dispatched_at IS NULL") >= 3 * count

    worker = WorkerProcess(env, tmp_path / "worker.log")
    worker.start()
    try:

        async def done() -> bool:
            pending = await db.fetchval(
                "SELECT count(*) FROM deliveries WHERE state <> 'delivered'"
            ) + await db.fetchval("SELECT count(*) FROM domain_events WHERE dispatched_at IS NULL")
            return pending == 0 and len(smtp.messages) >= 3 * count and len(receiver.requests) >= count

        await wait_for(done, 180, "every delivery")
    finally:
        worker.stop()

    webhook_ids = Counter(r.headers["webhook-id"] for r in receiver.requests)
    assert set(webhook_ids) == {str(e) for e in events[0::3]}
    assert set(webhook_ids.values()) == {1}
    mails = Counter((m["Message-ID"], m["To"].addresses[0].addr_spec) for m in smtp.messages)
    assert set(mails.values()) == {1}
    per_recipient = Counter(address for _, address in mails)
    assert per_recipient == {"ola@offline.pl": count, "staff@shop.com": count, "pm@shop.com": count}
    assert {m["Subject"] for m in smtp.to("ola@offline.pl")} == {f"Oferta: P{n}" for n in range(count)}
