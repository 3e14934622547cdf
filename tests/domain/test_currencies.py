"""Currencies are ISO 4217 codes in current use with their minor units; the rate band is per currency."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx
import pytest

from api.kit.money import is_currency, minor_digits
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.engagement_helpers import body, error_pointers, read
from tests.domain.quote_helpers import accepted, problem

NOT_MONEY = ["XXX", "XTS", "XAU", "XDR", "DEM", "HRK", "BOV", "ABC"]


@pytest.fixture
async def org(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    return await create_client_org(client, staff, "Acme")


async def project_in(
    client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any], currency: str
) -> httpx.Response:
    return await client.post(
        "/v1/projects",
        json={"client_id": org["id"], "name": "Recommender", "currency": currency},
        headers=staff,
    )


def lines(currency: str, delivery: str, acceptance: str) -> list[dict[str, Any]]:
    return [
        {
            "description": "Discovery week",
            "phase": "discovery",
            "hours": 40,
            "amount": {"amount": "0" if currency == "JPY" else "0.00", "currency": currency},
        },
        {
            "description": "Service",
            "phase": "delivery",
            "hours": 400,
            "amount": {"amount": delivery, "currency": currency},
        },
        {
            "description": "Tests",
            "phase": "acceptance",
            "hours": 60,
            "amount": {"amount": acceptance, "currency": currency},
        },
    ]


@pytest.mark.parametrize("code", NOT_MONEY)
async def test_codes_that_are_no_money_in_use_are_refused(
    client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any], code: str
) -> None:
    refused = problem(await project_in(client, staff, org, code), 422)
    assert error_pointers(refused) == ["/currency"]
    assert "current use" in refused["errors"][0]["detail"]


def test_minor_units_come_from_the_maintained_list() -> None:
    assert (minor_digits("JPY"), minor_digits("EUR"), minor_digits("KWD")) == (0, 2, 3)
    assert all(is_currency(code) for code in ("EUR", "USD", "PLN", "JPY", "KWD", "CHF"))
    assert not any(is_currency(code) for code in NOT_MONEY)


async def test_yen_have_no_decimals_and_no_band_by_default(
    client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]
) -> None:
    project = body(await project_in(client, staff, org, "JPY"), 201)
    path = f"/v1/projects/{project['id']}/quotes"
    with_cents = await client.post(path, json={"lines": lines("JPY", "3000000.00", "300000")}, headers=staff)
    assert error_pointers(problem(with_cents, 422)) == ["/lines/1/amount/amount"]
    quote = body(
        await client.post(path, json={"lines": lines("JPY", "3000000", "300000")}, headers=staff), 201
    )
    assert quote["total"] == {"amount": "3300000", "currency": "JPY"}
    assert quote["blended_hourly_rate"] == {"amount": "6600", "currency": "JPY"}
    assert (quote["rate_band"], quote["rate_within_band"]) == (None, None)


async def test_each_currency_is_checked_against_its_own_band(
    client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]
) -> None:
    project = body(await project_in(client, staff, org, "PLN"), 201)
    # 500 hours for 90,000.00 PLN: 180 PLN an hour, inside the default PLN band (150-250), far above 55
    quote = body(
        await client.post(
            f"/v1/projects/{project['id']}/quotes",
            json={"lines": lines("PLN", "80000.00", "10000.00")},
            headers=staff,
        ),
        201,
    )
    assert quote["blended_hourly_rate"] == {"amount": "180.00", "currency": "PLN"}
    assert quote["rate_band"] == {
        "low": {"amount": "150.00", "currency": "PLN"},
        "high": {"amount": "250.00", "currency": "PLN"},
    }
    assert quote["rate_within_band"] is True


class TestBandsFromTheSetting:
    @pytest.fixture
    def env(self, env: dict[str, str]) -> dict[str, str]:
        return {**env, "RATE_BANDS": "EUR:60-90,JPY:5000-7000"}

    async def test_the_setting_replaces_the_bands(
        self, client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]
    ) -> None:
        eur = body(await project_in(client, staff, org, "EUR"), 201)
        quote = body(
            await client.post(
                f"/v1/projects/{eur['id']}/quotes",
                json={"lines": lines("EUR", "18000.00", "2000.00")},
                headers=staff,
            ),
            201,
        )
        assert quote["blended_hourly_rate"] == {"amount": "40.00", "currency": "EUR"}
        assert quote["rate_within_band"] is False
        yen = body(await project_in(client, staff, org, "JPY"), 201)
        quote = body(
            await client.post(
                f"/v1/projects/{yen['id']}/quotes",
                json={"lines": lines("JPY", "3000000", "300000")},
                headers=staff,
            ),
            201,
        )
        assert quote["rate_within_band"] is True


async def test_amounts_stored_in_a_currency_now_refused_still_read(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    org: dict[str, Any],
    make_key: KeyMaker,
    db: asyncpg.Connection,
) -> None:
    client_key = bearer(await make_key("client", org["id"]))
    project = body(await project_in(client, staff, org, "EUR"), 201)
    await accepted(client, staff, client_key, project["id"])
    await db.execute("SET session_replication_role = replica")  # this session fires no triggers
    for table in ("projects", "contracts", "quotes"):
        key = "id" if table == "projects" else "project_id"
        await db.execute(f"UPDATE {table} SET currency = 'XXX' WHERE {key} = $1", project["id"])
    contract = await read(client, client_key, f"/v1/projects/{project['id']}/contract")
    assert contract["baseline_price"] == {"amount": "20000.00", "currency": "XXX"}
    status = await read(client, client_key, f"/v1/projects/{project['id']}/status")
    assert status["contract"]["current_price"] == {"amount": "20000.00", "currency": "XXX"}
