"""The buffered access log: whole JSON lines, bounded writes, nothing left behind at shutdown."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from litestar import Litestar

from api.app import create_app
from api.kit.clock import FrozenClock
from api.kit.observability import AccessLog
from api.settings import Settings
from tests.conftest import asgi_client, running


class Recorder(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return super().write(text)


def test_lines_wait_for_a_flush_and_come_out_whole() -> None:
    out = Recorder()
    log = AccessLog(out)
    log.record("r1", "GET", "/v1/clients", 200, 1.5)
    assert out.writes == []
    log.flush()
    (line,) = out.getvalue().splitlines()
    assert json.loads(line) | {"timestamp": None} == {
        "request_id": "r1",
        "method": "GET",
        "route": "/v1/clients",
        "status": 200,
        "latency_ms": 1.5,
        "event": "request",
        "logger": "scopekeeper.access",
        "level": "info",
        "timestamp": None,
    }


def test_writes_are_bounded_and_never_split_a_line() -> None:
    out = Recorder()
    log = AccessLog(out)
    for n in range(500):
        log.record(f"r{n}", "GET", "/v1/projects/{project_id:uuid}/status", 200, n / 10)
    log.flush()
    assert len(out.writes) > 1
    assert all(len(w.encode()) <= AccessLog.CHUNK and w.endswith("\n") for w in out.writes)
    ids = [json.loads(line)["request_id"] for line in out.getvalue().splitlines()]
    assert ids == [f"r{n}" for n in range(500)]


@pytest.fixture
def quiet_app(settings: Settings, clock: FrozenClock) -> Litestar:
    return create_app(settings, clock=clock)


async def test_the_app_flushes_its_requests_when_it_stops(
    quiet_app: Litestar, staff: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    async with running(quiet_app), asgi_client(quiet_app) as http:
        response: httpx.Response = await http.get("/v1/clients", headers={**staff, "X-Request-ID": "seen-1"})
        assert response.status_code == 200
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if '"seen-1"' in line]
    assert [(x["route"], x["status"]) for x in lines] == [("/v1/clients", 200)]
    assert "Bearer" not in json.dumps(lines)
