"""Hostile input, kept as regressions: each is a 4xx problem (a 422 with a pointer where a field is at
fault), never a 500.

The first tests hold what schemathesis found. The rest send what it cannot generate by itself, to every
route that takes it (walked from the route table, like the tenant matrix): forged cursors to every list,
JSON that cannot be read (invalid UTF-8 inside a string, nesting thousands of levels deep) to every body,
and dates outside 2000-01-01..2100-12-31 to every body field and query parameter that takes a date.
"""

from __future__ import annotations

import base64
import copy
import uuid
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from litestar.handlers import HTTPRouteHandler

from api.app import route_handlers
from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain import project_helpers, quote_helpers
from tests.test_tenant_matrix import FACTORIES, Factory, concrete, path_params

#: URLs the standard library refuses to split (it raises instead of answering).
UNSPLITTABLE = ["http://[::1", "http://exa\uff03mple.com/"]


@pytest.mark.parametrize("url", UNSPLITTABLE)
async def test_unsplittable_urls_of_a_project_are_422(
    client: httpx.AsyncClient, staff: dict[str, str], url: str
) -> None:
    project_id = uuid.uuid4()
    handover = {**project_helpers.HANDOVER, "monitoring_url": url}
    response = await client.post(f"/v1/projects/{project_id}/handover", json=handover, headers=staff)
    assert response.status_code == 422, response.text
    assert [e["pointer"] for e in response.json()["errors"]] == ["/monitoring_url"]
    architecture = {**project_helpers.ARCHITECTURE, "document_url": url}
    response = await client.post(f"/v1/projects/{project_id}/architecture", json=architecture, headers=staff)
    assert response.status_code == 422, response.text
    assert [e["pointer"] for e in response.json()["errors"]] == ["/document_url"]


@pytest.mark.parametrize("url", UNSPLITTABLE)
async def test_unsplittable_evidence_url_is_422(
    client: httpx.AsyncClient, staff: dict[str, str], url: str
) -> None:
    org = (await client.post("/v1/clients", json={"name": "Hostile"}, headers=staff)).json()
    criterion_id = await FACTORIES["criterion_id"](client, staff, org)
    response = await client.post(
        f"/v1/criteria/{criterion_id}/verifications",
        json={"passed": True, "evidence_url": url},
        headers=staff,
    )
    assert response.status_code == 422, response.text
    assert [e["pointer"] for e in response.json()["errors"]] == ["/evidence_url"]


# --- crafted input the schema cannot express: forged cursors, unreadable JSON, dates far away ------

DEEP = 5000


def _cursor(value: object) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(value)).rstrip(b"=").decode()


#: Cursors no list ever returns: numbers beyond every column, instants without an offset, out of range
#: or beyond what a date can hold, wrong shapes, and bytes that are not base64 JSON at all.
FORGED = [
    _cursor([2**63]),
    _cursor([2**64]),
    _cursor([-(2**63) - 1]),
    _cursor([2**64, 1]),
    _cursor([1, 2**63]),
    _cursor([-1, -1]),
    _cursor(["9999-12-31T23:59:59-23:59", str(uuid.uuid4())]),
    _cursor(["0001-01-01T00:00:00+23:59", str(uuid.uuid4())]),
    _cursor(["1999-12-31T23:59:59Z", str(uuid.uuid4())]),
    _cursor(["2026-11-24T09:30:00", str(uuid.uuid4())]),
    _cursor([1e308, 1e308]),
    _cursor([]),
    base64.urlsafe_b64encode(b"[" * DEEP + b"]" * DEEP).rstrip(b"=").decode(),
    base64.urlsafe_b64encode(b'["\xff\xfe"]').rstrip(b"=").decode(),
    "%%%",
]


def _handlers() -> list[HTTPRouteHandler]:
    found = []
    for handler in route_handlers():
        assert isinstance(handler, HTTPRouteHandler)
        found.append(handler)
    return found


def _v1_path(handler: HTTPRouteHandler) -> str:
    [path] = [p for p in handler.paths if p.startswith("/v1")]
    return path


LISTS = sorted(
    (_v1_path(h), "after" if "after" in h.parsed_fn_signature.parameters else "cursor")
    for h in _handlers()
    if "GET" in h.http_methods and {"cursor", "after"} & set(h.parsed_fn_signature.parameters)
)
BODIES_TAKEN = sorted(
    (method, _v1_path(h), tuple(h.opt.get("roles", ())))
    for h in _handlers()
    if "data" in h.parsed_fn_signature.parameters
    for method in h.http_methods
)


