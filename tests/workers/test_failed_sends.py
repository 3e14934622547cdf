"""A send that raises is a failed attempt: recorded, counted against the endpoint, retried; never a
delivery left ``sending`` with no attempt.

The probe's finding: an endpoint URL with port 99999 was accepted; sending raised an exception the
sender did not catch, so the delivery stayed ``sending``, no attempt was recorded and the endpoint was
never disabled. URLs are fully checked now (tests/domain/test_webhook_urls.py); a URL stored before
that, or anything else a send raises, must still end as a failed attempt.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import httpx
import pytest

from api.domain.webhooks import sender
from tests.conftest import create_client_org
from tests.notify_support import Receiver

RunWorker = Callable[[], Awaitable[int]]


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "WEBHOOK_DISABLE_AFTER_FAILURES": "1", "STAFF_EMAILS": ""}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


async def _subscribed(client: httpx.AsyncClient, staff: dict[str, str], receiver: Receiver) -> str:
    response = await client.post(
        "/v1/webhook-endpoints", json={"url": receiver.url, "event_types": ["client.created"]}, headers=staff
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _outcome(db: asyncpg.Connection, endpoint_id: str) -> tuple[Any, list[Any], Any]:
    delivery = await db.fetchrow("SELECT * FROM deliveries WHERE endpoint_id = $1", endpoint_id)
    assert delivery is not None
    attempts = await db.fetch("SELECT * FROM delivery_attempts WHERE delivery_id = $1", delivery["id"])
    endpoint = await db.fetchrow("SELECT * FROM webhook_endpoints WHERE id = $1", endpoint_id)
    return delivery, list(attempts), endpoint


async def test_a_stored_url_with_an_impossible_port_fails_the_attempt(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    receiver: Receiver,
    db: asyncpg.Connection,
    run_worker: RunWorker,
) -> None:
    endpoint_id = await _subscribed(client, staff, receiver)
    await db.execute(
        "UPDATE webhook_endpoints SET url = 'http://127.0.0.1:99999/hooks' WHERE id = $1", endpoint_id
    )
    await create_client_org(client, staff, "Ported")
    await run_worker()
    delivery, attempts, endpoint = await _outcome(db, endpoint_id)
    assert delivery["state"] == "pending"
    assert [(a["succeeded"], a["error"]) for a in attempts] == [
        (False, "URL refused: the port must be 1 to 65535, not 99999")
    ]
    assert (endpoint["status"], endpoint["consecutive_failures"]) == ("disabled", 1)
    assert receiver.requests == []


async def test_whatever_a_send_raises_is_a_failed_attempt(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    receiver: Receiver,
    db: asyncpg.Connection,
    run_worker: RunWorker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def raising(*args: Any, **kwargs: Any) -> sender.Outcome:
        raise OverflowError("port must be 0-65535.")

    monkeypatch.setattr(sender, "post", raising)
    endpoint_id = await _subscribed(client, staff, receiver)
    await create_client_org(client, staff, "Raising")
    await run_worker()
    delivery, attempts, endpoint = await _outcome(db, endpoint_id)
    assert delivery["state"] == "pending"
    assert delivery["lease_until"] is None
    assert [(a["succeeded"], a["error"]) for a in attempts] == [
        (False, "OverflowError: port must be 0-65535.")
    ]
    assert (endpoint["status"], endpoint["consecutive_failures"]) == ("disabled", 1)
