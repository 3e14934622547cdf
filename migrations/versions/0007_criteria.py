"""Acceptance criteria, their versions and their verifications.

- ``acceptance_criteria``: one row per criterion of a project, holding its current definition (``seq``
  orders a project's criteria as they were added). A
  measurable criterion has ``metric``, ``comparator``, ``threshold`` (``numeric``, exact) and ``unit``
  and no ``statement``; a statement criterion has only ``statement``. ``state`` follows the latest
  verification (``pending`` until the first), or is ``waived`` (with the waiver's reason, time and key)
  or ``removed`` (kept for history, left out of counts and the launch guard). ``version`` counts the
  definition's revisions; verifications and waivers change ``state`` without a new version.
- ``criterion_versions``: append-only; every create, edit and removal writes the whole criterion as it
  became, with who, when, why and the change request it came through (a plain uuid: change requests
  come later in the chain).
- ``criterion_verifications``: append-only; a measured value (``numeric``) or a pass/fail, the unit it
  was given in, evidence URL, notes, who and when, the verdict the service judged, the criterion
  version and sentence it was judged against, and the criterion's state after it.
- Both logs refuse ``UPDATE`` and ``DELETE`` by trigger.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE acceptance_criteria (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    project_id     uuid NOT NULL REFERENCES projects (id),
    kind           text NOT NULL CHECK (kind IN ('performance', 'quality', 'fallback', 'monitoring',
                                                 'support', 'functional')),
    title          text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    metric         text CHECK (length(metric) BETWEEN 1 AND 100),
    comparator     text CHECK (comparator IN ('<', '<=', '>', '>=', '==')),
    threshold      numeric,
    unit           text CHECK (length(unit) BETWEEN 1 AND 32),
    qualifiers     jsonb,
    statement      text CHECK (length(statement) BETWEEN 1 AND 5000),
    state          text NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'met', 'not_met', 'waived', 'removed')),
    waived_at      timestamptz,
    waived_by      uuid,
    waive_reason   text,
    removed_at     timestamptz,
    created_at     timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL,
    version        integer NOT NULL DEFAULT 1 CHECK (version >= 1),
    CHECK (
        (metric IS NOT NULL AND comparator IS NOT NULL AND threshold IS NOT NULL AND unit IS NOT NULL
         AND statement IS NULL)
        OR (metric IS NULL AND comparator IS NULL AND threshold IS NULL AND unit IS NULL
            AND qualifiers IS NULL AND statement IS NOT NULL)
    ),
    CHECK (kind NOT IN ('performance', 'quality', 'monitoring', 'support') OR metric IS NOT NULL),
    CHECK (state <> 'waived' OR (waived_at IS NOT NULL AND waive_reason IS NOT NULL)),
    CHECK ((state = 'removed') = (removed_at IS NOT NULL))
);
CREATE INDEX acceptance_criteria_project ON acceptance_criteria (project_id, seq);

CREATE TABLE criterion_versions (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    criterion_id       uuid NOT NULL REFERENCES acceptance_criteria (id),
    version            integer NOT NULL CHECK (version >= 1),
    change             text NOT NULL CHECK (change IN ('created', 'updated', 'removed')),
    criterion          jsonb NOT NULL,
    reason             text,
    change_request_id  uuid,
    actor_key_id       uuid,
    actor_role         text,
    at                 timestamptz NOT NULL,
    UNIQUE (criterion_id, version)
);

CREATE TABLE criterion_verifications (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq                bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    criterion_id       uuid NOT NULL REFERENCES acceptance_criteria (id),
    criterion_version  integer NOT NULL,
    sentence           text NOT NULL,
    measured_value     numeric,
    passed             boolean,
    unit               text,
    evidence_url       text,
    notes              text,
    verdict            text NOT NULL CHECK (verdict IN ('met', 'not_met')),
    criterion_state    text NOT NULL CHECK (criterion_state IN ('met', 'not_met', 'waived')),
    actor_key_id       uuid,
    actor_role         text,
    actor_name         text,
    verified_at        timestamptz NOT NULL,
    CHECK ((measured_value IS NULL) <> (passed IS NULL)),
    CHECK (measured_value IS NULL OR unit IS NOT NULL)
);
CREATE INDEX criterion_verifications_criterion ON criterion_verifications (criterion_id, seq);

CREATE FUNCTION criteria_logs_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER criterion_versions_append_only BEFORE UPDATE OR DELETE ON criterion_versions
    FOR EACH ROW EXECUTE FUNCTION criteria_logs_append_only();
CREATE TRIGGER criterion_verifications_append_only BEFORE UPDATE OR DELETE ON criterion_verifications
    FOR EACH ROW EXECUTE FUNCTION criteria_logs_append_only();
"""

DOWNGRADE = """
DROP TABLE criterion_verifications;
DROP TABLE criterion_versions;
DROP FUNCTION criteria_logs_append_only();
DROP TABLE acceptance_criteria;
"""


def upgrade() -> None:
    run(UPGRADE)


def downgrade() -> None:
    run(DOWNGRADE)
