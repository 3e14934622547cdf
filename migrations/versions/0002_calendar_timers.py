"""Business calendar and SLA timers.

- ``calendar_versions``: every stored business calendar (a ``CalendarSpec`` as JSON), numbered from 1.
- ``business_calendar``: one row naming the version in force; version 0 (no stored calendar) means the
  defaults from the settings. Writers lock this row ``FOR UPDATE``; code that computes a due time from
  the calendar inside a transaction locks it ``FOR SHARE``, so a calendar change and the timers it must
  recompute never miss each other.
- ``sla_policies``: targets and warning ratios per timer kind; a new version holds a row for every kind.
- ``sla_timers``: the one table of timers; workers only act on it. The partial index
  ``sla_timers_next_fire`` holds running timers only, keyed by the next instant something fires (the
  warning while it has not fired, then the due time), so the sweep's cost follows the due timers.
- ``sla_timer_events``: the append-only log of each timer (a trigger refuses updates and deletes).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE calendar_versions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    version     integer NOT NULL UNIQUE CHECK (version >= 1),
    spec        jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    created_by  uuid
);

CREATE TABLE business_calendar (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version     integer NOT NULL DEFAULT 0 CHECK (version >= 0),
    version_id  uuid REFERENCES calendar_versions (id),
    updated_at  timestamptz,
    CHECK ((version = 0) = (version_id IS NULL))
);
INSERT INTO business_calendar (singleton, version) VALUES (true, 0);

CREATE TABLE sla_policies (
    version     integer NOT NULL CHECK (version >= 1),
    kind        text NOT NULL CHECK (kind IN ('inquiry_reply', 'cr_assessment', 'cr_client_decision',
                                               'support_first_response', 'architecture_review')),
    measure     text NOT NULL CHECK (measure IN ('business_days', 'hours', 'end_of_business_day')),
    amount      integer NOT NULL CHECK (amount BETWEEN 1 AND 1000),
    unit        text NOT NULL CHECK (unit IN ('business', 'clock')),
    warn_ratio  double precision NOT NULL CHECK (warn_ratio > 0 AND warn_ratio < 1),
    created_at  timestamptz NOT NULL,
    created_by  uuid,
    PRIMARY KEY (version, kind),
    CHECK (measure = 'hours' OR unit = 'business')
);
CREATE INDEX sla_policies_kind ON sla_policies (kind, version DESC);
INSERT INTO sla_policies (version, kind, measure, amount, unit, warn_ratio, created_at) VALUES
    (1, 'inquiry_reply', 'business_days', 1, 'business', 0.75, now()),
    (1, 'cr_assessment', 'business_days', 2, 'business', 0.75, now()),
    (1, 'cr_client_decision', 'business_days', 5, 'business', 0.75, now()),
    (1, 'support_first_response', 'hours', 24, 'clock', 0.75, now()),
    (1, 'architecture_review', 'end_of_business_day', 5, 'business', 0.75, now());

CREATE TABLE sla_timers (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind              text NOT NULL CHECK (kind IN ('inquiry_reply', 'cr_assessment', 'cr_client_decision',
                                                     'support_first_response', 'architecture_review')),
    subject_type      text NOT NULL,
    subject_id        uuid NOT NULL,
    project_id        uuid,
    client_id         uuid,
    unit              text NOT NULL CHECK (unit IN ('business', 'clock')),
    measure           text NOT NULL CHECK (measure IN ('business_days', 'hours', 'end_of_business_day')),
    amount            integer NOT NULL CHECK (amount >= 1),
    target            interval NOT NULL,
    warn_ratio        double precision NOT NULL CHECK (warn_ratio > 0 AND warn_ratio < 1),
    started_at        timestamptz NOT NULL,
    due_at            timestamptz NOT NULL,
    warn_at           timestamptz NOT NULL,
    state             text NOT NULL DEFAULT 'running'
                      CHECK (state IN ('running', 'paused', 'met', 'breached', 'cancelled')),
    warned_at         timestamptz,
    breached_at       timestamptz,
    met_at            timestamptz,
    paused_at         timestamptz,
    paused_total      interval NOT NULL DEFAULT '0',
    cancelled_at      timestamptz,
    cancel_reason     text,
    policy_version    integer NOT NULL,
    calendar_version  integer,
    data              jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    version           integer NOT NULL DEFAULT 1,
    CHECK ((state = 'paused') = (paused_at IS NOT NULL)),
    CHECK (state NOT IN ('running', 'paused')
           OR (met_at IS NULL AND cancelled_at IS NULL AND breached_at IS NULL)),
    CHECK (state <> 'met' OR (met_at IS NOT NULL AND breached_at IS NULL)),
    CHECK (state <> 'breached' OR breached_at IS NOT NULL),
    CHECK (state <> 'cancelled' OR (cancelled_at IS NOT NULL AND breached_at IS NULL)),
    CHECK ((unit = 'business') = (calendar_version IS NOT NULL))
);
CREATE UNIQUE INDEX sla_timers_one_open ON sla_timers (kind, subject_id)
    WHERE met_at IS NULL AND cancelled_at IS NULL;
CREATE INDEX sla_timers_next_fire ON sla_timers ((CASE WHEN warned_at IS NULL THEN warn_at ELSE due_at END))
    WHERE state = 'running';
CREATE INDEX sla_timers_live_business ON sla_timers (id)
    WHERE state IN ('running', 'paused') AND unit = 'business';
CREATE INDEX sla_timers_due ON sla_timers (due_at, id);
CREATE INDEX sla_timers_subject ON sla_timers (subject_id, kind, started_at DESC);
CREATE INDEX sla_timers_project ON sla_timers (project_id, kind) WHERE project_id IS NOT NULL;

CREATE TABLE sla_timer_events (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    timer_id          uuid NOT NULL REFERENCES sla_timers (id),
    event             text NOT NULL CHECK (event IN ('started', 'warned', 'paused', 'resumed', 'recomputed',
                                                     'met', 'breached', 'cancelled')),
    at                timestamptz NOT NULL,
    old_due_at        timestamptz,
    due_at            timestamptz NOT NULL,
    old_warn_at       timestamptz,
    warn_at           timestamptz NOT NULL,
    calendar_version  integer,
    details           jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX sla_timer_events_timer ON sla_timer_events (timer_id, id);

CREATE FUNCTION sla_timer_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'sla_timer_events is append-only';
END;
$$;
CREATE TRIGGER sla_timer_events_append_only BEFORE UPDATE OR DELETE ON sla_timer_events
    FOR EACH ROW EXECUTE FUNCTION sla_timer_events_append_only();
"""

DOWNGRADE = """
DROP TABLE sla_timer_events;
DROP FUNCTION sla_timer_events_append_only();
DROP TABLE sla_timers;
DROP TABLE sla_policies;
DROP TABLE business_calendar;
DROP TABLE calendar_versions;
"""


def upgrade() -> None:
    run(UPGRADE)


def downgrade() -> None:
    run(DOWNGRADE)
