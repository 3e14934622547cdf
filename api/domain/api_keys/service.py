"""API keys: create (secret shown once), list, revoke.

Rules:
- ``client`` keys name an existing client organisation; ``staff`` and ``intake`` keys name none.
- Every key belongs to one integration (a CRM, a website form, a dashboard, a person's tool). A key
  created with ``integration_id`` joins that integration and must have its role and organisation (422
  otherwise); a key created without one starts an integration of its own. Duplicates are the
  integration's: Idempotency-Key records and inquiries by (source, external_id), so rotating a key
  (create the successor in the same integration, revoke the old one) keeps them, and one integration
  never sees another's.
- Revoking is permanent and idempotent (revoking a revoked key answers it again).
- The last active staff key cannot be revoked: it would lock the shop out of its own API (409). This
  holds under concurrency: a revocation locks the active staff keys first (see
  ``queries.lock_for_revocation``), so two keys revoking each other at once leave one of them.
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
    if data.integration_id is not None:
        joined = await queries.integration(uow.conn, data.integration_id)
        if joined is None:
            raise invalid("/integration_id", "no integration has this id")
        if (joined.role, joined.client_id) != (data.role, data.client_id):
            raise invalid(
                "/integration_id",
                "a key joins an integration of its own role and organisation "
                f"(this one is {joined.role}"
                + (f" of client {joined.client_id})" if joined.client_id else ")"),
            )
    secret, prefix, digest = new_key()
    key = await queries.insert(
        uow.conn,
        role=data.role,
        name=data.name,
        client_id=data.client_id,
        prefix=prefix,
        secret_hash=digest,
        created_by=actor.key_id if actor else None,
        integration_id=data.integration_id,
        now=now,
    )
    details = {
        "role": key.role,
        "name": key.name,
        "prefix": key.prefix,
        "integration_id": str(key.integration_id),
    }
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
    locked = await queries.lock_for_revocation(uow.conn, key_id)
    key = next((k for k in locked if k.id == key_id), None)
    if key is None:
        raise NotFound("No such API key.")
    if key.revoked_at is not None:
        return key  # revoked before: nothing changes, nothing is recorded again
    if key.role == "staff" and not any(k.role == "staff" and k.id != key_id for k in locked):
        raise Conflict(
            "The last active staff key cannot be revoked; create another first.", rule="keep-one-staff-key"
        )
    key = await queries.revoke(uow.conn, key_id, now)
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
