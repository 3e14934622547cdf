"""Integrations as the scope of duplicates; idempotent responses sealed at rest.

- ``integrations`` (id, name, role, client_id, created_at): the caller behind one or more API keys (a
  CRM, a website form, a dashboard). Every key belongs to one (``api_keys.integration_id``, NOT NULL),
  with the integration's role and organisation (two composite foreign keys hold that). Each existing
  key becomes an integration of its own, with the key's id as the integration's id.
- ``inquiries.integration_id``: the integration of the key that sent it (from ``created_by_key_id``).
  The duplicate rule ``UNIQUE (source, external_id)`` becomes ``UNIQUE (integration_id, source,
  external_id)``: another integration's inquiry with the same pair is a different inquiry.
- ``idempotency_records``: ``principal_id`` (a key id, the same as its integration's id here) becomes
  ``integration_id``; ``body`` (clear) becomes ``body_sealed``: AES-256-GCM under the first key of
  ``WEBHOOK_SECRET_KEYS`` (``api.kit.idempotency.seal_body``, bound to the record's integration and
  key); NULL for a placeholder (status 0).
- Downgrade: opens every sealed body with any key of ``WEBHOOK_SECRET_KEYS`` (one that none opens stops
  the downgrade, with the record named) and gives each record to the oldest key of its integration
  (records of integrations without a key are dropped); it refuses, changing nothing, when two
  integrations hold inquiries with the same (source, external_id), which the old rule cannot hold.
- Rows are read and written from Python, so this revision cannot run in offline (``--sql``) mode.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

from uuid import UUID

import sqlalchemy as sa
from alembic import context, op

from api.kit import idempotency, secretbox
from api.settings import Settings
from migrations.sql import run

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE integrations (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    role        text NOT NULL CHECK (role IN ('staff', 'client', 'intake')),
    client_id   uuid REFERENCES clients (id),
    created_at  timestamptz NOT NULL,
    CHECK ((role = 'client') = (client_id IS NOT NULL)),
    CONSTRAINT integrations_id_role_key UNIQUE (id, role),
    CONSTRAINT integrations_id_client_key UNIQUE (id, client_id)
);
INSERT INTO integrations (id, name, role, client_id, created_at)
SELECT id, name, role, client_id, created_at FROM api_keys;

ALTER TABLE api_keys ADD COLUMN integration_id uuid;
UPDATE api_keys SET integration_id = id;
ALTER TABLE api_keys
    ALTER COLUMN integration_id SET NOT NULL,
    ADD CONSTRAINT api_keys_integration_role_fkey FOREIGN KEY (integration_id, role)
        REFERENCES integrations (id, role),
    ADD CONSTRAINT api_keys_integration_client_fkey FOREIGN KEY (integration_id, client_id)
        REFERENCES integrations (id, client_id);
CREATE INDEX api_keys_integration ON api_keys (integration_id);

ALTER TABLE inquiries ADD COLUMN integration_id uuid REFERENCES integrations (id);
UPDATE inquiries i SET integration_id = k.integration_id FROM api_keys k WHERE k.id = i.created_by_key_id;
ALTER TABLE inquiries DROP CONSTRAINT inquiries_source_external_id_key;
ALTER TABLE inquiries ADD CONSTRAINT inquiries_integration_source_external_id_key
    UNIQUE (integration_id, source, external_id);

ALTER TABLE idempotency_records RENAME COLUMN principal_id TO integration_id;
ALTER TABLE idempotency_records ADD COLUMN body_sealed bytea;
"""

UPGRADE_AFTER_SEALING = """
ALTER TABLE idempotency_records DROP COLUMN body;
ALTER TABLE idempotency_records ADD CONSTRAINT idempotency_records_sealed_check
    CHECK (status = 0 OR body_sealed IS NOT NULL);
"""

DOWNGRADE_BEFORE_OPENING = """
ALTER TABLE idempotency_records DROP CONSTRAINT idempotency_records_sealed_check;
ALTER TABLE idempotency_records ADD COLUMN body bytea;
"""

