"""PostgreSQL access: the pool with its codecs, and the unit of work of one request.

Rules:
- Unsafe requests (POST, PUT, PATCH, DELETE) run in exactly one transaction; the handler never commits.
  Jobs the request wants (deliver this event, ...) are buffered on the unit of work and handed to arq
  only after the commit; a rollback drops them.
- Safe requests (GET, HEAD) run on a connection without an explicit transaction: each of their reads is
  a single statement, so one round trip answers them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from api.settings import Settings

log = logging.getLogger("scopekeeper.db")

Pool = asyncpg.Pool
#: A connection as handed out by the pool (or made directly, in scripts and tests).
Conn = asyncpg.Connection | PoolConnectionProxy


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def _decode_json(text: str) -> Any:
    """msgspec's decoder (several times faster than ``json.loads`` on the documents lists return); a
    number beyond a float's range (possible in ``jsonb``, which stores numbers as ``numeric``) falls
    back to ``json.loads``, which reads it as infinity as before."""
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return json.loads(text)


async def _init_connection(conn: asyncpg.Connection) -> None:
    """JSON and JSONB travel as Python values, encoded and decoded by msgspec."""
    for typename in ("json", "jsonb"):
        await conn.set_type_codec(
            typename,
            encoder=lambda value: msgspec.json.encode(value).decode(),
            decoder=_decode_json,
            schema="pg_catalog",
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Connection reset on release: nothing beyond asyncpg's own rollback of an open transaction.

    The service never changes session state outside a transaction (no ``SET``, ``LISTEN``, cursors
    or session-level advisory locks), so the default ``RESET ALL; ...`` round trip on every release
    would buy nothing.
    """


async def create_pool(
    settings: Settings, *, min_size: int | None = None, max_size: int | None = None
) -> Pool:
    pool = await asyncpg.create_pool(
        _dsn(settings.database_url),
        min_size=settings.db_pool_min if min_size is None else min_size,
        max_size=settings.db_pool_max if max_size is None else max_size,
        init=_init_connection,
        reset=_keep_session,
        command_timeout=max(settings.db_statement_timeout_ms / 1000, 1.0) + 5.0,
        server_settings={
            "application_name": "scopekeeper",
            "statement_timeout": str(settings.db_statement_timeout_ms),
            "idle_in_transaction_session_timeout": "60000",
        },
    )
    assert pool is not None
    return pool


Job = tuple[str, tuple[Any, ...], dict[str, Any]]


class UnitOfWork:
    """One request's connection, plus the work that may only start once its transaction commits."""

    __slots__ = ("after_commit", "conn", "jobs")

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.jobs: list[Job] = []
        self.after_commit: list[Callable[[], Awaitable[None]]] = []

    def enqueue(self, function: str, *args: Any, **options: Any) -> None:
        """Buffer an arq job; it is sent after the commit and dropped on rollback."""
        self.jobs.append((function, args, options))


@asynccontextmanager
async def unit_of_work(
    pool: Pool, *, transactional: bool, acquire_timeout: float
) -> AsyncIterator[UnitOfWork]:
    """Acquire a connection; in a transaction when ``transactional``. Commits on success."""
    async with pool.acquire(timeout=acquire_timeout) as conn:
        uow = UnitOfWork(conn)
        if not transactional:
            yield uow
            return
        tx = conn.transaction()
        await tx.start()
        try:
            yield uow
        except BaseException:
            await tx.rollback()
            raise
        await tx.commit()
