"""Projects, their phases and the history of phase changes.

- ``projects``: one client's fixed-price engagement. ``phase`` starts at ``proposal`` (before a quote is
  accepted) and moves discovery → architecture_review → delivery → acceptance → support → closed, with
  ``on_hold`` (``resume_phase`` remembers where to go back) and ``cancelled`` beside them. The facts of
  each step (architecture document, sign-off, handover package, launch, support window) are columns;
  ``time_zone`` is the business calendar's zone when discovery started, in which milestone dates are
  shown.
  ``inquiry_id`` is a plain uuid: the inquiry it came from, when there was one.
- ``project_phase_changes``: append-only, one row per phase change (who, when, from, to, why).
- ``rfc3339(timestamptz)``: the RFC 3339 UTC text the API uses for instants (``...Z``, microseconds only
  when present), for JSON documents built in SQL.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE FUNCTION rfc3339(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT replace(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '.000000Z', 'Z')
$$;

CREATE TABLE projects (
    id                         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    client_id                  uuid NOT NULL REFERENCES clients (id),
    name                       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    description                text CHECK (length(description) <= 10000),
    currency                   text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    inquiry_id                 uuid,
    business_hours_support     boolean NOT NULL DEFAULT false,
    phase                      text NOT NULL DEFAULT 'proposal' CHECK (phase IN (
                                   'proposal', 'discovery', 'architecture_review', 'delivery', 'acceptance',
                                   'support', 'closed', 'on_hold', 'cancelled')),
    phase_since                timestamptz NOT NULL,
    resume_phase               text CHECK (resume_phase IN (
                                   'proposal', 'discovery', 'architecture_review', 'delivery', 'acceptance',
                                   'support')),
    time_zone                  text,
    discovery_started_at       timestamptz,
    discovery_ends_at          timestamptz,
    architecture_document_url  text,
    architecture_summary       jsonb,
    architecture_revision      integer NOT NULL DEFAULT 0,
    architecture_submitted_at  timestamptz,
    architecture_revised_at    timestamptz,
    architecture_approved_at   timestamptz,
    architecture_approved_by   uuid,
    scope_frozen_at            timestamptz,
    handover                   jsonb,
    handover_recorded_at       timestamptz,
    launched_at                timestamptz,
    support_ends_at            timestamptz,
    closed_at                  timestamptz,
    cancelled_at               timestamptz,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    version                    integer NOT NULL DEFAULT 1,
    CHECK ((phase = 'on_hold') = (resume_phase IS NOT NULL)),
    CHECK ((launched_at IS NULL) = (support_ends_at IS NULL))
);
CREATE INDEX projects_created ON projects (created_at, id);
CREATE INDEX projects_client_created ON projects (client_id, created_at, id);
CREATE INDEX projects_phase_created ON projects (phase, created_at, id);
CREATE INDEX projects_inquiry ON projects (inquiry_id) WHERE inquiry_id IS NOT NULL;
CREATE INDEX projects_support_due ON projects (support_ends_at) WHERE phase = 'support';

CREATE TABLE project_phase_changes (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id    uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    from_phase    text,
    to_phase      text NOT NULL,
    reason        text,
    actor_key_id  uuid,
    actor_role    text,
    at            timestamptz NOT NULL
);
CREATE INDEX project_phase_changes_project ON project_phase_changes (project_id, id);
"""

DOWNGRADE = """
DROP TABLE project_phase_changes;
DROP TABLE projects;
DROP FUNCTION rfc3339(timestamptz);
"""


def upgrade() -> None:
    run(UPGRADE)


def downgrade() -> None:
    run(DOWNGRADE)
