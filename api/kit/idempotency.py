"""``Idempotency-Key`` on POST requests.

Rules (per integration, since two callers may pick the same key; the keys of one integration share its
records, so a rotated API key still replays what its predecessor stored):
- The first successful (2xx) response is stored with the request's fingerprint (method, path, body) in
  the same transaction as the change it made, for 24 hours. The body is compared as decoded JSON
  (another order of keys or other whitespace is the same request); a body that is not JSON is compared
  byte for byte.
- The stored response body is sealed (AES-256-GCM, ``api.kit.secretbox``, under the first key of
  ``WEBHOOK_SECRET_KEYS``) and bound to the record's integration and key: a response that carries a
  secret (a new API key, a webhook signing secret) is never stored in clear. Status and the replayed
  headers (``Location``, ``ETag``, ``Content-Type``) stay readable. A stored response that no
  configured key opens is a 409 ``idempotency-record-unreadable``: running the request again could do
  it twice.
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
from api.errors import Conflict, IdempotencyMismatch, InFlight, invalid
from api.kit import secretbox

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

    integration_id: UUID
    key: str
    fingerprint: bytes


def canonical(body: bytes) -> bytes:
    """The body as it means: JSON decoded and encoded again with sorted keys and no spaces; any other
    body (not JSON, not UTF-8, nested too deep to decode) as it is."""
    try:
        return b"json:" + msgspec.json.encode(msgspec.json.decode(body), order="sorted")
    except (msgspec.DecodeError, ValueError, RecursionError):
        return b"raw:" + body


def _digest(method: str, path: str, body: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.digest()


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    """What makes two requests "the same": method, path and the canonical body."""
    return _digest(method, path, canonical(body))


def _aad(integration_id: UUID, key: str) -> bytes:
    return b"idempotency:" + integration_id.bytes + key.encode()


def seal_body(keys: secretbox.Keyring, integration_id: UUID, key: str, body: bytes) -> bytes:
    """The stored form of a response body, bound to its record (integration and key)."""
    return secretbox.seal_bytes(keys, body, _aad(integration_id, key))


def open_body(keys: secretbox.Keyring, integration_id: UUID, key: str, sealed: bytes) -> bytes:
    return secretbox.unseal_bytes(keys, sealed, _aad(integration_id, key))


#: The status of a claimed key's row until ``store`` records the response.
PLACEHOLDER = 0

#: $1 integration, $2 key, $3 fingerprint, $4 now. ``held``: the key's lock was free and is now ours;
#: ``fresh``: no record existed and the placeholder is written.
_CLAIM = """
WITH lock AS (
    SELECT pg_try_advisory_xact_lock(hashtextextended($1::uuid::text || ':' || $2, 7)) AS held
), placeholder AS (
    INSERT INTO idempotency_records (integration_id, key, fingerprint, status, body_sealed, headers,
                                     created_at, expires_at)
    SELECT $1, $2, $3, 0::smallint, NULL, '{}'::jsonb, $4, $4 FROM lock WHERE held
    ON CONFLICT (integration_id, key) DO NOTHING
    RETURNING true
)
SELECT held, EXISTS (SELECT FROM placeholder) AS fresh FROM lock
"""


async def claim(
    conn: Conn,
    integration_id: UUID,
    key: str,
    method: str,
    path: str,
    body: bytes,
    now: datetime,
    keys: secretbox.Keyring,
) -> Claim:
    """Take the key for this request or raise :class:`Replay`, 409 or 422. Call inside the transaction."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise invalid("header:Idempotency-Key", f"must be 1 to {MAX_KEY_LENGTH} printable characters")
    print_ = fingerprint(method, path, body)
    taken = await conn.fetchrow(_CLAIM, integration_id, key, print_, now)
    assert taken is not None
    if not taken["held"]:
        raise InFlight("The first request with this Idempotency-Key has not finished; retry shortly.")
    if taken["fresh"]:
        return Claim(integration_id=integration_id, key=key, fingerprint=print_)
    row = await conn.fetchrow(
        """
        SELECT fingerprint, status, body_sealed, headers, expires_at
        FROM idempotency_records WHERE integration_id = $1 AND key = $2
        """,
        integration_id,
        key,
    )
    if row is not None and row["status"] != PLACEHOLDER and row["expires_at"] > now:
        if bytes(row["fingerprint"]) not in (print_, _digest(method, path, body)):
            # (a record stored before revision 0011 holds the digest of the raw bytes)
            raise IdempotencyMismatch(
                "This Idempotency-Key was used for a different request in the last 24 hours.",
            )
        try:
            stored = open_body(keys, integration_id, key, bytes(row["body_sealed"]))
        except secretbox.SealError as exc:
            raise Conflict(
                f"The response stored for this Idempotency-Key cannot be read ({exc}); it is not run again.",
                rule="idempotency-record-unreadable",
            ) from None
        raise Replay(StoredResponse(status=row["status"], body=stored, headers=row["headers"]))
    return Claim(integration_id=integration_id, key=key, fingerprint=print_)


REPLAYED_HEADERS = ("location", "etag", "content-type")


async def store(
    conn: Conn, held: Claim, response: StoredResponse, now: datetime, keys: secretbox.Keyring
) -> None:
    """Record the response, its body sealed, in the request's own transaction."""
    await conn.execute(
        """
        INSERT INTO idempotency_records (integration_id, key, fingerprint, status, body_sealed, headers,
                                         created_at, expires_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT (integration_id, key) DO UPDATE SET
            fingerprint = EXCLUDED.fingerprint, status = EXCLUDED.status, body_sealed = EXCLUDED.body_sealed,
            headers = EXCLUDED.headers, created_at = EXCLUDED.created_at, expires_at = EXCLUDED.expires_at
        """,
        held.integration_id,
        held.key,
        held.fingerprint,
        response.status,
        seal_body(keys, held.integration_id, held.key, response.body),
        response.headers,
        now,
        now + TTL,
    )


async def purge_expired(conn: Conn, now: datetime) -> int:
    result: str = await conn.execute("DELETE FROM idempotency_records WHERE expires_at <= $1", now)
    return int(result.rsplit(maxsplit=1)[-1])


def replay_headers(headers: Any) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() in REPLAYED_HEADERS}
