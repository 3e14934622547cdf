"""Pure checks of an inquiry's sender address: syntax, undeliverable-looking domains, free-mail domains.

Rules:
- A syntax error (no ``@``, spaces, a malformed local part or domain label, a domain literal such as
  ``[127.0.0.1]``) is refused with 422 so the form can tell the person; nothing is stored.
- A syntactically correct address whose domain cannot receive mail from the Internet looks undeliverable
  and quarantines the inquiry instead: a domain without a dot (``ada@localhost``), a special-use or
  reserved name (``.localhost``, ``.local``, ``.invalid``, ``.test``, ``.example``, ``.onion``,
  ``.arpa``, RFC 6761 / RFC 2606) or one of the documentation domains ``example.com``,
  ``example.net``, ``example.org`` (and their subdomains). No DNS look-up is made.
- Free-mail domains (a short list of the big providers) identify no organisation: a conversion never
  matches a client by them nor stores them as a client's ``email_domain``.
"""

from __future__ import annotations

from typing import NamedTuple

from email_validator import EmailNotValidError, validate_email

from api.errors import Invalid, invalid
from api.kit import validate

#: Top-level names that never deliver mail on the Internet (RFC 6761, RFC 2606, RFC 7686, RFC 6762).
RESERVED_TLDS = frozenset({"localhost", "local", "invalid", "test", "example", "onion", "arpa", "internal"})
#: Second-level names reserved for documentation (RFC 2606).
DOCUMENTATION_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
#: Providers whose domain names no organisation.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "web.de",
        "mail.com",
        "zoho.com",
        "fastmail.com",
        "tutanota.com",
        "yandex.ru",
        "mail.ru",
        "qq.com",
        "163.com",
        "wp.pl",
        "o2.pl",
        "onet.pl",
        "op.pl",
        "interia.pl",
    }
)


class CheckedEmail(NamedTuple):
    """A syntactically valid address (domain lower-cased) and whether it looks undeliverable."""

    address: str
    domain: str
    undeliverable: bool


def undeliverable_domain(domain: str) -> bool:
    """True for a domain that cannot receive Internet mail (see the module's rules)."""
    name = domain.strip().lower().rstrip(".")
    if "." not in name:
        return True
    if name.rsplit(".", 1)[1] in RESERVED_TLDS:
        return True
    return any(name == d or name.endswith("." + d) for d in DOCUMENTATION_DOMAINS)


def check_email(value: str, pointer: str) -> CheckedEmail:
    """Validate the syntax (422 with ``pointer`` on error) and tell whether the address looks undeliverable."""
    text = value.strip()
    try:
        checked = validate_email(text, check_deliverability=False)
    except EmailNotValidError as strict:
        lenient = _lenient(text)
        if lenient is None:
            raise invalid(pointer, f"not a valid email address: {strict}") from None
        return lenient
    domain = checked.ascii_domain.lower()
    return CheckedEmail(checked.normalized, domain, undeliverable_domain(domain))


def _lenient(text: str) -> CheckedEmail | None:
    """An address whose only fault is a dotless or reserved domain; None when the syntax is wrong."""
    local, at, domain = text.rpartition("@")
    if not at or not local or not undeliverable_domain(domain):
        return None
    try:
        checked = validate_email(
            text, check_deliverability=False, globally_deliverable=False, test_environment=True
        )
    except EmailNotValidError:
        checked = None
    if checked is not None:
        return CheckedEmail(checked.normalized, checked.ascii_domain.lower(), True)
    # special-use names (``localhost``, ``.local``, ...) fail even the lenient check: validate the local
    # part and the shape of the domain's labels against a stand-in domain of the same labels
    labels = domain.strip().lower().rstrip(".").split(".")
    stand_in = ".".join([*labels[:-1], "com"]) if len(labels) > 1 else f"{labels[0]}.com"
    try:
        probe = validate_email(f"{local}@{stand_in}", check_deliverability=False)
    except EmailNotValidError:
        return None
    name = domain.strip().lower().rstrip(".")
    return CheckedEmail(f"{probe.local_part}@{name}", name, True)


def organisation_domain(address: str) -> str | None:
    """The domain that names the sender's organisation, in the ASCII (IDNA) form clients store; None for
    free-mail and undeliverable domains and for names a client's ``email_domain`` cannot hold."""
    try:
        name = check_email(address, "/email").domain
    except Invalid:
        return None
    if name in FREE_MAIL_DOMAINS or undeliverable_domain(name):
        return None
    try:
        return validate.domain(name, "/email_domain")
    except Invalid:
        return None