DOWNGRADE = """
UPDATE idempotency_records SET body = '' WHERE body IS NULL;
ALTER TABLE idempotency_records ALTER COLUMN body SET NOT NULL;
ALTER TABLE idempotency_records DROP COLUMN body_sealed;
DELETE FROM idempotency_records r
WHERE NOT EXISTS (SELECT FROM api_keys k WHERE k.integration_id = r.integration_id);
UPDATE idempotency_records r
SET integration_id = (SELECT k.id FROM api_keys k WHERE k.integration_id = r.integration_id
                      ORDER BY k.created_at, k.id LIMIT 1);
ALTER TABLE idempotency_records RENAME COLUMN integration_id TO principal_id;

ALTER TABLE inquiries DROP CONSTRAINT inquiries_integration_source_external_id_key;
ALTER TABLE inquiries ADD CONSTRAINT inquiries_source_external_id_key UNIQUE (source, external_id);
ALTER TABLE inquiries DROP COLUMN integration_id;

DROP INDEX api_keys_integration;
ALTER TABLE api_keys DROP COLUMN integration_id;
DROP TABLE integrations;
"""

_WRITE_SEALED = sa.text(
    "UPDATE idempotency_records SET body_sealed = :sealed WHERE integration_id = :integration AND key = :key"
).bindparams(sa.bindparam("sealed", type_=sa.LargeBinary))
_WRITE_CLEAR = sa.text(
    "UPDATE idempotency_records SET body = :body WHERE integration_id = :integration AND key = :key"
).bindparams(sa.bindparam("body", type_=sa.LargeBinary))


def _keys() -> secretbox.Keyring:
    if context.is_offline_mode():
        raise RuntimeError("revision 0011 re-encrypts stored rows and needs a live database (no --sql)")
    return Settings.from_env().webhook_secret_keys


def _uuid(value: object) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def upgrade() -> None:
    keys = _keys()
    run(UPGRADE)
    bind = op.get_bind()
    rows = bind.execute(
        sa.text("SELECT integration_id, key, body FROM idempotency_records WHERE status <> 0 ORDER BY 1, 2")
    ).all()
    sealed = [
        {
            "integration": row.integration_id,
            "key": row.key,
            "sealed": idempotency.seal_body(keys, _uuid(row.integration_id), row.key, bytes(row.body)),
        }
        for row in rows
    ]
    if sealed:
        bind.execute(_WRITE_SEALED, sealed)
    run(UPGRADE_AFTER_SEALING)


def downgrade() -> None:
    keys = _keys()
    bind = op.get_bind()
    clashes = bind.execute(
        sa.text(
            """
            SELECT source, external_id FROM inquiries WHERE external_id IS NOT NULL
            GROUP BY source, external_id HAVING count(*) > 1 LIMIT 5
            """
        )
    ).all()
    if clashes:
        named = ", ".join(f"({row.source}, {row.external_id})" for row in clashes)
        raise RuntimeError(
            "revision 0011 cannot be downgraded: inquiries of different integrations share "
            f"(source, external_id) {named}; close or change them first"
        )
    rows = bind.execute(
        sa.text(
            "SELECT integration_id, key, body_sealed FROM idempotency_records WHERE status <> 0 ORDER BY 1, 2"
        )
    ).all()
    opened: list[dict[str, object]] = []
    for row in rows:
        try:
            body = idempotency.open_body(keys, _uuid(row.integration_id), row.key, bytes(row.body_sealed))
        except secretbox.SealError as exc:
            raise RuntimeError(
                f"idempotency record ({row.integration_id}, {row.key!r}): response cannot be decrypted ({exc})"
            ) from None
        opened.append({"integration": row.integration_id, "key": row.key, "body": body})
    run(DOWNGRADE_BEFORE_OPENING)
    if opened:
        bind.execute(_WRITE_CLEAR, opened)
    run(DOWNGRADE)
