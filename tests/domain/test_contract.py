"""The contract ledger: baseline from the accepted quote, amendments, ``as_of`` and the status figures."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import msgspec
import pytest
from litestar import Litestar

from api.db import unit_of_work
from api.domain.contracts import service as contracts
from api.domain.contracts.schemas import Amendment
from api.domain.projects.schemas import ProjectStatus
from api.errors import Conflict, Invalid
from api.kit.clock import FrozenClock
from api.kit.money import Money, parse
from tests.conftest import START, KeyMaker, bearer, create_client_org
from tests.domain.project_helpers import new_project
from tests.domain.quote_helpers import accepted, eur, problem

BASELINE = "2027-03-05"  # a Friday


@pytest.fixture
async def org(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    return await create_client_org(client, staff, "Acme")


@pytest.fixture
async def client_key(make_key: KeyMaker, org: dict[str, Any]) -> dict[str, str]:
    return bearer(await make_key("client", org["id"]))


@pytest.fixture
async def project(client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> dict[str, Any]:
    return await new_project(client, staff, org["id"])


@pytest.fixture
async def signed(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project: dict[str, Any]
) -> dict[str, Any]:
    """The project's accepted quote (20,000.00 EUR, delivery 2027-03-05), accepted at START."""
    return await accepted(client, staff, client_key, project["id"])


async def amend(
    app: Litestar,
    project_id: str,
    price: str,
    days: int,
    *,
    at: datetime,
    change_request_id: UUID | None = None,
    currency: str = "EUR",
) -> Amendment:
    """What approving a change request does: the service call, in its own committed unit of work."""
    async with unit_of_work(app.state.pool, transactional=True, acquire_timeout=5) as uow:
        amendment = await contracts.append_amendment(
            uow,
            project_id=UUID(project_id),
            change_request_id=change_request_id or uuid4(),
            price_impact=parse(Money(amount=price, currency=currency), "/price_impact", allow_negative=True),
            timeline_impact_days=days,
            approved_at=at,
            actor=None,
        )
    await app.state.jobs.send(uow.jobs)
    return amendment


def contract_url(project: dict[str, Any], as_of: str | None = None) -> str:
    url = f"/v1/projects/{project['id']}/contract"
    return url if as_of is None else f"{url}?as_of={as_of}"


