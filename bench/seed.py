"""Seed the benchmark database ``scopekeeper_bench`` with realistic volumes, in SQL.

The database is dropped, recreated and migrated (``api.__main__.migrate``), then filled with
``INSERT ... SELECT generate_series`` statements that satisfy every constraint and trigger of the
migrations:

- 5,000 clients (each with an ``email_domain``) and two contacts each;
- 20,000 projects (four per client), created over the last two years, in a mix of phases: 15 %
  proposal, 15 % discovery, 10 % architecture review, 25 % delivery, 10 % acceptance, 10 % support,
  10 % closed, 5 % on hold (to resume delivery), with the facts each phase implies (discovery start,
  approved architecture, scope freeze, launch and support window, closing);
- per project one quote revision (``sent`` for proposals, ``accepted`` with evidence otherwise) with
  three lines and a payment schedule, and for every accepted quote the contract;
- five acceptance criteria per project (three measurable, two statements), each with its ``created``
  version; criteria of closed projects are met;
- change requests on every third project in delivery or acceptance (alternately ``submitted`` with a
  running assessment timer, and ``assessed`` with its assessment and a running client-decision timer);
- a support request on every project in support or after it (``resolved`` for closed projects), each
  with its first-response timer;
- 1,000,000 finished (``met``) timers and 10,000 running timers due tomorrow, beside the running timers
  of the change requests above;
- a staff key, a client key (of the client with most projects in a phase past proposal) and an intake
  key, created through ``api.domain.api_keys.service.create``.

It prints the keys and ids the load scenarios need as JSON on the last line and writes them to
``bench/results/seed.json``.

    python -m bench.seed
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg

from api import devenv
from api.__main__ import _create_key, migrate
from api.settings import Settings
from bench.timer_sweep import FINISHED, RUNNING

DATABASE = "scopekeeper_bench"
NOW = datetime.now(UTC).replace(microsecond=0)
RESULTS = Path(__file__).resolve().parent / "results"

CLIENTS = 5_000
PROJECTS_PER_CLIENT = 4
FINISHED_TIMERS = 1_000_000
RUNNING_TIMERS = 10_000

STEPS: list[tuple[str, str]] = [
    (
        "clients",
        """
        INSERT INTO clients (id, name, email_domain, created_at, updated_at)
        SELECT gen_random_uuid(), 'Client ' || g || ' Sp. z o.o.', 'client' || g || '.example-shop.pl',
               $1::timestamptz - make_interval(days => 800 - g % 97), $1::timestamptz - make_interval(days => g % 90)
        FROM generate_series(1, {clients}) AS g
        """,
    ),
    (
        "contacts",
        """
        INSERT INTO client_contacts (client_id, position, name, email, locale, time_zone)
        SELECT c.id, pos, CASE pos WHEN 0 THEN 'Owner of ' ELSE 'CTO of ' END || c.name,
               CASE pos WHEN 0 THEN 'owner@' ELSE 'cto@' END || c.email_domain,
               CASE WHEN pos = 0 THEN 'pl' ELSE 'en' END, 'Europe/Warsaw'
        FROM clients c CROSS JOIN generate_series(0, 1) AS pos
        """,
    ),
    (
        "project ids",
        """
        CREATE UNLOGGED TABLE bench_projects AS
        SELECT gen_random_uuid() AS id, c.id AS client_id, row_number() OVER (ORDER BY c.id, k)::int AS g,
               CASE (row_number() OVER (ORDER BY c.id, k)) % 20
                   WHEN 0 THEN 'proposal' WHEN 1 THEN 'proposal' WHEN 2 THEN 'proposal'
                   WHEN 3 THEN 'discovery' WHEN 4 THEN 'discovery' WHEN 5 THEN 'discovery'
                   WHEN 6 THEN 'architecture_review' WHEN 7 THEN 'architecture_review'
                   WHEN 8 THEN 'delivery' WHEN 9 THEN 'delivery' WHEN 10 THEN 'delivery'
                   WHEN 11 THEN 'delivery' WHEN 12 THEN 'delivery'
                   WHEN 13 THEN 'acceptance' WHEN 14 THEN 'acceptance'
                   WHEN 15 THEN 'support' WHEN 16 THEN 'support'
                   WHEN 17 THEN 'closed' WHEN 18 THEN 'closed'
                   ELSE 'on_hold'
               END AS phase
        FROM clients c CROSS JOIN generate_series(1, {per_client}) AS k
        """,
    ),
    (
        "projects",
        """
        INSERT INTO projects (id, client_id, name, description, currency, phase, phase_since, resume_phase,
                              time_zone, discovery_started_at, discovery_ends_at, architecture_document_url,
                              architecture_summary, architecture_revision, architecture_submitted_at,
                              architecture_revised_at, architecture_approved_at, scope_frozen_at, handover,
                              handover_recorded_at, launched_at, support_ends_at, closed_at, created_at, updated_at,
                              version)
        SELECT b.id, b.client_id, 'Project ' || b.g || ': recommender extraction',
               'Extract the recommender from the monolith and serve it behind an API.',
               CASE WHEN b.g % 3 = 0 THEN 'EUR' ELSE 'PLN' END, b.phase,
               t.created + interval '30 days', CASE WHEN b.phase = 'on_hold' THEN 'delivery' END,
               CASE WHEN b.phase <> 'proposal' THEN 'Europe/Warsaw' END,
               CASE WHEN b.phase <> 'proposal' THEN t.created + interval '7 days' END,
               CASE WHEN b.phase <> 'proposal' THEN t.created + interval '21 days' END,
               CASE WHEN b.phase NOT IN ('proposal', 'discovery')
                    THEN 'https://docs.example-shop.pl/architecture/' || b.g END,
               CASE WHEN b.phase NOT IN ('proposal', 'discovery') THEN jsonb_build_object(
                   'data_flow', 'Events from the shop flow through Kafka into a feature store.',
                   'serving_approach', 'A stateless model server behind the gateway, two replicas.',
                   'api_design', 'GET /recommendations?user=..., JSON, versioned by path.',
                   'monitoring_plan', 'p99 latency, error rate and click-through on a dashboard.') END,
               CASE WHEN b.phase NOT IN ('proposal', 'discovery') THEN 1 ELSE 0 END,
               CASE WHEN b.phase NOT IN ('proposal', 'discovery') THEN t.created + interval '20 days' END,
               CASE WHEN b.phase NOT IN ('proposal', 'discovery') THEN t.created + interval '20 days' END,
               CASE WHEN b.phase NOT IN ('proposal', 'discovery', 'architecture_review')
                    THEN t.created + interval '24 days' END,
               CASE WHEN b.phase NOT IN ('proposal', 'discovery', 'architecture_review')
                    THEN t.created + interval '24 days' END,
               CASE WHEN b.phase IN ('acceptance', 'support', 'closed') THEN jsonb_build_object(
                   'source_repository_url', 'https://git.example-shop.pl/p' || b.g,
                   'deployment_scripts_url', 'https://git.example-shop.pl/p' || b.g || '/deploy',
                   'monitoring_url', 'https://grafana.example-shop.pl/d/p' || b.g,
                   'runbook_url', 'https://docs.example-shop.pl/runbooks/p' || b.g) END,
               CASE WHEN b.phase IN ('acceptance', 'support', 'closed')
                    THEN t.created + interval '90 days' END,
               CASE WHEN b.phase IN ('support', 'closed') THEN t.launched END,
               CASE WHEN b.phase IN ('support', 'closed') THEN t.launched + interval '30 days' END,
               CASE WHEN b.phase = 'closed' THEN t.launched + interval '31 days' END,
               t.created, t.created + interval '30 days', 3
        FROM bench_projects b,
             LATERAL (SELECT CASE WHEN b.phase = 'support' THEN $1::timestamptz - make_interval(days => 5 + b.g % 20)
                                  ELSE $1::timestamptz - make_interval(days => 60 + b.g % 600) END AS launched,
                             CASE WHEN b.phase = 'support'
                                  THEN $1::timestamptz - make_interval(days => 120 + b.g % 20)
                                  ELSE $1::timestamptz - make_interval(days => 200 + b.g % 500) END AS created) t
        """,
    ),
    (
        "quotes",
        """
        INSERT INTO quotes (project_id, revision, status, currency, minor_digits, lines, payment_schedule,
                            assumptions, exclusions, total_minor, total_hours, valid_until, delivery_date,
                            document_sha256, sent_at, accepted_at, accepted_by_name, accepted_ip,
                            accepted_user_agent, evidence_sha256, created_at, updated_at)
        SELECT p.id, 1, CASE WHEN p.phase = 'proposal' THEN 'sent' ELSE 'accepted' END, p.currency, 2,
               jsonb_build_array(
                   jsonb_build_object('description', 'Discovery workshop', 'phase', 'discovery',
                                      'hours', '16.00', 'amount_minor', 0),
                   jsonb_build_object('description', 'Service extraction and API', 'phase', 'delivery',
                                      'hours', (120 + b.g % 200) || '.00', 'amount_minor',
                                      (120 + b.g % 200) * 4500 * 100),
                   jsonb_build_object('description', 'Thirty days of support', 'phase', 'support',
                                      'hours', '0.00', 'amount_minor', 0)),
               '[{"name": "On acceptance", "share": "0.3"}, {"name": "On launch", "share": "0.7"}]'::jsonb,
               '["Access to production logs"]'::jsonb, '["Mobile apps"]'::jsonb,
               (120 + b.g % 200) * 4500 * 100, (136 + b.g % 200)::numeric(14, 2),
               (p.created_at + interval '60 days')::date, (p.created_at + interval '120 days')::date,
               md5(p.id::text) || md5(p.name), p.created_at + interval '2 days',
               CASE WHEN p.phase <> 'proposal' THEN p.created_at + interval '5 days' END,
               CASE WHEN p.phase <> 'proposal' THEN 'Owner of client ' || b.g END,
               CASE WHEN p.phase <> 'proposal' THEN '203.0.113.' || b.g % 250 END,
               CASE WHEN p.phase <> 'proposal' THEN 'Mozilla/5.0' END,
               CASE WHEN p.phase <> 'proposal' THEN md5(p.name) || md5(p.id::text) END,
               p.created_at, p.created_at + interval '5 days'
        FROM projects p JOIN bench_projects b ON b.id = p.id
        """,
    ),
    (
        "contracts",
        """
        INSERT INTO contracts (project_id, quote_id, currency, minor_digits, baseline_price_minor,
                               baseline_delivery_date, accepted_at, current_delivery_date, created_at, updated_at)
        SELECT q.project_id, q.id, q.currency, q.minor_digits, q.total_minor, q.delivery_date, q.accepted_at,
               q.delivery_date, q.accepted_at, q.accepted_at
        FROM quotes q WHERE q.status = 'accepted'
        """,
    ),
    (
        "criteria",
        """
        INSERT INTO acceptance_criteria (project_id, kind, title, metric, comparator, threshold, unit, statement,
                                         state, created_at, updated_at)
        SELECT p.id,
               (ARRAY['performance', 'quality', 'monitoring', 'functional', 'fallback'])[k],
               (ARRAY['p99 latency of recommendations', 'Offline precision at 10', 'Alert on error rate',
                      'Recommendations for anonymous visitors', 'Popular items when the model is down'])[k],
               (ARRAY['p99_latency', 'precision_at_10', 'error_rate_alert_minutes', NULL, NULL])[k],
               (ARRAY['<=', '>=', '<=', NULL, NULL])[k],
               (ARRAY[200, 0.25, 5, NULL, NULL]::numeric[])[k],
               (ARRAY['ms', 'ratio', 'min', NULL, NULL])[k],
               (ARRAY[NULL, NULL, NULL, 'Anonymous visitors get recommendations from their session.',
                      'When the model is unavailable the API answers with popular items.'])[k],
               CASE WHEN p.phase = 'closed' THEN 'met' ELSE 'pending' END, p.created_at + interval '22 days',
               p.created_at + interval '22 days'
        FROM projects p CROSS JOIN generate_series(1, 5) AS k
        ORDER BY p.id, k
        """,
    ),
    (
        "criterion versions",
        """
        INSERT INTO criterion_versions (criterion_id, version, change, criterion, actor_role, at)
        SELECT a.id, 1, 'created',
               jsonb_strip_nulls(jsonb_build_object('kind', a.kind, 'title', a.title, 'metric', a.metric,
                                                    'comparator', a.comparator, 'threshold', a.threshold::text,
                                                    'unit', a.unit, 'statement', a.statement)),
               'staff', a.created_at
        FROM acceptance_criteria a
        """,
    ),
    (
        "change requests",
        """
        CREATE UNLOGGED TABLE bench_change_requests AS
        SELECT gen_random_uuid() AS id, gen_random_uuid() AS timer_id, gen_random_uuid() AS decision_timer_id,
               p.id AS project_id, p.client_id, p.created_at, b.g,
               CASE WHEN b.g % 2 = 0 THEN 'submitted' ELSE 'assessed' END AS status
        FROM projects p JOIN bench_projects b ON b.id = p.id
        WHERE p.phase IN ('delivery', 'acceptance') AND b.g % 3 = 0;

        INSERT INTO sla_timers (id, kind, subject_type, subject_id, project_id, client_id, unit, measure, amount,
                                target, warn_ratio, started_at, due_at, warn_at, state, met_at, policy_version,
                                calendar_version, created_at, updated_at)
        SELECT r.timer_id, 'cr_assessment', 'change_request', r.id, r.project_id, r.client_id, 'business',
               'business_days', 2, interval '18 hours', 0.75, $1::timestamptz - interval '1 hour',
               $1::timestamptz + interval '2 days', $1::timestamptz + interval '1 day',
               CASE r.status WHEN 'submitted' THEN 'running' ELSE 'met' END,
               CASE r.status WHEN 'submitted' THEN NULL ELSE $1::timestamptz - interval '30 minutes' END,
               1, 0, $1::timestamptz - interval '1 hour', $1::timestamptz - interval '1 hour'
        FROM bench_change_requests r;

        INSERT INTO sla_timers (id, kind, subject_type, subject_id, project_id, client_id, unit, measure, amount,
                                target, warn_ratio, started_at, due_at, warn_at, policy_version, calendar_version,
                                created_at, updated_at)
        SELECT r.decision_timer_id, 'cr_client_decision', 'change_request', r.id, r.project_id, r.client_id,
               'business', 'business_days', 5, interval '45 hours', 0.75, $1::timestamptz - interval '30 minutes',
               $1::timestamptz + interval '5 days', $1::timestamptz + interval '4 days', 1, 0,
               $1::timestamptz - interval '30 minutes', $1::timestamptz - interval '30 minutes'
        FROM bench_change_requests r WHERE r.status = 'assessed';

        INSERT INTO change_requests (id, project_id, client_id, number, title, description, reason, status,
                                     requested_by, submitted_by_role, submitted_by_name, assessment_timer_id,
                                     assessment_revision, submitted_at, assessed_at, created_at, updated_at)
        SELECT r.id, r.project_id, r.client_id, 1, 'Add a second recommendation model',
               'Serve a second model for the newsletter and compare both.', 'Marketing asked for it.',
               r.status, 'client', 'client', 'CTO', r.timer_id,
               CASE r.status WHEN 'assessed' THEN 1 END, $1::timestamptz - interval '1 hour',
               CASE r.status WHEN 'assessed' THEN $1::timestamptz - interval '30 minutes' END,
               $1::timestamptz - interval '1 hour', $1::timestamptz - interval '30 minutes'
        FROM bench_change_requests r;

        INSERT INTO change_request_assessments (change_request_id, revision, currency, minor_digits,
                                                price_impact_minor, timeline_impact_days, lines, risk, notes,
                                                decision_timer_id, assessed_by_name, assessed_at)
        SELECT r.id, 1, p.currency, 2, 1800000, 5,
               '[{"description": "Second model", "hours": "40.00", "amount_minor": 1800000}]'::jsonb,
               'medium', 'Needs a second feature pipeline.', r.decision_timer_id, 'Staff',
               $1::timestamptz - interval '30 minutes'
        FROM bench_change_requests r JOIN projects p ON p.id = r.project_id WHERE r.status = 'assessed';

        INSERT INTO change_request_transitions (change_request_id, from_status, to_status, assessment_revision,
                                                actor_role, at)
        SELECT r.id, NULL, 'submitted', NULL, 'client', $1::timestamptz - interval '1 hour'
        FROM bench_change_requests r
        UNION ALL
        SELECT r.id, 'submitted', 'assessed', 1, 'staff', $1::timestamptz - interval '30 minutes'
        FROM bench_change_requests r WHERE r.status = 'assessed'
        """,
    ),
    (
        "support requests",
        """
        CREATE UNLOGGED TABLE bench_support AS
        SELECT gen_random_uuid() AS id, gen_random_uuid() AS timer_id, p.id AS project_id, p.client_id,
               p.launched_at + interval '2 days' AS opened_at, p.phase
        FROM projects p WHERE p.phase IN ('support', 'closed');

        INSERT INTO sla_timers (id, kind, subject_type, subject_id, project_id, client_id, unit, measure, amount,
                                target, warn_ratio, started_at, due_at, warn_at, state, met_at, policy_version,
                                created_at, updated_at)
        SELECT s.timer_id, 'support_first_response', 'support_request', s.id, s.project_id, s.client_id, 'clock',
               'hours', 24, interval '24 hours', 0.75, s.opened_at, s.opened_at + interval '24 hours',
               s.opened_at + interval '18 hours', 'met', s.opened_at + interval '3 hours', 1, s.opened_at,
               s.opened_at + interval '3 hours'
        FROM bench_support s;

        INSERT INTO support_requests (id, project_id, client_id, kind, subject, body, status, opened_at,
                                      opened_by_role, timer_id, first_response_at, first_response_seconds,
                                      resolved_at, created_at, updated_at)
        SELECT s.id, s.project_id, s.client_id, 'bug', 'Recommendations empty for new users',
               'New users see an empty carousel on the home page.',
               CASE WHEN s.phase = 'closed' THEN 'resolved' ELSE 'open' END, s.opened_at, 'client', s.timer_id,
               s.opened_at + interval '3 hours', 10800,
               CASE WHEN s.phase = 'closed' THEN s.opened_at + interval '1 day' END, s.opened_at,
               s.opened_at + interval '3 hours'
        FROM bench_support s;

        INSERT INTO support_responses (support_request_id, author_role, author_name, message, first_response,
                                       created_at)
        SELECT s.id, 'staff', 'Support', 'We are looking into it.', true, s.opened_at + interval '3 hours'
        FROM bench_support s
        """,
    ),
    ("finished timers", "FINISHED"),
    ("running timers", "RUNNING"),
    (
        "clean up",
        "DROP TABLE bench_projects; DROP TABLE bench_change_requests; DROP TABLE bench_support",
    ),
]


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(devenv.with_database(url, "postgres"))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _fill(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(url, server_settings={"statement_timeout": "0", "synchronous_commit": "off"})
    try:
        for name, template in STEPS:
            began = time.perf_counter()
            if template == "FINISHED":
                await conn.execute(FINISHED, FINISHED_TIMERS, NOW)
            elif template == "RUNNING":
                await conn.execute(RUNNING, RUNNING_TIMERS, NOW, 24 * 60)
            else:
                sql = template.replace("{clients}", str(CLIENTS)).replace(
                    "{per_client}", str(PROJECTS_PER_CLIENT)
                )
                async with conn.transaction():
                    for statement in sql.split(";\n"):
                        if statement.strip():
                            args = (NOW,) if "$1" in statement else ()
                            await conn.execute(statement, *args)
            print(f"  {name:<20} {time.perf_counter() - began:6.1f} s", flush=True)
        began = time.perf_counter()
        await conn.execute("VACUUM ANALYZE")
        print(f"  {'vacuum analyze':<20} {time.perf_counter() - began:6.1f} s", flush=True)
        client_id: UUID = await conn.fetchval(
            """SELECT client_id FROM projects WHERE phase NOT IN ('proposal', 'cancelled')
               GROUP BY client_id ORDER BY count(*) DESC, client_id LIMIT 1"""
        )
        own = await conn.fetch(
            "SELECT id FROM projects WHERE client_id = $1 ORDER BY created_at, id", client_id
        )
        any_projects = await conn.fetch("SELECT id FROM projects ORDER BY random() LIMIT 200")
        clients = await conn.fetch("SELECT id FROM clients ORDER BY random() LIMIT 200")
        counts = {
            table: await conn.fetchval(f"SELECT count(*) FROM {table}")
            for table in (
                "clients",
                "client_contacts",
                "projects",
                "quotes",
                "contracts",
                "acceptance_criteria",
                "change_requests",
                "support_requests",
                "sla_timers",
            )
        }
        counts["sla_timers_running"] = await conn.fetchval(
            "SELECT count(*) FROM sla_timers WHERE state = 'running'"
        )
    finally:
        await conn.close()
    return {
        "client_id": str(client_id),
        "client_project_ids": [str(r["id"]) for r in own],
        "project_ids": [str(r["id"]) for r in any_projects],
        "floor_client_ids": [str(r["id"]) for r in clients],
        "counts": counts,
    }


def seed(admin_url: str) -> dict[str, Any]:
    """Drop, recreate, migrate and fill ``scopekeeper_bench``; return keys, ids and row counts."""
    asyncio.run(
        _admin(
            admin_url, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)', f'CREATE DATABASE "{DATABASE}"'
        )
    )
    url = devenv.with_database(admin_url, DATABASE)
    began = time.perf_counter()
    migrate(url)
    print(f"  {'migrations':<20} {time.perf_counter() - began:6.1f} s", flush=True)
    info = asyncio.run(_fill(url))
    settings = Settings.from_env({"DATABASE_URL": url})
    keys = {}
    for role in ("staff", "client", "intake"):
        client_id = UUID(info["client_id"]) if role == "client" else None
        secret = asyncio.run(_create_key(settings, role, f"bench {role}", client_id, only_if_empty=False))
        assert secret is not None
        keys[role] = secret
    info["keys"] = keys
    info["database_url"] = url
    info["seconds"] = round(time.perf_counter() - began, 1)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "seed.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def admin_database_url() -> str:
    return devenv.resolve(dict(os.environ), database="postgres")["DATABASE_URL"]


def main() -> None:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    began = time.perf_counter()
    info = seed(admin_database_url())
    print(f"seeded in {time.perf_counter() - began:.0f} s: {json.dumps(info['counts'])}")


if __name__ == "__main__":
    main()
