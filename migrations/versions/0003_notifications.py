"""Notifications: webhook endpoints, email and webhook deliveries, the attempts log, the feed's index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from migrations.sql import run

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE webhook_endpoints (
    id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    url                   text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description           text,
    event_types           text[] NOT NULL CHECK (cardinality(event_types) >= 1),
    secret                text NOT NULL,
    status                text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'deleted')),
    consecutive_failures  integer NOT NULL DEFAULT 0,
    from_seq              bigint NOT NULL DEFAULT 0,
    created_at            timestamptz NOT NULL,
    created_by            uuid,
    disabled_at           timestamptz,
    disabled_reason       text,
    deleted_at            timestamptz
);
CREATE INDEX webhook_endpoints_created ON webhook_endpoints (created_at, id) WHERE status <> 'deleted';

CREATE TABLE deliveries (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    event_id         uuid NOT NULL REFERENCES domain_events (id) ON DELETE CASCADE,
    channel          text NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient        text NOT NULL,
    endpoint_id      uuid REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    audience         text,
    template         text,
    recipient_name   text,
    locale           text,
    time_zone        text,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sending', 'delivered', 'failed', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz,
    lease_until      timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    delivered_at     timestamptz,
    failed_at        timestamptz,
    UNIQUE (event_id, channel, recipient),
    CHECK ((channel = 'webhook') = (endpoint_id IS NOT NULL)),
    CHECK (state <> 'sending' OR lease_until IS NOT NULL)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_until) WHERE state = 'sending';
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at DESC, id DESC) WHERE endpoint_id IS NOT NULL;

CREATE TABLE delivery_attempts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id    uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number         integer NOT NULL,
    started_at     timestamptz NOT NULL,
    latency_ms     integer,
    status_code    integer,
    response_body  text CHECK (octet_length(response_body) <= 2048),
    error          text,
    succeeded      boolean NOT NULL,
    UNIQUE (delivery_id, number)
);

CREATE INDEX domain_events_feed ON domain_events (txid, seq);
CREATE INDEX domain_events_type_feed ON domain_events (type, txid, seq);
"""

DOWNGRADE = """
DROP INDEX domain_events_type_feed;
DROP INDEX domain_events_feed;
DROP TABLE delivery_attempts;
DROP TABLE deliveries;
DROP TABLE webhook_endpoints;
"""


def upgrade() -> None:
    run(UPGRADE)


def downgrade() -> None:
    run(DOWNGRADE)
