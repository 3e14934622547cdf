"""``python -m workers``: run the arq worker until SIGINT/SIGTERM."""

from __future__ import annotations

import sys

from arq.worker import Worker

from api.kit.observability import configure_logging
from api.settings import Settings, SettingsError
from workers.settings import worker_options


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging()
    Worker(**worker_options(settings)).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
