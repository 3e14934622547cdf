from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.db import Conn
from api.domain.calendar.queries import CurrentRow
from api.domain.events import catalog
from api.domain.events.schemas import NewEvent
from api.domain.timers.schemas import (
    KindPolicy,
    LogEvent,
    Measure,
    SlaPolicy,
    Timer,
    TimerKind,
    TimerLogEntry,
    TimerState,
    TimerUnit,
)

_COLUMNS = (
    "id",
    "kind",
    "subject_type",
    "subject_id",
    "project_id",
    "client_id",
    "state",
    "unit",
    "measure",
    "amount",
    "target",
    "warn_ratio",
    "started_at",
    "due_at",
    "warn_at",
    "warned_at",
    "breached_at",
    "met_at",
    "paused_at",
    "paused_total",
    "cancelled_at",
    "cancel_reason",
    "policy_version",
    "calendar_version",
    "data",
    "created_at",
    "updated_at",
    "version",
)
COLUMNS = ", ".join(_COLUMNS)
T_COLUMNS = ", ".join(f"t.{c}" for c in _COLUMNS)

#: The instant a running timer next fires: its warning until that has fired, then its due time.
#: Written exactly as in the partial index ``sla_timers_next_fire`` so the planner can use it.
NEXT_FIRE = "(CASE WHEN warned_at IS NULL THEN warn_at ELSE due_at END)"

#: Claim a batch of running timers with something due, record what fires, and log it.
#: $1 now, $2 batch size. The row lock plus the re-checked state is the once-only guard.
CLAIM_DUE = f"""
WITH claimed AS (
    SELECT id, (warned_at IS NULL AND warn_at <= $1) AS warn, (due_at <= $1) AS breach
    FROM sla_timers
    WHERE state = 'running' AND {NEXT_FIRE} <= $1
    ORDER BY {NEXT_FIRE}
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), fired AS (
    UPDATE sla_timers t SET
        warned_at = CASE WHEN c.warn THEN $1 ELSE t.warned_at END,
        state = CASE WHEN c.breach THEN 'breached' ELSE t.state END,
        breached_at = CASE WHEN c.breach THEN $1 ELSE t.breached_at END,
        updated_at = $1,
        version = t.version + 1
    FROM claimed c
    WHERE t.id = c.id
    RETURNING {T_COLUMNS}, c.warn AS fired_warning, c.breach AS fired_breach
), logged AS (
    INSERT INTO sla_timer_events (timer_id, event, at, due_at, warn_at, calendar_version)
    SELECT f.id, e.event, $1, f.due_at, f.warn_at, f.calendar_version
    FROM fired f
    CROSS JOIN LATERAL (VALUES (1, 'warned', f.fired_warning), (2, 'breached', f.fired_breach))
        AS e(position, event, happened)
    WHERE e.happened
    ORDER BY f.due_at, f.id, e.position
)
SELECT * FROM fired
"""


class Context(msgspec.Struct, frozen=True):
    """What a timer of one kind is computed with: the calendar in force and the kind's current policy."""

    calendar: CurrentRow
    policy_version: int
    measure: Measure
    amount: int
    unit: TimerUnit
    warn_ratio: float


class Fired(msgspec.Struct, frozen=True):
    timer: Timer
    warning: bool
    breach: bool


def _timer(row: asyncpg.Record) -> Timer:
    return msgspec.convert(dict(row), Timer)


async def context(conn: Conn, kind: TimerKind, *, lock: bool) -> Context:
    """The calendar in force (locked ``FOR SHARE`` when ``lock``) and the kind's latest policy."""
    row = await conn.fetchrow(
        """
        SELECT c.version, c.version_id, c.updated_at,
               p.version AS policy_version, p.measure, p.amount, p.unit, p.warn_ratio
        FROM business_calendar c
        CROSS JOIN LATERAL (
            SELECT version, measure, amount, unit, warn_ratio FROM sla_policies
            WHERE kind = $1 ORDER BY version DESC LIMIT 1
        ) p
        WHERE c.singleton
        """
        + (" FOR SHARE OF c" if lock else ""),
        kind,
    )
    assert row is not None, "the migration creates the calendar row and a policy for every kind"
    return _context(row)


