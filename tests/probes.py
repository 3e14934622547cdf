"""Routes that exist only in tests, to exercise the shared conventions in isolation."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import get, post
from litestar.params import JSONBody

from api.domain.events import outbox
from api.errors import Conflict
from api.kit import money
from api.kit.auth import roles
from api.kit.http import Caller, Now, Uow


class MoneyProbe(msgspec.Struct, forbid_unknown_fields=True):
    price: money.Money
    count: int


@post("/v1/_probe/money", opt=roles("staff"), status_code=200)
async def money_probe(data: JSONBody[MoneyProbe]) -> dict[str, Any]:
    parsed = money.parse(data.price, "/price")
    return {"minor": parsed.minor, "currency": parsed.currency, "count": data.count}


@post("/v1/_probe/emit-then-fail", opt=roles("staff"))
async def emit_then_fail(uow: Uow, principal: Caller, now: Now) -> None:
    await uow.conn.execute("INSERT INTO clients (name, created_at, updated_at) VALUES ('ghost', $1, $1)", now)
    await outbox.emit(
        uow, "client.created", subject_type="probe", subject_id=principal.key_id, data={}, now=now
    )
    raise Conflict("The change is refused after its event was written.", rule="probe")


@get("/v1/_probe/boom", opt=roles("staff"))
async def boom() -> None:
    raise RuntimeError("secret internals: password=hunter2")


@get("/v1/_probe/unguarded")
async def unguarded() -> dict[str, str]:
    return {"reached": "yes"}


PROBES = [money_probe, emit_then_fail, boom, unguarded]
