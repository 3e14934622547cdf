"""Schemathesis against the app's own OpenAPI document: every operation, as each role.

The document is the one the app serves at ``/schema/openapi.json``. For every operation, cases are
generated from it and sent to the app running in the test's event loop (real PostgreSQL and Redis);
each response must pass:

- ``not_a_server_error``: no 5xx;
- ``status_code_conformance``: the status code is documented for the operation;
- ``content_type_conformance``: the content type is the documented one;
- ``response_schema_conformance``: the body matches the documented schema.

Hypothesis runs synchronously, so it runs in a thread and hands each request to the event loop.
Path ids are real objects of the caller's organisation where a factory exists (so bodies reach the
rules, not only the 404), and generated otherwise.

Each role's run is split by area of the API (the first segment under ``/v1``; the collections under
a project each on their own), taken from the route table, so the runs spread over the test processes; an area
builds only the objects its paths name.

The CI run is bounded (``FUZZ_EXAMPLES`` examples per operation and role); the deep run is
``./scripts/test-slow tests/test_schemathesis.py`` (``SCHEMATHESIS_DEEP_EXAMPLES``, default 100).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from litestar import Litestar
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import route_handlers
from api.kit.clock import FrozenClock
from api.settings import Settings
from tests.conftest import KeyMaker, bearer, create_client_org, shared_app
from tests.test_tenant_matrix import FACTORIES, path_params

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
FUZZ_EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "10"))
DEEP_EXAMPLES = int(os.environ.get("SCHEMATHESIS_DEEP_EXAMPLES", "100"))
#: Operations whose answers are not JSON documents of the service (the schema endpoints themselves).
SKIPPED_PREFIXES = ("/schema",)


#: Collections under a project, fuzzed apart from the project's own operations.
PROJECT_COLLECTIONS = ("quotes", "criteria", "change-requests", "support-requests")


def area(path: str) -> str:
    """The part of the API a path belongs to: ``/v1/quotes/{id}/send`` → ``quotes``; the collections
    under a project are areas of their own (``/v1/projects/{id}/criteria`` → ``projects/criteria``)."""
    static = [part for part in path.strip("/").split("/") if part and not part.startswith("{")]
    if static[:1] != ["v1"]:
        return "ops"
    if static[1:2] == ["projects"] and len(static) > 2 and static[2] in PROJECT_COLLECTIONS:
        return f"projects/{static[2]}"
    return static[1] if len(static) > 1 else "v1"


AREAS = sorted(
    {
        area(path)
        for handler in route_handlers()
        for path in getattr(handler, "paths", ())
        if not path.startswith(SKIPPED_PREFIXES)
    }
)


@pytest.fixture
def app(settings: Settings, clock: FrozenClock) -> Litestar:
    """The app as deployed: without the test-only probe routes."""
    return shared_app(settings, clock, probes=False)


@pytest.fixture
def env(env: dict[str, str]) -> dict[str, str]:
    return {
        **env,
        "RATE_LIMIT_PER_MINUTE": "1000000",
        "INQUIRY_FLOOD_PER_HOUR": "1000000",
        "INTAKE_PER_KEY_PER_HOUR": "1000000",
        "INTAKE_PER_ADDRESS_PER_HOUR": "1000000",
    }


async def _real_ids(
    client: httpx.AsyncClient, staff: dict[str, str], org: dict[str, Any], names: set[str]
) -> dict[str, str]:
    return {name: await factory(client, staff, org) for name, factory in FACTORIES.items() if name in names}


async def _fuzz(
    client: httpx.AsyncClient,
    staff: dict[str, str],
    make_key: KeyMaker,
    role: str,
    examples: int,
    part: str,
) -> tuple[int, list[str]]:
    """Run every operation of the area ``part`` as ``role``; return the requests sent and the failures."""
    document = (await client.get("/schema/openapi.json")).json()
    schema = schemathesis.openapi.from_dict(document)
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        if not operation.path.startswith(SKIPPED_PREFIXES) and area(operation.path) == part:
            operations.append(operation)
    assert operations, f"no operation of the area {part!r} in the served document"
    org = await create_client_org(client, staff, "Fuzzed")
    names = {name for operation in operations for name in path_params(operation.path)}
    ids = await _real_ids(client, staff, org, names) if role in ("staff", "client") else {}
    headers = {
        "staff": staff,
        "client": bearer(await make_key("client", org["id"])),
        "intake": bearer(await make_key("intake")),
    }[role]
    loop = asyncio.get_running_loop()
    sent = 0
    failures: list[str] = []

    def send(case: Case[Any]) -> None:
        nonlocal sent
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        request: dict[str, Any] = {
            "method": kwargs["method"],
            "url": kwargs["url"],
            "headers": kwargs["headers"],
            "params": kwargs.get("params"),
        }
        if "json" in kwargs:
            request["json"] = kwargs["json"]
        elif "data" in kwargs:
            request["content"] = kwargs["data"]
        response = asyncio.run_coroutine_threadsafe(client.request(**request), loop).result(timeout=60)
        sent += 1
        case.validate_response(response, checks=CHECKS)

    def run_operation(strategy: Any, label: str) -> None:
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=examples <= FUZZ_EXAMPLES,
            suppress_health_check=list(HealthCheck),
            report_multiple_bugs=False,
        )
        @given(case=strategy)
        def run(case: Case[Any]) -> None:
            send(case)

        try:
            run()
        except Unsatisfiable:
            pass
        except (Exception, BaseExceptionGroup) as exc:
            failures.append(f"{label}: {type(exc).__name__}: {exc}")

    def run_all() -> None:
        for operation in operations:
            label = f"{operation.method.upper()} {operation.path}"
            params = [p.name for p in operation.path_parameters]
            fixed = {p: ids[p] for p in params if p in ids}
            strategies: list[tuple[Any, str]] = [(operation.as_strategy(), label)]
            if fixed:
                strategies.append((operation.as_strategy(path_parameters=fixed), f"{label} (real ids)"))
            for strategy, name in strategies:
                run_operation(strategy, name)

    await asyncio.to_thread(run_all)
    return sent, failures


def _report(role: str, part: str, sent: int, started: float, failures: list[str]) -> None:
    print(f"schemathesis as {role} on {part}: {sent} requests in {time.monotonic() - started:.1f} s")
    assert not failures, "\n\n".join(failures)


RUN: Callable[..., Any] = pytest.mark.parametrize(
    ("role", "part"), [(role, part) for role in ("staff", "client", "intake") for part in AREAS]
)


@RUN
async def test_every_operation_conforms(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker, role: str, part: str
) -> None:
    started = time.monotonic()
    sent, failures = await _fuzz(client, staff, make_key, role, FUZZ_EXAMPLES, part)
    _report(role, part, sent, started, failures)


@pytest.mark.slow
@RUN
async def test_every_operation_conforms_deeply(
    client: httpx.AsyncClient, staff: dict[str, str], make_key: KeyMaker, role: str, part: str
) -> None:
    started = time.monotonic()
    sent, failures = await _fuzz(client, staff, make_key, role, DEEP_EXAMPLES, part)
    _report(role, part, sent, started, failures)
