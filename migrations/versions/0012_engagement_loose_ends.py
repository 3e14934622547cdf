"""Loose ends of an engagement: statuses that end with their project, waivers, hold pauses, channels of replies.

- ``change_requests.status`` gains ``cancelled``: an approved change whose work had not finished when
  its project ended (cancelled or closed). It keeps its decided revision and its amendment number (the
  amendment stays in the contract ledger as history); ``cancelled_at`` and ``cancellation_reason`` say
  when and why.
- ``quotes.status`` gains ``withdrawn``: a sent revision the shop took back because its project ended;
  ``withdrawn_at`` and ``withdrawal_reason`` say when and why (a sent revision may still change status,
  so ``quotes_immutable`` lets this through as it lets ``expired`` through).
- ``contract_amendments.kind``: ``change_request`` (an approved change, as before) or ``hold`` (the
  delivery date moved by the business days a project was on hold; no change request, no price impact);
  ``reason`` says why for a hold.
- ``project_holds``: one row per time a project was put on hold: from which phase, why, when, the
  timers the hold paused (``paused_timer_ids``, resumed when the hold ends) and how it ended
  (``resumed``, with the business days held and the amendment that moved the delivery date, or
  ``ended`` when the project was cancelled while on hold). At most one open hold per project.
- ``projects.criteria_waiver_reason`` / ``criteria_waived_by``: the staff's explicit reason to launch a
  project that has no acceptance criteria.
- ``inquiries.time_zone``: the sender's IANA zone when intake gave one. ``inquiry_replies.channel``:
  how the reply reached the sender (``email``, ``phone``, ``meeting``, ``other``); only an email reply
  may be mailed by the service.

Existing rows are mended as the service would have left them:
- open SLA timers (neither met nor cancelled) of projects already cancelled or closed are cancelled at
  the project's end, with the reason ``project cancelled: <reason>`` / ``project closed: <reason>``
  (one that fell due before the end is recorded as breached at its due time first); each gets its log
  entry;
- change requests of those projects still ``submitted`` or ``assessed`` are withdrawn, ``approved`` or
  ``in_progress`` ones cancelled, with the same reason and a transition;
- sent quotes of those projects are withdrawn;
- a project on hold gets its open hold (since it went on hold, the reason it was given), and its
  running timers not yet due are paused now and listed on the hold.

Downgrade: cancelled change requests return to the status they were cancelled from and withdrawn quotes
to ``sent`` (their ``cancelled``/``withdrawn`` transitions are removed); hold amendments stay in the
ledger as amendments without a change request; timers paused by an open hold stay paused (the older
service has no hold that would resume them); timers cancelled at upgrade stay cancelled.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from migrations.sql import run

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE change_requests
    ADD COLUMN cancelled_at timestamptz,
    ADD COLUMN cancellation_reason text CHECK (length(cancellation_reason) BETWEEN 1 AND 5000),
    DROP CONSTRAINT change_requests_status_check,
    DROP CONSTRAINT change_requests_check1,
    DROP CONSTRAINT change_requests_check2;
ALTER TABLE change_requests
    ADD CONSTRAINT change_requests_status_check CHECK (status IN (
        'submitted', 'assessed', 'approved', 'in_progress', 'done', 'rejected', 'withdrawn', 'cancelled')),
    ADD CONSTRAINT change_requests_check1 CHECK (
        (status IN ('approved', 'in_progress', 'done', 'rejected', 'cancelled')) = (decided_revision IS NOT NULL)),
    ADD CONSTRAINT change_requests_check2 CHECK (
        (status IN ('approved', 'in_progress', 'done', 'cancelled')) = (amendment_number IS NOT NULL)),
    ADD CONSTRAINT change_requests_cancelled CHECK (
        (status = 'cancelled') = (cancelled_at IS NOT NULL AND cancellation_reason IS NOT NULL));

ALTER TABLE quotes
    ADD COLUMN withdrawn_at timestamptz,
    ADD COLUMN withdrawal_reason text CHECK (length(withdrawal_reason) BETWEEN 1 AND 5000),
    DROP CONSTRAINT quotes_status_check;
ALTER TABLE quotes
    ADD CONSTRAINT quotes_status_check CHECK (status IN (
        'draft', 'sent', 'accepted', 'declined', 'expired', 'superseded', 'withdrawn')),
    ADD CONSTRAINT quotes_withdrawn CHECK (
        (status = 'withdrawn') = (withdrawn_at IS NOT NULL AND withdrawal_reason IS NOT NULL));

ALTER TABLE contract_amendments
    ADD COLUMN kind text NOT NULL DEFAULT 'change_request' CHECK (kind IN ('change_request', 'hold')),
    ADD COLUMN reason text CHECK (length(reason) BETWEEN 1 AND 5000);
ALTER TABLE contract_amendments
    ADD CONSTRAINT contract_amendments_hold CHECK (
        kind <> 'hold' OR (change_request_id IS NULL AND price_impact_minor = 0 AND reason IS NOT NULL));

CREATE TABLE project_holds (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id          uuid NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    from_phase          text NOT NULL CHECK (from_phase IN (
                            'proposal', 'discovery', 'architecture_review', 'delivery', 'acceptance',
                            'support')),
    reason              text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    held_at             timestamptz NOT NULL,
    held_by_key_id      uuid,
    paused_timer_ids    uuid[] NOT NULL DEFAULT '{}',
    ended_at            timestamptz,
    outcome             text CHECK (outcome IN ('resumed', 'ended')),
    business_days_held  integer CHECK (business_days_held >= 0),
    amendment_number    integer CHECK (amendment_number >= 1),
    CHECK ((ended_at IS NULL) = (outcome IS NULL)),
    CHECK ((outcome = 'resumed') = (business_days_held IS NOT NULL)),
    CHECK (amendment_number IS NULL OR outcome = 'resumed')
);
CREATE UNIQUE INDEX project_holds_open ON project_holds (project_id) WHERE ended_at IS NULL;
CREATE INDEX project_holds_project ON project_holds (project_id, held_at);

ALTER TABLE projects
    ADD COLUMN criteria_waiver_reason text CHECK (length(criteria_waiver_reason) BETWEEN 1 AND 2000),
    ADD COLUMN criteria_waived_by uuid;

ALTER TABLE inquiries ADD COLUMN time_zone text CHECK (length(time_zone) BETWEEN 1 AND 64);
ALTER TABLE inquiry_replies
    ADD COLUMN channel text NOT NULL DEFAULT 'email' CHECK (channel IN ('email', 'phone', 'meeting', 'other'));
ALTER TABLE inquiry_replies ADD CONSTRAINT inquiry_replies_mail_by_email CHECK (channel = 'email' OR NOT send_email);

CREATE TEMPORARY TABLE ended_projects AS
SELECT p.id, p.phase, coalesce(p.cancelled_at, p.closed_at, p.phase_since) AS ended_at,
       'project ' || p.phase || ': ' || coalesce((
           SELECT h.reason FROM project_phase_changes h
           WHERE h.project_id = p.id AND h.to_phase = p.phase AND h.reason IS NOT NULL
           ORDER BY h.id DESC LIMIT 1), 'no reason recorded') AS reason
FROM projects p
WHERE p.phase IN ('cancelled', 'closed');

WITH mended AS (
    UPDATE sla_timers t SET
        state = CASE WHEN t.breached_at IS NOT NULL OR (t.state = 'running' AND t.due_at <= e.ended_at)
                     THEN 'breached' ELSE 'cancelled' END,
        breached_at = CASE WHEN t.breached_at IS NULL AND t.state = 'running' AND t.due_at <= e.ended_at
                           THEN t.due_at ELSE t.breached_at END,
        paused_at = NULL,
        cancelled_at = greatest(e.ended_at, t.started_at),
        cancel_reason = e.reason,
        updated_at = now(),
        version = t.version + 1
    FROM ended_projects e
    WHERE t.project_id = e.id AND t.met_at IS NULL AND t.cancelled_at IS NULL
    RETURNING t.id, t.cancelled_at, t.due_at, t.warn_at, t.calendar_version, t.cancel_reason
)
INSERT INTO sla_timer_events (timer_id, event, at, due_at, warn_at, calendar_version, details)
SELECT m.id, 'cancelled', m.cancelled_at, m.due_at, m.warn_at, m.calendar_version,
       jsonb_build_object('reason', m.cancel_reason, 'mended_at_upgrade', true)
FROM mended m;

INSERT INTO change_request_transitions (change_request_id, from_status, to_status, assessment_revision,
                                        reason, at)
SELECT r.id, r.status,
       CASE WHEN r.status IN ('submitted', 'assessed') THEN 'withdrawn' ELSE 'cancelled' END,
       r.assessment_revision, e.reason, greatest(e.ended_at, r.updated_at)
FROM change_requests r JOIN ended_projects e ON e.id = r.project_id
WHERE r.status IN ('submitted', 'assessed', 'approved', 'in_progress');

UPDATE change_requests r SET
    status = 'withdrawn', withdrawal_reason = e.reason, withdrawn_at = greatest(e.ended_at, r.updated_at),
    updated_at = greatest(e.ended_at, r.updated_at), version = r.version + 1
FROM ended_projects e
WHERE e.id = r.project_id AND r.status IN ('submitted', 'assessed');

UPDATE change_requests r SET
    status = 'cancelled', cancellation_reason = e.reason, cancelled_at = greatest(e.ended_at, r.updated_at),
    updated_at = greatest(e.ended_at, r.updated_at), version = r.version + 1
FROM ended_projects e
WHERE e.id = r.project_id AND r.status IN ('approved', 'in_progress');

UPDATE quotes q SET
    status = 'withdrawn', withdrawn_at = greatest(e.ended_at, q.sent_at), withdrawal_reason = e.reason,
    updated_at = greatest(e.ended_at, q.updated_at), version = q.version + 1
FROM ended_projects e
WHERE e.id = q.project_id AND q.status = 'sent';

DROP TABLE ended_projects;

INSERT INTO project_holds (project_id, from_phase, reason, held_at, paused_timer_ids)
SELECT p.id, p.resume_phase,
       coalesce((SELECT h.reason FROM project_phase_changes h
                 WHERE h.project_id = p.id AND h.to_phase = 'on_hold' AND h.reason IS NOT NULL
                 ORDER BY h.id DESC LIMIT 1), 'no reason recorded'),
       p.phase_since,
       coalesce((SELECT array_agg(t.id ORDER BY t.id) FROM sla_timers t
                 WHERE t.project_id = p.id AND t.state = 'running' AND t.due_at > now()), '{}')
FROM projects p
WHERE p.phase = 'on_hold';

UPDATE sla_timers t SET state = 'paused', paused_at = now(), updated_at = now(), version = t.version + 1
FROM project_holds h
WHERE h.ended_at IS NULL AND t.id = ANY (h.paused_timer_ids) AND t.state = 'running';

INSERT INTO sla_timer_events (timer_id, event, at, due_at, warn_at, calendar_version, details)
SELECT t.id, 'paused', t.paused_at, t.due_at, t.warn_at, t.calendar_version,
       jsonb_build_object('reason', 'project on hold', 'mended_at_upgrade', true)
FROM sla_timers t JOIN project_holds h ON t.id = ANY (h.paused_timer_ids)
WHERE h.ended_at IS NULL AND t.state = 'paused';
"""

