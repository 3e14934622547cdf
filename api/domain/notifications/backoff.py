"""The retry schedule of a delivery: exponential backoff with full jitter, for at most three days.

- After the n-th failed attempt the next one waits a random time drawn uniformly from
  ``[1 s, min(CAP, BASE * 2**(n-1))]`` ("full jitter": concurrent failures spread out instead of
  retrying in step). The envelope doubles from 5 seconds up to the cap of 10 hours.
- The window is three days from the delivery's start (its creation, or a manual retry). An attempt
  never lands past the window's end: the last one is moved to the end itself; a failure at or after
  the end is final (the delivery becomes ``failed``).
- ``failures`` counts every failed attempt of the delivery, so after a manual retry (a new window)
  the waits stay as long as they had grown.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

BASE = timedelta(seconds=5)
CAP = timedelta(hours=10)
FLOOR = timedelta(seconds=1)
WINDOW = timedelta(days=3)

_system_random = random.SystemRandom()


def envelope(failures: int) -> timedelta:
    """The longest wait after ``failures`` failed attempts (1, 2, ...): ``min(CAP, BASE * 2**(n-1))``."""
    if failures < 1:
        return FLOOR
    exponent = min(failures - 1, 32)  # 5 s * 2**32 is far past the cap; keeps the number small
    return min(CAP, BASE * (1 << exponent))


def delay(failures: int, rng: random.Random | None = None) -> timedelta:
    """A jittered wait after ``failures`` failed attempts: uniform in ``[FLOOR, envelope]``."""
    top = envelope(failures).total_seconds()
    low = FLOOR.total_seconds()
    drawn = (rng or _system_random).uniform(low, max(low, top))
    return timedelta(seconds=drawn)


def next_attempt(
    window_start: datetime, failures: int, now: datetime, rng: random.Random | None = None
) -> datetime | None:
    """When to try again after ``failures`` failed attempts, or ``None`` when the window has closed."""
    deadline = window_start + WINDOW
    if now >= deadline:
        return None
    return min(now + delay(failures, rng), deadline)


def schedule(window_start: datetime, rng: random.Random | None = None) -> list[datetime]:
    """Every attempt time of a delivery that always fails, first attempt at ``window_start``."""
    times = [window_start]
    failures = 1
    while (following := next_attempt(window_start, failures, times[-1], rng)) is not None:
        times.append(following)
        failures += 1
    return times