async def _endpoint_id(http: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> str:
    body = {"url": "http://127.0.0.1:9/hooks", "event_types": ["*"]}
    response = await http.post("/v1/webhook-endpoints", json=body, headers=staff)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


IDS = {**FACTORIES, "endpoint_id": _endpoint_id}


def test_every_list_is_walked() -> None:
    assert len(LISTS) >= 14, LISTS
    assert ("/v1/events", "after") in LISTS


async def test_forged_cursors_are_422_on_every_list(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    org = await create_client_org(client, staff, "Forged")
    ids: dict[str, str] = {}
    failures = []
    for path, parameter in LISTS:
        for name in path_params(path):
            assert name in IDS, f"add a factory for {name!r} ({path})"
            if name not in ids:
                ids[name] = await IDS[name](client, staff, org)
        url = concrete(path, ids)
        assert (await client.get(url, headers=staff)).status_code == 200, url
        for forged in FORGED:
            response = await client.get(url, params={parameter: forged}, headers=staff)
            pointer = (response.json().get("errors") or [{}])[0].get("pointer")
            if response.status_code != 422 or pointer != f"query:{parameter}":
                failures.append(
                    f"{path} {parameter}={forged[:40]}: {response.status_code} {response.text[:200]}"
                )
    assert not failures, "\n".join(failures)


async def _keys(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker
) -> dict[str, dict[str, str]]:
    org = await create_client_org(client, staff, "Unreadable")
    return {
        "staff": staff,
        "client": bearer(await make_key("client", org["id"])),
        "intake": bearer(await make_key("intake")),
    }


UNREADABLE = {
    "invalid UTF-8 in a string": b'{"name": "\xff\xfe\xfd", "message": "caf\xc3"}',
    "nested 5000 levels": b'{"name": ' + b"[" * DEEP + b"]" * DEEP + b"}",
    "nested 3000 levels of objects": b'{"a":' * 3000 + b"1" + b"}" * 3000,
}


async def test_unreadable_json_is_400_on_every_body(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker
) -> None:
    keys = await _keys(client, staff, make_key)
    failures = []
    for method, path, roles in BODIES_TAKEN:
        headers = {**keys[roles[0]], "Content-Type": "application/json"}
        url = concrete(path, {name: str(uuid.uuid4()) for name in path_params(path)})
        for label, content in UNREADABLE.items():
            response = await client.request(method, url, content=content, headers=headers)
            if (
                response.status_code != 400
                or response.json().get("type") != "urn:scopekeeper:problem:malformed-request"
            ):
                failures.append(f"{method} {path} ({label}): {response.status_code} {response.text[:200]}")
    assert len(BODIES_TAKEN) >= 25
    assert not failures, "\n".join(failures)


# Dates: every date or instant a body or a query parameter takes is refused outside 2000-01-01..2100-12-31.


def _date_fields(info: msgspec.inspect.Type, pointer: str, seen: frozenset[type]) -> list[tuple[str, str]]:
    """(JSON pointer, kind) of every date or datetime in a request type."""
    found: list[tuple[str, str]] = []
    if isinstance(info, msgspec.inspect.StructType) and info.cls not in seen:
        for field in info.fields:
            found += _date_fields(field.type, f"{pointer}/{field.encode_name}", seen | {info.cls})
    elif isinstance(info, msgspec.inspect.Metadata):
        found += _date_fields(info.type, pointer, seen)
    elif isinstance(info, msgspec.inspect.UnionType):
        for option in info.types:
            found += _date_fields(option, pointer, seen)
    elif isinstance(info, msgspec.inspect.ListType):
        found += _date_fields(info.item_type, f"{pointer}/0", seen)
    elif isinstance(info, msgspec.inspect.DateType):
        found.append((pointer, "date"))
    elif isinstance(info, msgspec.inspect.DateTimeType):
        found.append((pointer, "datetime"))
    return found


#: Dependencies the app provides (never taken from the request).
PROVIDED = {"now", "uow", "principal", "state", "request"}

DATES_TAKEN = sorted(
    (method, _v1_path(h), tuple(h.opt.get("roles", ())), name, pointer, kind)
    for h in _handlers()
    for name, parameter in h.parsed_fn_signature.parameters.items()
    if name not in PROVIDED
    for pointer, kind in _date_fields(msgspec.inspect.type_info(parameter.annotation), "", frozenset())
    for method in h.http_methods
)


async def _draft_quote(http: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> str:
    project_id = await FACTORIES["project_id"](http, staff, org)
    return str((await quote_helpers.draft(http, staff, project_id))["id"])


#: A valid request around each date taken: (path ids, body).
AROUND: dict[tuple[str, str], tuple[dict[str, Factory], Any]] = {
    ("POST", "/v1/projects/{project_id:uuid}/quotes"): (
        {"project_id": FACTORIES["project_id"]},
        quote_helpers.quote_body(valid_until="2026-12-20"),
    ),
    ("PATCH", "/v1/quotes/{quote_id:uuid}"): ({"quote_id": _draft_quote}, {}),
    ("PUT", "/v1/calendar"): (
        {},
        {
            "time_zone": "Europe/Warsaw",
            "weekly": [{"weekday": d, "start": "09:00:00", "end": "18:00:00"} for d in range(1, 6)],
            "country": "PL",
            "closed_dates": ["2026-12-24"],
        },
    ),
    ("GET", "/v1/projects/{project_id:uuid}/contract"): ({"project_id": FACTORIES["project_id"]}, None),
    ("GET", "/v1/sla-timers"): ({}, None),
    ("GET", "/v1/calendar/due-dates"): ({}, {"kind": "inquiry_reply"}),
}

FAR = {
    "date": ["9999-12-31", "1999-12-31", "2101-01-01"],
    "datetime": ["9999-12-31T23:59:59Z", "1999-12-31T23:59:59Z", "0001-01-01T00:00:00+23:59"],
}


def _set(body: Any, pointer: str, value: str) -> Any:
    parts = pointer.strip("/").split("/")
    target = body
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last = parts[-1]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return body


def test_every_date_taken_is_walked() -> None:
    taken = {(m, p) for m, p, *_ in DATES_TAKEN}
    assert taken == set(AROUND), (
        f"give every route taking a date a valid request in AROUND: {taken ^ set(AROUND)}"
    )


async def test_dates_outside_the_range_are_422_where_they_are_taken(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker
) -> None:
    org = await create_client_org(client, staff, "Faraway")
    failures = []
    for method, path, roles, name, pointer, kind in DATES_TAKEN:
        assert "staff" in roles
        factories, base = AROUND[(method, path)]
        for value in FAR[kind]:
            ids = {param: await factory(client, staff, org) for param, factory in factories.items()}
            url = concrete(path, ids)
            if name == "data":
                body = _set(copy.deepcopy(base), pointer, value)
                response = await client.request(method, url, json=body, headers=staff)
                expected = pointer
            else:
                query = {**(base or {}), name.rstrip("_"): value}
                response = await client.request(method, url, params=query, headers=staff)
                expected = f"query:{name.rstrip('_')}"
            pointers = [e["pointer"] for e in response.json().get("errors") or []]
            if response.status_code != 422 or pointers != [expected]:
                failures.append(
                    f"{method} {path} {expected}={value}: {response.status_code} {response.text[:200]}"
                )
    assert not failures, "\n".join(failures)


async def test_a_quote_far_in_the_future_is_never_accepted_with_a_500(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker, db: asyncpg.Connection, app: Any
) -> None:
    """The probe's finding: a quote with ``delivery_date`` 9999-12-31 made accept fail with a 500. Such
    a date is refused at input now; one stored before that is refused at send and at accept."""
    from api.domain.quotes import document
    from api.domain.quotes import queries as quote_queries

    org = await create_client_org(client, staff, "Farquote")
    owner = bearer(await make_key("client", org["id"]))
    project_id = await FACTORIES["project_id"](client, staff, org)
    refused = await client.post(
        f"/v1/projects/{project_id}/quotes",
        json=quote_helpers.quote_body(delivery_date="9999-12-31"),
        headers=staff,
    )
    assert refused.status_code == 422
    assert [e["pointer"] for e in refused.json()["errors"]] == ["/delivery_date"]

    # a draft stored with such a date before the rule: refused at send
    draft = await quote_helpers.draft(client, staff, project_id)
    await db.execute("UPDATE quotes SET delivery_date = '9999-12-31' WHERE id = $1", uuid.UUID(draft["id"]))
    unsent = await client.post(f"/v1/quotes/{draft['id']}/send", headers=staff)
    assert unsent.status_code == 409, unsent.text
    assert "/delivery_date" in unsent.text

    # a revision sent with such a date before the rule: refused at accept
    await db.execute("UPDATE quotes SET delivery_date = '2027-03-05' WHERE id = $1", uuid.UUID(draft["id"]))
    await quote_helpers.send(client, staff, draft["id"])
    await db.execute("SET session_replication_role = replica")  # past the trigger keeping sent quotes whole
    await db.execute("UPDATE quotes SET delivery_date = '9999-12-31' WHERE id = $1", uuid.UUID(draft["id"]))
    async with app.state.pool.acquire() as conn:
        revision = await quote_queries.get(conn, uuid.UUID(draft["id"]))
    assert revision is not None
    await db.execute(
        "UPDATE quotes SET document_sha256 = $2 WHERE id = $1",
        uuid.UUID(draft["id"]),
        document.document_sha256(revision),
    )
    await db.execute("RESET session_replication_role")
    accepted = await quote_helpers.accept(client, owner, draft["id"])
    assert accepted.status_code == 409, accepted.text
    assert accepted.json()["rule"] == "delivery-date-out-of-range"
