"""The HTTP conventions of api.md, each proved through the API."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import KeyMaker, bearer, create_client_org

PROBLEM = "application/problem+json"


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body["status"] == status
    assert str(body["type"]).startswith("urn:scopekeeper:problem:")
    assert body["title"]
    return body


async def test_unknown_field_is_refused_with_a_pointer(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    body = {"price": {"amount": "1.00", "currency": "EUR"}, "count": 1, "colour": "red"}
    problem = assert_problem(await client.post("/v1/_probe/money", json=body, headers=staff), 422)
    assert problem["errors"] == [{"pointer": "/colour", "detail": "Object contains unknown field `colour`"}]


async def test_wrong_type_is_refused_with_a_pointer(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    body = {"price": {"amount": "1.00", "currency": "EUR"}, "count": "one"}
    problem = assert_problem(await client.post("/v1/_probe/money", json=body, headers=staff), 422)
    assert problem["errors"] == [{"pointer": "/count", "detail": "Expected `int`, got `str`"}]


async def test_missing_field_is_refused_with_its_pointer(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    body = {"price": {"amount": "1.00", "currency": "EUR"}}
    problem = assert_problem(await client.post("/v1/_probe/money", json=body, headers=staff), 422)
    assert problem["errors"] == [{"pointer": "/count", "detail": "Object missing required field `count`"}]


async def test_bad_query_parameter_names_it(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    problem = assert_problem(await client.get("/v1/clients", params={"limit": "0"}, headers=staff), 422)
    assert [e["pointer"] for e in problem["errors"]] == ["query:limit"]  # type: ignore[attr-defined]


async def test_text_the_database_cannot_store_is_422(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    assert_problem(await client.post("/v1/clients", json={"name": "Nul\u0000Corp"}, headers=staff), 422)


async def test_float_amount_is_refused(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    body = {"price": {"amount": 12.5, "currency": "EUR"}, "count": 1}
    problem = assert_problem(await client.post("/v1/_probe/money", json=body, headers=staff), 422)
    assert problem["errors"] == [{"pointer": "/price/amount", "detail": "Expected `str`, got `float`"}]


@pytest.mark.parametrize(
    ("amount", "currency", "pointer"),
    [
        ("12.5", "EUR", "/price/amount"),
        ("12", "EUR", "/price/amount"),
        ("12.00", "JPY", "/price/amount"),
        ("1.00", "XYZ", "/price/currency"),
        ("-1.00", "EUR", "/price/amount"),
    ],
)
async def test_amount_must_fit_its_currency(
    client: httpx.AsyncClient, staff: dict[str, str], amount: str, currency: str, pointer: str
) -> None:
    body = {"price": {"amount": amount, "currency": currency}, "count": 1}
    problem = assert_problem(await client.post("/v1/_probe/money", json=body, headers=staff), 422)
    assert [e["pointer"] for e in problem["errors"]] == [pointer]  # type: ignore[attr-defined]


async def test_money_is_read_exactly(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    body = {"price": {"amount": "28000.10", "currency": "EUR"}, "count": 1}
    response = await client.post("/v1/_probe/money", json=body, headers=staff)
    assert response.json() == {"minor": 2800010, "currency": "EUR", "count": 1}


async def test_unreadable_json_is_a_problem(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    response = await client.post(
        "/v1/_probe/money", content=b'{"price":', headers={**staff, "Content-Type": "application/json"}
    )
    assert_problem(response, 400)


async def test_missing_or_unknown_key_is_401(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/v1/clients"), 401)
    assert "Bearer" in str(problem["detail"])
    assert_problem(await client.get("/v1/clients", headers=bearer("sk_00000000_nope")), 401)
    assert_problem(await client.get("/v1/clients", headers={"Authorization": "Basic abc"}), 401)


async def test_wrong_role_is_403(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker
) -> None:
    org = await create_client_org(client, staff)
    for key in (await make_key("client", org["id"]), await make_key("intake")):
        assert_problem(await client.post("/v1/clients", json={"name": "x"}, headers=bearer(key)), 403)
        assert_problem(await client.get("/v1/api-keys", headers=bearer(key)), 403)


async def test_route_without_declared_roles_is_closed(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    assert_problem(await client.get("/v1/_probe/unguarded", headers=staff), 403)


async def test_unknown_route_and_method_are_problems(
    client: httpx.AsyncClient, staff: dict[str, str]
) -> None:
    assert_problem(await client.get("/v1/nowhere", headers=staff), 404)
    assert_problem(await client.delete("/v1/clients", headers=staff), 405)


async def test_body_over_one_mebibyte_is_413(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    big = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = await client.post(
        "/v1/clients", content=big, headers={**staff, "Content-Type": "application/json"}
    )
    assert_problem(response, 413)


async def test_internal_error_shows_no_internals(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    response = await client.get("/v1/_probe/boom", headers=staff)
    problem = assert_problem(response, 500)
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert problem["type"] == "urn:scopekeeper:problem:internal-error"


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "abc-123"})
    assert response.headers["x-request-id"] == "abc-123"
    generated = await client.get("/health", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["x-request-id"] != "bad id with spaces"


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "RATE_LIMIT_PER_MINUTE": "5"}


async def test_flood_gets_429_with_retry_after(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    statuses = [(await client.get("/v1/clients", headers=staff)).status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5
    assert statuses[5:] == [429, 429]
    response = await client.get("/v1/clients", headers=staff)
    assert_problem(response, 429)
    assert 1 <= int(response.headers["retry-after"]) <= 60


async def test_rate_limit_is_per_key(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker
) -> None:
    for _ in range(6):
        await client.get("/v1/clients", headers=staff)
    other = bearer(await make_key("staff"))
    assert (await client.get("/v1/clients", headers=other)).status_code == 200
