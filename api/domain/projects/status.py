"""The project status document, built by PostgreSQL in one statement.

``GET /v1/projects/{id}/status`` is the hottest read: one SQL statement assembles the whole JSON document
with ``json_build_object`` and returns it as ``bytea``; the handler hashes it for the ``ETag`` and sends
the bytes as they came. No Python work scales with the body.

The statement reads ``projects p JOIN clients c`` and one lateral row ``md`` (the milestone inputs);
``$1`` is the project id, ``$2`` the current instant (``timestamptz``, from the injectable clock), ``$3``
the caller's organisation (null for staff: no restriction). No row means 404.

Parts and how a capability fills its own
-----------------------------------------
Each top-level part of the document is one SQL expression yielding ``json``; until the capability that
owns it exists, it holds a placeholder with the documented zero/null values:

=====================  ==========================================================================
slot                   placeholder → filled by
=====================  ==========================================================================
``contract``           all fields null → quotes/contract (0006)
``acceptance``         zeros → acceptance criteria (0007)
``change_requests``    ``{"open": 0, "awaiting_client_decision": []}`` → change requests (0008)
``support``            the window from the project, counts 0 → support (0009)
``quote``              ``null``: the sent quote revision awaiting the client's acceptance → quotes
``delivery_due_on``    ``NULL::date`` (a ``date``, not json): the current delivery date shown as the
                       ``delivery`` milestone → quotes/contract (0006)
=====================  ==========================================================================

A capability replaces its slot once, at import of its own queries module (imported through its routes
by ``api.app``, so before the first request)::

    from api.domain.projects import status

    ACCEPTANCE = "(SELECT json_build_object('total', count(*), ...) FROM acceptance_criteria a WHERE a.project_id = p.id)"
    status.set_part("acceptance", ACCEPTANCE)

Rules for a part: one SQL expression over ``p`` (the project row), ``c`` (its client) and ``$2`` (now),
typically a scalar sub-select; it adds no round trip (no second statement). It returns the keys of its
struct in :mod:`api.domain.projects.schemas` (``StatusContract``, ``StatusAcceptance``, ...), instants
through ``rfc3339(...)`` (the API's ``...Z`` text), money as ``json_build_object('amount', <decimal
text>, 'currency', p.currency)``; it reads through an index on ``project_id`` so that the document
stays a handful of index probes. The part keeps its place and key in the document; only the
expression changes. ``set_part`` with an unknown slot raises ``KeyError``.

``updated_at`` is the latest of the project's and the client's ``updated_at`` and the ``occurred_at``
of the project's newest domain event. Every state change anywhere under a project writes a domain event
with its ``project_id``, so later capabilities need not touch it.
"""

from __future__ import annotations

from functools import lru_cache

_PLACEHOLDERS: dict[str, str] = {
    "contract": (
        """'{"baseline_price": null, "approved_changes": null, "pending_changes": null, "current_price": null, """
        """"baseline_delivery_date": null, "current_delivery_date": null, "scope_change_ratio": null}'::json"""
    ),
    "acceptance": """'{"total": 0, "met": 0, "not_met": 0, "pending": 0, "waived": 0}'::json""",
    "change_requests": """'{"open": 0, "awaiting_client_decision": []}'::json""",
    "support": """json_build_object(
        'window_starts_at', rfc3339(p.launched_at),
        'window_ends_at', rfc3339(p.support_ends_at),
        'open_requests', 0,
        'first_response', json_build_object('met', 0, 'breached', 0, 'met_ratio', NULL))""",
    "delivery_due_on": "NULL::date",
    "quote": "NULL::json",
}

_parts: dict[str, str] = dict(_PLACEHOLDERS)


def set_part(slot: str, sql: str) -> None:
    """Replace the placeholder of ``slot`` with a capability's SQL expression (see the module rules)."""
    if slot not in _PLACEHOLDERS:
        raise KeyError(f"the status document has no slot {slot!r}; slots: {sorted(_PLACEHOLDERS)}")
    _parts[slot] = sql
    statement.cache_clear()
    milestone_join.cache_clear()


def part(slot: str) -> str:
    """The SQL expression currently filling ``slot``."""
    return _parts[slot]


