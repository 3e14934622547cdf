"""Test fixtures: real PostgreSQL and Redis, a database per test cloned from a migrated template.

- The template database is built once per test process by running the alembic migrations.
- Each test gets ``CREATE DATABASE ... TEMPLATE`` of it, dropped afterwards.
- Each test process uses its own Redis database number and flushes it before each test.
- The app runs in the test's event loop through ``httpx.ASGITransport`` inside its lifespan.
- The clock is a ``FrozenClock``; tests move it instead of sleeping.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from arq.worker import Worker
from litestar import Litestar
from redis.asyncio import Redis

from api import devenv
from api.__main__ import migrate
from api.app import create_app
from api.db import unit_of_work
from api.domain.api_keys import service as key_service
from api.domain.api_keys.schemas import ApiKeyCreate
from api.kit.clock import FrozenClock
from api.settings import Settings
from tests.notify_support import SmtpSink
from tests.probes import PROBES
from workers.settings import worker_options

START = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)  # a Tuesday, 10:30 in Warsaw


@pytest.fixture(scope="session")
def service_urls() -> dict[str, str]:
    return devenv.resolve(dict(os.environ), database="postgres")


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(devenv.with_database(url, "postgres"))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_db(service_urls: dict[str, str]) -> Iterator[str]:
    """A migrated database private to this test process (several test runs may share a server)."""
    name = f"sk_test_template_{os.getpid()}"
    admin = service_urls["DATABASE_URL"]
    asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'))
    migrate(devenv.with_database(admin, name))
    yield name
    asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def redis_db(service_urls: dict[str, str]) -> int:
    """A Redis database number for this test process, taken round-robin from a counter in db 0."""

    async def take() -> int:
        client = Redis.from_url(service_urls["REDIS_URL"].rsplit("/", 1)[0] + "/0")
        try:
            return 1 + int(await client.incr("scopekeeper:test:db-slot")) % 15
        finally:
            await client.aclose()

    return asyncio.run(take())


@pytest.fixture
async def database_url(service_urls: dict[str, str], template_db: str) -> AsyncIterator[str]:
    admin_url = devenv.with_database(service_urls["DATABASE_URL"], "postgres")
    name = f"sk_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    finally:
        await conn.close()
    yield devenv.with_database(service_urls["DATABASE_URL"], name)
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def redis_url(service_urls: dict[str, str], redis_db: int) -> str:
    base = service_urls["REDIS_URL"].rsplit("/", 1)[0]
    url = f"{base}/{redis_db}"
    client = Redis.from_url(url)
    await client.flushdb()
    await client.aclose()
    return url


@pytest.fixture
def env(database_url: str, redis_url: str) -> dict[str, str]:
    """The environment the service would see; tests may add variables before ``settings`` is built."""
    return {
        "SCOPEKEEPER_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "AUTH_CACHE_SECONDS": "0",
        "WEBHOOKS_ALLOW_HTTP": "true",
        "WEBHOOKS_ALLOW_PRIVATE": "true",
        "STAFF_EMAILS": "staff@shop.com",
        "OUTBOX_SWEEP_AGE_SECONDS": "0",
    }


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    """A real SMTP server on loopback; point SMTP_HOST/SMTP_PORT at it in the module's ``env``."""
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(START)


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> Litestar:
    return create_app(settings, clock=clock, extra_handlers=PROBES)


@asynccontextmanager
async def running(app: Litestar) -> AsyncIterator[Litestar]:
    """Run the app's lifespan in a task of its own (fixture setup and teardown run in different tasks)."""
    started = asyncio.Event()
    stop = asyncio.Event()

    async def hold() -> None:
        async with app.lifespan():
            started.set()
            await stop.wait()

    task = asyncio.create_task(hold())
    waiter = asyncio.create_task(started.wait())
    await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        waiter.cancel()
        task.result()
    try:
        yield app
    finally:
        stop.set()
        await task


def asgi_client(app: Litestar) -> httpx.AsyncClient:
    """An HTTP client calling ``app`` in this event loop."""
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    async with running(app), asgi_client(app) as http:
        yield http


KeyMaker = Callable[..., Awaitable[str]]


@pytest.fixture
def make_key(app: Litestar, client: httpx.AsyncClient, clock: FrozenClock) -> KeyMaker:
    """Create an API key directly through the service; returns the secret."""

    async def make(
        role: str = "staff", client_id: uuid.UUID | str | None = None, name: str = "test key"
    ) -> str:
        async with unit_of_work(app.state.pool, transactional=True, acquire_timeout=5) as uow:
            created = await key_service.create(
                uow,
                None,
                msgspec.convert(
                    {"role": role, "name": name, "client_id": str(client_id) if client_id else None},
                    ApiKeyCreate,
                ),
                clock.now(),
            )
        return created.key

    return make


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
async def staff(make_key: KeyMaker) -> dict[str, str]:
    """Headers of a staff key."""
    return bearer(await make_key("staff"))


async def create_client_org(
    http: httpx.AsyncClient, headers: dict[str, str], name: str = "Acme", **fields: Any
) -> dict[str, Any]:
    body = {"name": name, "contacts": [{"name": "Ada Client", "email": f"ada@{name.lower()}.com"}], **fields}
    response = await http.post("/v1/clients", json=body, headers=headers)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


class _DueOnly:
    """Redis client view whose ``zcard`` of the queue counts only jobs due now."""

    def __init__(self, redis: Any) -> None:
        self._redis = redis

    def __getattr__(self, name: str) -> Any:
        return getattr(self._redis, name)

    async def zcard(self, key: str) -> int:
        now_ms = int(time.time() * 1000)
        return int(await self._redis.zcount(key, "-inf", now_ms))


class DrainingWorker(Worker):
    """A burst worker that stops once no job is due: retries deferred to later wait for a later run.

    arq's own burst mode waits for deferred jobs too, which would make a test wait out a backoff.
    """

    @property
    def pool(self) -> Any:
        return _DueOnly(self._pool) if self._pool is not None else None


@pytest.fixture
async def run_worker(settings: Settings, clock: FrozenClock) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """Run the arq worker until no job is due; returns the number of jobs done."""
    workers: list[Worker] = []

    async def run() -> int:
        worker = DrainingWorker(
            **worker_options(settings, clock=clock), burst=True, poll_delay=0, handle_signals=False
        )
        workers.append(worker)
        await worker.main()
        return worker.jobs_complete + worker.jobs_failed

    yield run
    for worker in workers:
        await worker.close()


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    """A direct connection to the test database, for assertions on stored rows."""
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()
