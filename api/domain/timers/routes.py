from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from litestar import Response, get, put
from litestar.datastructures import State
from litestar.params import JSONBody, PathParameter, QueryParameter

from api.domain.timers import queries, service
from api.domain.timers.schemas import (
    DueDates,
    SlaPolicy,
    SlaPolicyIn,
    Timer,
    TimerDetail,
    TimerKind,
    TimerState,
)
from api.errors import invalid
from api.kit import validate
from api.kit.auth import roles
from api.kit.etag import version_etag
from api.kit.http import Caller, IfMatch, Now, Uow
from api.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page, decode_cursor, page_of

TAGS = ["SLA timers"]

TIMER_RULES = """
Kinds, their start, target and stop: `inquiry_reply` (an inquiry is received; 1 business day; the first
reply), `cr_assessment` (a change request is submitted; 2 business days; the assessment is sent),
`cr_client_decision` (an assessment is sent; 5 business days; the client decides),
`support_first_response` (a support request is opened; 24 clock hours, or business hours when the
project chose them; the first staff response), `architecture_review` (discovery starts; the end of the
5th business day of discovery; the architecture document is submitted). Targets and the warning ratio
(default 75%) are the policy in force when the timer started (`policy_version`).

A business duration runs only inside the calendar's working windows; a clock that starts outside them
starts at the next opening, and one business day is the length of a standard working day (9 h by
default): on the default calendar Tuesday 10:00 → Wednesday 10:00, Tuesday 20:00 → Wednesday 18:00,
Friday 15:00 → Monday 15:00, a weekend or holiday → the end of the first working day after it.
Deadlines are computed in the calendar's local wall time.

States: `running`, `paused` (paused time does not count, in the timer's own unit), then the outcome:
`met`, `breached` (the due time passed; `met_at` or `cancelled_at` show a later stop, the breach is
kept), `cancelled` (stopped before it fell due). The warning fires once at `warn_at`, the breach once at
`due_at`.
""".strip()


def _aware(value: datetime | None, name: str) -> datetime | None:
    """An instant with an offset within the accepted range (``api.kit.validate.instant``)."""
    return None if value is None else validate.instant(value, f"query:{name}")


@get(
    "/v1/sla-timers",
    opt=roles("staff"),
    tags=TAGS,
    summary="List SLA timers",
    description="The live queue: timers ordered by due time (then id), soonest first; `state=running` for "
    "the ones still counting.\n\n" + TIMER_RULES,
)
async def list_timers(
    uow: Uow,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    timer_state: Annotated[
        TimerState | None, QueryParameter(name="state", description="Only timers in this state")
    ] = None,
    kind: Annotated[TimerKind | None, QueryParameter(description="Only timers of this kind")] = None,
    due_before: Annotated[
        datetime | None, QueryParameter(description="Only timers due strictly before this instant")
    ] = None,
    subject_id: Annotated[UUID | None, QueryParameter(description="Only the timers of this subject")] = None,
) -> Page[Timer]:
    """The live queue: timers ordered by due time (then id), soonest first; `state=running` for the
    ones still counting."""
    after = decode_cursor(cursor, (datetime, UUID))
    rows = await queries.page(
        uow.conn,
        state=timer_state,
        kind=kind,
        due_before=_aware(due_before, "due_before"),
        subject_id=subject_id,
        after=(after[0], after[1]) if after else None,
        limit=limit + 1,
    )
    return page_of(rows, limit, lambda t: [t.due_at.isoformat(), str(t.id)])


@get(
    "/v1/sla-timers/{timer_id:uuid}",
    opt=roles("staff"),
    tags=TAGS,
    summary="Read an SLA timer with its log",
    description="One timer and its append-only log (started, warned, paused, resumed, recomputed, met, "
    "breached, cancelled), with the old and new due and warning times of every change that moved them."
    "\n\n" + TIMER_RULES,
)
async def get_timer(
    timer_id: Annotated[UUID, PathParameter(description="The timer's id")], uow: Uow
) -> TimerDetail:
    """One timer and its append-only log (started, warned, paused, resumed, recomputed, met, breached,
    cancelled), with the old and new due and warning times of every change that moved them."""
    return await service.detail(uow.conn, timer_id)


@get(
    "/v1/calendar/due-dates",
    opt=roles("staff", "intake"),
    tags=TAGS,
    summary="When a timer would warn and fall due",
    description="When a timer of `kind` started at `from` (default: now) would warn (`warn_at`) and fall "
    "due (`due_at`) on the calendar and policy in force; nothing is stored. Lets a form promise a reply "
    "time before it submits. For `architecture_review`, `from` is the start of discovery.\n\n" + TIMER_RULES,
)
async def get_due_dates(
    uow: Uow,
    state: State,
    now: Now,
    kind: Annotated[TimerKind, QueryParameter(description="The timer kind")],
    from_: Annotated[
        datetime | None,
        QueryParameter(
            name="from",
            description="When the timer would start (default: now); for `architecture_review`, the "
            "start of discovery. An instant with an offset.",
        ),
    ] = None,
    business_hours: Annotated[
        bool | None,
        QueryParameter(
            description="For kinds measured in hours (`support_first_response`): count business hours "
            "instead of clock hours"
        ),
    ] = None,
) -> DueDates:
    """When a timer of `kind` started at `from` would warn (`warn_at`) and fall due (`due_at`) on the
    calendar and policy in force; nothing is stored. Lets a form promise a reply time before it
    submits."""
    start = _aware(from_, "from") or now
    try:
        return await service.due_dates(
            uow.conn, kind=kind, start=start, settings=state.settings, business_hours=business_hours
        )
    except service.UnitError as exc:
        raise invalid("query:business_hours", str(exc)) from None


def _policy(policy: SlaPolicy) -> Response[SlaPolicy]:
    return Response(policy, headers={"ETag": version_etag(policy.version)})


@get("/v1/sla-policy", opt=roles("staff"), tags=TAGS, summary="Read the SLA policy")
async def get_policy(uow: Uow) -> Response[SlaPolicy]:
    """Targets and warning ratio of every timer kind; `ETag` carries the policy version."""
    return _policy(await service.policy(uow.conn))


@put("/v1/sla-policy", opt=roles("staff"), tags=TAGS, summary="Replace the SLA policy")
async def put_policy(
    data: JSONBody[SlaPolicyIn], uow: Uow, principal: Caller, now: Now, if_match: IfMatch = None
) -> Response[SlaPolicy]:
    """Store new targets for every kind as a new policy version. Timers started before keep the
    version they started with; new timers use this one. `business_days` and `end_of_business_day`
    targets are counted in business time (`unit` must be `business`, 422 otherwise); `hours` targets
    may be `clock` or `business`. Send `If-Match` (412 when stale). Emits `sla.policy_updated`."""
    return _policy(await service.put_policy(uow, principal, data, if_match, now))