async def insert(
    conn: Conn,
    *,
    kind: TimerKind,
    subject_type: str,
    subject_id: UUID,
    project_id: UUID | None,
    client_id: UUID | None,
    unit: TimerUnit,
    measure: Measure,
    amount: int,
    target: timedelta,
    warn_ratio: float,
    started_at: datetime,
    due_at: datetime,
    warn_at: datetime,
    policy_version: int,
    calendar_version: int | None,
    data: dict[str, Any],
    now: datetime,
) -> Timer | None:
    """Insert a running timer and its ``started`` log entry; None when the subject has an open one."""
    row = await conn.fetchrow(
        f"""
        WITH t AS (
            INSERT INTO sla_timers (kind, subject_type, subject_id, project_id, client_id, unit, measure, amount,
                                    target, warn_ratio, started_at, due_at, warn_at, policy_version,
                                    calendar_version, data, created_at, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $17)
            ON CONFLICT (kind, subject_id) WHERE met_at IS NULL AND cancelled_at IS NULL DO NOTHING
            RETURNING {COLUMNS}
        ), logged AS (
            INSERT INTO sla_timer_events (timer_id, event, at, due_at, warn_at, calendar_version, details)
            SELECT id, 'started', started_at, due_at, warn_at, calendar_version,
                   jsonb_build_object('policy_version', policy_version)
            FROM t
        )
        SELECT {COLUMNS} FROM t
        """,
        kind,
        subject_type,
        subject_id,
        project_id,
        client_id,
        unit,
        measure,
        amount,
        target,
        warn_ratio,
        started_at,
        due_at,
        warn_at,
        policy_version,
        calendar_version,
        data,
        now,
    )
    return None if row is None else _timer(row)


class Guarded(msgspec.Struct, frozen=True):
    """The outcome of ``insert_guarded``: the context in force, and what was written when it matched."""

    context: Context
    matched: bool
    timer_written: bool
    event_id: UUID | None


#: $1-$17 the timer (id, kind, subject_type, subject_id, project_id, client_id, unit, measure, amount,
#: target, warn_ratio, started_at, due_at, warn_at, policy_version, calendar_version, data), $18 now,
#: $19 and $28 the version and version id of the calendar the times were computed on, $29 the policy's
#: unit, $20-$27 the event (type, subject_type, subject_id, client_id, project_id, actor_key_id,
#: actor_role, data). Versions are compared with their content (the version id of a calendar, the
#: targets of a policy), so a context cached from another database (a restore, a test) never matches
#: by number alone.
_INSERT_GUARDED = """
WITH calendar AS (
    SELECT version, version_id, updated_at FROM business_calendar WHERE singleton FOR SHARE
), policy AS (
    SELECT version, measure, amount, unit, warn_ratio FROM sla_policies
    WHERE kind = $2 ORDER BY version DESC LIMIT 1
), in_force AS (
    SELECT c.version, c.version_id, c.updated_at, p.version AS policy_version, p.measure, p.amount, p.unit,
           p.warn_ratio,
           (c.version = $19 AND c.version_id IS NOT DISTINCT FROM $28 AND p.version = $15 AND p.measure = $8
            AND p.amount = $9 AND p.unit = $29 AND p.warn_ratio = $11) AS matched
    FROM calendar c CROSS JOIN policy p
), t AS (
    INSERT INTO sla_timers (id, kind, subject_type, subject_id, project_id, client_id, unit, measure, amount,
                            target, warn_ratio, started_at, due_at, warn_at, policy_version, calendar_version,
                            data, created_at, updated_at)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18
    FROM in_force WHERE matched
    ON CONFLICT (kind, subject_id) WHERE met_at IS NULL AND cancelled_at IS NULL DO NOTHING
    RETURNING id, started_at, due_at, warn_at, calendar_version, policy_version
), logged AS (
    INSERT INTO sla_timer_events (timer_id, event, at, due_at, warn_at, calendar_version, details)
    SELECT id, 'started', started_at, due_at, warn_at, calendar_version,
           jsonb_build_object('policy_version', policy_version)
    FROM t
), e AS (
    INSERT INTO domain_events (type, subject_type, subject_id, client_id, project_id, actor_key_id,
                               actor_role, data, occurred_at)
    SELECT $20, $21, $22, $23, $24, $25, $26, $27, $18 FROM t
    RETURNING id
)
SELECT f.version, f.version_id, f.updated_at, f.policy_version, f.measure, f.amount, f.unit, f.warn_ratio,
       f.matched, EXISTS (SELECT FROM t) AS timer_written, (SELECT id FROM e) AS event_id
FROM in_force f
"""


