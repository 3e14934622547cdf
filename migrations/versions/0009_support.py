"""Post-launch support: support requests and their conversation.

- ``support_requests``: one request of a client (or of staff on the client's behalf) about a launched
  project. ``status`` is ``open``, ``awaiting_client`` (staff asked the client something), ``resolved``
  or ``redirected`` (a feature request, answered as not covered by support). ``timer_id`` is its
  ``support_first_response`` SLA timer (the timer is the truth for due and met times); the first staff
  response's time and duration (in the timer's unit, paused time excluded) are kept on the request for
  the SLA report. ``change_request_id`` is a plain uuid: the draft change request created from a
  feature request, when the change-request capability made one.
- ``support_responses``: the conversation, append-only (a trigger refuses updates and deletes), one row
  per message with who and when; at most one row per request is flagged ``first_response``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE support_requests (
    id                        uuid PRIMARY KEY,
    project_id                uuid NOT NULL REFERENCES projects (id),
    client_id                 uuid NOT NULL REFERENCES clients (id),
    kind                      text NOT NULL CHECK (kind IN ('question', 'bug', 'feature_request')),
    subject                   text NOT NULL CHECK (length(subject) BETWEEN 1 AND 200),
    body                      text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    status                    text NOT NULL DEFAULT 'open'
                              CHECK (status IN ('open', 'awaiting_client', 'resolved', 'redirected')),
    opened_at                 timestamptz NOT NULL,
    opened_by_role            text NOT NULL CHECK (opened_by_role IN ('staff', 'client')),
    opened_by_key_id          uuid,
    timer_id                  uuid NOT NULL REFERENCES sla_timers (id),
    first_response_at         timestamptz,
    first_response_seconds    double precision CHECK (first_response_seconds >= 0),
    first_response_automatic  boolean NOT NULL DEFAULT false,
    resolved_at               timestamptz,
    reopened_at               timestamptz,
    change_request_id         uuid,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    version                   integer NOT NULL DEFAULT 1,
    CHECK ((status = 'resolved') = (resolved_at IS NOT NULL)),
    CHECK ((first_response_at IS NULL) = (first_response_seconds IS NULL))
);
CREATE INDEX support_requests_project ON support_requests (project_id, opened_at, id);
CREATE INDEX support_requests_project_status ON support_requests (project_id, status);
CREATE UNIQUE INDEX support_requests_timer ON support_requests (timer_id);

CREATE TABLE support_responses (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    seq                 bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    support_request_id  uuid NOT NULL REFERENCES support_requests (id),
    author_role         text NOT NULL CHECK (author_role IN ('staff', 'client')),
    author_key_id       uuid,
    author_name         text,
    message             text NOT NULL CHECK (length(message) BETWEEN 1 AND 20000),
    awaiting_client     boolean NOT NULL DEFAULT false,
    first_response      boolean NOT NULL DEFAULT false,
    automatic           boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL,
    CHECK (author_role = 'staff' OR NOT (awaiting_client OR first_response OR automatic))
);
CREATE INDEX support_responses_request ON support_responses (support_request_id, seq);
CREATE UNIQUE INDEX support_responses_one_first ON support_responses (support_request_id)
    WHERE first_response;

CREATE FUNCTION support_responses_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'support_responses is append-only';
END;
$$;
CREATE TRIGGER support_responses_append_only BEFORE UPDATE OR DELETE ON support_responses
    FOR EACH ROW EXECUTE FUNCTION support_responses_append_only();
"""

DOWNGRADE = """
DROP TABLE support_responses;
DROP FUNCTION support_responses_append_only();
DROP TABLE support_requests;
"""


def upgrade() -> None:
    run(UPGRADE)


def downgrade() -> None:
    run(DOWNGRADE)
