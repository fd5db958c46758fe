"""Who the mail says it is from: a real domain, a name recipients know, the brand's details
(settings `brand:`: company, postal address, website). Pure.
"""

from __future__ import annotations

from edm.config import BrandSettings, Localized
from edm.delivery.brand import PLACEHOLDER_COMPANY
from edm.doctor.report import Check, error, ok, warn

SECTION = "identity"
DEFAULT_NAME = "Customer Care"  # the bundled edm.yaml's display name
RESERVED = ("example.com", "example.net", "example.org")  # RFC 2606: nobody can send from these
# RFC 2606 top-level names that never reach anyone; `.test` is left out: a staging setup may use it
# against its own DNS, and its mail goes nowhere else anyway
RESERVED_TLDS = ("example", "invalid", "localhost")
PLACEHOLDERS = (PLACEHOLDER_COMPANY, "您的公司")  # the company names `edm init` writes


def reserved_domain(domain: str) -> bool:
    domain = domain.lower().rstrip(".")
    return domain in RESERVED or domain.endswith(tuple(f".{d}" for d in RESERVED)) \
        or domain.rpartition(".")[2] in RESERVED_TLDS


def identity_checks(from_name: str, from_address: str, brand: BrandSettings) -> list[Check]:
    """The From header's name and domain, and the brand's company name, postal address and website."""
    checks = []
    domain = from_address.rpartition("@")[2]
    if reserved_domain(domain):
        checks.append(error(SECTION, "From address", f"sender.from_address is {from_address}: {domain} is a "
                            "reserved example domain, mail from it is refused everywhere",
                            "set sender.from_address to an address at your own domain, e.g. "
                            "\"Your Company <news@your-company.com>\""))
    else:
        checks.append(ok(SECTION, "From address", from_address))
    if not from_name:
        checks.append(warn(SECTION, "From name", "the From header has no display name",
                           "put your company's name in sender.from_address: \"Your Company <news@...>\""))
    elif from_name == DEFAULT_NAME:
        checks.append(warn(SECTION, "From name", f"the display name is edm's example {DEFAULT_NAME!r}: "
                           "recipients do not know who writes", "use your company's name in "
                           "sender.from_address"))
    else:
        checks.append(ok(SECTION, "From name", from_name))
    return [*checks, *_brand_checks(brand)]


def _brand_checks(brand: BrandSettings) -> list[Check]:
    company, address = _text(brand.company), _text(brand.postal_address)
    if not company:
        checks = [warn(SECTION, "brand company", "no company name: mail names the sender by its domain",
                       "set brand.company in edm.yaml (a text per language)")]
    elif any(placeholder in company for placeholder in PLACEHOLDERS):
        checks = [error(SECTION, "brand company", f"the company is still edm init's placeholder: {company}",
                        "set brand.company in edm.yaml to your company's name (a text per language)")]
    else:
        checks = [ok(SECTION, "brand company", company)]
    if address:
        checks.append(ok(SECTION, "brand postal address", address))
    else:
        checks.append(error(SECTION, "brand postal address", "no postal address: the law (CAN-SPAM, CASL) "
                            "wants one in every marketing mail", "set brand.postal_address in edm.yaml"))
    if brand.website:
        checks.append(ok(SECTION, "brand website", brand.website))
    else:
        checks.append(warn(SECTION, "brand website", "no website in the mail's footer", "set brand.website"))
    return checks


def _text(value: Localized) -> str:
    """A localized text as one line: every language's, joined."""
    texts = value.values() if isinstance(value, dict) else [value]
    return " / ".join(" ".join(text.split()) for text in texts if text.strip())


__all__ = ["identity_checks", "reserved_domain"]