def _context(row: asyncpg.Record) -> Context:
    return Context(
        calendar=CurrentRow(
            version=row["version"], version_id=row["version_id"], updated_at=row["updated_at"]
        ),
        policy_version=row["policy_version"],
        measure=row["measure"],
        amount=row["amount"],
        unit=row["unit"],
        warn_ratio=row["warn_ratio"],
    )


async def insert_guarded(
    conn: Conn,
    timer: Timer,
    event: NewEvent,
    *,
    context: Context,
    now: datetime,
    actor_key_id: UUID | None,
    actor_role: str | None,
) -> Guarded:
    """Insert a running ``timer``, its ``started`` log entry and ``event``, in one statement, only if the
    calendar in force and the kind's latest policy are those of ``context`` (the times' basis).

    The calendar row is locked ``FOR SHARE`` first (the order a calendar change takes), so the versions
    read stay in force until the transaction ends. Nothing is written when they differ (``matched``
    false: compute again on the returned context) or when the subject has an open timer of the kind
    (``timer_written`` false, and the event is not written either). An event type the catalog does not
    list is refused before anything is written (``catalog.UnknownEventType``), as the outbox refuses it.
    """
    catalog.audience(event.type)
    row = await conn.fetchrow(
        _INSERT_GUARDED,
        timer.id,
        timer.kind,
        timer.subject_type,
        timer.subject_id,
        timer.project_id,
        timer.client_id,
        timer.unit,
        timer.measure,
        timer.amount,
        timer.target,
        timer.warn_ratio,
        timer.started_at,
        timer.due_at,
        timer.warn_at,
        timer.policy_version,
        timer.calendar_version,
        timer.data,
        now,
        context.calendar.version,
        event.type,
        event.subject_type,
        event.subject_id,
        event.client_id,
        event.project_id,
        actor_key_id,
        actor_role,
        event.data,
        context.calendar.version_id,
        context.unit,
    )
    assert row is not None, "the migration creates the calendar row and a policy for every kind"
    return Guarded(
        context=_context(row),
        matched=row["matched"],
        timer_written=row["timer_written"],
        event_id=row["event_id"],
    )


async def open_timer(
    conn: Conn, kind: TimerKind, subject_id: UUID, *, for_update: bool = False
) -> Timer | None:
    """The subject's timer of ``kind`` that has been neither met nor cancelled (at most one)."""
    row = await conn.fetchrow(
        f"""
        SELECT {COLUMNS} FROM sla_timers
        WHERE kind = $1 AND subject_id = $2 AND met_at IS NULL AND cancelled_at IS NULL
        """
        + (" FOR UPDATE" if for_update else ""),
        kind,
        subject_id,
    )
    return None if row is None else _timer(row)


async def open_of_project(conn: Conn, project_id: UUID, *, ids: list[UUID] | None = None) -> list[Timer]:
    """The project's timers that have been neither met nor cancelled, oldest first; ``ids`` narrows
    them to those timers (index ``sla_timers_project``)."""
    rows = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM sla_timers
        WHERE project_id = $1 AND met_at IS NULL AND cancelled_at IS NULL
          AND ($2::uuid[] IS NULL OR id = ANY ($2::uuid[]))
        ORDER BY started_at, id
        """,
        project_id,
        ids,
    )
    return [_timer(r) for r in rows]


async def for_subject(conn: Conn, kind: TimerKind, subject_id: UUID) -> Timer | None:
    """The subject's open timer of ``kind``, else the one started last."""
    row = await conn.fetchrow(
        f"""
        SELECT {COLUMNS} FROM sla_timers
        WHERE subject_id = $2 AND kind = $1
        ORDER BY (met_at IS NULL AND cancelled_at IS NULL) DESC, started_at DESC, created_at DESC
        LIMIT 1
        """,
        kind,
        subject_id,
    )
    return None if row is None else _timer(row)


async def get(conn: Conn, timer_id: UUID) -> Timer | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM sla_timers WHERE id = $1", timer_id)
    return None if row is None else _timer(row)


