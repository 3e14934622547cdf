"""API keys: create (secret shown once), list, revoke.

Rules:
- ``client`` keys name an existing client organisation; ``staff`` and ``intake`` keys name none.
- Revoking is permanent and idempotent (revoking a revoked key answers it again).
- The last active staff key cannot be revoked: it would lock the shop out of its own API (409).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from api.db import UnitOfWork
from api.domain.api_keys import queries
from api.domain.api_keys.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated
from api.domain.clients import queries as client_queries
from api.domain.events import outbox
from api.errors import Conflict, NotFound, invalid
from api.kit.auth import Principal, new_key


async def create(
    uow: UnitOfWork, actor: Principal | None, data: ApiKeyCreate, now: datetime
) -> ApiKeyCreated:
    if data.role == "client":
        if data.client_id is None:
            raise invalid("/client_id", "a client key needs the client_id of its organisation")
        if not await client_queries.exists(uow.conn, data.client_id):
            raise invalid("/client_id", "no client with this id")
    elif data.client_id is not None:
        raise invalid("/client_id", f"a {data.role} key is not bound to a client organisation")
    secret, prefix, digest = new_key()
    key = await queries.insert(
        uow.conn,
        role=data.role,
        name=data.name,
        client_id=data.client_id,
        prefix=prefix,
        secret_hash=digest,
        created_by=actor.key_id if actor else None,
        now=now,
    )
    details = {"role": key.role, "name": key.name, "prefix": key.prefix}
    await outbox.audit(
        uow,
        "api_key.created",
        actor=actor,
        subject_type="api_key",
        subject_id=key.id,
        details=details,
        now=now,
    )
    await outbox.emit(
        uow,
        "api_key.created",
        subject_type="api_key",
        subject_id=key.id,
        data=details,
        now=now,
        actor=actor,
        client_id=key.client_id,
    )
    return ApiKeyCreated(**{f: getattr(key, f) for f in key.__struct_fields__}, key=secret)


async def revoke(uow: UnitOfWork, actor: Principal, key_id: UUID, now: datetime) -> ApiKey:
    key = await queries.revoke(uow.conn, key_id, now)
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is not None and key.revoked_at < now:
        return key  # revoked before: nothing changes, nothing is recorded again
    if key.role == "staff" and await queries.count_active_staff(uow.conn) == 0:
        raise Conflict(
            "The last active staff key cannot be revoked; create another first.", rule="keep-one-staff-key"
        )
    details = {"role": key.role, "prefix": key.prefix}
    await outbox.audit(
        uow,
        "api_key.revoked",
        actor=actor,
        subject_type="api_key",
        subject_id=key.id,
        details=details,
        now=now,
    )
    await outbox.emit(
        uow,
        "api_key.revoked",
        subject_type="api_key",
        subject_id=key.id,
        data=details,
        now=now,
        actor=actor,
        client_id=key.client_id,
    )
    return key
