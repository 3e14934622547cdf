"""The sender-address checks of inquiries, as plain functions."""

from __future__ import annotations

import pytest

from api.domain.inquiries.screening import check_email, organisation_domain, undeliverable_domain
from api.errors import Invalid


@pytest.mark.parametrize(
    ("address", "normalised", "undeliverable"),
    [
        ("ada@engines.co.uk", "ada@engines.co.uk", False),
        (" Ada@Engines.CO.UK ", "Ada@engines.co.uk", False),
        ("zofia@żółw.pl", "zofia@żółw.pl", False),
        ("ada@localhost", "ada@localhost", True),
        ("ada@intranet", "ada@intranet", True),
        ("ada@shop.local", "ada@shop.local", True),
        ("ada@shop.invalid", "ada@shop.invalid", True),
        ("ada@mail.test", "ada@mail.test", True),
        ("ada@example.com", "ada@example.com", True),
        ("ada@mail.example.org", "ada@mail.example.org", True),
        ("ada@foo.onion", "ada@foo.onion", True),
    ],
)
def test_syntax_ok_addresses_are_classified(address: str, normalised: str, undeliverable: bool) -> None:
    checked = check_email(address, "/email")
    assert checked.address == normalised
    assert checked.undeliverable is undeliverable


@pytest.mark.parametrize(
    "address",
    [
        "ada",
        "ada@",
        "@engines.co.uk",
        "a b@engines.co.uk",
        "ada..x@localhost",
        "a@-x-.localhost",
        "a@[127.0.0.1]",
    ],
)
def test_syntax_errors_are_refused_with_the_pointer(address: str) -> None:
    with pytest.raises(Invalid) as raised:
        check_email(address, "/email")
    assert raised.value.errors is not None
    assert [e.pointer for e in raised.value.errors] == ["/email"]


def test_documentation_lookalikes_are_not_reserved() -> None:
    assert not undeliverable_domain("myexample.com")
    assert not undeliverable_domain("example.co.uk")
    assert undeliverable_domain("EXAMPLE.NET.")


@pytest.mark.parametrize(
    ("address", "domain"),
    [
        ("ada@Engines.co.uk", "engines.co.uk"),
        ("zofia@żółw.pl", "xn--w-uga1v8h.pl"),
        ("jane@gmail.com", None),
        ("jan@wp.pl", None),
        ("ada@localhost", None),
        ("ada@example.com", None),
    ],
)
def test_organisation_domain(address: str, domain: str | None) -> None:
    assert organisation_domain(address) == domain
