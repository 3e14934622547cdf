"""ASGI entry point for servers: ``uvicorn --factory api.asgi:build_app``."""

from __future__ import annotations

from litestar import Litestar

from api.app import create_app
from api.kit.observability import configure_logging
from api.settings import Settings


def build_app() -> Litestar:
    settings = Settings.from_env()
    configure_logging()
    return create_app(settings)
