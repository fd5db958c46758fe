"""Who the mail says it is from: a real domain, a name recipients know, the brand's details.

The `brand:` settings section (company name, postal address, website) is read defensively
(`getattr`): a settings model without it is judged on the From header alone. Pure.
"""

from __future__ import annotations

from typing import Any

from edm.doctor.report import Check, error, ok, warn

SECTION = "identity"
DEFAULT_NAME = "Customer Care"  # the bundled edm.yaml's display name
RESERVED = ("example.com", "example.net", "example.org")  # RFC 2606: nobody can send from these
# RFC 2606 top-level names that never reach anyone; `.test` is left out: a staging setup may use it
# against its own DNS, and its mail goes nowhere else anyway
RESERVED_TLDS = ("example", "invalid", "localhost")
# field names the brand section may use for each detail, first found wins
_BRAND_FIELDS = {
    "company name": ("company_name", "company", "name"),
    "postal address": ("postal_address", "address"),
    "website": ("website", "url", "homepage"),
}


def reserved_domain(domain: str) -> bool:
    domain = domain.lower().rstrip(".")
    return domain in RESERVED or domain.endswith(tuple(f".{d}" for d in RESERVED)) \
        or domain.rpartition(".")[2] in RESERVED_TLDS


def identity_checks(from_name: str, from_address: str, brand: Any = None) -> list[Check]:
    """The From header's name and domain; with a brand section, its company name, address and website."""
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
    if brand is not None:
        checks.extend(_brand_checks(brand))
    return checks


def _brand_checks(brand: Any) -> list[Check]:
    checks = []
    for detail, names in _BRAND_FIELDS.items():
        value = next((getattr(brand, name) for name in names if getattr(brand, name, None)), None)
        text = " ".join(str(value).split()) if value else ""
        if text:
            checks.append(ok(SECTION, f"brand {detail}", text))
        elif detail == "website":
            checks.append(warn(SECTION, f"brand {detail}", "no website in the brand settings",
                               f"set brand.{names[0]}"))
        else:
            why = ("the law (CAN-SPAM, CASL) wants a postal address in every marketing mail"
                   if detail == "postal address" else "recipients must be able to tell who writes")
            checks.append(error(SECTION, f"brand {detail}", f"no {detail} in the brand settings: {why}",
                                f"set brand.{names[0]} in edm.yaml"))
    return checks


__all__ = ["identity_checks", "reserved_domain"]