async def test_the_contract_moves_with_approved_amendments(
    client: httpx.AsyncClient,
    app: Litestar,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    signed: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    first_cr = uuid4()
    first = await amend(
        app, project["id"], "4500.00", 3, at=START + timedelta(days=20), change_request_id=first_cr
    )
    assert first.number == 1
    assert first.current_price.minor == 2_450_000
    assert first.current_delivery_date.isoformat() == "2027-03-10"  # Mon 8, Tue 9, Wed 10
    second = await amend(app, project["id"], "-500.00", -1, at=START + timedelta(days=30))
    assert second.number == 2

    response = await client.get(contract_url(project), headers=client_key)
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"3"'
    contract = response.json()
    assert contract["quote_id"] == signed["id"]
    assert contract["quote_revision"] == 1
    assert contract["accepted_at"] == "2026-11-24T09:30:00Z"
    assert contract["baseline_price"] == eur("20000.00")
    assert contract["approved_changes"] == eur("4000.00")
    assert contract["current_price"] == eur("24000.00")
    assert contract["baseline_delivery_date"] == BASELINE
    assert contract["current_delivery_date"] == "2027-03-09"
    assert contract["timeline_impact_days"] == 2
    assert contract["scope_change_ratio"] == "0.2000"
    assert contract["amendments"] == [
        {
            "number": 1,
            "kind": "change_request",
            "change_request_id": str(first_cr),
            "reason": None,
            "price_impact": eur("4500.00"),
            "timeline_impact_days": 3,
            "approved_at": "2026-12-14T09:30:00Z",
            "criteria_changes": [],
            "current_price": eur("24500.00"),
            "current_delivery_date": "2027-03-10",
        },
        {
            "number": 2,
            "kind": "change_request",
            "change_request_id": str(second.change_request_id),
            "reason": None,
            "price_impact": eur("-500.00"),
            "timeline_impact_days": -1,
            "approved_at": "2026-12-24T09:30:00Z",
            "criteria_changes": [],
            "current_price": eur("24000.00"),
            "current_delivery_date": "2027-03-09",
        },
    ]

    status = await client.get(f"/v1/projects/{project['id']}/status", headers=client_key)
    document = msgspec.json.decode(status.content, type=ProjectStatus, strict=True)
    assert status.json()["contract"] == {
        "baseline_price": eur("20000.00"),
        "approved_changes": eur("4000.00"),
        "pending_changes": eur("0.00"),
        "current_price": eur("24000.00"),
        "baseline_delivery_date": BASELINE,
        "current_delivery_date": "2027-03-09",
        "scope_change_ratio": "0.2000",
    }
    delivery = next(m for m in document.milestones if m.name == "delivery")
    assert delivery.due_on is not None
    assert delivery.due_on.isoformat() == "2027-03-09"
    events = await db.fetch(
        "SELECT data FROM domain_events WHERE type = 'contract.amended' AND project_id = $1 ORDER BY seq",
        UUID(project["id"]),
    )
    assert len(events) == 2


async def test_the_contract_as_it_stood_then(
    client: httpx.AsyncClient,
    app: Litestar,
    staff: dict[str, str],
    project: dict[str, Any],
    signed: dict[str, Any],
) -> None:
    await amend(app, project["id"], "4500.00", 3, at=datetime(2026, 12, 14, 9, 30, tzinfo=UTC))
    await amend(app, project["id"], "1000.00", 2, at=datetime(2026, 12, 24, 9, 30, tzinfo=UTC))
    before = (await client.get(contract_url(project, "2026-11-24T09:29:59Z"), headers=staff)).json()
    assert before["quote_id"] is None
    assert before["current_price"] is None
    assert before["amendments"] == []
    at_acceptance = (await client.get(contract_url(project, "2026-11-24T09:30:00Z"), headers=staff)).json()
    assert at_acceptance["current_price"] == eur("20000.00")
    assert at_acceptance["current_delivery_date"] == BASELINE
    assert at_acceptance["amendments"] == []
    assert at_acceptance["scope_change_ratio"] == "0.0000"
    between = (await client.get(contract_url(project, "2026-12-20T12:00:00%2B01:00"), headers=staff)).json()
    assert between["as_of"] == "2026-12-20T11:00:00Z"
    assert [a["number"] for a in between["amendments"]] == [1]
    assert between["current_price"] == eur("24500.00")
    assert between["current_delivery_date"] == "2027-03-10"
    assert between["scope_change_ratio"] == "0.2250"
    on_the_instant = (await client.get(contract_url(project, "2026-12-24T09:30:00Z"), headers=staff)).json()
    assert on_the_instant["current_price"] == eur("25500.00")
    assert on_the_instant["current_delivery_date"] == "2027-03-12"
    whole = (await client.get(contract_url(project), headers=staff)).json()
    assert whole["as_of"] == "2026-11-24T09:30:00Z"  # without as_of: now, with the whole ledger
    assert whole["current_price"] == eur("25500.00")
    later = (await client.get(contract_url(project, "2030-01-01T00:00:00Z"), headers=staff)).json()
    assert later["current_price"] == eur("25500.00")


@pytest.mark.parametrize("as_of", ["2026-12-20T12:00:00", "yesterday", "2026-13-01T00:00:00Z"])
async def test_as_of_must_be_an_instant_with_an_offset(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    project: dict[str, Any],
    signed: dict[str, Any],
    as_of: str,
) -> None:
    response = await client.get(contract_url(project, as_of), headers=staff)
    body = problem(response, 422)
    assert [e["pointer"].split(":")[-1] for e in body["errors"]] == ["as_of"]


async def test_amendments_out_of_approval_order(
    client: httpx.AsyncClient,
    app: Litestar,
    staff: dict[str, str],
    project: dict[str, Any],
    signed: dict[str, Any],
) -> None:
    """Two approvals racing: the second appended was approved first; as_of in between sees only it."""
    await amend(app, project["id"], "300.00", 5, at=datetime(2026, 12, 10, 12, 0, tzinfo=UTC))
    await amend(app, project["id"], "200.00", 1, at=datetime(2026, 12, 10, 11, 0, tzinfo=UTC))
    between = (await client.get(contract_url(project, "2026-12-10T11:30:00Z"), headers=staff)).json()
    assert [a["number"] for a in between["amendments"]] == [2]
    assert between["current_price"] == eur("20200.00")
    assert between["current_delivery_date"] == "2027-03-08"  # baseline + 1 business day
    after = (await client.get(contract_url(project, "2026-12-10T12:00:00Z"), headers=staff)).json()
    assert after["current_price"] == eur("20500.00")
    assert after["current_delivery_date"] == "2027-03-15"  # + 6 business days


async def test_no_contract_before_a_quote_is_accepted(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project: dict[str, Any]
) -> None:
    response = await client.get(contract_url(project), headers=client_key)
    assert response.status_code == 200, response.text
    assert "etag" not in response.headers
    assert response.json() == {
        "project_id": project["id"],
        "as_of": "2026-11-24T09:30:00Z",
        "id": None,
        "quote_id": None,
        "quote_revision": None,
        "accepted_at": None,
        "baseline_price": None,
        "approved_changes": None,
        "current_price": None,
        "baseline_delivery_date": None,
        "current_delivery_date": None,
        "timeline_impact_days": None,
        "scope_change_ratio": None,
        "amendments": [],
        "version": None,
    }
    status = (await client.get(f"/v1/projects/{project['id']}/status", headers=staff)).json()
    assert set(status["contract"].values()) == {None}


async def test_contract_role_boundaries(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    make_key: KeyMaker,
    project: dict[str, Any],
    signed: dict[str, Any],
) -> None:
    other = await create_client_org(client, staff, "Other")
    stranger = bearer(await make_key("client", other["id"]))
    problem(await client.get(contract_url(project), headers=stranger), 404)
    problem(await client.get(contract_url(project), headers=bearer(await make_key("intake"))), 403)
    problem(await client.get(contract_url(project)), 401)
    problem(
        await client.get("/v1/projects/00000000-0000-4000-8000-000000000000/contract", headers=staff), 404
    )
    assert (await client.get(contract_url(project), headers=staff)).status_code == 200


async def test_append_amendment_refusals(
    client: httpx.AsyncClient,
    app: Litestar,
    staff: dict[str, str],
    org: dict[str, Any],
    project: dict[str, Any],
    signed: dict[str, Any],
) -> None:
    cr = uuid4()
    await amend(app, project["id"], "100.00", 0, at=START, change_request_id=cr)
    with pytest.raises(Conflict) as twice:
        await amend(app, project["id"], "100.00", 0, at=START, change_request_id=cr)
    assert twice.value.rule == "amendment-exists"
    with pytest.raises(Invalid) as currency:
        await amend(app, project["id"], "100.00", 0, at=START, currency="USD")
    assert currency.value.errors is not None
    assert [e.pointer for e in currency.value.errors] == ["/price_impact/currency"]
    with pytest.raises(Conflict) as negative:
        await amend(app, project["id"], "-20100.01", 0, at=START)
    assert negative.value.rule == "contract-price-negative"
    unsigned = await new_project(client, staff, org["id"], name="Unsigned")
    with pytest.raises(Conflict) as none:
        await amend(app, unsigned["id"], "100.00", 0, at=START)
    assert none.value.rule == "no-accepted-quote"
    contract = (await client.get(contract_url(project), headers=staff)).json()
    assert [a["number"] for a in contract["amendments"]] == [1]
    assert contract["current_price"] == eur("20100.00")
    down_to_zero = await amend(app, project["id"], "-20100.00", 0, at=START)
    assert down_to_zero.current_price.minor == 0


async def test_concurrent_amendments_are_numbered_without_gaps(
    client: httpx.AsyncClient,
    app: Litestar,
    staff: dict[str, str],
    project: dict[str, Any],
    signed: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    made = await asyncio.gather(*(amend(app, project["id"], "10.00", 1, at=START) for _ in range(20)))
    assert sorted(a.number for a in made) == list(range(1, 21))
    contract = (await client.get(contract_url(project), headers=staff)).json()
    assert contract["approved_changes"] == eur("200.00")
    assert contract["timeline_impact_days"] == 20
    # 20 working days after Friday 5 March 2027, Easter Monday (29 March, a Polish holiday) skipped
    assert contract["current_delivery_date"] == "2027-04-05"
    assert contract["current_delivery_date"] == contract["amendments"][-1]["current_delivery_date"]
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await db.execute("UPDATE contract_amendments SET price_impact_minor = 0")
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await db.execute("DELETE FROM contract_amendments")


async def test_dates_move_on_the_calendar_in_force_when_approved(
    client: httpx.AsyncClient,
    app: Litestar,
    clock: FrozenClock,
    staff: dict[str, str],
    project: dict[str, Any],
    signed: dict[str, Any],
) -> None:
    calendar = (await client.get("/v1/calendar", headers=staff)).json()
    body = {k: calendar[k] for k in ("time_zone", "weekly", "country", "subdivision")}
    closed = await client.put(
        "/v1/calendar", json={**body, "closed_dates": ["2027-03-09"]}, headers={**staff, "If-Match": '"0"'}
    )
    assert closed.status_code == 200, closed.text
    amendment = await amend(app, project["id"], "0.00", 3, at=clock.now())
    assert amendment.current_delivery_date.isoformat() == "2027-03-11"  # Tuesday 9 March is closed
    reopened = await client.put("/v1/calendar", json={**body, "closed_dates": []}, headers=staff)
    assert reopened.status_code == 200, reopened.text
    contract = (await client.get(contract_url(project), headers=staff)).json()
    assert contract["current_delivery_date"] == "2027-03-11"  # an approved date stays as approved
