"""Composing and sending one email over SMTP (``aiosmtplib``).

- Plain text, with an HTML alternative made from it (paragraphs, line breaks and links).
- ``Message-ID`` is derived from the delivery id, which is unique per (event, address): a message sent
  twice (the at-least-once window) carries the same id, so mail systems can drop the duplicate.
- ``Auto-Submitted: auto-generated`` keeps auto-responders from answering.
- Subjects and names come from event data: line breaks are collapsed, so no header can be injected;
  the display name is shown only when it is inert (``inert.name``), and subject, names and body lose
  bidirectional control characters (``inert.plain``).
- ``SMTP_TLS``: ``none`` (plain, no STARTTLS even if offered), ``starttls`` (required) or ``tls``
  (implicit TLS). Credentials are used when ``SMTP_USERNAME`` is set.
- A 5xx answer of the server is permanent (the delivery fails at once); anything else is retried.
"""

from __future__ import annotations

import html
import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from uuid import UUID

import aiosmtplib

from api.domain.notifications import inert
from api.domain.notifications.templates import Message, Recipient
from api.settings import Settings

_URL = re.compile(r"https?://[^\s<>\"]+")


class PermanentFailure(Exception):
    """The server refused the message for good (a 5xx reply)."""


def to_html(text: str) -> str:
    paragraphs = []
    for block in text.split("\n\n"):
        escaped = html.escape(block)
        linked = _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        paragraphs.append("<p>" + linked.replace("\n", "<br>\n") + "</p>")
    return (
        '<!doctype html>\n<html><body style="font-family: sans-serif">\n'
        + "\n".join(paragraphs)
        + "\n</body></html>\n"
    )


def _one_line(text: str, limit: int) -> str:
    """Header text from event data: whitespace (line breaks included) collapsed, length capped."""
    return " ".join(text.split())[:limit]


def compose(
    message: Message, recipient: Recipient, *, mail_from: str, delivery_id: UUID, at: datetime, language: str
) -> EmailMessage:
    sender_domain = parseaddr(mail_from)[1].rpartition("@")[2] or "scopekeeper.local"
    mail = EmailMessage()
    mail["From"] = mail_from
    mail["To"] = formataddr((inert.name(recipient.name) or "", recipient.email))
    mail["Subject"] = _one_line(inert.plain(message.subject), 250)
    mail["Date"] = format_datetime(at)
    mail["Message-ID"] = f"<{delivery_id}@{sender_domain}>"
    mail["Auto-Submitted"] = "auto-generated"
    mail["Content-Language"] = language
    text = inert.plain(message.text)
    mail.set_content(text)
    mail.add_alternative(to_html(text), subtype="html")
    return mail


async def send(settings: Settings, mail: EmailMessage) -> str:
    """Hand the message to the SMTP server; returns its reply. Raises ``PermanentFailure`` on a 5xx."""
    try:
        errors, reply = await aiosmtplib.send(
            mail,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=settings.smtp_password,
            use_tls=settings.smtp_tls == "tls",
            start_tls=settings.smtp_tls == "starttls",
            timeout=settings.smtp_timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        if codes and all(500 <= c < 600 for c in codes):
            raise PermanentFailure(str(exc)) from None
        raise
    except aiosmtplib.SMTPResponseException as exc:
        if 500 <= exc.code < 600:
            raise PermanentFailure(f"{exc.code} {exc.message}") from None
        raise
    if errors:
        refused = "; ".join(f"{address}: {r.code} {r.message}" for address, r in errors.items())
        raise PermanentFailure(refused)
    return reply
