"""Signing and sending one webhook request (Standard Webhooks, over ``httpx``).

- Body: ``{"id", "type", "created_at", "data"}``; ``id`` is the event id, and so is the
  ``webhook-id`` header: every attempt of an event carries the same id, so receivers drop duplicates.
- ``webhook-timestamp`` is the real time of sending (receivers compare it with their own clock, by
  default within five minutes), and ``webhook-signature`` is ``v1,<base64 HMAC-SHA256>`` of
  ``id.timestamp.body`` with the endpoint's secret (``standardwebhooks.Webhook.sign``).
- Secrets are ``whsec_`` + base64 of 32 random bytes.
- One attempt has ``WEBHOOK_TIMEOUT`` seconds in all (connect, send, answer). A 2xx answer is a
  success; anything else, a redirect included (never followed), is a failure. At most 2 KiB of the
  answer's body are kept for the log. Proxies from the environment are not used, and every attempt
  opens its own connection to the checked address (see ``urls.py``).
"""

from __future__ import annotations

import asyncio
import base64
import functools
import secrets
import ssl
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
from standardwebhooks import Webhook

from api.domain.notifications.templates import Event
from api.domain.webhooks.urls import Target

MAX_RESPONSE_BYTES = 2048
USER_AGENT = "Scopekeeper-Webhooks/1.0"


class Outcome(msgspec.Struct, frozen=True):
    ok: bool
    status_code: int | None
    latency_ms: int
    response_body: str | None
    error: str | None


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def payload(event: Event) -> bytes:
    body: dict[str, Any] = {
        "id": str(event.id),
        "type": event.type,
        "created_at": event.occurred_at.astimezone(UTC),
        "data": event.data,
    }
    return msgspec.json.encode(body)


def signed_headers(secret: str, message_id: str, body: bytes, at: datetime) -> dict[str, str]:
    signature = Webhook(secret).sign(message_id, at, body.decode())
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS settings of every webhook request (certificate and host verified against the bundled CA
    list), built once per process: building them loads the CA list, which cost more than the request
    itself when done per delivery."""
    return httpx.create_ssl_context()


def _text(raw: bytes) -> str:
    return raw[:MAX_RESPONSE_BYTES].decode("utf-8", errors="ignore").replace("\x00", "")


async def post(target: Target, body: bytes, headers: dict[str, str], seconds: float) -> Outcome:
    """POST ``body`` to the checked address of ``target``; never raises for network trouble."""
    url = target.url
    request_url = url
    extensions: dict[str, Any] = {}
    request_headers = dict(headers)
    if str(target.address) != url.host:
        request_url = url.copy_with(host=str(target.address))
        request_headers["host"] = url.netloc.decode("ascii")
        if url.scheme == "https":
            extensions["sni_hostname"] = url.host
    started = time.perf_counter()

    def elapsed() -> int:
        return round((time.perf_counter() - started) * 1000)

    try:
        async with (
            asyncio.timeout(seconds),
            httpx.AsyncClient(
                timeout=seconds, follow_redirects=False, trust_env=False, verify=tls_context()
            ) as client,
        ):
            request = client.build_request(
                "POST", request_url, content=body, headers=request_headers, extensions=extensions
            )
            response = await client.send(request, stream=True)
            try:
                kept = bytearray()
                async for chunk in response.aiter_bytes():
                    kept.extend(chunk)
                    if len(kept) >= MAX_RESPONSE_BYTES:
                        break
            finally:
                await response.aclose()
    except (TimeoutError, httpx.TimeoutException):
        return Outcome(
            ok=False,
            status_code=None,
            latency_ms=elapsed(),
            response_body=None,
            error=f"timed out after {seconds:g} s",
        )
    except (httpx.HTTPError, OSError) as exc:
        return Outcome(
            ok=False,
            status_code=None,
            latency_ms=elapsed(),
            response_body=None,
            error=f"{type(exc).__name__}: {exc}"[:500],
        )
    status = response.status_code
    ok = 200 <= status < 300
    error = None
    if not ok:
        error = f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    return Outcome(
        ok=ok, status_code=status, latency_ms=elapsed(), response_body=_text(bytes(kept)), error=error
    )


def now_for_signature() -> datetime:
    """The real time, for ``webhook-timestamp`` (never a simulated clock: receivers check it)."""
    return datetime.now(UTC)
