"""Who an event's email rules reach: addresses with their locale and zone, one row per address."""

from __future__ import annotations

from api.db import Conn
from api.domain.notifications import inert, queries
from api.domain.notifications.queries import PlannedEmail
from api.domain.notifications.rules import Audience, rules_for
from api.domain.notifications.templates import Event, Recipient
from api.settings import Settings

MAX_ADDRESS = 320


def _address(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    address = value.strip()
    local, at, domain = address.rpartition("@")
    if (
        not at
        or not local
        or "." not in domain
        or len(address) > MAX_ADDRESS
        or any(c.isspace() for c in address)
    ):
        return None
    return address


def inquirer(event: Event) -> list[Recipient]:
    """The inquirer named in ``data`` (``email``, ``name``, ``locale``, ``time_zone``), when the address is
    sane. Anyone can post an inquiry naming any address, so the name is kept only when it is inert
    (``inert.name``): it is the only text of the sender such a mail carries."""
    address = _address(event.data.get("email"))
    if address is None:
        return []
    locale = event.data.get("locale")
    zone = event.data.get("time_zone")
    return [
        Recipient(
            email=address,
            name=inert.name(event.data.get("name")),
            locale=locale if isinstance(locale, str) and locale else "en",
            time_zone=zone if isinstance(zone, str) and zone else None,
        )
    ]


def staff(settings: Settings) -> list[Recipient]:
    return [Recipient(email=address, locale="en") for address in settings.staff_emails]


async def audience(conn: Conn, event: Event, who: Audience, settings: Settings) -> list[Recipient]:
    if who == "inquirer":
        return inquirer(event)
    if who == "staff":
        return staff(settings)
    if event.client_id is None:
        return []
    return await queries.client_contacts(conn, event.client_id)


async def resolve(conn: Conn, event: Event, settings: Settings) -> list[PlannedEmail]:
    """Every email this event asks for; an address reached by several rules gets the first one only."""
    planned: list[PlannedEmail] = []
    seen: set[str] = set()
    for rule in rules_for(event):
        for recipient in await audience(conn, event, rule.audience, settings):
            key = recipient.email.lower()
            if key in seen:
                continue
            seen.add(key)
            planned.append(PlannedEmail(recipient=recipient, audience=rule.audience, template=rule.template))
    return planned
