"""Change requests: the request, its assessment revisions and its transitions.

- ``change_requests``: one requested change to a project's scope, numbered 1, 2, ... per project.
  ``requested_by`` is the side that asks for it (``staff`` or ``client``; a draft made from a support
  feature request is the client's), ``submitted_by_*`` the key that submitted it. ``status`` follows the
  state machine ``submitted → assessed → approved → in_progress → done``, ``assessed → rejected``,
  ``submitted|assessed → withdrawn``. ``assessment_revision`` is the revision the client decides on
  (null before the first assessment); ``decided_revision`` the one approved or rejected.
  ``assessment_timer_id`` is its ``cr_assessment`` SLA timer (the timer is the truth for due and met
  times); ``support_request_id`` a plain uuid (support requests come later) naming the feature request
  it was drafted from. ``amendment_number`` is the contract amendment its approval appended.
- ``change_request_assessments``: the revisions sent to the client, immutable once written (a trigger
  refuses updates and deletes except the cascade of their change request): price impact in minor units
  with its currency and digits, timeline impact in business days, line items, criteria changes, risk,
  notes, and the ``cr_client_decision`` timer started when the revision was sent.
- ``change_request_transitions``: every transition (who, when, from, to, reason, revision),
  append-only in the same way.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE change_requests (
    id                    uuid PRIMARY KEY,
    project_id            uuid NOT NULL REFERENCES projects (id),
    client_id             uuid NOT NULL REFERENCES clients (id),
    number                integer NOT NULL CHECK (number >= 1),
    title                 text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description           text NOT NULL CHECK (length(description) BETWEEN 1 AND 20000),
    reason                text CHECK (length(reason) BETWEEN 1 AND 5000),
    status                text NOT NULL DEFAULT 'submitted' CHECK (status IN (
                              'submitted', 'assessed', 'approved', 'in_progress', 'done', 'rejected',
                              'withdrawn')),
    requested_by          text NOT NULL CHECK (requested_by IN ('staff', 'client')),
    submitted_by_role     text CHECK (submitted_by_role IN ('staff', 'client')),
    submitted_by_key_id   uuid,
    submitted_by_name     text,
    support_request_id    uuid,
    assessment_timer_id   uuid NOT NULL REFERENCES sla_timers (id),
    assessment_revision   integer CHECK (assessment_revision >= 1),
    decided_revision      integer CHECK (decided_revision >= 1),
    amendment_number      integer CHECK (amendment_number >= 1),
    submitted_at          timestamptz NOT NULL,
    assessed_at           timestamptz,
    decided_at            timestamptz,
    started_at            timestamptz,
    completed_at          timestamptz,
    withdrawn_at          timestamptz,
    rejection_reason      text,
    withdrawal_reason     text,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL,
    version               integer NOT NULL DEFAULT 1,
    UNIQUE (project_id, number),
    CHECK ((status = 'submitted') = (assessment_revision IS NULL) OR status = 'withdrawn'),
    CHECK ((status IN ('approved', 'in_progress', 'done', 'rejected')) = (decided_revision IS NOT NULL)),
    CHECK ((status IN ('approved', 'in_progress', 'done')) = (amendment_number IS NOT NULL)),
    CHECK ((status = 'rejected') = (rejection_reason IS NOT NULL)),
    CHECK ((status = 'withdrawn') = (withdrawal_reason IS NOT NULL AND withdrawn_at IS NOT NULL))
);
CREATE INDEX change_requests_project_status ON change_requests (project_id, status);
CREATE UNIQUE INDEX change_requests_support_request ON change_requests (support_request_id)
    WHERE support_request_id IS NOT NULL;
CREATE UNIQUE INDEX change_requests_assessment_timer ON change_requests (assessment_timer_id);

CREATE TABLE change_request_assessments (
    change_request_id     uuid NOT NULL REFERENCES change_requests (id) ON DELETE CASCADE,
    revision              integer NOT NULL CHECK (revision >= 1),
    currency              text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    minor_digits          integer NOT NULL CHECK (minor_digits BETWEEN 0 AND 4),
    price_impact_minor    bigint NOT NULL,
    timeline_impact_days  integer NOT NULL,
    lines                 jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(lines) = 'array'),
    criteria_changes      jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(criteria_changes) = 'array'),
    risk                  text NOT NULL CHECK (risk IN ('low', 'medium', 'high')),
    notes                 text NOT NULL CHECK (length(notes) <= 20000),
    decision_timer_id     uuid NOT NULL REFERENCES sla_timers (id),
    assessed_by_key_id    uuid,
    assessed_by_name      text,
    assessed_at           timestamptz NOT NULL,
    PRIMARY KEY (change_request_id, revision)
);
CREATE UNIQUE INDEX change_request_assessments_timer ON change_request_assessments (decision_timer_id);

CREATE TABLE change_request_transitions (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    change_request_id     uuid NOT NULL REFERENCES change_requests (id) ON DELETE CASCADE,
    from_status           text,
    to_status             text NOT NULL,
    assessment_revision   integer,
    reason                text,
    actor_key_id          uuid,
    actor_role            text,
    actor_name            text,
    at                    timestamptz NOT NULL
);
CREATE INDEX change_request_transitions_request ON change_request_transitions (change_request_id, id);

CREATE FUNCTION change_request_records_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND pg_trigger_depth() > 1 THEN
        RETURN OLD;  -- a cascade from the change request
    END IF;
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER change_request_assessments_append_only BEFORE UPDATE OR DELETE ON change_request_assessments
    FOR EACH ROW EXECUTE FUNCTION change_request_records_append_only();
CREATE TRIGGER change_request_transitions_append_only BEFORE UPDATE OR DELETE ON change_request_transitions
    FOR EACH ROW EXECUTE FUNCTION change_request_records_append_only();
"""

DOWNGRADE = """
DROP TABLE change_request_transitions;
DROP TABLE change_request_assessments;
DROP FUNCTION change_request_records_append_only();
DROP TABLE change_requests;
"""


def upgrade() -> None:
    run(UPGRADE)


def downgrade() -> None:
    run(DOWNGRADE)
