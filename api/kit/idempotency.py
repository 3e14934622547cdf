"""``Idempotency-Key`` on POST requests.

Rules (per API key, since two callers may pick the same key):
- The first successful (2xx) response is stored with the request's fingerprint (method, path, body) in
  the same transaction as the change it made, for 24 hours.
- The same key with the same fingerprint replays that response (status, body, ``Location``/``ETag``)
  with ``Idempotent-Replayed: true``; nothing runs again.
- The same key with another fingerprint → 422 ``idempotency-key-reused``.
- While the first request with a key is still running, another with the key → 409 ``request-in-flight``
  (a transaction-scoped advisory lock marks "in flight"; it is released by the commit or rollback).
- A request that failed (4xx/5xx) rolled back and stored nothing: the key may be used again.
- The claim of a key never used is one statement: it takes the lock and, holding it, inserts a
  placeholder row (status 0, already expired) that ``store`` fills in. The insert's conflict check sees
  every committed record, even one committed after the statement began, so a record is never missed;
  only when there is one is it read, by a second statement. A placeholder left by a request that
  committed without storing a response counts as no record.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec

from api.db import Conn
from api.errors import IdempotencyMismatch, InFlight, invalid

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 255


class StoredResponse(msgspec.Struct, frozen=True):
    status: int
    body: bytes
    headers: dict[str, str]


class Replay(Exception):
    """Raised before the handler runs when a stored response answers the request."""

    def __init__(self, stored: StoredResponse) -> None:
        super().__init__("idempotent replay")
        self.stored = stored


class Claim(msgspec.Struct):
    """An Idempotency-Key held by the running request."""

    principal_id: UUID
    key: str
    fingerprint: bytes


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


#: The status of a claimed key's row until ``store`` records the response.
PLACEHOLDER = 0

#: $1 principal, $2 key, $3 fingerprint, $4 now. ``held``: the key's lock was free and is now ours;
#: ``fresh``: no record existed and the placeholder is written.
_CLAIM = """
WITH lock AS (
    SELECT pg_try_advisory_xact_lock(hashtextextended($1::uuid::text || ':' || $2, 7)) AS held
), placeholder AS (
    INSERT INTO idempotency_records (principal_id, key, fingerprint, status, body, headers, created_at,
                                     expires_at)
    SELECT $1, $2, $3, 0::smallint, ''::bytea, '{}'::jsonb, $4, $4 FROM lock WHERE held
    ON CONFLICT (principal_id, key) DO NOTHING
    RETURNING true
)
SELECT held, EXISTS (SELECT FROM placeholder) AS fresh FROM lock
"""


async def claim(
    conn: Conn,
    principal_id: UUID,
    key: str,
    method: str,
    path: str,
    body: bytes,
    now: datetime,
) -> Claim:
    """Take the key for this request or raise :class:`Replay`, 409 or 422. Call inside the transaction."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise invalid("header:Idempotency-Key", f"must be 1 to {MAX_KEY_LENGTH} printable characters")
    print_ = fingerprint(method, path, body)
    taken = await conn.fetchrow(_CLAIM, principal_id, key, print_, now)
    assert taken is not None
    if not taken["held"]:
        raise InFlight("The first request with this Idempotency-Key has not finished; retry shortly.")
    if taken["fresh"]:
        return Claim(principal_id=principal_id, key=key, fingerprint=print_)
    row = await conn.fetchrow(
        """
        SELECT fingerprint, status, body, headers, expires_at
        FROM idempotency_records WHERE principal_id = $1 AND key = $2
        """,
        principal_id,
        key,
    )
    if row is not None and row["status"] != PLACEHOLDER and row["expires_at"] > now:
        if bytes(row["fingerprint"]) != print_:
            raise IdempotencyMismatch(
                "This Idempotency-Key was used for a different request in the last 24 hours.",
            )
        raise Replay(StoredResponse(status=row["status"], body=bytes(row["body"]), headers=row["headers"]))
    return Claim(principal_id=principal_id, key=key, fingerprint=print_)


REPLAYED_HEADERS = ("location", "etag", "content-type")


async def store(conn: Conn, held: Claim, response: StoredResponse, now: datetime) -> None:
    """Record the response in the request's own transaction."""
    await conn.execute(
        """
        INSERT INTO idempotency_records (principal_id, key, fingerprint, status, body, headers, created_at, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (principal_id, key) DO UPDATE SET
            fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, body = EXCLUDED.body,
            headers = EXCLUDED.headers, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
        """,
        held.principal_id,
        held.key,
        held.fingerprint,
        response.status,
        response.body,
        response.headers,
        now,
        now + TTL,
    )


async def purge_expired(conn: Conn, now: datetime) -> int:
    result: str = await conn.execute("DELETE FROM idempotency_records WHERE expires_at <= $1", now)
    return int(result.rsplit(maxsplit=1)[-1])


def replay_headers(headers: Any) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() in REPLAYED_HEADERS}