async def _change(
    conn: Conn,
    assignments: str,
    args: list[Any],
    *,
    timer_id: UUID,
    event: LogEvent,
    at: datetime,
    now: datetime,
    old: Timer | None = None,
    details: dict[str, Any] | None = None,
) -> Timer:
    """Update one timer (``assignments`` use ``$8``... for ``args``) and append ``event`` to its log.

    ``old`` given: the log entry records the due and warning times before the change.
    """
    row = await conn.fetchrow(
        f"""
        WITH t AS (
            UPDATE sla_timers SET {assignments}, updated_at = $2, version = version + 1
            WHERE id = $1
            RETURNING {COLUMNS}
        ), logged AS (
            INSERT INTO sla_timer_events (timer_id, event, at, old_due_at, due_at, old_warn_at, warn_at,
                                          calendar_version, details)
            SELECT id, $3, $4, $5::timestamptz, due_at, $6::timestamptz, warn_at, calendar_version, $7
            FROM t
        )
        SELECT {COLUMNS} FROM t
        """,
        timer_id,
        now,
        event,
        at,
        old.due_at if old is not None else None,
        old.warn_at if old is not None else None,
        details or {},
        *args,
    )
    assert row is not None
    return _timer(row)


async def mark_breached(conn: Conn, timer_id: UUID, *, at: datetime, now: datetime) -> Timer:
    return await _change(
        conn,
        "state = 'breached', breached_at = $8",
        [at],
        timer_id=timer_id,
        event="breached",
        at=at,
        now=now,
        details={"noticed_when_stopped": True},
    )


async def mark_met(conn: Conn, timer_id: UUID, *, at: datetime, now: datetime) -> Timer:
    return await _change(
        conn,
        "met_at = $8, paused_at = NULL, state = CASE WHEN state = 'breached' THEN 'breached' ELSE 'met' END",
        [at],
        timer_id=timer_id,
        event="met",
        at=at,
        now=now,
    )


async def mark_paused(conn: Conn, timer_id: UUID, *, at: datetime, now: datetime) -> Timer:
    return await _change(
        conn, "state = 'paused', paused_at = $8", [at], timer_id=timer_id, event="paused", at=at, now=now
    )


async def mark_resumed(
    conn: Conn,
    old: Timer,
    *,
    at: datetime,
    target: timedelta,
    due_at: datetime,
    warn_at: datetime,
    paused_total: timedelta,
    calendar_version: int | None,
    now: datetime,
    pause: timedelta,
) -> Timer:
    return await _change(
        conn,
        "state = 'running', paused_at = NULL, target = $8, due_at = $9, warn_at = $10, paused_total = $11, "
        "calendar_version = $12",
        [target, due_at, warn_at, paused_total, calendar_version],
        timer_id=old.id,
        event="resumed",
        at=at,
        now=now,
        old=old,
        details={"paused": pause.total_seconds()},
    )


async def mark_cancelled(conn: Conn, timer_id: UUID, *, at: datetime, reason: str, now: datetime) -> Timer:
    return await _change(
        conn,
        "cancelled_at = $8, cancel_reason = $9, paused_at = NULL, "
        "state = CASE WHEN state = 'breached' THEN 'breached' ELSE 'cancelled' END",
        [at, reason],
        timer_id=timer_id,
        event="cancelled",
        at=at,
        now=now,
        details={"reason": reason},
    )


async def live_business_timers(conn: Conn) -> list[Timer]:
    """Running and paused timers counted in business time, locked for a recomputation."""
    rows = await conn.fetch(
        f"""
        SELECT {COLUMNS} FROM sla_timers
        WHERE state IN ('running', 'paused') AND unit = 'business'
        ORDER BY id
        FOR UPDATE
        """
    )
    return [_timer(r) for r in rows]


class Recomputed(msgspec.Struct, frozen=True):
    timer_id: UUID
    target: timedelta
    due_at: datetime
    warn_at: datetime
    moved: bool
    old_due_at: datetime
    old_warn_at: datetime
    old_calendar_version: int | None


