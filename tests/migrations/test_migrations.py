"""Migrations: one head; upgrade, downgrade to base and upgrade again on a fresh database; revision
0010 seals the webhook secrets already stored and its downgrade restores them."""

from __future__ import annotations

import asyncio
import base64
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from api import devenv
from api.kit import secretbox
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


async def _query(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def test_0010_seals_clear_secrets_and_its_downgrade_restores_them(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys_text = f"m1:{secretbox.encode_key(secretbox.generate_key())}"
    keys = secretbox.parse(keys_text)
    monkeypatch.setenv("WEBHOOK_SECRET_KEYS", keys_text)
    cfg = config(fresh_database)
    command.upgrade(cfg, "0009")
    raw = os.urandom(32)
    body = base64.b64encode(raw).decode()
    secret = "whsec_" + body
    [inserted] = asyncio.run(
        _query(
            fresh_database,
            """
            INSERT INTO webhook_endpoints (url, event_types, secret, created_at)
            VALUES ('https://crm.example.com/hooks', ARRAY['*'], $1, now()) RETURNING id
            """,
            secret,
        )
    )
    endpoint_id: uuid.UUID = inserted["id"]

    command.upgrade(cfg, "0010")
    [row] = asyncio.run(_query(fresh_database, "SELECT * FROM webhook_endpoints"))
    assert "secret" not in row
    sealed = bytes(row["secret_sealed"])
    assert secretbox.key_id_of(sealed) == "m1"
    assert secretbox.unseal(keys, sealed, endpoint_id.bytes) == secret
    stored = sealed + repr(dict(row)).encode()
    for trace in (secret.encode(), body.encode(), raw, base64.urlsafe_b64encode(raw)):
        assert trace not in stored

    # without the key that sealed it the downgrade refuses, and changes nothing
    monkeypatch.setenv("WEBHOOK_SECRET_KEYS", f"m2:{secretbox.encode_key(secretbox.generate_key())}")
    with pytest.raises(RuntimeError, match="key id m1 not configured"):
        command.downgrade(cfg, "0009")
    [unchanged] = asyncio.run(_query(fresh_database, "SELECT secret_sealed FROM webhook_endpoints"))
    assert bytes(unchanged["secret_sealed"]) == sealed

    monkeypatch.setenv("WEBHOOK_SECRET_KEYS", keys_text)
    command.downgrade(cfg, "0009")
    [restored] = asyncio.run(_query(fresh_database, "SELECT * FROM webhook_endpoints"))
    assert restored["secret"] == secret
    assert "secret_sealed" not in restored


def test_0011_gives_every_key_an_integration_and_seals_stored_responses(
    fresh_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.kit import idempotency

    keys_text = f"m1:{secretbox.encode_key(secretbox.generate_key())}"
    keys = secretbox.parse(keys_text)
    monkeypatch.setenv("WEBHOOK_SECRET_KEYS", keys_text)
    cfg = config(fresh_database)
    command.upgrade(cfg, "0010")
    secret = "sk_0badc0de_" + base64.urlsafe_b64encode(os.urandom(32)).decode()
    response = ('{"key": "' + secret + '"}').encode()
    [key] = asyncio.run(
        _query(
            fresh_database,
            """
            INSERT INTO api_keys (name, role, prefix, secret_hash, created_at)
            VALUES ('form', 'intake', '0badc0de', '\\x01', now()) RETURNING id
            """,
        )
    )
    key_id: uuid.UUID = key["id"]
    asyncio.run(
        _query(
            fresh_database,
            """
            WITH r AS (
                INSERT INTO idempotency_records (principal_id, key, fingerprint, status, body, headers,
                                                 created_at, expires_at)
                VALUES ($1, 'k1', '\\x02', 201, $2, '{}', now(), now() + interval '1 day')
                RETURNING 1
            )
            INSERT INTO inquiries (status, name, email, message, source, external_id, consent, locale,
                                   received_at, created_by_key_id, updated_at)
            SELECT 'received', 'Ada', 'ada@example.com', 'hi', 'crm', 'X', true, 'en', now(), $1, now() FROM r
            """,
            key_id,
            response,
        )
    )

    command.upgrade(cfg, "0011")
    [row] = asyncio.run(_query(fresh_database, "SELECT * FROM idempotency_records"))
    assert "body" not in row
    assert row["integration_id"] == key_id
    sealed = bytes(row["body_sealed"])
    assert secret.encode() not in sealed + repr(dict(row)).encode()
    assert idempotency.open_body(keys, key_id, "k1", sealed) == response
    [integrated] = asyncio.run(
        _query(
            fresh_database,
            "SELECT k.integration_id, i.role FROM api_keys k JOIN integrations i ON i.id = k.integration_id",
        )
    )
    assert (integrated["integration_id"], integrated["role"]) == (key_id, "intake")
    [inquiry] = asyncio.run(_query(fresh_database, "SELECT integration_id FROM inquiries"))
    assert inquiry["integration_id"] == key_id

    # a second integration's inquiry with the same (source, external_id): the old rule cannot hold it
    asyncio.run(
        _query(
            fresh_database,
            """
            WITH i AS (
                INSERT INTO integrations (name, role, created_at) VALUES ('crm', 'intake', now()) RETURNING id
            )
            INSERT INTO inquiries (status, name, email, message, source, external_id, consent, locale,
                                   received_at, integration_id, updated_at)
            SELECT 'received', 'Bob', 'bob@example.com', 'hi', 'crm', 'X', true, 'en', now(), id, now() FROM i
            """,
        )
    )
    with pytest.raises(RuntimeError, match=r"\(crm, X\)"):
        command.downgrade(cfg, "0010")
    asyncio.run(_query(fresh_database, "DELETE FROM inquiries WHERE name = 'Bob'"))
    command.downgrade(cfg, "0010")
    [restored] = asyncio.run(_query(fresh_database, "SELECT * FROM idempotency_records"))
    assert bytes(restored["body"]) == response
    assert restored["principal_id"] == key_id
    assert "integration_id" not in restored


_SEED_0011 = """
WITH c AS (
    INSERT INTO clients (name, created_at, updated_at) VALUES ('Acme', now(), now()) RETURNING id
), ended AS (
    INSERT INTO projects (client_id, name, currency, phase, phase_since, cancelled_at, created_at, updated_at)
    SELECT id, 'Ended', 'EUR', 'cancelled', '2026-11-26T12:00:00Z', '2026-11-26T12:00:00Z', now(), now()
    FROM c RETURNING id, client_id
), held AS (
    INSERT INTO projects (client_id, name, currency, phase, phase_since, resume_phase, created_at, updated_at)
    SELECT id, 'Held', 'EUR', 'on_hold', '2026-11-26T12:00:00Z', 'delivery', now(), now()
    FROM c RETURNING id
)
SELECT ended.id AS ended, ended.client_id AS client, held.id AS held FROM ended, held
"""


def _timer_sql(project: str, subject: str, due: str, met_at: str | None = None) -> str:
    """A cr_assessment timer of ``subject``: running, or met at ``met_at``."""
    state, met = ("met", f"'{met_at}'") if met_at else ("running", "NULL")
    return f"""
        INSERT INTO sla_timers (kind, subject_type, subject_id, project_id, unit, measure, amount, target,
                                warn_ratio, started_at, due_at, warn_at, state, met_at, policy_version,
                                calendar_version, created_at, updated_at)
        VALUES ('cr_assessment', 'change_request', '{subject}', '{project}', 'business', 'business_days', 2,
                '18 hours', 0.75, '2026-11-25T09:00:00Z', '{due}', '{due}'::timestamptz - interval '1 hour',
                '{state}', {met}, 1, 0, now(), now())
        RETURNING id
    """


def test_0012_ends_what_hangs_on_ended_projects_and_pauses_held_ones(fresh_database: str) -> None:
    cfg = config(fresh_database)
    command.upgrade(cfg, "0011")

    async def seed() -> dict[str, uuid.UUID]:
        conn = await asyncpg.connect(fresh_database)
        try:
            seeded = await conn.fetchrow(_SEED_0011)
            assert seeded is not None
            ids = dict(seeded)
            await conn.execute(
                "INSERT INTO project_phase_changes (project_id, from_phase, to_phase, reason, at)"
                " VALUES ($1, 'delivery', 'cancelled', 'Budget frozen', '2026-11-26T12:00:00Z')",
                ids["ended"],
            )
            submitted, approved = uuid.uuid4(), uuid.uuid4()
            # a timer left running on the cancelled project, due after it ended
            timer = await conn.fetchval(_timer_sql(str(ids["ended"]), str(submitted), "2027-01-10T09:00:00Z"))
            met_timer = await conn.fetchval(
                _timer_sql(
                    str(ids["ended"]), str(approved), "2026-11-26T09:00:00Z", met_at="2026-11-25T10:00:00Z"
                )
            )
            for cr, status, extra in (
                (submitted, "submitted", "NULL, NULL, NULL"),
                (approved, "approved", "1, 1, 1"),
            ):
                await conn.execute(
                    f"""
                    INSERT INTO change_requests (id, project_id, client_id, number, title, description, status,
                                                 requested_by, assessment_timer_id, assessment_revision,
                                                 decided_revision, amendment_number, submitted_at, created_at,
                                                 updated_at)
                    VALUES ($1, $2, $3, $4, 'A change', 'Described', '{status}', 'client', $5, {extra},
                            '2026-11-25T09:00:00Z', now(), '2026-11-25T09:00:00Z')
                    """,
                    cr,
                    ids["ended"],
                    ids["client"],
                    1 if cr == submitted else 2,
                    timer if cr == submitted else met_timer,
                )
            await conn.execute(
                """
                INSERT INTO quotes (project_id, revision, status, currency, minor_digits, total_minor, total_hours,
                                    valid_until, delivery_date, document_sha256, sent_at, created_at, updated_at)
                VALUES ($1, 1, 'sent', 'EUR', 2, 100000, 10, '2026-12-24', '2027-03-05', repeat('a', 64),
                        '2026-11-20T09:00:00Z', now(), now())
                """,
                ids["ended"],
            )
            held_timer = await conn.fetchval(
                _timer_sql(str(ids["held"]), str(uuid.uuid4()), "2099-01-01T09:00:00Z")
            )
            return {
                **ids,
                "submitted": submitted,
                "approved": approved,
                "timer": timer,
                "held_timer": held_timer,
            }
        finally:
            await conn.close()

    ids = asyncio.run(seed())
    command.upgrade(cfg, "0012")

    async def check() -> None:
        conn = await asyncpg.connect(fresh_database)
        try:
            timer = await conn.fetchrow(
                "SELECT state, cancelled_at, cancel_reason FROM sla_timers WHERE id = $1", ids["timer"]
            )
            assert timer is not None
            assert dict(timer) == {
                "state": "cancelled",
                "cancelled_at": datetime(2026, 11, 26, 12, tzinfo=UTC),
                "cancel_reason": "project cancelled: Budget frozen",
            }
            logged = await conn.fetchval(
                "SELECT count(*) FROM sla_timer_events WHERE timer_id = $1 AND event = 'cancelled'",
                ids["timer"],
            )
            assert logged == 1
            rows = await conn.fetch("SELECT id, status FROM change_requests ORDER BY number")
            assert [(r["id"], r["status"]) for r in rows] == [
                (ids["submitted"], "withdrawn"),
                (ids["approved"], "cancelled"),
            ]
            assert await conn.fetchval("SELECT status FROM quotes") == "withdrawn"
            hold = await conn.fetchrow(
                "SELECT from_phase, paused_timer_ids FROM project_holds WHERE project_id = $1", ids["held"]
            )
            assert hold is not None
            assert (hold["from_phase"], hold["paused_timer_ids"]) == ("delivery", [ids["held_timer"]])
            assert (
                await conn.fetchval("SELECT state FROM sla_timers WHERE id = $1", ids["held_timer"])
                == "paused"
            )
        finally:
            await conn.close()

    asyncio.run(check())
    command.downgrade(cfg, "0011")

    async def restored() -> None:
        conn = await asyncpg.connect(fresh_database)
        try:
            rows = await conn.fetch("SELECT status FROM change_requests ORDER BY number")
            assert [r["status"] for r in rows] == ["withdrawn", "approved"]
            assert await conn.fetchval("SELECT status FROM quotes") == "sent"
            transitions = await conn.fetchval(
                "SELECT count(*) FROM change_request_transitions WHERE to_status = 'cancelled'"
            )
            assert transitions == 0
        finally:
            await conn.close()

    asyncio.run(restored())
    command.upgrade(cfg, "head")
