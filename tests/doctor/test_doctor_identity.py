"""The sender's identity: the From header and the `brand:` settings section."""

from __future__ import annotations

import pytest

from edm.config import BrandSettings
from edm.doctor.identity import identity_checks, reserved_domain
from edm.doctor.report import Status


def _statuses(brand: BrandSettings) -> dict[str, Status]:
    return {c.name: c.status for c in identity_checks("Acme Trading", "news@acme.com", brand)}


def test_a_complete_brand_passes() -> None:
    brand = BrandSettings(company={"en": "Acme Trading Ltd", "zh-Hans": "阿克米贸易"},
                          postal_address="1 Harbour Road, Hong Kong", website="https://acme.com")
    assert set(_statuses(brand).values()) == {Status.OK}


def test_a_brand_without_address_is_an_error_without_name_or_website_a_warning() -> None:
    statuses = _statuses(BrandSettings())
    assert statuses["brand company"] is Status.WARN  # the mail names the sender by its domain
    assert statuses["brand postal address"] is Status.ERROR
    assert statuses["brand website"] is Status.WARN


def test_the_placeholder_edm_init_writes_is_an_error() -> None:
    placeholder = BrandSettings(company={"en": "Your Company", "zh-Hans": "您的公司"},
                                postal_address="1 Road")
    assert _statuses(placeholder)["brand company"] is Status.ERROR


@pytest.mark.parametrize("domain, reserved", [
    ("example.com", True), ("news.example.org", True), ("shop.example", True), ("x.invalid", True),
    ("acme.com", False), ("example.com.cn", False), ("acme.test", False),
])
def test_reserved_domains(domain: str, reserved: bool) -> None:
    assert reserved_domain(domain) is reserved
