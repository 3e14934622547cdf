"""Test fixtures: real PostgreSQL and Redis, one migrated database per test process, reset per test.

- A template database is built once per test process by running the alembic migrations, and cloned
  once into the process's working database.
- Before each test the working database is put back to the template's state: other sessions on it are
  ended, every table is emptied (rows the migrations seed are put back) and every sequence restarted,
  in one round trip of a few milliseconds, instead of cloning a database per test. A test that needs a
  database nobody else touched (it changes the schema, or leaves processes behind) asks for
  ``fresh_database_url``, which clones the template as before.
- Each test process uses its own Redis database number and flushes it before each test.
- The app is built once per process for each shape of settings (building one costs more than most
  tests); each test hands it its own settings, clock and key cache, and runs its lifespan, which opens
  the test's connections. The app runs in the test's event loop through ``httpx.ASGITransport``.
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
from api.kit.auth import KeyCache
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


SEED_SCHEMA = "test_seed"


async def _reset_script(url: str) -> str:
    """The statements that put a clone of the template back to the template's state.

    Tables that hold rows after the migrations are copied into ``test_seed`` once, and copied back on
    every reset. Triggers (append-only guards) and foreign keys are not fired while emptying
    (``session_replication_role = replica``).
    """
    conn = await asyncpg.connect(url)
    try:
        tables = [
            row["name"]
            for row in await conn.fetch(
                """
                SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS name
                FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename
                """
            )
        ]
        seeded = [table for table in tables if await conn.fetchval(f"SELECT EXISTS (SELECT FROM {table})")]
        await conn.execute(f"CREATE SCHEMA {SEED_SCHEMA}")
        for table in seeded:
            copy = f"{SEED_SCHEMA}.{table.split('.', 1)[1]}"
            await conn.execute(f"CREATE TABLE {copy} AS SELECT * FROM {table}")
        sequences = await conn.fetch(
            """
            SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) AS name, last_value, start_value
            FROM pg_sequences WHERE schemaname = 'public'
            """
        )
    finally:
        await conn.close()
    lines = ["SET session_replication_role = replica;"]
    lines += [f"DELETE FROM {table};" for table in tables]
    lines += [
        f"INSERT INTO {table} SELECT * FROM {SEED_SCHEMA}.{table.split('.', 1)[1]};" for table in seeded
    ]
    for sequence in sequences:
        if sequence["last_value"] is None:
            lines.append(f"SELECT setval('{sequence['name']}', {sequence['start_value']}, false);")
        else:
            lines.append(f"SELECT setval('{sequence['name']}', {sequence['last_value']}, true);")
    lines.append("RESET session_replication_role;")
    return "\n".join(lines)


class WorkingDatabase:
    """This test process's database and the script that resets it."""

    def __init__(self, url: str, reset: str) -> None:
        self.url = url
        self.reset_script = reset

    async def reset(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute(
                """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()
                """
            )
            await conn.execute(self.reset_script)
        finally:
            await conn.close()


@pytest.fixture(scope="session")
def working_db(service_urls: dict[str, str], template_db: str) -> Iterator[WorkingDatabase]:
    """A clone of the template private to this test process, reused by every test after a reset."""
    name = f"sk_test_{os.getpid()}"
    admin = service_urls["DATABASE_URL"]
    asyncio.run(
        _admin(
            admin,
            f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)',
            f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"',
        )
    )
    url = devenv.with_database(admin, name)
    yield WorkingDatabase(url, asyncio.run(_reset_script(url)))
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
async def database_url(working_db: WorkingDatabase) -> str:
    """This process's database, just reset to the state the migrations leave."""
    await working_db.reset()
    return working_db.url


@pytest.fixture
async def fresh_database_url(service_urls: dict[str, str], template_db: str) -> AsyncIterator[str]:
    """A database cloned from the template for this test alone, dropped afterwards."""
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


_APPS: dict[str, Litestar] = {}


def shared_app(settings: Settings, clock: FrozenClock, *, probes: bool = True) -> Litestar:
    """The process's app for settings of this shape, handed this test's settings, clock and key cache.

    Settings that differ from test to test only in where the servers are (database, Redis, the SMTP
    sink's port) share one app: its lifespan connects to what ``app.state.settings`` names when it
    starts. ``probes`` adds the test-only routes of ``tests.probes``.
    """
    shape = msgspec.structs.replace(settings, database_url="", redis_url="", smtp_host="", smtp_port=0)
    key = f"{probes}:{shape!r}"
    app = _APPS.get(key)
    if app is None:
        handlers = PROBES if probes else ()
        app = _APPS[key] = create_app(settings, clock=clock, extra_handlers=handlers)
    app.state.settings = settings
    app.state.clock = clock
    app.state.key_cache = KeyCache(settings.auth_cache_seconds)
    return app


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> Litestar:
    return shared_app(settings, clock)


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
