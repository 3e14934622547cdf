"""Quotes and the contract ledger.

- ``quotes``: one row per quote *revision* (the API's ``/v1/quotes/{id}``). A project's revisions are
  numbered 1, 2, ... in order of creation (``UNIQUE (project_id, revision)``). ``status`` follows
  draft → sent → accepted | declined | expired, with ``superseded`` for a sent revision replaced by a
  newer one. Money is in minor units of ``currency`` (``minor_digits`` digits after the point); lines,
  assumptions, exclusions and the payment schedule are the JSON documents the service wrote (line amounts
  in minor units, hours and shares as decimal strings). At most one draft, one sent and one accepted
  revision per project (partial unique indexes). ``quotes_immutable`` refuses any change to the content
  of a revision once it has left ``draft``: only its status and the facts of its outcome may be set.
  Acceptance evidence (name, time, address, user agent, the SHA-256 of the canonical document the client
  accepted) lives on the accepted revision.
- ``contracts``: one per project, created when a quote is accepted: the baseline (price, delivery date,
  the accepted revision) and the running figures the ledger maintains (Σ approved price impacts, Σ
  approved business days, current delivery date, number of amendments).
- ``contract_amendments``: the append-only ledger (``contract_amendments_append_only`` refuses updates
  and deletes), numbered 1, 2, ... per contract; ``change_request_id`` is a plain uuid (change requests
  come later) and unique when set: a change request amends the contract at most once. Each row keeps
  the contract's price and delivery date right after it. Rows go only with their project (a cascade).
- ``money_text(minor, digits)``: minor units as the wire's decimal string, for JSON built in SQL.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE FUNCTION money_text(minor bigint, digits integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT round(minor::numeric / (10::numeric ^ digits), digits)::text
$$;

CREATE TABLE quotes (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id           uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    revision             integer NOT NULL CHECK (revision >= 1),
    status               text NOT NULL DEFAULT 'draft' CHECK (status IN (
                             'draft', 'sent', 'accepted', 'declined', 'expired', 'superseded')),
    currency             text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    minor_digits         smallint NOT NULL CHECK (minor_digits BETWEEN 0 AND 4),
    lines                jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(lines) = 'array'),
    assumptions          jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(assumptions) = 'array'),
    exclusions           jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(exclusions) = 'array'),
    payment_schedule     jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(payment_schedule) = 'array'),
    total_minor          bigint NOT NULL CHECK (total_minor >= 0),
    total_hours          numeric(14, 2) NOT NULL CHECK (total_hours >= 0),
    valid_until          date,
    delivery_date        date,
    revised_from         uuid REFERENCES quotes (id),
    document_sha256      text CHECK (document_sha256 ~ '^[0-9a-f]{64}$'),
    sent_at              timestamptz,
    sent_by              uuid,
    accepted_at          timestamptz,
    accepted_by_name     text CHECK (length(accepted_by_name) BETWEEN 1 AND 200),
    accepted_by_key      uuid,
    accepted_ip          text,
    accepted_user_agent  text,
    evidence_sha256      text CHECK (evidence_sha256 ~ '^[0-9a-f]{64}$'),
    declined_at          timestamptz,
    declined_by_key      uuid,
    decline_reason       text,
    expired_at           timestamptz,
    superseded_at        timestamptz,
    superseded_by        uuid REFERENCES quotes (id),
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    version              integer NOT NULL DEFAULT 1,
    UNIQUE (project_id, revision),
    CHECK ((status = 'draft') = (sent_at IS NULL)),
    CHECK (status = 'draft' OR (document_sha256 IS NOT NULL AND valid_until IS NOT NULL
                                AND delivery_date IS NOT NULL)),
    CHECK ((status = 'accepted') = (accepted_at IS NOT NULL)),
    CHECK (accepted_at IS NULL OR (accepted_by_name IS NOT NULL AND evidence_sha256 IS NOT NULL)),
    CHECK ((status = 'declined') = (declined_at IS NOT NULL)),
    CHECK ((status = 'expired') = (expired_at IS NOT NULL)),
    CHECK ((status = 'superseded') = (superseded_at IS NOT NULL))
);
CREATE UNIQUE INDEX quotes_one_draft ON quotes (project_id) WHERE status = 'draft';
CREATE UNIQUE INDEX quotes_one_sent ON quotes (project_id) WHERE status = 'sent';
CREATE UNIQUE INDEX quotes_one_accepted ON quotes (project_id) WHERE status = 'accepted';
CREATE INDEX quotes_sent_valid_until ON quotes (valid_until) WHERE status = 'sent';

CREATE FUNCTION quotes_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.status <> 'draft' AND (
        NEW.project_id IS DISTINCT FROM OLD.project_id OR
        NEW.revision IS DISTINCT FROM OLD.revision OR
        NEW.currency IS DISTINCT FROM OLD.currency OR
        NEW.minor_digits IS DISTINCT FROM OLD.minor_digits OR
        NEW.lines IS DISTINCT FROM OLD.lines OR
        NEW.assumptions IS DISTINCT FROM OLD.assumptions OR
        NEW.exclusions IS DISTINCT FROM OLD.exclusions OR
        NEW.payment_schedule IS DISTINCT FROM OLD.payment_schedule OR
        NEW.total_minor IS DISTINCT FROM OLD.total_minor OR
        NEW.total_hours IS DISTINCT FROM OLD.total_hours OR
        NEW.valid_until IS DISTINCT FROM OLD.valid_until OR
        NEW.delivery_date IS DISTINCT FROM OLD.delivery_date OR
        NEW.document_sha256 IS DISTINCT FROM OLD.document_sha256 OR
        NEW.sent_at IS DISTINCT FROM OLD.sent_at
    ) THEN
        RAISE EXCEPTION 'quote revision % is % and its content cannot change', OLD.id, OLD.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.status NOT IN ('draft', 'sent') AND NEW.status IS DISTINCT FROM OLD.status THEN
        RAISE EXCEPTION 'quote revision % is % for good', OLD.id, OLD.status
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER quotes_immutable BEFORE UPDATE ON quotes
    FOR EACH ROW EXECUTE FUNCTION quotes_immutable();

CREATE TABLE contracts (
    id                      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id              uuid NOT NULL UNIQUE REFERENCES projects (id) ON DELETE CASCADE,
    quote_id                uuid NOT NULL UNIQUE REFERENCES quotes (id),
    currency                text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    minor_digits            smallint NOT NULL CHECK (minor_digits BETWEEN 0 AND 4),
    baseline_price_minor    bigint NOT NULL CHECK (baseline_price_minor > 0),
    baseline_delivery_date  date NOT NULL,
    accepted_at             timestamptz NOT NULL,
    approved_changes_minor  bigint NOT NULL DEFAULT 0,
    timeline_impact_days    integer NOT NULL DEFAULT 0,
    current_delivery_date   date NOT NULL,
    amendment_count         integer NOT NULL DEFAULT 0 CHECK (amendment_count >= 0),
    created_at              timestamptz NOT NULL,
    updated_at              timestamptz NOT NULL,
    version                 integer NOT NULL DEFAULT 1,
    CHECK (baseline_price_minor + approved_changes_minor >= 0)
);

CREATE TABLE contract_amendments (
    id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    contract_id            uuid NOT NULL REFERENCES contracts (id) ON DELETE CASCADE,
    project_id             uuid NOT NULL,
    number                 integer NOT NULL CHECK (number >= 1),
    change_request_id      uuid,
    price_impact_minor     bigint NOT NULL,
    timeline_impact_days   integer NOT NULL,
    criteria_changes       jsonb NOT NULL DEFAULT '[]' CHECK (jsonb_typeof(criteria_changes) = 'array'),
    approved_at            timestamptz NOT NULL,
    price_after_minor      bigint NOT NULL CHECK (price_after_minor >= 0),
    delivery_date_after    date NOT NULL,
    actor_key_id           uuid,
    actor_role             text,
    recorded_at            timestamptz NOT NULL,
    UNIQUE (contract_id, number)
);
CREATE UNIQUE INDEX contract_amendments_change_request ON contract_amendments (change_request_id)
    WHERE change_request_id IS NOT NULL;
CREATE INDEX contract_amendments_project ON contract_amendments (project_id, number);

CREATE FUNCTION contract_amendments_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND pg_trigger_depth() > 1 THEN
        RETURN OLD;  -- a cascade from the contract's project
    END IF;
    RAISE EXCEPTION 'contract amendments are append-only'
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;
CREATE TRIGGER contract_amendments_append_only BEFORE UPDATE OR DELETE ON contract_amendments
    FOR EACH ROW EXECUTE FUNCTION contract_amendments_append_only();
"""

DOWNGRADE = """
DROP TABLE contract_amendments;
DROP FUNCTION contract_amendments_append_only();
DROP TABLE contracts;
DROP TABLE quotes;
DROP FUNCTION quotes_immutable();
DROP FUNCTION money_text(bigint, integer);
"""


def upgrade() -> None:
    run(UPGRADE)


def downgrade() -> None:
    run(DOWNGRADE)