DOWNGRADE = """
ALTER TABLE change_request_transitions DISABLE TRIGGER change_request_transitions_append_only;
UPDATE change_requests r SET
    status = coalesce((SELECT s.from_status FROM change_request_transitions s
                       WHERE s.change_request_id = r.id AND s.to_status = 'cancelled'
                       ORDER BY s.id DESC LIMIT 1), 'approved'),
    cancelled_at = NULL, cancellation_reason = NULL, version = r.version + 1
WHERE r.status = 'cancelled';
DELETE FROM change_request_transitions WHERE to_status = 'cancelled';
ALTER TABLE change_request_transitions ENABLE TRIGGER change_request_transitions_append_only;

ALTER TABLE change_requests
    DROP CONSTRAINT change_requests_cancelled,
    DROP CONSTRAINT change_requests_status_check,
    DROP CONSTRAINT change_requests_check1,
    DROP CONSTRAINT change_requests_check2,
    DROP COLUMN cancelled_at,
    DROP COLUMN cancellation_reason;
ALTER TABLE change_requests
    ADD CONSTRAINT change_requests_status_check CHECK (status IN (
        'submitted', 'assessed', 'approved', 'in_progress', 'done', 'rejected', 'withdrawn')),
    ADD CONSTRAINT change_requests_check1 CHECK (
        (status IN ('approved', 'in_progress', 'done', 'rejected')) = (decided_revision IS NOT NULL)),
    ADD CONSTRAINT change_requests_check2 CHECK (
        (status IN ('approved', 'in_progress', 'done')) = (amendment_number IS NOT NULL));

ALTER TABLE quotes DISABLE TRIGGER quotes_immutable;
UPDATE quotes SET status = 'sent', withdrawn_at = NULL, withdrawal_reason = NULL, version = version + 1
WHERE status = 'withdrawn';
ALTER TABLE quotes ENABLE TRIGGER quotes_immutable;
ALTER TABLE quotes
    DROP CONSTRAINT quotes_withdrawn,
    DROP CONSTRAINT quotes_status_check,
    DROP COLUMN withdrawn_at,
    DROP COLUMN withdrawal_reason;
ALTER TABLE quotes
    ADD CONSTRAINT quotes_status_check CHECK (status IN (
        'draft', 'sent', 'accepted', 'declined', 'expired', 'superseded'));

ALTER TABLE contract_amendments DROP CONSTRAINT contract_amendments_hold, DROP COLUMN kind, DROP COLUMN reason;

DROP TABLE project_holds;

ALTER TABLE projects DROP COLUMN criteria_waiver_reason, DROP COLUMN criteria_waived_by;

ALTER TABLE inquiry_replies DROP CONSTRAINT inquiry_replies_mail_by_email, DROP COLUMN channel;
ALTER TABLE inquiries DROP COLUMN time_zone;
"""


def upgrade() -> None:
    run(UPGRADE)


def downgrade() -> None:
    run(DOWNGRADE)
