"""Foundation: clients and contacts, API keys, idempotency records, domain events, audit entries.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run("""
    CREATE TABLE clients (
        id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        email_domain  text CHECK (email_domain = lower(email_domain)),
        created_at    timestamptz NOT NULL,
        updated_at    timestamptz NOT NULL,
        version       integer NOT NULL DEFAULT 1
    );
    CREATE UNIQUE INDEX clients_email_domain_key ON clients (email_domain) WHERE email_domain IS NOT NULL;
    CREATE INDEX clients_created ON clients (created_at, id);

    CREATE TABLE client_contacts (
        id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        client_id  uuid NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
        position   smallint NOT NULL,
        name       text NOT NULL,
        email      text NOT NULL,
        locale     text NOT NULL DEFAULT 'en',
        time_zone  text,
        UNIQUE (client_id, position)
    );
    CREATE INDEX client_contacts_client ON client_contacts (client_id);

    CREATE TABLE api_keys (
        id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name         text NOT NULL,
        role         text NOT NULL CHECK (role IN ('staff', 'client', 'intake')),
        client_id    uuid REFERENCES clients (id),
        prefix       text NOT NULL,
        secret_hash  bytea NOT NULL UNIQUE,
        created_at   timestamptz NOT NULL,
        created_by   uuid REFERENCES api_keys (id),
        revoked_at   timestamptz,
        CHECK ((role = 'client') = (client_id IS NOT NULL))
    );
    CREATE INDEX api_keys_created ON api_keys (created_at, id);

    CREATE TABLE idempotency_records (
        principal_id  uuid NOT NULL,
        key           text NOT NULL,
        fingerprint   bytea NOT NULL,
        status        smallint NOT NULL,
        body          bytea NOT NULL,
        headers       jsonb NOT NULL,
        created_at    timestamptz NOT NULL,
        expires_at    timestamptz NOT NULL,
        PRIMARY KEY (principal_id, key)
    );
    CREATE INDEX idempotency_records_expiry ON idempotency_records (expires_at);

    CREATE TABLE domain_events (
        id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        txid           xid8 NOT NULL DEFAULT pg_current_xact_id(),
        type           text NOT NULL,
        subject_type   text NOT NULL,
        subject_id     uuid NOT NULL,
        client_id      uuid,
        project_id     uuid,
        actor_key_id   uuid,
        actor_role     text,
        data           jsonb NOT NULL,
        occurred_at    timestamptz NOT NULL,
        dispatched_at  timestamptz
    );
    CREATE INDEX domain_events_undispatched ON domain_events (occurred_at) WHERE dispatched_at IS NULL;
    CREATE INDEX domain_events_type_seq ON domain_events (type, seq);
    CREATE INDEX domain_events_project_seq ON domain_events (project_id, seq) WHERE project_id IS NOT NULL;
    CREATE INDEX domain_events_subject ON domain_events (subject_id, seq);

    CREATE TABLE audit_entries (
        id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at            timestamptz NOT NULL,
        actor_key_id  uuid,
        actor_role    text,
        action        text NOT NULL,
        subject_type  text NOT NULL,
        subject_id    uuid NOT NULL,
        details       jsonb NOT NULL DEFAULT '{}'
    );
    CREATE INDEX audit_entries_subject ON audit_entries (subject_type, subject_id, at);
    """)


def downgrade() -> None:
    run("""
    DROP TABLE audit_entries;
    DROP TABLE domain_events;
    DROP TABLE idempotency_records;
    DROP TABLE api_keys;
    DROP TABLE client_contacts;
    DROP TABLE clients;
    """)
