"""Inquiries: the inquiry, its raw submission and its replies.

- ``inquiries``: one inquiry from a CRM or a website form. ``status`` follows received → replied →
  qualified | closed, with ``quarantined`` beside them (release → received). ``(source, external_id)``
  is unique (NULL external ids never collide): a CRM posting the same record twice gets the first one,
  and ``INSERT ... ON CONFLICT DO NOTHING`` makes concurrent posts create one row.
  ``quarantine_reason`` stays after a release as the record of why the inquiry was held.
  ``created_by_key_id`` is the key that posted it (an intake key reads back only its own).
- ``inquiry_submissions``: the request exactly as it arrived (body bytes, content type, peer address,
  ``X-Forwarded-For``, user agent, origin), one per inquiry, kept even for quarantined ones.
- ``inquiry_replies``: append-only, every reply staff record; ``first`` marks the one that met the
  reply timer (at most one per inquiry).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE inquiries (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    status             text NOT NULL CHECK (status IN ('received', 'replied', 'qualified', 'closed', 'quarantined')),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email              text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    company            text CHECK (length(company) <= 200),
    phone              text CHECK (length(phone) <= 50),
    message            text NOT NULL CHECK (length(message) BETWEEN 1 AND 20000),
    source             text NOT NULL CHECK (source IN ('website', 'crm', 'email', 'referral', 'other')),
    external_id        text CHECK (length(external_id) BETWEEN 1 AND 200),
    budget             text CHECK (length(budget) <= 200),
    timeline           text CHECK (length(timeline) <= 200),
    consent            boolean NOT NULL,
    locale             text NOT NULL,
    quarantine_reason  text CHECK (quarantine_reason IN ('honeypot', 'flood', 'undeliverable_email')),
    received_at        timestamptz NOT NULL,
    replied_at         timestamptz,
    released_at        timestamptz,
    closed_at          timestamptz,
    close_reason       text CHECK (length(close_reason) <= 2000),
    qualified_at       timestamptz,
    client_id          uuid REFERENCES clients (id),
    project_id         uuid REFERENCES projects (id),
    created_by_key_id  uuid REFERENCES api_keys (id),
    updated_at         timestamptz NOT NULL,
    version            integer NOT NULL DEFAULT 1,
    CONSTRAINT inquiries_source_external_id_key UNIQUE (source, external_id),
    CHECK (status <> 'quarantined' OR quarantine_reason IS NOT NULL),
    CHECK (status <> 'closed' OR (closed_at IS NOT NULL AND close_reason IS NOT NULL)),
    CHECK (status <> 'qualified' OR (client_id IS NOT NULL AND project_id IS NOT NULL AND qualified_at IS NOT NULL))
);
CREATE INDEX inquiries_received ON inquiries (received_at DESC, id DESC);
CREATE INDEX inquiries_status_received ON inquiries (status, received_at DESC, id DESC);
CREATE INDEX inquiries_source_received ON inquiries (source, received_at DESC, id DESC);
CREATE INDEX inquiries_client ON inquiries (client_id) WHERE client_id IS NOT NULL;
CREATE INDEX inquiries_project ON inquiries (project_id) WHERE project_id IS NOT NULL;

CREATE TABLE inquiry_submissions (
    inquiry_id     uuid PRIMARY KEY REFERENCES inquiries (id) ON DELETE CASCADE,
    body           bytea NOT NULL,
    content_type   text,
    ip             text,
    forwarded_for  text,
    user_agent     text,
    origin         text,
    received_at    timestamptz NOT NULL
);

CREATE TABLE inquiry_replies (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq                bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    inquiry_id         uuid NOT NULL REFERENCES inquiries (id) ON DELETE CASCADE,
    message            text NOT NULL CHECK (length(message) BETWEEN 1 AND 20000),
    send_email         boolean NOT NULL,
    first              boolean NOT NULL,
    replied_by_key_id  uuid REFERENCES api_keys (id),
    replied_at         timestamptz NOT NULL
);
CREATE INDEX inquiry_replies_inquiry ON inquiry_replies (inquiry_id, replied_at, seq);
CREATE UNIQUE INDEX inquiry_replies_one_first ON inquiry_replies (inquiry_id) WHERE first;
"""

DOWNGRADE = """
DROP TABLE inquiry_replies;
DROP TABLE inquiry_submissions;
DROP TABLE inquiries;
"""


def upgrade() -> None:
    run(UPGRADE)


def downgrade() -> None:
    run(DOWNGRADE)
