"""DMARC (RFC 7489): the policy record, organizational domains and identifier alignment.

The organizational domain is the public suffix plus one label, by the Public Suffix List that
the `publicsuffixlist` package ships (offline; update the package to update the list). Pure.
"""

from __future__ import annotations

import functools

from publicsuffixlist import PublicSuffixList

from edm.doctor.dkim_key import parse_tags


@functools.cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()


def organizational_domain(domain: str) -> str:
    """`mail.news.example.co.uk` → `example.co.uk`; a name that is itself a public suffix stays as it is."""
    domain = domain.lower().rstrip(".")
    return _suffixes().privatesuffix(domain) or domain


def aligned(identifier: str, from_domain: str, mode: str = "r") -> bool:
    """Whether a DKIM d= or SPF (envelope) domain aligns with the From domain: `s`trict, the same name;
    `r`elaxed, the same organizational domain."""
    a, b = identifier.lower().rstrip("."), from_domain.lower().rstrip(".")
    if mode == "s":
        return a == b
    return organizational_domain(a) == organizational_domain(b)


def dmarc_records(texts: list[str]) -> list[dict[str, str]]:
    """The DMARC records among TXT texts (`v=DMARC1` first), as tags."""
    found = []
    for text in texts:
        tags = parse_tags(text)
        if text.strip().lower().replace(" ", "").startswith("v=dmarc1"):
            found.append(tags)
    return found


def record_problem(tags: dict[str, str]) -> str | None:
    """Why receivers would ignore the record, or None."""
    policy = tags.get("p", "").lower()
    if policy not in ("none", "quarantine", "reject"):
        return "p= is missing or not none, quarantine or reject" if policy else "p= is missing"
    for tag in ("adkim", "aspf"):
        if tags.get(tag, "r").lower() not in ("r", "s"):
            return f"{tag}= must be r or s"
    return None


__all__ = ["aligned", "dmarc_records", "organizational_domain", "record_problem"]
