"""The floor: the least a Litestar + asyncpg service can do per request on this machine.

One route, ``GET /floor/{id}``, answers one primary-key query on ``clients`` through a pool, encoded
by msgspec. It is served exactly like the API (uvicorn with uvloop and httptools, same process count),
so the ratio of an endpoint's throughput to the floor's tells what the endpoint's own work costs.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated
from uuid import UUID

import asyncpg
import msgspec
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter


class Row(msgspec.Struct):
    id: UUID
    name: str


@get("/floor/{client_id:uuid}")
async def floor(client_id: Annotated[UUID, PathParameter()], state: State) -> Row:
    row = await state.pool.fetchrow("SELECT id, name FROM clients WHERE id = $1", client_id)
    if row is None:
        raise NotFoundException()
    return Row(id=row["id"], name=row["name"])


@asynccontextmanager
async def lifespan(app: Litestar) -> AsyncIterator[None]:
    app.state.pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=2, max_size=10)
    try:
        yield
    finally:
        await app.state.pool.close()


def build_app() -> Litestar:
    return Litestar([floor], lifespan=[lifespan], openapi_config=None)