async def apply_recompute(
    conn: Conn, changes: list[Recomputed], *, calendar_version: int, now: datetime
) -> None:
    """Store new times and calendar version; log ``recomputed`` for the timers whose times moved."""
    if not changes:
        return
    await conn.execute(
        """
        WITH c AS (
            SELECT * FROM unnest($1::uuid[], $2::interval[], $3::timestamptz[], $4::timestamptz[],
                                 $5::boolean[], $6::timestamptz[], $7::timestamptz[], $10::integer[])
                AS c(id, target, due_at, warn_at, moved, old_due_at, old_warn_at, old_calendar_version)
        ), updated AS (
            UPDATE sla_timers t SET target = c.target, due_at = c.due_at, warn_at = c.warn_at,
                   calendar_version = $8, updated_at = $9,
                   version = t.version + CASE WHEN c.moved THEN 1 ELSE 0 END
            FROM c
            WHERE t.id = c.id
            RETURNING t.id
        )
        INSERT INTO sla_timer_events (timer_id, event, at, old_due_at, due_at, old_warn_at, warn_at,
                                      calendar_version, details)
        SELECT c.id, 'recomputed', $9, c.old_due_at, c.due_at, c.old_warn_at, c.warn_at, $8,
               jsonb_build_object('previous_calendar_version', c.old_calendar_version)
        FROM c
        WHERE c.moved
        ORDER BY c.id
        """,
        [c.timer_id for c in changes],
        [c.target for c in changes],
        [c.due_at for c in changes],
        [c.warn_at for c in changes],
        [c.moved for c in changes],
        [c.old_due_at for c in changes],
        [c.old_warn_at for c in changes],
        calendar_version,
        now,
        [c.old_calendar_version for c in changes],
    )


async def claim_due(conn: Conn, now: datetime, limit: int) -> list[Fired]:
    """Run ``CLAIM_DUE`` (inside a transaction): the timers whose warning or breach fired now."""
    rows = await conn.fetch(CLAIM_DUE, now, limit)
    fired = []
    for row in rows:
        values = dict(row)
        warning = values.pop("fired_warning")
        breach = values.pop("fired_breach")
        fired.append(Fired(timer=msgspec.convert(values, Timer), warning=warning, breach=breach))
    return fired


async def page(
    conn: Conn,
    *,
    state: TimerState | None,
    kind: TimerKind | None,
    due_before: datetime | None,
    subject_id: UUID | None,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[Timer]:
    """Timers ordered by (due_at, id); only the filters given become conditions."""
    conditions: list[str] = []
    args: list[Any] = []
    for column, operator, value in (
        ("state", "=", state),
        ("kind", "=", kind),
        ("due_at", "<", due_before),
        ("subject_id", "=", subject_id),
    ):
        if value is not None:
            args.append(value)
            conditions.append(f"{column} {operator} ${len(args)}")
    if after is not None:
        args.extend(after)
        conditions.append(f"(due_at, id) > (${len(args) - 1}, ${len(args)})")
    args.append(limit)
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    rows = await conn.fetch(
        f"SELECT {COLUMNS} FROM sla_timers {where} ORDER BY due_at, id LIMIT ${len(args)}", *args
    )
    return [_timer(r) for r in rows]


async def log_of(conn: Conn, timer_id: UUID) -> list[TimerLogEntry]:
    rows = await conn.fetch(
        """
        SELECT id, event, at, old_due_at, due_at, old_warn_at, warn_at, calendar_version, details
        FROM sla_timer_events WHERE timer_id = $1 ORDER BY id
        """,
        timer_id,
    )
    return [msgspec.convert(dict(r), TimerLogEntry) for r in rows]


async def current_policy(conn: Conn, *, lock: bool = False) -> SlaPolicy:
    rows = await conn.fetch(
        """
        SELECT version, kind, measure, amount, unit, warn_ratio, created_at FROM sla_policies
        WHERE version = (SELECT max(version) FROM sla_policies)
        """
        + (" FOR UPDATE" if lock else "")
    )
    kinds = {
        r["kind"]: {
            "measure": r["measure"],
            "amount": r["amount"],
            "unit": r["unit"],
            "warn_ratio": r["warn_ratio"],
        }
        for r in rows
    }
    return msgspec.convert(
        {"version": rows[0]["version"], "created_at": rows[0]["created_at"], **kinds}, SlaPolicy
    )


async def store_policy(
    conn: Conn, *, version: int, kinds: dict[TimerKind, KindPolicy], now: datetime, actor_key_id: UUID | None
) -> None:
    await conn.executemany(
        """
        INSERT INTO sla_policies (version, kind, measure, amount, unit, warn_ratio, created_at, created_by)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        """,
        [
            (version, kind, p.measure, p.amount, p.unit, p.warn_ratio, now, actor_key_id)
            for kind, p in kinds.items()
        ],
    )