def _milestone(name: str, *, due_on: str, due_at: str | None, done_at: str, now: str) -> str:
    if due_at is None:
        overdue = f"{due_on} < ({now} AT TIME ZONE coalesce(p.time_zone, 'UTC'))::date"
    else:
        overdue = f"{due_at} < {now}"
    return f"""json_build_object(
            'name', '{name}',
            'due_on', {due_on},
            'done_at', rfc3339({done_at}),
            'state', CASE WHEN {done_at} IS NOT NULL THEN 'done'
                          WHEN p.phase = 'cancelled' THEN 'cancelled'
                          WHEN {due_on} IS NULL THEN 'unscheduled'
                          WHEN {overdue} THEN 'overdue'
                          ELSE 'upcoming' END)"""


def milestones_sql(now: str) -> str:
    """The milestones as a json array; needs ``p`` and the lateral row of :func:`milestone_join`.

    - ``discovery_end``: due at the end of the 5th business day of discovery; done when the architecture
      document is first submitted (discovery's deliverable).
    - ``architecture_review``: the review day is that same 5th day; done when the client signs off.
    - ``delivery``: due on the contract's current delivery date; done when the handover is recorded.
    - ``launch``: planned on the contract's current delivery date (the date the client was promised the
      system; no separate launch date is agreed), so it moves with the delivery; done at launch.
    - ``support_end``: due when the 30-day support window ends; done when the project closes.
    A milestone not done is ``cancelled`` on a cancelled project, ``unscheduled`` without a date,
    ``overdue`` once its due instant (or, for a date alone, its date in the shop's zone) has passed,
    else ``upcoming``.
    """
    discovery_on = "(p.discovery_ends_at AT TIME ZONE p.time_zone)::date"
    support_on = "(p.support_ends_at AT TIME ZONE p.time_zone)::date"
    items = [
        _milestone(
            "discovery_end",
            due_on=discovery_on,
            due_at="p.discovery_ends_at",
            done_at="p.architecture_submitted_at",
            now=now,
        ),
        _milestone(
            "architecture_review",
            due_on=discovery_on,
            due_at="p.discovery_ends_at",
            done_at="p.architecture_approved_at",
            now=now,
        ),
        _milestone(
            "delivery", due_on="md.delivery_due_on", due_at=None, done_at="p.handover_recorded_at", now=now
        ),
        _milestone("launch", due_on="md.delivery_due_on", due_at=None, done_at="p.launched_at", now=now),
        _milestone(
            "support_end", due_on=support_on, due_at="p.support_ends_at", done_at="p.closed_at", now=now
        ),
    ]
    return "json_build_array(" + ",\n        ".join(items) + ")"


@lru_cache(maxsize=1)
def milestone_join() -> str:
    """The lateral row ``md`` with the milestone inputs that other capabilities provide."""
    return f"CROSS JOIN LATERAL (SELECT ({_parts['delivery_due_on']})::date AS delivery_due_on) AS md"


@lru_cache(maxsize=1)
def statement() -> str:
    """The one statement answering the status call: ``$1`` project, ``$2`` now, ``$3`` organisation,
    ``$4`` the event types ``updated_at`` counts (those a client may see)."""
    return f"""
    SELECT convert_to(json_build_object(
        'project', json_build_object('id', p.id, 'name', p.name, 'currency', p.currency,
                                     'phase', p.phase, 'phase_since', rfc3339(p.phase_since)),
        'client', json_build_object('id', c.id, 'name', c.name),
        'contract', {_parts["contract"]},
        'quote_awaiting_acceptance', {_parts["quote"]},
        'milestones', {milestones_sql("$2::timestamptz")},
        'acceptance', {_parts["acceptance"]},
        'change_requests', {_parts["change_requests"]},
        'support', {_parts["support"]},
        'updated_at', rfc3339(GREATEST(
            p.updated_at, c.updated_at,
            (SELECT e.occurred_at FROM domain_events e
             WHERE e.project_id = p.id AND e.type = ANY ($4::text[]) ORDER BY e.seq DESC LIMIT 1)))
    )::text, 'UTF8') AS body
    FROM projects p
    JOIN clients c ON c.id = p.client_id
    {milestone_join()}
    WHERE p.id = $1 AND ($3::uuid IS NULL OR p.client_id = $3)
    """
