"""Quote revisions through the HTTP API: drafting, validation, sending, revising, visibility and roles."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from uuid import UUID

import asyncpg
import httpx
import pytest

from tests.conftest import KeyMaker, bearer, create_client_org
from tests.domain.project_helpers import new_project
from tests.domain.quote_helpers import (
    LINES,
    accepted,
    draft,
    eur,
    pointers,
    problem,
    quote_body,
    send,
    sent,
)


@pytest.fixture
async def org(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    return await create_client_org(client, staff, "Acme")


@pytest.fixture
async def client_key(make_key: KeyMaker, org: dict[str, Any]) -> dict[str, str]:
    return bearer(await make_key("client", org["id"]))


@pytest.fixture
async def stranger(client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker) -> dict[str, str]:
    other = await create_client_org(client, staff, "Other")
    return bearer(await make_key("client", other["id"]))


@pytest.fixture
async def project(client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any]) -> dict[str, Any]:
    return await new_project(client, staff, org["id"])


async def quote_events(db: asyncpg.Connection, quote_id: str) -> list[dict[str, Any]]:
    rows = await db.fetch(
        "SELECT type, project_id, client_id, data FROM domain_events WHERE subject_id = $1 ORDER BY seq",
        UUID(quote_id),
    )
    return [
        {
            "type": r["type"],
            "project_id": str(r["project_id"]) if r["project_id"] else None,
            "client_id": str(r["client_id"]) if r["client_id"] else None,
            "data": json.loads(r["data"]),
        }
        for r in rows
    ]


# --- drafting -------------------------------------------------------------------------------------


async def test_create_a_draft_revision_with_totals_and_rate(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any], db: asyncpg.Connection
) -> None:
    response = await client.post(f"/v1/projects/{project['id']}/quotes", json=quote_body(), headers=staff)
    assert response.status_code == 201, response.text
    quote = response.json()
    assert response.headers["location"] == f"/v1/quotes/{quote['id']}"
    assert response.headers["etag"] == '"1"'
    assert quote["revision"] == 1
    assert quote["status"] == "draft"
    assert quote["project_id"] == project["id"]
    assert quote["currency"] == "EUR"
    assert quote["total"] == eur("20000.00")
    assert quote["total_hours"] == "500.00"
    assert quote["blended_hourly_rate"] == eur("40.00")
    assert quote["rate_within_band"] is True
    assert quote["rate_band"] == {"low": eur("35.00"), "high": eur("55.00")}
    assert [line["hours"] for line in quote["lines"]] == ["40.00", "16.00", "400.00", "24.00", "20.00"]
    assert quote["lines"][2] == {
        "description": "Recommender service",
        "phase": "delivery",
        "hours": "400.00",
        "amount": eur("18000.00"),
    }
    assert quote["payment_schedule"][0] == {"name": "On acceptance", "share": "0.30"}
    assert quote["delivery_date"] == "2027-03-05"
    assert quote["valid_until"] is None
    assert quote["document_sha256"] is None
    assert quote["sent_at"] is None
    assert quote["evidence"] is None
    stored = await db.fetchrow("SELECT total_minor, total_hours FROM quotes WHERE id = $1", UUID(quote["id"]))
    assert stored is not None
    assert stored["total_minor"] == 2_000_000
    # a draft's events are not attached to the project, so the client's project history never shows it
    events = await quote_events(db, quote["id"])
    assert [(e["type"], e["project_id"], e["client_id"]) for e in events] == [("quote.created", None, None)]
    assert events[0]["data"]["project_id"] == project["id"]


async def test_a_draft_may_be_incomplete(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    response = await client.post(f"/v1/projects/{project['id']}/quotes", json={}, headers=staff)
    assert response.status_code == 201, response.text
    quote = response.json()
    assert quote["lines"] == []
    assert quote["total"] == eur("0.00")
    assert quote["total_hours"] == "0.00"
    assert quote["blended_hourly_rate"] is None
    assert quote["rate_within_band"] is None


async def test_rate_outside_the_band_warns_but_does_not_block(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    lines = [{"description": "Everything", "phase": "delivery", "hours": 100, "amount": eur("20000.00")}]
    quote = await draft(client, staff, project["id"], lines=lines)
    assert quote["blended_hourly_rate"] == eur("200.00")
    assert quote["rate_within_band"] is False
    assert (await client.post(f"/v1/quotes/{quote['id']}/send", headers=staff)).status_code == 200


async def test_blended_rate_is_rounded_half_even_to_minor_units(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    lines = [{"description": "Work", "phase": "delivery", "hours": "3", "amount": eur("100.00")}]
    quote = await draft(client, staff, project["id"], lines=lines)
    assert quote["blended_hourly_rate"] == eur("33.33")
    patched = await client.patch(
        f"/v1/quotes/{quote['id']}",
        json={"lines": [{"description": "Work", "phase": "delivery", "hours": 2, "amount": eur("0.05")}]},
        headers=staff,
    )
    assert patched.json()["blended_hourly_rate"] == eur("0.02")  # 2.5 cents per hour → 2 (half-even)


async def test_hours_are_read_exactly_from_numbers_and_strings(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    lines = [
        {"description": "a", "phase": "delivery", "hours": 0.1, "amount": eur("1.00")},
        {"description": "b", "phase": "delivery", "hours": 0.2, "amount": eur("1.00")},
        {"description": "c", "phase": "delivery", "hours": "12.5", "amount": eur("1.00")},
    ]
    quote = await draft(client, staff, project["id"], lines=lines)
    assert [line["hours"] for line in quote["lines"]] == ["0.10", "0.20", "12.50"]
    assert quote["total_hours"] == "12.80"


@pytest.mark.parametrize(
    ("line", "pointer"),
    [
        ({"hours": 12.555}, "/lines/1/hours"),
        ({"hours": "1.234"}, "/lines/1/hours"),
        ({"hours": -1}, "/lines/1/hours"),
        ({"hours": 100000}, "/lines/1/hours"),
        ({"hours": "NaN"}, "/lines/1/hours"),
        ({"hours": True}, "/lines/1/hours"),
        ({"amount": {"amount": 800.0, "currency": "EUR"}}, "/lines/1/amount/amount"),
        ({"amount": {"amount": 800, "currency": "EUR"}}, "/lines/1/amount/amount"),
        ({"amount": {"amount": "800", "currency": "EUR"}}, "/lines/1/amount/amount"),
        ({"amount": {"amount": "-800.00", "currency": "EUR"}}, "/lines/1/amount/amount"),
        ({"amount": {"amount": "800.00", "currency": "USD"}}, "/lines/1/amount/currency"),
        ({"amount": {"amount": "800.00", "currency": "XYZ"}}, "/lines/1/amount/currency"),
        ({"phase": "launch"}, "/lines/1/phase"),
        ({"description": "   "}, "/lines/1/description"),
        ({"colour": "red"}, "/lines/1/colour"),
    ],
)
async def test_bad_lines_are_refused_with_a_pointer(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    project: dict[str, Any],
    line: dict[str, Any],
    pointer: str,
) -> None:
    lines = [dict(item) for item in LINES]
    lines[1] = {**lines[1], **line}
    response = await client.post(
        f"/v1/projects/{project['id']}/quotes", json=quote_body(lines=lines), headers=staff
    )
    problem(response, 422)
    assert pointers(response) == [pointer]


@pytest.mark.parametrize("index", [0, 4])
async def test_discovery_and_support_lines_must_cost_nothing(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any], index: int
) -> None:
    lines = [dict(item) for item in LINES]
    lines[index] = {**lines[index], "amount": eur("0.01")}
    response = await client.post(
        f"/v1/projects/{project['id']}/quotes", json=quote_body(lines=lines), headers=staff
    )
    problem(response, 422)
    assert pointers(response) == [f"/lines/{index}/amount"]


@pytest.mark.parametrize(
    ("schedule", "pointer"),
    [
        ([{"name": "All", "share": "0.90"}], "/payment_schedule"),
        ([{"name": "A", "share": "0.5"}, {"name": "B", "share": "0.5001"}], "/payment_schedule"),
        ([{"name": "A", "share": "0"}, {"name": "B", "share": "1"}], "/payment_schedule/0/share"),
        ([{"name": "A", "share": "30"}], "/payment_schedule/0/share"),
        ([{"name": "A", "share": 1}], "/payment_schedule/0/share"),
        ([{"name": " ", "share": "1.00"}], "/payment_schedule/0/name"),
    ],
)
async def test_payment_shares_must_add_up_to_exactly_one(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    project: dict[str, Any],
    schedule: list[dict[str, Any]],
    pointer: str,
) -> None:
    response = await client.post(
        f"/v1/projects/{project['id']}/quotes", json=quote_body(payment_schedule=schedule), headers=staff
    )
    problem(response, 422)
    assert pointers(response) == [pointer]


async def test_shares_in_thirds_add_up_exactly(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    schedule = [
        {"name": "A", "share": "0.3333"},
        {"name": "B", "share": "0.3333"},
        {"name": "C", "share": "0.3334"},
    ]
    quote = await draft(client, staff, project["id"], payment_schedule=schedule)
    assert [i["share"] for i in quote["payment_schedule"]] == ["0.3333", "0.3333", "0.3334"]


async def test_ten_thousand_lines_of_ten_cents_sum_exactly(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    lines = [{"description": "x", "phase": "delivery", "hours": 0, "amount": eur("0.10")}] * 10_000
    body = json.dumps({"lines": lines}, separators=(",", ":")).encode()
    assert len(body) < 1024 * 1024
    response = await client.post(
        f"/v1/projects/{project['id']}/quotes",
        content=body,
        headers={**staff, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    quote = response.json()
    assert quote["total"] == eur("1000.00")
    assert len(quote["lines"]) == 10_000
    read = await client.get(f"/v1/quotes/{quote['id']}", headers=staff)
    assert read.json()["total"] == eur("1000.00")


async def test_more_than_ten_thousand_lines_are_refused(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    lines = [{"description": "x", "phase": "delivery", "hours": 0, "amount": eur("0.10")}] * 10_001
    response = await client.post(f"/v1/projects/{project['id']}/quotes", json={"lines": lines}, headers=staff)
    problem(response, 422)
    assert pointers(response) == ["/lines"]


async def test_one_draft_at_a_time(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    first = await draft(client, staff, project["id"])
    response = await client.post(f"/v1/projects/{project['id']}/quotes", json=quote_body(), headers=staff)
    body = problem(response, 409, "draft-exists")
    assert body["extra"]["draft_id"] == first["id"]


async def test_unknown_project_is_404(client: httpx.AsyncClient, staff: dict[str, str]) -> None:
    response = await client.post(
        "/v1/projects/00000000-0000-4000-8000-000000000000/quotes", json=quote_body(), headers=staff
    )
    problem(response, 404)


# --- editing drafts -------------------------------------------------------------------------------


async def test_patch_a_draft_honours_if_match(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    quote = await draft(client, staff, project["id"])
    url = f"/v1/quotes/{quote['id']}"
    lines = [{"description": "Everything", "phase": "delivery", "hours": 500, "amount": eur("22500.00")}]
    response = await client.patch(
        url, json={"lines": lines, "valid_until": "2026-12-10"}, headers={**staff, "If-Match": '"1"'}
    )
    assert response.status_code == 200, response.text
    assert response.headers["etag"] == '"2"'
    patched = response.json()
    assert patched["version"] == 2
    assert patched["total"] == eur("22500.00")
    assert patched["blended_hourly_rate"] == eur("45.00")
    assert patched["valid_until"] == "2026-12-10"
    assert patched["assumptions"] == quote["assumptions"]  # fields left out stay as they were
    stale = await client.patch(url, json={"exclusions": []}, headers={**staff, "If-Match": '"1"'})
    problem(stale, 412)
    cleared = await client.patch(url, json={"valid_until": None}, headers=staff)
    assert cleared.json()["valid_until"] is None
    bad = await client.patch(
        url, json={"payment_schedule": [{"name": "All", "share": "0.99"}]}, headers=staff
    )
    problem(bad, 422)
    assert pointers(bad) == ["/payment_schedule"]


async def test_a_sent_revision_never_changes(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any], db: asyncpg.Connection
) -> None:
    quote = await sent(client, staff, project["id"])
    url = f"/v1/quotes/{quote['id']}"
    response = await client.patch(url, json={"exclusions": ["Nothing"]}, headers=staff)
    problem(response, 409, "quote-immutable")
    after = (await client.get(url, headers=staff)).json()
    assert after == quote
    # the database refuses it too
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await db.execute("UPDATE quotes SET total_minor = 1 WHERE id = $1", UUID(quote["id"]))


# --- sending --------------------------------------------------------------------------------------


async def test_send_locks_the_revision_and_fixes_its_document(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    org: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    quote = await draft(client, staff, project["id"])
    response = await client.post(f"/v1/quotes/{quote['id']}/send", headers={**staff, "If-Match": '"1"'})
    assert response.status_code == 200, response.text
    sent_quote = response.json()
    assert sent_quote["status"] == "sent"
    assert sent_quote["sent_at"] == "2026-11-24T09:30:00Z"
    assert sent_quote["valid_until"] == "2026-12-24"  # 30 days after today in Warsaw
    assert sent_quote["version"] == 2
    document = await client.get(f"/v1/quotes/{quote['id']}/document", headers=client_key)
    assert document.status_code == 200
    assert hashlib.sha256(document.content).hexdigest() == sent_quote["document_sha256"]
    canonical = json.loads(document.content)
    assert document.content == json.dumps(canonical, sort_keys=True, separators=(",", ":")).encode()
    assert canonical["total"] == eur("20000.00")
    assert canonical["lines"][1]["amount"] == eur("800.00")
    assert canonical["revision"] == 1
    assert canonical["valid_until"] == "2026-12-24"
    assert canonical["sent_at"] == "2026-11-24T09:30:00Z"
    events = await quote_events(db, quote["id"])
    assert [e["type"] for e in events] == ["quote.created", "quote.sent"]
    event = events[1]
    assert event["project_id"] == project["id"]
    assert event["client_id"] == org["id"]
    assert event["data"]["project_name"] == "Recommender"
    assert event["data"]["client_name"] == "Acme"
    assert event["data"]["revision"] == 1
    assert event["data"]["total"] == eur("20000.00")
    assert event["data"]["valid_until"] == "2026-12-24"
    again = await client.post(f"/v1/quotes/{quote['id']}/send", headers=staff)
    problem(again, 409, "quote-not-draft")


async def test_a_stale_if_match_on_send_is_412(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    quote = await draft(client, staff, project["id"])
    await client.patch(f"/v1/quotes/{quote['id']}", json={"exclusions": []}, headers=staff)
    problem(await client.post(f"/v1/quotes/{quote['id']}/send", headers={**staff, "If-Match": '"1"'}), 412)


async def test_an_incomplete_draft_cannot_be_sent(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    response = await client.post(f"/v1/projects/{project['id']}/quotes", json={}, headers=staff)
    quote = response.json()
    sent_response = await client.post(f"/v1/quotes/{quote['id']}/send", headers=staff)
    problem(sent_response, 409, "quote-incomplete")
    assert pointers(sent_response) == ["/lines", "/payment_schedule", "/delivery_date"]
    free = [{"description": "Discovery", "phase": "discovery", "hours": 40, "amount": eur("0.00")}]
    await client.patch(f"/v1/quotes/{quote['id']}", json={"lines": free}, headers=staff)
    sent_response = await client.post(f"/v1/quotes/{quote['id']}/send", headers=staff)
    assert pointers(sent_response) == ["/lines", "/payment_schedule", "/delivery_date"]
    assert "more than 0" in sent_response.json()["errors"][0]["detail"]
    read = await client.get(f"/v1/quotes/{quote['id']}", headers=staff)
    assert read.json()["status"] == "draft"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"valid_until": "2026-11-23", "delivery_date": "2026-11-20"}, ["/valid_until", "/delivery_date"]),
        ({"valid_until": "2027-03-05"}, ["/delivery_date"]),
        ({"delivery_date": "2026-12-24"}, ["/delivery_date"]),
    ],
)
async def test_dates_must_make_sense_when_sending(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    project: dict[str, Any],
    fields: dict[str, Any],
    expected: list[str],
) -> None:
    quote = await draft(client, staff, project["id"], **fields)
    response = await client.post(f"/v1/quotes/{quote['id']}/send", headers=staff)
    problem(response, 409, "quote-incomplete")
    assert pointers(response) == expected


async def test_an_explicit_valid_until_is_kept(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    quote = await sent(client, staff, project["id"], valid_until="2026-11-24")
    assert quote["valid_until"] == "2026-11-24"


# --- revising -------------------------------------------------------------------------------------


async def test_revise_copies_and_sending_supersedes_the_older_revision(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    first = await sent(client, staff, project["id"], valid_until="2026-12-01")
    response = await client.post(f"/v1/quotes/{first['id']}/revise", headers=staff)
    assert response.status_code == 201, response.text
    second = response.json()
    assert second["revision"] == 2
    assert second["status"] == "draft"
    assert second["revised_from"] == first["id"]
    assert second["lines"] == first["lines"]
    assert second["payment_schedule"] == first["payment_schedule"]
    assert second["delivery_date"] == first["delivery_date"]
    assert second["valid_until"] is None
    # the client keeps seeing the sent revision while the next one is drafted
    listed = (await client.get(f"/v1/projects/{project['id']}/quotes", headers=client_key)).json()
    assert [(q["revision"], q["status"]) for q in listed["items"]] == [(1, "sent")]
    problem(await client.post(f"/v1/quotes/{first['id']}/revise", headers=staff), 409, "draft-exists")

    await send(client, staff, second["id"])
    old = (await client.get(f"/v1/quotes/{first['id']}", headers=client_key)).json()
    assert old["status"] == "superseded"
    assert old["superseded_by"] == second["id"]
    assert old["superseded_at"] == "2026-11-24T09:30:00Z"
    assert old["document_sha256"] == first["document_sha256"]
    listed = (await client.get(f"/v1/projects/{project['id']}/quotes", headers=client_key)).json()
    assert [(q["revision"], q["status"]) for q in listed["items"]] == [(2, "sent"), (1, "superseded")]
    events = await quote_events(db, first["id"])
    assert [e["type"] for e in events] == ["quote.created", "quote.sent", "quote.superseded"]
    assert events[2]["data"]["superseded_by"] == second["id"]
    problem(
        await client.patch(f"/v1/quotes/{first['id']}", json={"exclusions": []}, headers=staff),
        409,
        "quote-immutable",
    )


async def test_list_is_paginated_newest_first_and_filtered(
    client: httpx.AsyncClient, staff: dict[str, str], project: dict[str, Any]
) -> None:
    quote = await sent(client, staff, project["id"])
    for _ in range(2):
        revised = (await client.post(f"/v1/quotes/{quote['id']}/revise", headers=staff)).json()
        quote = await send(client, staff, revised["id"])
    page = (await client.get(f"/v1/projects/{project['id']}/quotes?limit=2", headers=staff)).json()
    assert [q["revision"] for q in page["items"]] == [3, 2]
    assert page["next_cursor"]
    rest = (
        await client.get(
            f"/v1/projects/{project['id']}/quotes?limit=2&cursor={page['next_cursor']}", headers=staff
        )
    ).json()
    assert [q["revision"] for q in rest["items"]] == [1]
    assert rest["next_cursor"] is None
    superseded = (
        await client.get(f"/v1/projects/{project['id']}/quotes?status=superseded", headers=staff)
    ).json()
    assert [q["revision"] for q in superseded["items"]] == [2, 1]
    problem(await client.get(f"/v1/projects/{project['id']}/quotes?cursor=nope", headers=staff), 422)


async def test_quotes_are_written_only_in_proposal(
    client: httpx.AsyncClient, staff: dict[str, str], client_key: dict[str, str], project: dict[str, Any]
) -> None:
    quote = await accepted(client, staff, client_key, project["id"])
    response = await client.post(f"/v1/projects/{project['id']}/quotes", json=quote_body(), headers=staff)
    problem(response, 409, "project-not-in-proposal")
    problem(
        await client.post(f"/v1/quotes/{quote['id']}/revise", headers=staff), 409, "project-not-in-proposal"
    )


# --- visibility and roles -------------------------------------------------------------------------


async def test_clients_never_see_drafts(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    project: dict[str, Any],
    db: asyncpg.Connection,
) -> None:
    quote = await draft(client, staff, project["id"])
    problem(await client.get(f"/v1/quotes/{quote['id']}", headers=client_key), 404)
    problem(await client.get(f"/v1/quotes/{quote['id']}/document", headers=client_key), 404)
    listed = await client.get(f"/v1/projects/{project['id']}/quotes", headers=client_key)
    assert listed.json() == {"items": [], "next_cursor": None}
    only_drafts = await client.get(f"/v1/projects/{project['id']}/quotes?status=draft", headers=client_key)
    assert only_drafts.json()["items"] == []
    staff_list = (await client.get(f"/v1/projects/{project['id']}/quotes", headers=staff)).json()
    assert [q["id"] for q in staff_list["items"]] == [quote["id"]]
    problem(await client.get(f"/v1/quotes/{quote['id']}/document", headers=staff), 409, "quote-not-sent")
    history = (await client.get(f"/v1/projects/{project['id']}/history", headers=client_key)).json()
    assert not [e for e in history["items"] if e["type"].startswith("quote.")]
    await send(client, staff, quote["id"])
    assert (await client.get(f"/v1/quotes/{quote['id']}", headers=client_key)).status_code == 200


async def test_other_organisations_get_404(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    stranger: dict[str, str],
    project: dict[str, Any],
) -> None:
    quote = await sent(client, staff, project["id"])
    for path in (
        f"/v1/quotes/{quote['id']}",
        f"/v1/quotes/{quote['id']}/document",
        f"/v1/projects/{project['id']}/quotes",
    ):
        problem(await client.get(path, headers=stranger), 404)
    for action, body in (("accept", {"accepted_by_name": "Mallory"}), ("decline", {"reason": "no"})):
        problem(await client.post(f"/v1/quotes/{quote['id']}/{action}", json=body, headers=stranger), 404)
    read = (await client.get(f"/v1/quotes/{quote['id']}", headers=staff)).json()
    assert read["status"] == "sent"


async def test_role_boundaries(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    client_key: dict[str, str],
    make_key: KeyMaker,
    project: dict[str, Any],
) -> None:
    intake = bearer(await make_key("intake"))
    quote = await sent(client, staff, project["id"])
    qid, pid = quote["id"], project["id"]
    staff_only = [
        ("POST", f"/v1/projects/{pid}/quotes", quote_body()),
        ("PATCH", f"/v1/quotes/{qid}", {"exclusions": []}),
        ("POST", f"/v1/quotes/{qid}/send", None),
        ("POST", f"/v1/quotes/{qid}/revise", None),
    ]
    client_only = [
        ("POST", f"/v1/quotes/{qid}/accept", {"accepted_by_name": "Staff"}),
        ("POST", f"/v1/quotes/{qid}/decline", {"reason": "no"}),
    ]
    reads = [
        ("GET", f"/v1/projects/{pid}/quotes", None),
        ("GET", f"/v1/quotes/{qid}", None),
        ("GET", f"/v1/quotes/{qid}/document", None),
    ]
    for method, path, body in staff_only:
        for key in (client_key, intake):
            problem(await client.request(method, path, json=body, headers=key), 403)
    for method, path, body in client_only:
        for key in (staff, intake):
            problem(await client.request(method, path, json=body, headers=key), 403)
    for method, path, body in reads:
        problem(await client.request(method, path, json=body, headers=intake), 403)
    for method, path, body in staff_only + client_only + reads:
        problem(await client.request(method, path, json=body), 401)
    read = (await client.get(f"/v1/quotes/{qid}", headers=staff)).json()
    assert read["status"] == "sent"
    assert read["version"] == quote["version"]
