"""The sender's identity: the From header, and the `brand:` settings section once it exists (read by
attribute, whatever class holds it)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edm.doctor.identity import identity_checks, reserved_domain
from edm.doctor.report import Status


def _statuses(brand: object) -> dict[str, Status]:
    return {c.name: c.status for c in identity_checks("Acme Trading", "news@acme.com", brand)}


def test_a_complete_brand_passes() -> None:
    brand = SimpleNamespace(company_name="Acme Trading Ltd", postal_address="1 Harbour Road, Hong Kong",
                            website="https://acme.com")
    assert set(_statuses(brand).values()) == {Status.OK}


def test_a_brand_without_address_or_name_is_an_error_without_website_a_warning() -> None:
    statuses = _statuses(SimpleNamespace(company_name="", postal_address=None, website=""))
    assert statuses["brand company name"] is Status.ERROR
    assert statuses["brand postal address"] is Status.ERROR
    assert statuses["brand website"] is Status.WARN


def test_without_a_brand_section_only_the_from_header_is_judged() -> None:
    assert set(_statuses(None)) == {"From address", "From name"}


@pytest.mark.parametrize("domain, reserved", [
    ("example.com", True), ("news.example.org", True), ("shop.example", True), ("x.invalid", True),
    ("acme.com", False), ("example.com.cn", False), ("acme.test", False),
])
def test_reserved_domains(domain: str, reserved: bool) -> None:
    assert reserved_domain(domain) is reserved
