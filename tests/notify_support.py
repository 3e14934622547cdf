"""Test helpers of notifications: a real SMTP server, a real HTTP receiver, and emitting events."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any
from uuid import UUID, uuid4

import asyncpg
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from arq.worker import Worker
from litestar import Litestar

from api.db import unit_of_work
from api.domain.events import outbox
from api.kit.clock import FrozenClock
from api.settings import Settings
from workers.settings import worker_options


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        parsed = message_from_bytes(content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.sink.lock:
            self.sink.messages.append(parsed)
            self.sink.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
        return "250 OK"


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1 (in its own thread) that keeps every message it accepts."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if address in str(m["To"])]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content: str = part.get_content()
    return content


class Received:
    def __init__(self, method: str, target: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body


#: What the receiver answers to the n-th request (1-based): a status, or None to hang until closed.
Responder = Callable[[int], int | None]


class Receiver:
    """A small HTTP/1.1 server on loopback, in the test's event loop, that records what it receives."""

    def __init__(self, respond: Responder | None = None, body: bytes = b"ok") -> None:
        self.respond: Responder = respond or (lambda _n: 200)
        self.body = body
        self.requests: list[Received] = []
        self._release = asyncio.Event()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers: dict[str, str] = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append(Received(method, target, headers, body))
            status = self.respond(len(self.requests))
            if status is None:
                await self._release.wait()
                return
            writer.write(
                f"HTTP/1.1 {status} X\r\nContent-Type: text/plain\r\nContent-Length: {len(self.body)}\r\n"
                f"Connection: close\r\n\r\n".encode()
                + self.body
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def emit(
    app: Litestar,
    clock: FrozenClock,
    event_type: str,
    data: dict[str, Any],
    *,
    client_id: UUID | str | None = None,
    project_id: UUID | None = None,
    subject_type: str = "test",
    subject_id: UUID | None = None,
) -> UUID:
    """Write one domain event through the outbox in its own transaction, then send its dispatch job."""
    async with unit_of_work(app.state.pool, transactional=True, acquire_timeout=5) as uow:
        event_id = await outbox.emit(
            uow,
            event_type,
            subject_type=subject_type,
            subject_id=subject_id or uuid4(),
            data=data,
            now=clock.now(),
            client_id=UUID(str(client_id)) if client_id else None,
            project_id=project_id,
        )
    await app.state.jobs.send(uow.jobs)
    return event_id


async def deliveries(db: asyncpg.Connection, channel: str | None = None) -> list[asyncpg.Record]:
    return list(
        await db.fetch(
            """
            SELECT d.*, (SELECT count(*) FROM delivery_attempts a WHERE a.delivery_id = d.id) AS logged
            FROM deliveries d WHERE $1::text IS NULL OR d.channel = $1 ORDER BY d.created_at, d.recipient
            """,
            channel,
        )
    )


async def run_worker_once(settings: Settings, clock: FrozenClock) -> int:
    """Run a burst worker until the queue is empty and close it (its pool with it); returns jobs done."""
    worker = Worker(**worker_options(settings, clock=clock), burst=True, poll_delay=0, handle_signals=False)
    try:
        await worker.main()
        return worker.jobs_complete + worker.jobs_failed
    finally:
        await worker.close()


async def fanned_out(app: Litestar, settings: Settings, clock: FrozenClock, event_id: UUID) -> None:
    """Commit the event's fan-out as a dispatch job does, and stop there (as a worker killed right after)."""
    from api.domain.notifications.service import fan_out

    async with app.state.pool.acquire() as conn:
        await fan_out(conn, event_id, settings, clock.now())


async def flush(redis_url: str) -> None:
    """Empty the test's Redis database: every queued job is lost."""
    from api.kit.jobs import create_redis

    redis = create_redis(redis_url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()
        await redis.connection_pool.disconnect()
