"""One mailbox, however its address is spelled: the canonical form suppressions are kept by.

`Alice@Example.COM`, `alice@example.com` and ` ALICE@example.com ` reach one mailbox, and an
unsubscribe or a hard bounce must hold for every spelling. RFC 5321 lets a local part be
case-sensitive, but no real provider makes it so, and mailing someone who unsubscribed is the
worse mistake; so the local part is compared case-folded. The domain is compared as IDNA ASCII
(`例子.中国` and `xn--fsqu00a.xn--fiqs8s` are one domain); a domain IDNA refuses is kept lower-cased.
Pure: text in, text out.
"""

from __future__ import annotations

import idna

KEY_LENGTH = 512  # a 320-character address, case-folded and punycoded, still fits


def canonical_address(text: str) -> str:
    """The key two spellings of one mailbox share; idempotent."""
    local, at, domain = text.strip().rpartition("@")
    if not at:
        return domain.casefold()
    return f"{local.casefold()}@{canonical_domain(domain)}"


def canonical_domain(domain: str) -> str:
    """The domain lower-cased, in IDNA ASCII (punycode) when it is not ASCII already."""
    lowered = domain.lower()
    if lowered.isascii():
        return lowered
    try:
        return idna.encode(lowered, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        return lowered
