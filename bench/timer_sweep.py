"""Benchmark: the SLA timer sweep's cost follows the due timers, not the size of the table.

For each table size it seeds N finished timers (``INSERT ... SELECT generate_series``) plus 5,000 running
timers not yet due, then, after one untimed warm-up round, three times: seeds 1,000 running timers whose
warning and due time are past, times ``fire_due`` firing them (1,000 warnings and 1,000 breaches: 2,000
log entries and 4,000 domain events), and reports the median.
The target: under 1 s per sweep at every size, and 1M within 1.5x of 10k.

    python -m bench.timer_sweep                      # sizes 10k, 100k, 1M
    python -m bench.timer_sweep --sizes 10000 50000  # other sizes

It works in a scratch database (``sk_bench_timers``, dropped and recreated) on the PostgreSQL of
``DATABASE_URL``, or the local one, or an embedded one (as ``./scripts/run`` does).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import time
from datetime import UTC, datetime

import asyncpg

from api import devenv
from api.__main__ import migrate
from api.db import create_pool
from api.domain.timers.firing import fire_due
from api.kit.clock import FrozenClock
from api.settings import Settings

SCRATCH = "sk_bench_timers"
DUE = 1_000
RUNNING_NOT_DUE = 5_000
RUNS = 3
NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)

FINISHED = """
INSERT INTO sla_timers (kind, subject_type, subject_id, unit, measure, amount, target, warn_ratio, started_at,
                        due_at, warn_at, state, warned_at, met_at, policy_version, calendar_version,
                        created_at, updated_at)
SELECT 'inquiry_reply', 'inquiry', gen_random_uuid(), 'business', 'business_days', 1, interval '9 hours', 0.75,
       $2::timestamptz - make_interval(mins => g % 500000 + 2880),
       $2::timestamptz - make_interval(mins => g % 500000 + 1440),
       $2::timestamptz - make_interval(mins => g % 500000 + 1800), 'met',
       $2::timestamptz - make_interval(mins => g % 500000 + 1800),
       $2::timestamptz - make_interval(mins => g % 500000 + 1500), 1, 0, $2, $2
FROM generate_series(1, $1) AS g
"""

RUNNING = """
INSERT INTO sla_timers (kind, subject_type, subject_id, unit, measure, amount, target, warn_ratio, started_at,
                        due_at, warn_at, policy_version, calendar_version, data, created_at, updated_at)
SELECT 'inquiry_reply', 'inquiry', gen_random_uuid(), 'business', 'business_days', 1, interval '9 hours', 0.75,
       $2::timestamptz + make_interval(mins => $3) - interval '1 day',
       $2::timestamptz + make_interval(mins => $3) + make_interval(secs => g),
       $2::timestamptz + make_interval(mins => $3) - interval '2 hours' + make_interval(secs => g),
       1, 0, jsonb_build_object('name', 'Inquirer ' || g), $2, $2
FROM generate_series(1, $1) AS g
"""


async def _admin(url: str, *statements: str) -> None:
    conn = await asyncpg.connect(devenv.with_database(url, "postgres"))
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


async def _bench(url: str, sizes: list[int]) -> list[tuple[int, float, list[float]]]:
    settings = Settings.from_env({"DATABASE_URL": url})
    pool = await create_pool(settings, min_size=1, max_size=2)
    seeder = await asyncpg.connect(url, server_settings={"statement_timeout": "0"})
    results = []
    try:
        for size in sizes:
            await seeder.execute("TRUNCATE sla_timer_events, sla_timers, domain_events CASCADE")
            started = time.perf_counter()
            await seeder.execute(FINISHED, size, NOW)
            await seeder.execute(RUNNING, RUNNING_NOT_DUE, NOW, 24 * 60)  # due tomorrow
            await seeder.execute("VACUUM ANALYZE sla_timers")
            seeded = time.perf_counter() - started
            print(
                f"seeded {size:>9,} finished + {RUNNING_NOT_DUE:,} running timers in {seeded:.1f} s",
                flush=True,
            )
            timings = []
            for run in range(RUNS + 1):  # run 0 warms the caches and is not counted
                await seeder.execute(RUNNING, DUE, NOW, -120)  # warned and due two hours ago
                await seeder.execute("ANALYZE sla_timers")
                began = time.perf_counter()
                warned, breached = await fire_due(pool, FrozenClock(NOW), 1000)
                elapsed = time.perf_counter() - began
                if (warned, breached) != (DUE, DUE):
                    raise SystemExit(f"expected {DUE} warnings and breaches, fired {warned} and {breached}")
                if run:
                    timings.append(elapsed)
            median = statistics.median(timings)
            results.append((size, median, timings))
            print(
                f"  {size:>9,} finished: fire_due median {median * 1000:7.1f} ms "
                f"(runs: {', '.join(f'{t * 1000:.1f}' for t in timings)} ms)",
                flush=True,
            )
    finally:
        await seeder.close()
        await pool.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = parser.parse_args()
    admin = devenv.resolve(dict(os.environ), database="postgres")["DATABASE_URL"]
    asyncio.run(
        _admin(admin, f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)', f'CREATE DATABASE "{SCRATCH}"')
    )
    url = devenv.with_database(admin, SCRATCH)
    try:
        migrate(url)
        print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
        results = asyncio.run(_bench(url, args.sizes))
    finally:
        asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{SCRATCH}" WITH (FORCE)'))
    print(f"\n{'finished timers':>16} | {'fire_due (1,000 due), median of 3':>34}")
    for size, median, _ in results:
        print(f"{size:>16,} | {median * 1000:31.1f} ms")
    if len(results) >= 2:
        ratio = results[-1][1] / results[0][1]
        print(
            f"\nratio {results[-1][0]:,} / {results[0][0]:,}: {ratio:.2f}x (target: within 1.5x, each under 1 s)"
        )


if __name__ == "__main__":
    main()
