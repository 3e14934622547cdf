"""The SQL of webhook endpoints and their deliveries.

Signing secrets are stored sealed (``secret_sealed``, see ``api.kit.secretbox``) with the endpoint's
id as associated data: :func:`insert` seals, :func:`open_secret` opens what :func:`target` read, and
:func:`reseal_all` seals every one again under the first key. No other query writes the column.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
import msgspec

from api.db import Conn
from api.domain.webhooks.schemas import Endpoint, WebhookDelivery
from api.kit import secretbox
from api.kit.secretbox import Keyring

ALL = "*"

_ENDPOINT = """
    e.id, e.url, e.description, e.event_types, e.status, e.consecutive_failures, e.created_at,
    e.disabled_at, e.disabled_reason
"""


class EndpointTarget(msgspec.Struct):
    """What a delivery needs of its endpoint (never returned by the API); the secret as stored, sealed
    (:func:`open_secret` decrypts it)."""

    id: UUID
    url: str
    secret_sealed: bytes
    status: str


def _endpoint(row: asyncpg.Record) -> Endpoint:
    values: dict[str, Any] = dict(row)
    if values["event_types"] == [ALL]:
        values["event_types"] = ALL
    return msgspec.convert(values, Endpoint)


def seal_secret(keys: Keyring, endpoint_id: UUID, secret: str) -> bytes:
    """The stored form of an endpoint's signing secret: sealed under the first key, bound to its id."""
    return secretbox.seal(keys, secret, endpoint_id.bytes)


def open_secret(keys: Keyring, endpoint_id: UUID, sealed: bytes) -> str:
    """The signing secret in clear; raises ``secretbox.SealError`` when no key of ``keys`` opens it."""
    return secretbox.unseal(keys, sealed, endpoint_id.bytes)


async def insert(
    conn: Conn,
    *,
    endpoint_id: UUID,
    url: str,
    description: str | None,
    event_types: list[str],
    secret: str,
    keys: Keyring,
    created_by: UUID | None,
    now: datetime,
) -> Endpoint:
    """Store a new endpoint; ``secret`` is stored sealed under ``keys`` (its clear text is not kept)."""
    row = await conn.fetchrow(
        f"""
        INSERT INTO webhook_endpoints AS e (id, url, description, event_types, secret_sealed, created_by,
                                            created_at, from_seq)
        VALUES ($1, $2, $3, $4, $5, $6, $7, (SELECT coalesce(max(seq), 0) FROM domain_events))
        RETURNING {_ENDPOINT}
        """,
        endpoint_id,
        url,
        description,
        event_types,
        seal_secret(keys, endpoint_id, secret),
        created_by,
        now,
    )
    assert row is not None
    return _endpoint(row)


async def get(conn: Conn, endpoint_id: UUID, *, for_update: bool = False) -> Endpoint | None:
    row = await conn.fetchrow(
        f"SELECT {_ENDPOINT} FROM webhook_endpoints e WHERE e.id = $1 AND e.status <> 'deleted'"
        + (" FOR UPDATE" if for_update else ""),
        endpoint_id,
    )
    return None if row is None else _endpoint(row)


