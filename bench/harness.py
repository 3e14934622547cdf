"""Load-test machinery: start servers as in production, drive them with wrk and hey, read RSS.

- ``wrk`` (Debian package) measures the maximum throughput with a fixed number of connections.
- ``hey`` (Debian package) holds a fixed request rate, for latency at half of the maximum.
Both run as separate processes, so the load generator does not share the server's interpreter.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent


def ensure_tools() -> None:
    """Install wrk and hey from Debian's packages when missing (the bench runs as root here)."""
    missing = [tool for tool in ("wrk", "hey") if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(
            f"missing {', '.join(missing)}: install them with apt-get install {' '.join(missing)}"
        )
    subprocess.run(["apt-get", "update", "-qq"], check=True)  # noqa: S607
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=True)  # noqa: S603, S607


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """A uvicorn server with N worker processes, started as production starts it."""

    factory: str
    env: dict[str, str]
    processes: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_path: str) -> None:
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            self.factory,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.processes),
            "--no-access-log",
            "--log-level",
            "warning",
            "--loop",
            "uvloop",
            "--http",
            "httptools",
        ]
        output = open(self.log_path, "ab") if self.log_path else None  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, env={**os.environ, **self.env}, stdout=output, stderr=output
        )
        if output is not None:
            output.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urlopen(self.base + ready_path, timeout=2) as response:  # noqa: S310 - loopback
                    if response.status < 500:
                        return
            except HTTPError as error:  # a 4xx answer still means the server is up
                if error.code < 500:
                    return
            except (URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.factory} did not start")

    def worker_pids(self) -> list[int]:
        """The server's worker processes."""
        assert self.process is not None
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        if not children.exists():
            return []
        pids = [int(pid) for pid in children.read_text().split()]
        # uvicorn's workers, not multiprocessing's resource tracker
        return [pid for pid in pids if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]

    def rss_bytes(self) -> int:
        """Resident memory of the worker processes together."""
        total = 0
        for pid in self.worker_pids():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        return total

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


@dataclass
class Load:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int = 0
    requests: int = 0


def _ms(value: str, unit: str) -> float:
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
    return float(value) * scale


def lua_script(
    method: str,
    paths: list[str],
    headers: dict[str, str],
    body_template: str | None = None,
    delay_ms: float | None = None,
) -> str:
    """A wrk script picking a random path per request; ``{n}`` in the body becomes a unique number.

    With ``delay_ms`` each connection waits that long before each request, which holds the rate near
    ``connections * 1000 / delay_ms`` per second while responses stay shorter than the delay.
    """
    lines = ["local paths = {" + ",".join(json.dumps(p) for p in paths) + "}"]
    lines.append(
        "local headers = {" + ",".join(f"[{json.dumps(k)}]={json.dumps(v)}" for k, v in headers.items()) + "}"
    )
    lines.append("local counter = 0")
    lines.append("local tid = 0")
    lines.append("function setup(thread) tid = tid + 1; thread:set('tid', tid) end")
    lines.append("function init(args) math.randomseed(os.time() + (tid or 0)); counter = 0 end")
    lines.append("function request()")
    lines.append("  counter = counter + 1")
    lines.append("  local path = paths[math.random(#paths)]")
    if body_template is not None:
        lines.append("  local n = tostring(math.random(1, 2000000000)) .. '-' .. tostring(counter)")
        lines.append(f"  local body = string.gsub({json.dumps(body_template)}, '{{n}}', n)")
        lines.append("  headers['Idempotency-Key'] = 'bench-' .. n")
        lines.append(f"  return wrk.format({json.dumps(method)}, path, headers, body)")
    else:
        lines.append(f"  return wrk.format({json.dumps(method)}, path, headers)")
    lines.append("end")
    if delay_ms is not None:
        lines.append(f"function delay() return {delay_ms:.3f} end")
    lines.append("function done(summary, latency, requests)")
    lines.append('  io.write(string.format(\'JSON {"p50": %d, "p99": %d, "non2xx": %d}\\n\',')
    lines.append("    latency:percentile(50), latency:percentile(99), summary.errors.status))")
    lines.append("end")
    return "\n".join(lines) + "\n"


def wrk(base: str, script: str, *, connections: int = 32, seconds: int = 10, threads: int = 1) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
        path = handle.name
    try:
        out = subprocess.run(  # noqa: S603
            ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "-s", path, base],  # noqa: S607
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        os.unlink(path)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    stats = json.loads(out.split("JSON ", 1)[1].splitlines()[0])
    errors = int(stats["non2xx"])
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(x) for x in socket_errors.groups())
    return Load(rps, stats["p50"] / 1000, stats["p99"] / 1000, errors, total)


def hey(
    url: str,
    *,
    rate: float,
    seconds: int = 10,
    connections: int = 16,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: str | None = None,
) -> Load:
    """Latency at a held rate (``rate`` requests per second in total)."""
    per_worker = max(1.0, rate / connections)
    command = ["hey", "-z", f"{seconds}s", "-c", str(connections), "-q", f"{per_worker:.2f}", "-m", method]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if body is not None:
        command += ["-d", body, "-T", "application/json"]
    out = subprocess.run(  # noqa: S603
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = float(re.search(r"50%+ in ([\d.]+) secs", out).group(1)) * 1000  # type: ignore[union-attr]
    p99 = float(re.search(r"99%+ in ([\d.]+) secs", out).group(1)) * 1000  # type: ignore[union-attr]
    codes = dict(re.findall(r"\[(\d{3})\]\s+(\d+) responses", out))
    errors = sum(int(n) for code, n in codes.items() if not code.startswith("2"))
    total = sum(int(n) for n in codes.values())
    return Load(rps, p50, p99, errors, total)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def as_dict(load: Load) -> dict[str, Any]:
    return {
        "rps": round(load.requests_per_second, 1),
        "p50_ms": round(load.p50_ms, 2),
        "p99_ms": round(load.p99_ms, 2),
        "errors": load.errors,
        "requests": load.requests,
    }
