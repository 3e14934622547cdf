"""Migrations: one head; upgrade, downgrade to base and upgrade again on a fresh database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from api import devenv
from migrations.sql import statements


def config(url: str) -> Config:
    cfg = Config(str(devenv.ROOT / "alembic.ini"))
    cfg.attributes["database_url"] = url
    cfg.attributes["configure_logging"] = False
    return cfg


async def tables(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


@pytest.fixture
def fresh_database(service_urls: dict[str, str]) -> Iterator[str]:
    name = f"sk_migrate_{uuid.uuid4().hex[:10]}"
    admin = devenv.with_database(service_urls["DATABASE_URL"], "postgres")

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    yield devenv.with_database(service_urls["DATABASE_URL"], name)
    asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_exactly_one_head() -> None:
    assert len(ScriptDirectory.from_config(config("postgresql://unused/x")).get_heads()) == 1


def test_upgrade_downgrade_upgrade(fresh_database: str) -> None:
    cfg = config(fresh_database)
    command.upgrade(cfg, "head")
    at_head = asyncio.run(tables(fresh_database))
    assert {"clients", "api_keys", "domain_events", "idempotency_records", "audit_entries"} <= at_head
    command.downgrade(cfg, "base")
    assert asyncio.run(tables(fresh_database)) == {"alembic_version"}
    command.upgrade(cfg, "head")
    assert asyncio.run(tables(fresh_database)) == at_head


def test_every_revision_steps_down_and_up(fresh_database: str) -> None:
    cfg = config(fresh_database)
    revisions = list(reversed(list(ScriptDirectory.from_config(cfg).walk_revisions())))
    for revision in revisions:
        command.upgrade(cfg, revision.revision)
        command.downgrade(cfg, "-1")
        command.upgrade(cfg, revision.revision)


def test_script_splitter_keeps_function_bodies() -> None:
    script = """
    CREATE TABLE a (x int);
    CREATE FUNCTION f() RETURNS int AS $$ BEGIN
        RETURN 1;
    END; $$ LANGUAGE plpgsql;
    DROP TABLE a;
    """
    parts = statements(script)
    assert len(parts) == 3
    assert "RETURN 1;" in parts[1]
