"""Acceptance criteria: definitions, verifications, waivers, the scope freeze and the launch guard.

Definitions
- Kinds ``performance``, ``quality``, ``monitoring`` and ``support`` are measurable: they need
  ``metric``, ``comparator``, ``threshold`` and ``unit`` (``qualifiers`` optional). ``fallback`` and
  ``functional`` are measurable when any of those fields is given, else they are a ``statement`` a
  person checks. A criterion is one or the other, never both: a measurable one with a ``statement``, or
  a statement one with ``qualifiers``, is refused. Every problem is a 422 with a pointer per field.
- Thresholds are exact decimals, units canonical (see :mod:`api.domain.criteria.judging`); each
  criterion reads as one ``sentence`` (see :mod:`api.domain.criteria.sentences`).
- ``version`` (the ETag) counts the definition's revisions: create is 1, every edit and the removal add
  one, and each appends the whole criterion as it became to ``criterion_versions`` with who, when, why
  and the change request it came through. An edit that changes nothing adds no revision.
  Verifications and waivers change ``state`` without a new version: they have their own records.
- An edit of anything but the title resets the criterion to ``pending`` and drops its waiver: the
  evidence and the waiver were about the old definition (the old verifications stay, each naming the
  version and sentence it judged).

The freeze
- Before the architecture sign-off (the project's ``scope_frozen_at`` is null) staff create, edit and
  remove criteria freely; after it every such request is a 409 ``scope-frozen`` and criteria change only
  through :func:`apply_changes`, which the change-request capability calls in its approval transaction.
- On a closed or cancelled project nothing under its criteria changes any more (409 ``project-ended``).
- Removal marks a criterion ``removed``: it stays readable with its history but leaves the lists (unless
  asked for by ``state``), the status counts and the launch guard. A removed criterion takes no edit,
  verification or waiver (409 ``criterion-removed``); removing it again changes nothing.

Verifications
- Appended, never edited. A criterion is verified by ``measured_value`` when it is measurable and not
  a ``monitoring`` one, otherwise by ``passed`` (``verify_with`` in the resource says which); the other
  field is refused, so the caller never judges a measurement. A ``monitoring`` criterion's threshold is
  the condition of an alert, not a target: whether the alert exists and fires so is a pass/fail.
- The service judges a measured value exactly (``decimal.Decimal``): ``unit`` defaults to the
  criterion's; another unit of the same family (ms/s/min/hours/days, ratio/percent) is converted
  exactly; any other unit is a 422 on ``/unit``.
- The criterion's state follows the latest verification (``pending`` until the first). A waived
  criterion stays waived whatever later verifications say: they are recorded with their verdict, and
  the waiver is the client's decision to accept the project without this criterion.

Waivers
- Only a client key of the project's organisation waives (staff get 403), with a non-blank reason
  (422 ``reason-required``); ``If-Match`` names the definition version the client accepted (412 when
  staff changed it since). Waiving a waived criterion is a 409 ``already-waived``; a met criterion may
  be waived too (a later failed verification then no longer blocks the launch).

Concurrency
- Every change locks the project row ``FOR SHARE`` and then the criterion ``FOR UPDATE``: a sign-off
  (which freezes the scope) and a launch (which runs the guard) lock the project ``FOR UPDATE``, so they
  either wait for the change or the change sees their result. Every change emits its domain event
  (``criterion.created``, ``.updated``, ``.removed``, ``.verified``, ``.waived``) in its transaction.

The launch guard
- Registered in ``LAUNCH_GUARDS`` at import: a project launches only when it has at least one
  criterion that is not removed, and every such criterion is ``met`` or ``waived`` (409
  ``criteria-not-met`` naming the others). A project without criteria has nothing to be judged on: its
  launch is a 409 ``no-acceptance-criteria`` unless staff launch it with an explicit
  ``without_criteria_reason`` (kept on the project); that waiver is a 422 at
  ``/without_criteria_reason`` when the project has criteria.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

import msgspec

from api.db import Conn, UnitOfWork
from api.domain.criteria import queries
from api.domain.criteria.judging import (
    compatible,
    decimal_text,
    is_decimal_text,
    judge,
    normalise_unit,
    parse_decimal,
)
from api.domain.criteria.queries import CriterionRow, ProjectScope
from api.domain.criteria.schemas import (
    MEASURABLE_KINDS,
    Criterion,
    CriterionChange,
    CriterionIn,
    CriterionPatch,
    CriterionSnapshot,
    CriterionVersion,
    Definition,
    Qualifiers,
    State,
    Verification,
    VerificationIn,
    VerifyWith,
    WaiveIn,
)
from api.domain.criteria.sentences import render_sentence
from api.domain.events import outbox
from api.domain.projects import status
from api.domain.projects.schemas import LaunchIn
from api.domain.projects.service import LAUNCH_GUARDS, Blocker
from api.errors import Conflict, FieldError, Invalid, NotFound, invalid
from api.kit.auth import Principal, visible_client
from api.kit.etag import check_if_match

ENDED_PHASES = ("closed", "cancelled")
_MEASURED = ("metric", "comparator", "threshold", "unit")


# --- definitions -----------------------------------------------------------------------------------


def _qualifiers(q: Qualifiers, pointer: str, errors: list[FieldError]) -> Qualifiers | None:
    percentile = q.percentile
    if isinstance(percentile, str):
        value = Decimal(percentile) if is_decimal_text(percentile) else Decimal(0)
        if not 0 < value <= 100:
            errors.append(FieldError(f"{pointer}/percentile", "a percentile lies above 0 and at most 100"))
        elif value == value.to_integral_value():
            percentile = int(value)
        else:
            percentile = decimal_text(value.normalize())
    share = q.share_of_requests
    if share is not None:
        value = Decimal(share) if is_decimal_text(share) else Decimal(0)
        if not 0 < value <= 1:
            errors.append(
                FieldError(f"{pointer}/share_of_requests", 'a share lies above 0 and at most 1, e.g. "0.95"')
            )
        share = decimal_text(value)
    dataset = q.dataset.strip() if q.dataset is not None else None
    if dataset == "":
        errors.append(FieldError(f"{pointer}/dataset", "must not be blank"))
    result = Qualifiers(
        percentile=percentile,
        share_of_requests=share,
        window=q.window,
        consecutive_minutes=q.consecutive_minutes,
        dataset=dataset or None,
    )
    return None if result == Qualifiers() else result


def definition(data: CriterionIn, pointer: str = "") -> Definition:
    """Validate a criterion's definition (rules in the module docstring); 422 with a pointer per field
    under ``pointer`` (``/criteria_changes/0/criterion`` for a change request's changes)."""
    errors: list[FieldError] = []
    title = data.title.strip()
    if not title:
        errors.append(FieldError(f"{pointer}/title", "must not be blank"))
    given = [name for name in _MEASURED if getattr(data, name) is not None]
    measurable = bool(given) or data.qualifiers is not None or data.kind in MEASURABLE_KINDS
    if not measurable:
        statement = (data.statement or "").strip()
        if not statement:
            errors.append(
                FieldError(
                    f"{pointer}/statement",
                    f"a {data.kind} criterion needs a statement a person can check "
                    "(or metric, comparator, threshold and unit to be measurable)",
                )
            )
        if errors:
            raise Invalid("The criterion is not valid.", errors=errors)
        return Definition(
            kind=data.kind,
            title=title,
            metric=None,
            comparator=None,
            threshold=None,
            unit=None,
            qualifiers=None,
            statement=statement,
        )
    what = (
        f"a {data.kind} criterion is measurable"
        if data.kind in MEASURABLE_KINDS
        else "a measurable criterion"
    )
    for name in _MEASURED:
        if getattr(data, name) is None:
            errors.append(FieldError(f"{pointer}/{name}", f"{what}: it needs a {name}"))
    if data.statement is not None:
        errors.append(
            FieldError(
                f"{pointer}/statement",
                f"{what}: it is judged from its threshold and carries no statement",
            )
        )
    metric = data.metric.strip() if data.metric is not None else None
    if metric == "":
        errors.append(FieldError(f"{pointer}/metric", "must not be blank"))
    threshold = None
    if data.threshold is not None:
        if is_decimal_text(data.threshold):
            threshold = decimal_text(Decimal(data.threshold))
        else:
            errors.append(
                FieldError(f"{pointer}/threshold", 'a decimal number written as a string, e.g. "150"')
            )
    unit = normalise_unit(data.unit) if data.unit is not None else None
    qualifiers = (
        _qualifiers(data.qualifiers, f"{pointer}/qualifiers", errors) if data.qualifiers is not None else None
    )
    if errors:
        raise Invalid("The criterion is not valid.", errors=errors)
    return Definition(
        kind=data.kind,
        title=title,
        metric=metric,
        comparator=data.comparator,
        threshold=threshold,
        unit=unit,
        qualifiers=qualifiers,
        statement=None,
    )


def verify_with(criterion: Definition | CriterionRow) -> VerifyWith:
    """``measured_value`` for a measurable criterion other than ``monitoring``; else ``passed``."""
    if criterion.metric is not None and criterion.kind != "monitoring":
        return "measured_value"
    return "passed"


def _definition_of(row: CriterionRow) -> Definition:
    return Definition(
        kind=row.kind,
        title=row.title,
        metric=row.metric,
        comparator=row.comparator,
        threshold=row.threshold,
        unit=row.unit,
        qualifiers=row.qualifiers,
        statement=row.statement,
    )


def _snapshot(d: Definition, state: State) -> CriterionSnapshot:
    return CriterionSnapshot(
        kind=d.kind,
        title=d.title,
        metric=d.metric,
        comparator=d.comparator,
        threshold=d.threshold,
        unit=d.unit,
        qualifiers=d.qualifiers,
        statement=d.statement,
        sentence=render_sentence(d),
        state=state,
    )


def resource(row: CriterionRow) -> Criterion:
    """The API resource of a stored criterion."""
    return Criterion(
        id=row.id,
        project_id=row.project_id,
        kind=row.kind,
        title=row.title,
        metric=row.metric,
        comparator=row.comparator,
        threshold=row.threshold,
        unit=row.unit,
        qualifiers=row.qualifiers,
        statement=row.statement,
        verify_with=verify_with(row),
        sentence=render_sentence(row),
        state=row.state,
        waiver=row.waiver,
        last_verification=row.last_verification,
        removed_at=row.removed_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version,
    )


# --- looking things up -----------------------------------------------------------------------------


async def _scope(conn: Conn, principal: Principal | None, project_id: UUID, *, lock: bool) -> ProjectScope:
    scope = await queries.project_scope(conn, project_id, share_lock=lock)
    if scope is None:
        raise NotFound("No such project.")
    if principal is not None:
        visible_client(principal, scope.client_id, "project")
    return scope


async def _visible(conn: Conn, principal: Principal | None, criterion_id: UUID) -> CriterionRow:
    row = await queries.get(conn, criterion_id)
    if row is None:
        raise NotFound("No such criterion.")
    if principal is not None:
        visible_client(principal, row.client_id, "criterion")
    return row


async def _lock(
    conn: Conn, principal: Principal | None, criterion_id: UUID
) -> tuple[ProjectScope, CriterionRow]:
    """The project held ``FOR SHARE`` and then the criterion ``FOR UPDATE`` (404 as for reads)."""
    found = await queries.project_of(conn, criterion_id)
    if found is None:
        raise NotFound("No such criterion.")
    project_id, client_id = found
    if principal is not None:
        visible_client(principal, client_id, "criterion")
    scope = await _scope(conn, None, project_id, lock=True)
    row = await queries.get(conn, criterion_id, for_update=True)
    assert row is not None  # criteria are never deleted
    return scope, row


def _check_open(scope: ProjectScope) -> None:
    if scope.phase in ENDED_PHASES:
        raise Conflict(
            f"The project is {scope.phase}; its acceptance criteria no longer change.",
            rule="project-ended",
            extra={"phase": scope.phase},
        )


def _check_not_frozen(scope: ProjectScope) -> None:
    if scope.scope_frozen_at is not None:
        raise Conflict(
            "The scope froze at the architecture sign-off "
            f"({scope.scope_frozen_at.isoformat()}); acceptance criteria now change only through an "
            "approved change request.",
            rule="scope-frozen",
            extra={"scope_frozen_at": scope.scope_frozen_at.isoformat()},
        )


def _check_not_removed(row: CriterionRow) -> None:
    if row.state == "removed":
        raise Conflict("The criterion was removed from the project's scope.", rule="criterion-removed")


async def get(conn: Conn, principal: Principal, criterion_id: UUID) -> Criterion:
    return resource(await _visible(conn, principal, criterion_id))


async def list_for_project(
    conn: Conn,
    principal: Principal,
    project_id: UUID,
    *,
    after: int | None,
    limit: int,
    state: str | None,
    kind: str | None,
) -> list[tuple[int, Criterion]]:
    """The project's criteria in the order they were added, as (position key, criterion)."""
    await _scope(conn, principal, project_id, lock=False)
    rows = await queries.page(conn, project_id, after=after, limit=limit, state=state, kind=kind)
    return [(r.seq, resource(r)) for r in rows]


async def history(
    conn: Conn, principal: Principal, criterion_id: UUID, *, after: int | None, limit: int
) -> list[CriterionVersion]:
    await _visible(conn, principal, criterion_id)
    return await queries.versions(conn, criterion_id, after=after, limit=limit)


async def list_verifications(
    conn: Conn, principal: Principal, criterion_id: UUID, *, after: int | None, limit: int
) -> list[tuple[int, Verification]]:
    await _visible(conn, principal, criterion_id)
    return await queries.verifications(conn, criterion_id, after=after, limit=limit)


# --- changing the definitions ----------------------------------------------------------------------


async def _event(
    uow: UnitOfWork,
    event_type: str,
    criterion_id: UUID,
    scope: ProjectScope,
    data: dict[str, Any],
    now: datetime,
    actor: Principal | None,
) -> None:
    await outbox.emit(
        uow,
        event_type,
        subject_type="criterion",
        subject_id=criterion_id,
        data=data,
        now=now,
        actor=actor,
        client_id=scope.client_id,
        project_id=scope.id,
    )


async def _add(
    uow: UnitOfWork,
    scope: ProjectScope,
    new: Definition,
    *,
    actor: Principal | None,
    change_request_id: UUID | None,
    reason: str | None,
    now: datetime,
) -> CriterionRow:
    criterion_id = await queries.insert(uow.conn, scope.id, new, now=now)
    snapshot = _snapshot(new, "pending")
    await queries.record_version(
        uow.conn,
        criterion_id,
        version=1,
        change="created",
        snapshot=snapshot,
        reason=reason,
        change_request_id=change_request_id,
        actor=actor,
        at=now,
    )
    await _event(
        uow,
        "criterion.created",
        criterion_id,
        scope,
        {
            "title": new.title,
            "kind": new.kind,
            "sentence": snapshot.sentence,
            "version": 1,
            "change_request_id": change_request_id,
        },
        now,
        actor,
    )
    row = await queries.get(uow.conn, criterion_id)
    assert row is not None
    return row


def _changed_fields(old: Definition, new: Definition) -> list[str]:
    return [name for name in Definition.__struct_fields__ if getattr(old, name) != getattr(new, name)]


async def _modify(
    uow: UnitOfWork,
    scope: ProjectScope,
    row: CriterionRow,
    new: Definition,
    *,
    actor: Principal | None,
    change_request_id: UUID | None,
    reason: str | None,
    now: datetime,
) -> CriterionRow:
    changed = _changed_fields(_definition_of(row), new)
    if not changed:
        return row
    reset = changed != ["title"]
    version = await queries.update_definition(uow.conn, row.id, new, reset=reset, now=now)
    state: State = "pending" if reset else row.state
    snapshot = _snapshot(new, state)
    await queries.record_version(
        uow.conn,
        row.id,
        version=version,
        change="updated",
        snapshot=snapshot,
        reason=reason,
        change_request_id=change_request_id,
        actor=actor,
        at=now,
    )
    await _event(
        uow,
        "criterion.updated",
        row.id,
        scope,
        {
            "title": new.title,
            "changed": changed,
            "sentence": snapshot.sentence,
            "previous_sentence": render_sentence(row),
            "version": version,
            "state": state,
            "previous_state": row.state,
            "reason": reason,
            "change_request_id": change_request_id,
        },
        now,
        actor,
    )
    updated = await queries.get(uow.conn, row.id)
    assert updated is not None
    return updated


async def _remove(
    uow: UnitOfWork,
    scope: ProjectScope,
    row: CriterionRow,
    *,
    actor: Principal | None,
    change_request_id: UUID | None,
    reason: str | None,
    now: datetime,
) -> None:
    version = await queries.mark_removed(uow.conn, row.id, now=now)
    await queries.record_version(
        uow.conn,
        row.id,
        version=version,
        change="removed",
        snapshot=_snapshot(_definition_of(row), "removed"),
        reason=reason,
        change_request_id=change_request_id,
        actor=actor,
        at=now,
    )
    await _event(
        uow,
        "criterion.removed",
        row.id,
        scope,
        {
            "title": row.title,
            "sentence": render_sentence(row),
            "version": version,
            "previous_state": row.state,
            "reason": reason,
            "change_request_id": change_request_id,
        },
        now,
        actor,
    )


def _why(reason: str | None) -> str | None:
    return (reason or "").strip() or None


async def create(
    uow: UnitOfWork, actor: Principal, project_id: UUID, data: CriterionIn, now: datetime
) -> Criterion:
    """A new criterion in ``pending``, before the sign-off only."""
    scope = await _scope(uow.conn, actor, project_id, lock=True)
    _check_open(scope)
    _check_not_frozen(scope)
    new = definition(data)
    row = await _add(uow, scope, new, actor=actor, change_request_id=None, reason=None, now=now)
    return resource(row)


def _patched(row: CriterionRow, patch: CriterionPatch) -> CriterionIn:
    values: dict[str, Any] = {}
    for name in CriterionIn.__struct_fields__:
        given = getattr(patch, name)
        values[name] = getattr(row, name) if given is msgspec.UNSET else given
    return CriterionIn(**values)


async def update(
    uow: UnitOfWork,
    actor: Principal,
    criterion_id: UUID,
    data: CriterionPatch,
    if_match: str | None,
    now: datetime,
) -> Criterion:
    """Edit a criterion before the sign-off; the merged definition is validated as a whole."""
    scope, row = await _lock(uow.conn, actor, criterion_id)
    check_if_match(if_match, row.version)
    _check_open(scope)
    _check_not_frozen(scope)
    _check_not_removed(row)
    new = definition(_patched(row, data))
    updated = await _modify(
        uow, scope, row, new, actor=actor, change_request_id=None, reason=_why(data.reason), now=now
    )
    return resource(updated)


async def remove(
    uow: UnitOfWork,
    actor: Principal,
    criterion_id: UUID,
    *,
    reason: str | None,
    if_match: str | None,
    now: datetime,
) -> None:
    """Remove a criterion from the scope before the sign-off (kept with its history)."""
    scope, row = await _lock(uow.conn, actor, criterion_id)
    check_if_match(if_match, row.version)
    _check_open(scope)
    _check_not_frozen(scope)
    if row.state == "removed":
        return
    await _remove(uow, scope, row, actor=actor, change_request_id=None, reason=_why(reason), now=now)


# --- change requests -------------------------------------------------------------------------------


async def validate_changes(
    conn: Conn, project_id: UUID, changes: list[CriterionChange], *, pointer: str = "/criteria_changes"
) -> list[Definition | None]:
    """Check a change request's criteria changes against the project as it stands; 422 with a pointer
    per problem (``<pointer>/<index>/criterion_id``, ``<pointer>/<index>/criterion/threshold``, ...).

    ``add`` needs ``criterion`` and no ``criterion_id``; ``modify`` needs ``criterion_id`` and the whole
    new ``criterion``; ``remove`` needs ``criterion_id`` and no ``criterion``. An id must name a criterion
    of this project that is not removed, and at most once per list. Returns the validated definitions,
    index by index (None for a removal).
    """
    errors: list[FieldError] = []
    ids = [c.criterion_id for c in changes if c.criterion_id is not None]
    known = await queries.states(conn, project_id, ids) if ids else {}
    seen: set[UUID] = set()
    result: list[Definition | None] = []
    for index, change in enumerate(changes):
        at = f"{pointer}/{index}"
        if change.op == "add":
            if change.criterion_id is not None:
                errors.append(FieldError(f"{at}/criterion_id", "an added criterion has no id yet"))
        elif change.criterion_id is None:
            errors.append(FieldError(f"{at}/criterion_id", f"a {change.op} names the criterion it changes"))
        elif change.criterion_id not in known:
            errors.append(FieldError(f"{at}/criterion_id", "no criterion of this project has this id"))
        elif known[change.criterion_id] == "removed":
            errors.append(FieldError(f"{at}/criterion_id", "this criterion was removed already"))
        elif change.criterion_id in seen:
            errors.append(FieldError(f"{at}/criterion_id", "this criterion is changed twice in the list"))
        if change.op != "add" and change.criterion_id is not None:
            seen.add(change.criterion_id)
        if change.op == "remove":
            if change.criterion is not None:
                errors.append(FieldError(f"{at}/criterion", "a removal carries no criterion"))
            result.append(None)
            continue
        if change.criterion is None:
            errors.append(FieldError(f"{at}/criterion", f"an {change.op} carries the whole criterion"))
            result.append(None)
            continue
        try:
            result.append(definition(change.criterion, f"{at}/criterion"))
        except Invalid as exc:
            errors.extend(exc.errors or [])
            result.append(None)
    if errors:
        raise Invalid("The criteria changes are not valid.", errors=errors)
    return result


async def apply_changes(
    uow: UnitOfWork,
    *,
    project_id: UUID,
    changes: list[CriterionChange],
    change_request_id: UUID,
    actor: Principal,
    now: datetime,
    reason: str | None = None,
) -> None:
    """Apply an approved change request's criteria changes, in order, inside the caller's transaction.

    Works before and after the freeze (a change request is the way to change frozen criteria). Each
    change appends a version naming ``change_request_id`` (and ``reason`` when given) and emits its
    event. Changes that no longer fit the project (a criterion removed since the assessment, ...) are a
    409 ``criteria-changes-stale`` carrying the pointers; nothing is applied then.
    """
    scope = await _scope(uow.conn, None, project_id, lock=True)
    try:
        definitions = await validate_changes(uow.conn, project_id, changes)
    except Invalid as exc:
        raise Conflict(
            "The criteria changes no longer apply to the project's criteria: " + (exc.detail or ""),
            rule="criteria-changes-stale",
            errors=exc.errors,
        ) from None
    rows: dict[UUID, CriterionRow] = {}
    for criterion_id in sorted(c.criterion_id for c in changes if c.criterion_id is not None):
        locked = await queries.get(uow.conn, criterion_id, for_update=True)
        assert locked is not None
        rows[criterion_id] = locked
    why = _why(reason)
    for change, new in zip(changes, definitions, strict=True):
        if change.op == "add":
            assert new is not None
            await _add(uow, scope, new, actor=actor, change_request_id=change_request_id, reason=why, now=now)
        elif change.op == "modify":
            assert new is not None
            assert change.criterion_id is not None
            await _modify(
                uow,
                scope,
                rows[change.criterion_id],
                new,
                actor=actor,
                change_request_id=change_request_id,
                reason=why,
                now=now,
            )
        else:
            assert change.criterion_id is not None
            await _remove(
                uow,
                scope,
                rows[change.criterion_id],
                actor=actor,
                change_request_id=change_request_id,
                reason=why,
                now=now,
            )


# --- verifications and waivers ---------------------------------------------------------------------


def _url(value: str, pointer: str) -> str:
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:  # an unclosed IPv6 bracket, a host that changes under NFKC normalisation
        raise invalid(pointer, f"{value!r} is not an absolute http(s) URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in text:
        raise invalid(pointer, f"{value!r} is not an absolute http(s) URL")
    return text


async def verify(
    uow: UnitOfWork, actor: Principal, criterion_id: UUID, data: VerificationIn, now: datetime
) -> Verification:
    """Append a verification; the service judges it and the criterion's state follows (unless waived)."""
    scope, row = await _lock(uow.conn, actor, criterion_id)
    _check_open(scope)
    _check_not_removed(row)
    mode = verify_with(row)
    if data.measured_value is not None and data.passed is not None:
        raise invalid("/passed", "send measured_value or passed, not both")
    measured: Decimal | None = None
    unit: str | None = None
    if mode == "measured_value":
        assert row.comparator is not None
        assert row.threshold is not None
        assert row.unit is not None
        if data.passed is not None:
            raise invalid(
                "/passed", "this criterion is judged by the service from a measured_value, not from passed"
            )
        if data.measured_value is None:
            raise invalid("/measured_value", "a measurable criterion is verified with a measured_value")
        measured = parse_decimal(data.measured_value)
        unit = normalise_unit(data.unit) if data.unit is not None else row.unit
        if not compatible(unit, row.unit):
            raise invalid(
                "/unit",
                f"the criterion's threshold is in {row.unit}; a value in {unit} cannot be judged against it",
            )
        verdict = judge(measured, unit, row.comparator, Decimal(row.threshold), row.unit)
    else:
        if data.measured_value is not None:
            why = (
                "a monitoring criterion's threshold is the condition of an alert: verify that the alert "
                "fires so with passed"
                if row.kind == "monitoring"
                else "a statement criterion is verified with passed"
            )
            raise invalid("/measured_value", why)
        if data.unit is not None:
            raise invalid("/unit", "a pass/fail verification has no unit")
        if data.passed is None:
            raise invalid("/passed", "this criterion is verified with passed (true or false)")
        verdict = "met" if data.passed else "not_met"
    evidence_url = _url(data.evidence_url, "/evidence_url") if data.evidence_url is not None else None
    notes = (data.notes or "").strip() or None
    state: State = "waived" if row.state == "waived" else verdict
    await queries.set_state(uow.conn, row.id, state, now=now)
    sentence = render_sentence(row)
    verification = await queries.insert_verification(
        uow.conn,
        row.id,
        criterion_version=row.version,
        sentence=sentence,
        measured_value=measured,
        passed=data.passed,
        unit=unit,
        evidence_url=evidence_url,
        notes=notes,
        verdict=verdict,
        criterion_state=state,
        actor=actor,
        now=now,
    )
    await _event(
        uow,
        "criterion.verified",
        row.id,
        scope,
        {
            "title": row.title,
            "sentence": sentence,
            "verification_id": str(verification.id),
            "verdict": verdict,
            "state": state,
            "previous_state": row.state,
            "measured_value": verification.measured_value,
            "unit": unit,
            "passed": data.passed,
            "version": row.version,
        },
        now,
        actor,
    )
    return verification


async def waive(
    uow: UnitOfWork,
    actor: Principal,
    criterion_id: UUID,
    data: WaiveIn,
    if_match: str | None,
    now: datetime,
) -> Criterion:
    """The client accepts the project without this criterion."""
    reason = (data.reason or "").strip()
    if not reason:
        raise Invalid(
            "A reason is required.",
            rule="reason-required",
            errors=[FieldError(pointer="/reason", detail="a non-blank reason is required")],
        )
    scope, row = await _lock(uow.conn, actor, criterion_id)
    check_if_match(if_match, row.version)
    _check_open(scope)
    _check_not_removed(row)
    if row.state == "waived":
        raise Conflict("The criterion is waived already.", rule="already-waived")
    await queries.waive(uow.conn, row.id, reason=reason, by=actor.key_id, now=now)
    await _event(
        uow,
        "criterion.waived",
        row.id,
        scope,
        {
            "title": row.title,
            "sentence": render_sentence(row),
            "reason": reason,
            "previous_state": row.state,
            "version": row.version,
        },
        now,
        actor,
    )
    waived = await queries.get(uow.conn, row.id)
    assert waived is not None
    return resource(waived)


# --- the launch guard and the status document ------------------------------------------------------


async def launch_blocker(conn: Conn, project_id: UUID, request: LaunchIn) -> Blocker | None:
    """None when the project has criteria and every one that is not removed is met or waived, or has
    none and the launch carries the staff's waiver; else what blocks it (see the module's rules)."""
    active = await queries.count_active(conn, project_id)
    if active == 0:
        if request.without_criteria_reason is not None:
            return None
        return Blocker(
            "no-acceptance-criteria",
            "the project has no acceptance criteria to judge it by: define them, or launch with "
            "without_criteria_reason",
        )
    if request.without_criteria_reason is not None:
        raise invalid(
            "/without_criteria_reason",
            f"the project has {active} acceptance {'criterion' if active == 1 else 'criteria'}: "
            "they are judged (or waived by the client) instead",
        )
    blocking = await queries.blocking(conn, project_id)
    if not blocking:
        return None
    listed = "; ".join(f'"{title}" ({state.replace("_", " ")})' for title, state in blocking)
    count = len(blocking)
    what = "acceptance criterion is" if count == 1 else "acceptance criteria are"
    return Blocker("criteria-not-met", f"{count} {what} neither met nor waived: {listed}")


if launch_blocker not in LAUNCH_GUARDS:
    LAUNCH_GUARDS.append(launch_blocker)
status.set_part("acceptance", queries.STATUS_ACCEPTANCE)