async def page(conn: Conn, *, after: tuple[datetime, UUID] | None, limit: int) -> list[Endpoint]:
    rows = await conn.fetch(
        f"""
        SELECT {_ENDPOINT} FROM webhook_endpoints e
        WHERE e.status <> 'deleted'
          AND ($1::timestamptz IS NULL OR (e.created_at, e.id) > ($1, $2::uuid))
        ORDER BY e.created_at, e.id
        LIMIT $3
        """,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [_endpoint(r) for r in rows]


async def target(conn: Conn, endpoint_id: UUID) -> EndpointTarget | None:
    row = await conn.fetchrow(
        "SELECT id, url, secret_sealed, status FROM webhook_endpoints WHERE id = $1", endpoint_id
    )
    return None if row is None else msgspec.convert(dict(row), EndpointTarget)


class Resealed(msgspec.Struct):
    """What :func:`reseal_all` did: how many secrets it sealed again, and which it could not open."""

    resealed: int
    unreadable: list[tuple[UUID, str]]


async def reseal_all(conn: Conn, keys: Keyring) -> Resealed:
    """Seal every endpoint's secret (deleted endpoints' too) again under the first key of ``keys``.

    Run it inside a transaction: the rows are locked until it ends. A secret no key of ``keys`` opens
    is left as it is and reported with the reason.
    """
    rows = await conn.fetch("SELECT id, secret_sealed FROM webhook_endpoints ORDER BY id FOR UPDATE")
    updates: list[tuple[UUID, bytes]] = []
    unreadable: list[tuple[UUID, str]] = []
    for row in rows:
        try:
            secret = open_secret(keys, row["id"], row["secret_sealed"])
        except secretbox.SealError as exc:
            unreadable.append((row["id"], str(exc)))
            continue
        updates.append((row["id"], seal_secret(keys, row["id"], secret)))
    if updates:
        await conn.executemany("UPDATE webhook_endpoints SET secret_sealed = $2 WHERE id = $1", updates)
    return Resealed(resealed=len(updates), unreadable=unreadable)


async def mark_deleted(conn: Conn, endpoint_id: UUID, now: datetime) -> None:
    await conn.execute(
        "UPDATE webhook_endpoints SET status = 'deleted', deleted_at = $2 WHERE id = $1", endpoint_id, now
    )
    await conn.execute(
        """
        UPDATE deliveries SET state = 'cancelled', next_attempt_at = NULL, failed_at = $2,
                              last_error = 'the endpoint was deleted'
        WHERE endpoint_id = $1 AND state = 'pending'
        """,
        endpoint_id,
        now,
    )


async def enable(conn: Conn, endpoint_id: UUID, now: datetime, expires_at: datetime) -> list[UUID]:
    """Re-activate a disabled endpoint and make its waiting deliveries due now; returns their ids."""
    await conn.execute(
        """
        UPDATE webhook_endpoints SET status = 'active', consecutive_failures = 0, disabled_at = NULL,
                                     disabled_reason = NULL
        WHERE id = $1 AND status = 'disabled'
        """,
        endpoint_id,
    )
    rows = await conn.fetch(
        """
        UPDATE deliveries SET next_attempt_at = $2, expires_at = greatest(expires_at, $3)
        WHERE endpoint_id = $1 AND state = 'pending' AND next_attempt_at IS NULL
        RETURNING id
        """,
        endpoint_id,
        now,
        expires_at,
    )
    return [r["id"] for r in rows]


class FailureCount(msgspec.Struct):
    consecutive_failures: int
    disabled: bool
    url: str


async def count_failure(
    conn: Conn, endpoint_id: UUID, *, limit: int, reason: str, now: datetime
) -> FailureCount | None:
    """Add one failed attempt; the ``limit``-th consecutive one disables an active endpoint.

    ``disabled`` is true only for the call that disabled it.
    """
    row = await conn.fetchrow(
        """
        UPDATE webhook_endpoints SET
            consecutive_failures = consecutive_failures + 1,
            status = CASE WHEN consecutive_failures + 1 >= $2 THEN 'disabled' ELSE status END,
            disabled_at = CASE WHEN consecutive_failures + 1 >= $2 THEN $4 ELSE disabled_at END,
            disabled_reason = CASE WHEN consecutive_failures + 1 >= $2 THEN $3 ELSE disabled_reason END
        WHERE id = $1 AND status = 'active'
        RETURNING consecutive_failures, status = 'disabled' AS disabled, url
        """,
        endpoint_id,
        limit,
        reason,
        now,
    )
    return None if row is None else msgspec.convert(dict(row), FailureCount)


async def count_success(conn: Conn, endpoint_id: UUID) -> None:
    await conn.execute(
        "UPDATE webhook_endpoints SET consecutive_failures = 0 WHERE id = $1 AND consecutive_failures <> 0",
        endpoint_id,
    )


async def insert_deliveries(
    conn: Conn,
    event_id: UUID,
    event_seq: int,
    event_type: str,
    skip: UUID | None,
    now: datetime,
    expires_at: datetime,
) -> None:
    """One delivery per endpoint subscribed to ``event_type``; a disabled endpoint's waits (no time).

    An endpoint receives the events written after it was created (``from_seq``), not older ones that
    happened to be dispatched later. ``skip`` is an endpoint the event is about (its own failure or
    disabling), which is not sent it.
    """
    await conn.execute(
        """
        INSERT INTO deliveries (event_id, channel, recipient, endpoint_id, state, next_attempt_at,
                                created_at, expires_at)
        SELECT $1, 'webhook', e.id::text, e.id, 'pending',
               CASE WHEN e.status = 'active' THEN $4::timestamptz END, $4, $5
        FROM webhook_endpoints e
        WHERE e.status <> 'deleted'
          AND (e.event_types @> ARRAY['*'] OR e.event_types @> ARRAY[$2::text])
          AND e.id IS DISTINCT FROM $3::uuid
          AND e.from_seq < $6
        ON CONFLICT (event_id, channel, recipient) DO NOTHING
        """,
        event_id,
        event_type,
        skip,
        now,
        expires_at,
        event_seq,
    )


_DELIVERY = """
    d.id, d.endpoint_id, d.event_id, ev.type AS event_type, d.state, d.attempts AS attempt_count,
    d.next_attempt_at, d.last_error, d.created_at, d.expires_at, d.delivered_at, d.failed_at,
    coalesce((SELECT jsonb_agg(jsonb_build_object(
                  'number', a.number, 'started_at', a.started_at, 'latency_ms', a.latency_ms,
                  'status_code', a.status_code, 'response_body', a.response_body, 'error', a.error,
                  'succeeded', a.succeeded) ORDER BY a.number)
              FROM delivery_attempts a WHERE a.delivery_id = d.id), '[]'::jsonb) AS attempts
"""


def _delivery(row: asyncpg.Record) -> WebhookDelivery:
    return msgspec.convert(dict(row), WebhookDelivery)


async def deliveries(
    conn: Conn, endpoint_id: UUID, *, after: tuple[datetime, UUID] | None, state: str | None, limit: int
) -> list[WebhookDelivery]:
    rows = await conn.fetch(
        f"""
        SELECT {_DELIVERY}
        FROM deliveries d JOIN domain_events ev ON ev.id = d.event_id
        WHERE d.endpoint_id = $1
          AND ($2::timestamptz IS NULL OR (d.created_at, d.id) < ($2, $3::uuid))
          AND ($4::text IS NULL OR d.state = $4)
        ORDER BY d.created_at DESC, d.id DESC
        LIMIT $5
        """,
        endpoint_id,
        after[0] if after else None,
        after[1] if after else None,
        state,
        limit,
    )
    return [_delivery(r) for r in rows]


async def delivery(conn: Conn, delivery_id: UUID) -> WebhookDelivery | None:
    row = await conn.fetchrow(
        f"""
        SELECT {_DELIVERY}
        FROM deliveries d JOIN domain_events ev ON ev.id = d.event_id
        WHERE d.id = $1 AND d.channel = 'webhook'
        """,
        delivery_id,
    )
    return None if row is None else _delivery(row)
