"""Client organisations and their contacts.

Rules:
- A contact's email is validated and normalised; its locale defaults to ``en`` and must be one Babel
  knows; its time zone, when given, must be an IANA zone (otherwise the shop's zone is used).
- ``email_domain`` is unique across clients (409 when another client has it): converted inquiries are
  matched to clients by it.
- Updates honour ``If-Match`` (412 when stale); each update bumps ``version``.
- A client key reads only its own organisation (404 for any other).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import asyncpg

from api.db import Conn, UnitOfWork
from api.domain.clients import queries
from api.domain.clients.schemas import Client, ClientCreate, ClientPatch, Contact, ContactIn
from api.domain.events import outbox
from api.errors import Conflict, NotFound
from api.kit import validate
from api.kit.auth import Principal, visible_client
from api.kit.etag import check_if_match


def _contacts(items: list[ContactIn]) -> list[Contact]:
    result = []
    for i, item in enumerate(items):
        pointer = f"/contacts/{i}"
        result.append(
            Contact(
                name=item.name,
                email=validate.email(item.email, f"{pointer}/email"),
                locale=validate.locale(item.locale, f"{pointer}/locale") if item.locale else "en",
                time_zone=validate.time_zone(item.time_zone, f"{pointer}/time_zone")
                if item.time_zone
                else None,
            )
        )
    return result


async def create(uow: UnitOfWork, actor: Principal, data: ClientCreate, now: datetime) -> Client:
    contacts = _contacts(data.contacts)
    domain = validate.domain(data.email_domain, "/email_domain") if data.email_domain else None
    try:
        async with uow.conn.transaction():
            client_id = await queries.insert(uow.conn, name=data.name, email_domain=domain, now=now)
    except asyncpg.UniqueViolationError:
        raise Conflict(
            f"Another client already has the email domain {domain}.", rule="unique-email-domain"
        ) from None
    await queries.replace_contacts(uow.conn, client_id, contacts)
    client = await queries.get(uow.conn, client_id)
    assert client is not None
    await outbox.emit(
        uow,
        "client.created",
        subject_type="client",
        subject_id=client_id,
        data={"name": client.name},
        now=now,
        actor=actor,
        client_id=client_id,
    )
    return client


async def get(conn: Conn, principal: Principal, client_id: UUID) -> Client:
    visible_client(principal, client_id, "client")
    client = await queries.get(conn, client_id)
    if client is None:
        raise NotFound("No such client.")
    return client


async def update(
    uow: UnitOfWork, actor: Principal, client_id: UUID, data: ClientPatch, if_match: str | None, now: datetime
) -> Client:
    current = await queries.get(uow.conn, client_id, for_update=True)
    if current is None:
        raise NotFound("No such client.")
    check_if_match(if_match, current.version)
    fields: dict[str, object] = {}
    if isinstance(data.name, str):
        fields["name"] = data.name
    if data.email_domain is None or isinstance(data.email_domain, str):
        fields["email_domain"] = (
            validate.domain(data.email_domain, "/email_domain") if data.email_domain else None
        )
    contacts: list[Contact] | None = None
    if isinstance(data.contacts, list):
        contacts = _contacts(data.contacts)
    try:
        async with uow.conn.transaction():
            await queries.update(uow.conn, client_id, fields, now)
    except asyncpg.UniqueViolationError:
        raise Conflict(
            f"Another client already has the email domain {fields.get('email_domain')}.",
            rule="unique-email-domain",
        ) from None
    if contacts is not None:
        await queries.replace_contacts(uow.conn, client_id, contacts)
    client = await queries.get(uow.conn, client_id)
    assert client is not None
    changed = sorted([*fields, *(["contacts"] if contacts is not None else [])])
    await outbox.emit(
        uow,
        "client.updated",
        subject_type="client",
        subject_id=client_id,
        data={"changed": changed},
        now=now,
        actor=actor,
        client_id=client_id,
    )
    return client
