"""``python -m workers``: run the arq worker until SIGINT/SIGTERM.

arq's worker stops for good when its Redis connection fails. Here it is started again after a pause
(1 s, doubling up to 10 s) for as long as Redis is away, so a Redis outage never needs a person to
restart the worker: once Redis answers again the outbox sweep re-enqueues whatever was committed in
the meantime. SIGINT/SIGTERM stop it as arq does (running jobs are cancelled; jobs are idempotent and
are retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from signal import Signals

from arq.worker import Worker
from redis.exceptions import RedisError

from api.kit.observability import configure_logging
from api.settings import Settings, SettingsError
from workers.settings import worker_options

log = logging.getLogger("scopekeeper.worker")

FIRST_PAUSE = 1.0
LONGEST_PAUSE = 10.0
#: A worker that ran this long before failing starts its next pause from FIRST_PAUSE again.
HEALTHY_RUN = 60.0
#: Seconds between two looks at an idle queue (arq's default is 0.5 s); a job enqueued while the worker
#: idles waits at most this long, and an idle worker costs Redis ten small reads a second.
POLL_DELAY = 0.1


def serve(settings: Settings) -> None:
    """Run workers one after another until a signal stops the current one."""
    stopped: list[Signals] = []
    pause = FIRST_PAUSE
    while True:
        worker = Worker(**worker_options(settings), poll_delay=POLL_DELAY)
        worker.on_stop = stopped.append
        started = time.monotonic()
        worker.main_task = worker.loop.create_task(worker.main())
        try:
            worker.loop.run_until_complete(worker.main_task)
            return
        except asyncio.CancelledError:
            if stopped:
                return
        except (RedisError, OSError) as exc:
            log.warning(
                "redis unavailable (%s); the worker starts again in %.0f s", type(exc).__name__, pause
            )
        finally:
            _close(worker)
        if stopped:
            return
        if time.monotonic() - started > HEALTHY_RUN:
            pause = FIRST_PAUSE
        resume_at = time.monotonic() + pause
        while time.monotonic() < resume_at:
            # the loop runs while pausing, so a SIGTERM now reaches the stopped worker's handler
            worker.loop.run_until_complete(asyncio.sleep(0.1))
            if stopped:
                return
        pause = min(pause * 2, LONGEST_PAUSE)


def _close(worker: Worker) -> None:
    """Close the worker; with Redis away arq's own close stops early, so its shutdown hook runs here."""
    try:
        worker.loop.run_until_complete(worker.close())
    except (RedisError, OSError):
        if worker.on_shutdown is not None:
            with contextlib.suppress(Exception):
                worker.loop.run_until_complete(worker.on_shutdown(worker.ctx))


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging()
    serve(settings)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
