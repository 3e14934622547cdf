"""Command line: ``python -m api <command>``.

- ``run``: the whole service for a developer: backing services (embedded when none), migrations, a
  first staff key on an empty database (printed once), the API on 127.0.0.1:8000 and the worker.
- ``migrate``: apply the migrations to ``DATABASE_URL``.
- ``create-key --role staff|client|intake --name N [--client-id ID]``: create a key and print it once.
- ``openapi [--check]``: write ``openapi/openapi.json`` from the app (or fail when it differs).
- ``reencrypt-webhook-secrets``: seal every webhook endpoint's signing secret again under the first key
  of ``WEBHOOK_SECRET_KEYS``, in one transaction (key rotation: put the new key first, run this, then
  drop the old key). A secret no configured key opens is left as it is and named with the reason; the
  command then exits 1. It prints counts and ids, never a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from uuid import UUID

import msgspec

from api import devenv
from api.settings import Settings, SettingsError

OPENAPI_PATH = devenv.ROOT / "openapi" / "openapi.json"


def migrate(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config(str(devenv.ROOT / "alembic.ini"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")


async def _create_key(
    settings: Settings, role: str, name: str, client_id: UUID | None, only_if_empty: bool
) -> str | None:
    from api.db import create_pool, unit_of_work
    from api.domain.api_keys import queries, service
    from api.domain.api_keys.schemas import ApiKeyCreate
    from api.kit.clock import SystemClock

    pool = await create_pool(settings, min_size=1, max_size=1)
    try:
        async with unit_of_work(pool, transactional=True, acquire_timeout=10) as uow:
            if only_if_empty:
                await uow.conn.execute("LOCK TABLE api_keys IN SHARE ROW EXCLUSIVE MODE")
                if await queries.any_keys(uow.conn):
                    return None
            created = await service.create(
                uow,
                None,
                msgspec.convert({"role": role, "name": name, "client_id": client_id}, ApiKeyCreate),
                SystemClock().now(),
            )
        return created.key
    finally:
        await pool.close()


async def _reencrypt_webhook_secrets(settings: Settings) -> int:
    from api.db import create_pool, unit_of_work
    from api.domain.webhooks import queries

    pool = await create_pool(settings, min_size=1, max_size=1)
    try:
        async with unit_of_work(pool, transactional=True, acquire_timeout=10) as uow:
            done = await queries.reseal_all(uow.conn, settings.webhook_secret_keys)
    finally:
        await pool.close()
    print(
        f"re-sealed {done.resealed} webhook signing secrets under key id "
        f"{settings.webhook_secret_keys.primary.id}"
    )
    for endpoint_id, reason in done.unreadable:
        print(f"webhook endpoint {endpoint_id}: left as it was, {reason}", file=sys.stderr)
    return 1 if done.unreadable else 0


def openapi_document() -> bytes:
    from api.app import create_app

    app = create_app(Settings())
    schema = app.openapi_schema.to_schema()
    return (json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


def cmd_openapi(check: bool) -> int:
    document = openapi_document()
    if check:
        current = OPENAPI_PATH.read_bytes() if OPENAPI_PATH.exists() else b""
        if current != document:
            print(f"{OPENAPI_PATH} is out of date; run: python -m api openapi", file=sys.stderr)
            return 1
        return 0
    OPENAPI_PATH.parent.mkdir(exist_ok=True)
    OPENAPI_PATH.write_bytes(document)
    print(f"wrote {OPENAPI_PATH}")
    return 0


def cmd_run(host: str, port: int, processes: int) -> int:
    env = dict(os.environ)
    env.update(devenv.resolve(env))
    try:
        settings = Settings.from_env(env)
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    asyncio.run(devenv.ensure_database(settings.database_url))
    migrate(settings.database_url)
    key = asyncio.run(_create_key(settings, "staff", "first staff key", None, only_if_empty=True))
    python = sys.executable
    children = [
        subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            [
                python,
                "-m",
                "uvicorn",
                "--factory",
                "api.asgi:build_app",
                "--host",
                host,
                "--port",
                str(port),
                "--workers",
                str(processes),
                "--no-access-log",
            ],
            env=env,
            cwd=devenv.ROOT,
        ),
        subprocess.Popen([python, "-m", "workers"], env=env, cwd=devenv.ROOT),  # noqa: S603
    ]
    print(f"Scopekeeper API on http://{host}:{port}  (docs: http://{host}:{port}/schema)", flush=True)
    if key:
        print(f"First staff key (shown once, keep it): {key}", flush=True)

    def stop(*_: object) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
    finally:
        stop()
        for child in children:
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()
    return max((child.returncode or 0) for child in children)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api", description="Scopekeeper service commands")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run API and worker (with embedded servers when none are running)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--processes", type=int, default=1, help="API server processes")
    sub.add_parser("migrate", help="apply database migrations")
    key = sub.add_parser("create-key", help="create an API key and print it once")
    key.add_argument("--role", choices=["staff", "client", "intake"], required=True)
    key.add_argument("--name", default="created on the command line")
    key.add_argument("--client-id", type=UUID)
    sub.add_parser(
        "reencrypt-webhook-secrets",
        help="seal every webhook signing secret again under the first key of WEBHOOK_SECRET_KEYS",
    )
    doc = sub.add_parser("openapi", help="write openapi/openapi.json from the app")
    doc.add_argument("--check", action="store_true", help="fail when the committed file differs")
    args = parser.parse_args(argv)

    if args.command == "openapi":
        return cmd_openapi(args.check)
    if args.command == "run":
        return cmd_run(args.host, args.port, args.processes)
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    if args.command == "migrate":
        asyncio.run(devenv.ensure_database(settings.database_url))
        migrate(settings.database_url)
        return 0
    if args.command == "create-key":
        secret = asyncio.run(_create_key(settings, args.role, args.name, args.client_id, only_if_empty=False))
        print(secret)
        return 0
    if args.command == "reencrypt-webhook-secrets":
        return asyncio.run(_reencrypt_webhook_secrets(settings))
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
