"""Warm-up of a new sending domain or IP: a daily cap per receiving provider, growing each day.

Pure. Providers judge a sender by the volume it builds up; a new domain that mails 50 000
Gmail users on its first day lands in spam. A provider is a group of the domains one mailbox
operator receives for (`edm.providers.PROVIDERS`); any other domain is `OTHER` and is not capped: small
receivers do not judge by volume, and the per-domain rate limits (smtp.domain_limits) still
hold for them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date

from edm.providers import OTHER, PROVIDERS, domain_of

MAX_CAP = 10**12  # past this a cap holds nothing back: the warm-up is over


def provider_domains(extra: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, tuple[str, ...]]:
    """The built-in groups, with `extra` (warmup.providers) adding providers or replacing one's domains."""
    merged = dict(PROVIDERS)
    for provider, domains in (extra or {}).items():
        merged[provider] = tuple(d.lower().strip() for d in domains)
    return merged


def provider_of(domain: str, providers: Mapping[str, tuple[str, ...]] = PROVIDERS) -> str:
    """The provider receiving for `domain` (an address's part after the last @) among `providers`
    (the built-in groups with warmup.providers applied), else `OTHER`."""
    domain = domain_of(domain)
    return next((provider for provider, domains in providers.items() if domain in domains), OTHER)


def daily_cap(first_day: date, today: date, start: int, growth: float) -> int:
    """How many messages a provider may get on `today`: `start` on `first_day` (and before it),
    times `growth` for each day since, rounded down; at most `MAX_CAP`."""
    days = max(0, (today - first_day).days)
    if growth <= 1 or days == 0:
        return min(start, MAX_CAP)
    if math.log(start) + days * math.log(growth) >= math.log(MAX_CAP):
        return MAX_CAP
    return min(MAX_CAP, math.floor(start * growth**days))
