"""Real processes for the fault tests: the API under uvicorn, the worker, a private Redis and a private
PostgreSQL cluster on free ports (the machine's own servers are never stopped)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from api import devenv
from tests.notify_support import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _owned_by_postgres(path: Path) -> list[str]:
    """Run PostgreSQL's tools as the ``postgres`` user when the tests run as root (initdb refuses root)."""
    if os.geteuid() != 0:
        return []
    shutil.chown(path, "postgres", "postgres")
    return ["runuser", "-u", "postgres", "--"]


class Process:
    """A child process whose output goes to a log file; stopped with SIGTERM, or killed."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.argv = argv
        self.env = {**os.environ, **env}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv, cwd=devenv.ROOT, env=self.env, stdout=out, stderr=out, start_new_session=True
            )

    def signal(self, sig: int) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, sig)

    def stop(self, timeout: float = 20) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def api_process(env: dict[str, str], log: Path, port: int, workers: int = 2) -> Process:
    argv = [sys.executable, "-m", "uvicorn", "--factory", "api.asgi:build_app", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", str(workers), "--no-access-log"]
    return Process(argv, env, log)


def worker_process(env: dict[str, str], log: Path) -> Process:
    return Process([sys.executable, "-m", "workers"], env, log)


class PrivateRedis:
    """``redis-server`` on a free port, without persistence: a restart starts empty."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        argv += ["--appendonly", "no", "--dir", str(self.directory)]
        self.process = Process(argv, {}, self.directory / "redis.log")
        self.process.start()
        deadline = time.monotonic() + 10
        while (
            subprocess.run(
                ["redis-cli", "-p", str(self.port), "ping"], capture_output=True, check=False
            ).stdout.strip()
            != b"PONG"
        ):
            assert time.monotonic() < deadline, "private redis did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None


class PrivateCluster:
    """A PostgreSQL 15 cluster of its own (``initdb`` + ``pg_ctl``) on a free port."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.data = directory / "data"
        self.sockets = directory / "sockets"
        self.sockets.mkdir(parents=True, exist_ok=True)
        self.prefix = _owned_by_postgres(directory)
        if self.prefix:
            shutil.chown(self.sockets, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.prefix, *argv], check=True, capture_output=True, timeout=60)

    def init(self) -> None:
        self._run(
            str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.directory / "pg.log"),
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()


async def wait_until(condition: Callable[[], Awaitable[bool]], seconds: float, what: str) -> float:
    """Poll ``condition`` until it holds; return the seconds it took."""
    started = time.monotonic()
    while not await condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"timed out after {seconds:g} s waiting for {what}")
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def wait_healthy(base_url: str, seconds: float = 30) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=2) as http:

        async def up() -> bool:
            try:
                return (await http.get("/health")).status_code == 200
            except httpx.HTTPError:
                return False

        await wait_until(up, seconds, f"{base_url}/health")
