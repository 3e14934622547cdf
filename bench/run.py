"""The benchmark: one command seeds, starts the servers as in production, loads them and prints the figures.

    ./bench/run                 # seed scopekeeper_bench afresh, then measure
    ./bench/run --reuse         # measure on the database the last run seeded
    ./bench/run --skip-timers   # leave out the timer sweep (it seeds its own scratch database)

Order of one run (every load measurement lasts ``--seconds``, 10 s by default):

1. seed (``bench.seed``) unless ``--reuse``;
2. a private Redis (``redis-server`` on a free port, no persistence), so queues and rate-limit counters of
   other work on the machine are not touched;
3. the floor (``bench.floor_app``: one primary-key query) with 2 uvicorn processes, uvloop, httptools and
   the same pool sizes as the API: max throughput with wrk;
4. the API (``api.asgi:build_app``) the same way, then per scenario the max throughput with wrk, then the
   latency at half of that rate (hey for GETs; for the POST, whose ``Idempotency-Key`` and e-mail must
   differ per request, wrk with a per-connection delay holding the rate);
5. event → webhook: a worker process and a loopback receiver (``bench.receiver``); inquiries are posted
   through the API at 200 per second for ``--seconds``, each writes ``inquiry.received`` in its
   transaction, and the receiver records receipt time minus the event's ``created_at``;
6. memory: RSS of the API's worker processes once 10,000 requests have been served and again after
   100,000 (topped up with status calls);
7. the timer sweep (``bench.timer_sweep`` at 10k and 1M finished timers).

wrk runs with 1 thread and 32 connections (``--connections``): on 2 cores a second wrk thread takes CPU
from the server, and 32 connections keep both server processes busy without queueing more than the
pool's 10 connections per process can serve. The table shows each scenario's throughput as a ratio of
the floor's throughput from the same run. Results go to ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

from bench import harness, seed
from bench.harness import Load, Server, as_dict

RESULTS = Path(__file__).resolve().parent / "results"
INQUIRY = (
    '{"name": "Lead {n}", "email": "lead{n}@prospect-bench.io", "company": "Prospect {n}",'
    ' "message": "We need a recommender extracted from our monolith.", "source": "crm", "consent": true,'
    ' "external_id": "crm-{n}"}'
)
TARGETS = {
    "project_status": 0.6,
    "create_inquiry": 0.35,
    "list_projects": 0.4,
}
LATENCY_TARGETS_MS = {"project_status": 25.0, "create_inquiry": 40.0}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    port = harness.free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not harness_port_open(port):
        if time.monotonic() > deadline:
            raise RuntimeError("redis-server did not start")
        time.sleep(0.1)
    return process, f"redis://127.0.0.1:{port}/0"


def harness_port_open(port: int) -> bool:
    from api.devenv import port_open

    return port_open("127.0.0.1", port, 0.2)


def stop(process: subprocess.Popen[Any] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


class Counter:
    """Requests served by the API so far, for the memory measurement."""

    def __init__(self) -> None:
        self.requests = 0

    def add(self, load: Load) -> Load:
        self.requests += load.requests
        return load


def api_json(base: str, method: str, path: str, key: str, body: dict[str, Any] | None = None) -> Any:
    request = Request(  # noqa: S310 - loopback
        base + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return json.loads(response.read() or b"null")


def held_rate_post(
    base: str, path: str, headers: dict[str, str], body: str, rate: float, seconds: int, connections: int = 16
) -> Load:
    """POSTs at about ``rate`` per second: wrk with a per-connection delay, calibrated by a 3 s probe.

    wrk waits ``delay`` after each response, so a connection's cycle is delay + latency; the probe
    measures the latency at that rate and the delay is shortened by it.
    """
    cycle = connections * 1000.0 / rate
    probe = harness.wrk(
        base,
        harness.lua_script("POST", [path], headers, body, delay_ms=cycle),
        connections=connections,
        seconds=3,
    )
    latency = max(0.0, connections * 1000.0 / max(probe.requests_per_second, 1.0) - cycle)
    delay = max(1.0, cycle - latency)
    script = harness.lua_script("POST", [path], headers, body, delay_ms=delay)
    return harness.wrk(base, script, connections=connections, seconds=seconds)


def redis_cli(redis_url: str, *command: str) -> str:
    port = redis_url.rsplit(":", 1)[1].split("/", maxsplit=1)[0]
    return subprocess.run(  # noqa: S603
        ["redis-cli", "-p", port, *command],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def webhook_latency(
    api: Server, env: dict[str, str], info: dict[str, Any], seconds: int, rate: float, log_path: Path
) -> dict[str, Any]:
    """Event to webhook receipt at ``rate`` inquiries per second, each writing ``inquiry.received``.

    The earlier scenarios left thousands of events whose dispatch jobs wait in the queue; they are
    marked dispatched and the queue emptied first, and endpoints of earlier runs are deleted, so this
    scenario measures its own events and its one endpoint only.
    """
    import asyncpg

    async def settle() -> None:
        conn = await asyncpg.connect(env["DATABASE_URL"])
        try:
            await conn.execute("UPDATE domain_events SET dispatched_at = now() WHERE dispatched_at IS NULL")
            await conn.execute(
                "UPDATE deliveries SET state = 'cancelled', next_attempt_at = NULL WHERE state = 'pending'"
            )
            # endpoints left by earlier runs on a reused database would multiply the deliveries
            await conn.execute(
                "UPDATE webhook_endpoints SET status = 'deleted', deleted_at = now() WHERE status <> 'deleted'"
            )
        finally:
            await conn.close()

    asyncio.run(settle())
    redis_cli(env["REDIS_URL"], "FLUSHDB")
    port = harness.free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        out_path = handle.name
    receiver = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "bench.receiver", str(port), out_path], cwd=harness.ROOT
    )
    smtp_port = harness.free_port()
    smtp = subprocess.Popen([sys.executable, "-m", "bench.smtp_sink", str(smtp_port)], cwd=harness.ROOT)  # noqa: S603
    worker_env = {**os.environ, **env, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp_port)}
    with open(log_path, "ab") as output:
        worker = subprocess.Popen(
            [sys.executable, "-m", "workers"],
            cwd=harness.ROOT,
            env=worker_env,
            stdout=output,
            stderr=output,
        )
    received: list[float] = []
    try:
        time.sleep(2.0)
        api_json(
            api.base,
            "POST",
            "/v1/webhook-endpoints",
            info["keys"]["staff"],
            {
                "url": f"http://127.0.0.1:{port}/hook",
                "event_types": ["inquiry.received"],
                "description": "bench",
            },
        )
        headers = {"Authorization": f"Bearer {info['keys']['intake']}", "Content-Type": "application/json"}
        load = held_rate_post(api.base, "/v1/inquiries", headers, INQUIRY, rate, seconds)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = Path(out_path).read_text().splitlines()
            received = [float(line.split()[1]) for line in lines if line.strip()]
            if len(received) >= load.requests - load.errors:
                break
            time.sleep(0.5)
    finally:
        stop(worker)
        stop(receiver)
        stop(smtp)
        os.unlink(out_path)
    received.sort()

    def pct(p: float) -> float | None:
        return round(received[min(len(received) - 1, int(p * len(received)))] * 1000, 1) if received else None

    return {
        "events_posted": load.requests - load.errors,
        "events_received": len(received),
        "rate": round(load.requests_per_second, 1),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "max_ms": pct(1.0),
    }


def timer_sweep() -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.timer_sweep", "--sizes", "10000", "1000000"],
        cwd=harness.ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    ).stdout
    medians = {
        int(size.replace(",", "")): float(ms)
        for size, ms in re.findall(r"^\s*([\d,]+) finished: fire_due median\s+([\d.]+) ms", out, re.M)
    }
    return {
        "median_ms_by_finished_timers": medians,
        "ratio": round(medians[1_000_000] / medians[10_000], 2) if len(medians) == 2 else None,
    }


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = next(
        line.split()[1]
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )

    def version(command: list[str]) -> str:
        try:
            return subprocess.run(command, capture_output=True, text=True, check=False).stdout.strip()  # noqa: S603
        except OSError:
            return "?"

    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(int(mem) / 1024 / 1024, 1),
        "python": platform.python_version(),
        "postgresql": version(["psql", "-At", "-c", "SHOW server_version", seed.admin_database_url()]),
        "redis": version(["redis-server", "--version"]),
        "load_average_at_start": os.getloadavg(),
    }


def main() -> None:  # noqa: PLR0915 - one run, in order
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reuse", action="store_true", help="measure on the database the last run seeded")
    parser.add_argument("--seconds", type=int, default=10, help="length of each load measurement")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections for max throughput")
    parser.add_argument("--skip-timers", action="store_true", help="leave out the timer sweep")
    parser.add_argument("--skip-webhooks", action="store_true", help="leave out event to webhook")
    parser.add_argument("--memory-requests", type=int, default=100_000)
    args = parser.parse_args()
    harness.ensure_tools()
    results: dict[str, Any] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine()}
    seed_file = RESULTS / "seed.json"
    if args.reuse and seed_file.exists():
        info = json.loads(seed_file.read_text())
    else:
        log("seeding scopekeeper_bench ...")
        info = seed.seed(seed.admin_database_url())
    results["seed"] = {"counts": info["counts"], "seconds": info.get("seconds")}
    secs, conns = args.seconds, args.connections

    redis, redis_url = start_redis()
    env = {
        "DATABASE_URL": info["database_url"],
        "REDIS_URL": redis_url,
        "DB_POOL_MIN": "2",
        "DB_POOL_MAX": "10",
        "RATE_LIMIT_PER_MINUTE": "10000000",
        "INQUIRY_FLOOD_PER_HOUR": "1000000",
        "INTAKE_PER_KEY_PER_HOUR": "1000000000",
        "INTAKE_PER_ADDRESS_PER_HOUR": "1000000000",
        "WEBHOOKS_ALLOW_HTTP": "true",
        "WEBHOOKS_ALLOW_PRIVATE": "true",
    }
    scenarios: dict[str, Any] = {}
    RESULTS.mkdir(exist_ok=True)
    for name in ("api.log", "worker.log"):
        (RESULTS / name).unlink(missing_ok=True)
    api: Server | None = None
    try:
        floor = Server("bench.floor_app:build_app", env)
        floor.start("/floor/00000000-0000-0000-0000-000000000000")
        try:
            script = harness.lua_script("GET", [f"/floor/{cid}" for cid in info["floor_client_ids"]], {})
            harness.wrk(floor.base, script, connections=conns, seconds=2)  # warm-up
            floor_load = harness.wrk(floor.base, script, connections=conns, seconds=secs)
        finally:
            floor.stop()
        scenarios["floor"] = {"max": as_dict(floor_load)}
        log(f"floor: {floor_load.requests_per_second:.0f} req/s")

        api = Server("api.asgi:build_app", env, log_path=RESULTS / "api.log")
        api.start("/health")
        counter = Counter()
        client = {"Authorization": f"Bearer {info['keys']['client']}"}
        staff = {"Authorization": f"Bearer {info['keys']['staff']}"}
        intake = {"Authorization": f"Bearer {info['keys']['intake']}", "Content-Type": "application/json"}
        status_paths = [f"/v1/projects/{pid}/status" for pid in info["client_project_ids"]]
        status_script = harness.lua_script("GET", status_paths, client)
        warm = counter.add(harness.wrk(api.base, status_script, connections=conns, seconds=2))
        top_up = max(0, 10_000 - counter.requests)
        counter.add(
            harness.wrk(
                api.base,
                status_script,
                connections=conns,
                seconds=max(1, round(top_up / max(warm.requests_per_second, 1))),
            )
        )
        rss_first = (counter.requests, api.rss_bytes())

        status_max = counter.add(harness.wrk(api.base, status_script, connections=conns, seconds=secs))
        status_half = counter.add(
            harness.hey(
                api.base + status_paths[0],
                rate=status_max.requests_per_second / 2,
                seconds=secs,
                headers=client,
            )
        )
        scenarios["project_status"] = {"max": as_dict(status_max), "half": as_dict(status_half)}
        log(f"status: {status_max.requests_per_second:.0f} req/s, half-rate p99 {status_half.p99_ms:.1f} ms")

        post_script = harness.lua_script("POST", ["/v1/inquiries"], intake, INQUIRY)
        inquiry_max = counter.add(harness.wrk(api.base, post_script, connections=conns, seconds=secs))
        inquiry_half = counter.add(
            held_rate_post(
                api.base, "/v1/inquiries", intake, INQUIRY, inquiry_max.requests_per_second / 2, secs
            )
        )
        scenarios["create_inquiry"] = {"max": as_dict(inquiry_max), "half": as_dict(inquiry_half)}
        log(
            f"inquiries: {inquiry_max.requests_per_second:.0f} req/s, half-rate p99 {inquiry_half.p99_ms:.1f} ms"
        )

        list_script = harness.lua_script("GET", ["/v1/projects?limit=50"], staff)
        list_max = counter.add(harness.wrk(api.base, list_script, connections=conns, seconds=secs))
        scenarios["list_projects"] = {"max": as_dict(list_max)}
        log(f"list projects: {list_max.requests_per_second:.0f} req/s")

        if not args.skip_webhooks:
            try:
                hook = webhook_latency(api, env, info, secs, 200.0, RESULTS / "worker.log")
                counter.requests += hook["events_posted"]
            except Exception as exc:
                hook = {"error": repr(exc)}
            scenarios["event_to_webhook"] = hook
            log(f"event to webhook: {hook}")

        while counter.requests < args.memory_requests:
            remaining = args.memory_requests - counter.requests
            log(f"memory: {remaining} more status requests ...")
            counter.add(
                harness.wrk(
                    api.base,
                    status_script,
                    connections=conns,
                    seconds=max(1, round(remaining / max(status_max.requests_per_second, 1)) + 1),
                )
            )
        rss_end = (counter.requests, api.rss_bytes())
        results["memory"] = {
            "rss_bytes_after_requests": {str(n): rss for n, rss in (rss_first, rss_end)},
            "growth": round(rss_end[1] / rss_first[1] - 1, 3),
        }
        log(
            f"memory: {rss_first[1] / 2**20:.0f} MiB after {rss_first[0]}, {rss_end[1] / 2**20:.0f} MiB after {rss_end[0]}"
        )
    finally:
        if api is not None:
            api.stop()
        stop(redis)

    floor_rps = scenarios["floor"]["max"]["rps"]
    for name, target in TARGETS.items():
        scenarios[name]["ratio_to_floor"] = round(scenarios[name]["max"]["rps"] / floor_rps, 3)
        scenarios[name]["target_ratio"] = target
    results["scenarios"] = scenarios
    if not args.skip_timers:
        log("timer sweep (seeds its own scratch database) ...")
        results["timer_sweep"] = timer_sweep()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print_table(results)


def print_table(results: dict[str, Any]) -> None:
    s = results["scenarios"]
    print(
        f"\n{'scenario':<22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'x floor':>9}{'target':>8}"
        f"{'half-rate req/s':>17}{'p99 ms':>9}{'target':>8}"
    )
    for name in ("floor", *TARGETS):
        row = s[name]
        half = row.get("half")
        print(
            f"{name:<22}{row['max']['rps']:>9.0f}{row['max']['p50_ms']:>9.1f}{row['max']['p99_ms']:>9.1f}"
            f"{row.get('ratio_to_floor', 1.0):>9.2f}{row.get('target_ratio', ''):>8}"
            + (f"{half['rps']:>17.0f}{half['p99_ms']:>9.1f}{LATENCY_TARGETS_MS[name]:>8}" if half else "")
        )
    hook = s.get("event_to_webhook")
    if hook:
        print(f"\nevent -> webhook at 200/s: {json.dumps(hook)} (target p99 < 2000 ms)")
    mem = results["memory"]
    print(
        f"memory (RSS of the 2 API processes, bytes): {json.dumps(mem['rss_bytes_after_requests'])}, "
        f"growth {mem['growth'] * 100:.1f}% (target within 10%)"
    )
    if "timer_sweep" in results:
        print(f"timer sweep: {json.dumps(results['timer_sweep'])} (target < 1000 ms, ratio <= 1.5)")
    errors = {name: row["max"]["errors"] for name, row in s.items() if isinstance(row, dict) and "max" in row}
    print(f"non-2xx or socket errors during max runs: {json.dumps(errors)}")


if __name__ == "__main__":
    main()
