"""Which mailbox provider receives an address: one grouping for reports and warm-up alike.

Mailbox providers judge a sender per provider (Gmail's spam-rate limits, Yahoo's, ...), so
deliverability figures and warm-up ramps are kept per provider. Matching is on the exact
domain, case-insensitive: `mail.gmail.com` or a company's domain hosted by Google Workspace
is "other" (hosted domains cannot be told from the address), and a regional domain counts
only when it is listed here.
"""

from __future__ import annotations

from types import MappingProxyType

OTHER = "other"

# provider -> the domains its consumer mailboxes use; the order is the order reports show them in
PROVIDERS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType({
    "gmail": ("gmail.com", "googlemail.com"),
    "microsoft": (
        "outlook.com", "hotmail.com", "live.com", "msn.com", "passport.com",
        "outlook.cn", "live.cn", "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es",
        "live.co.uk", "live.fr", "live.de", "outlook.de", "outlook.fr", "outlook.jp",
    ),
    "yahoo": (
        "yahoo.com", "ymail.com", "rocketmail.com", "aol.com", "aim.com",
        "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.com.hk", "yahoo.com.tw", "yahoo.com.sg",
    ),
    "apple": ("icloud.com", "me.com", "mac.com"),
    "qq": ("qq.com", "vip.qq.com", "foxmail.com"),
    "netease": ("163.com", "126.com", "yeah.net", "188.com", "vip.163.com", "vip.126.com"),
    "sina": ("sina.com", "sina.cn", "vip.sina.com"),
    "sohu": ("sohu.com", "vip.sohu.com"),
    "aliyun": ("aliyun.com",),
    "139": ("139.com",),
})
NAMES: tuple[str, ...] = (*PROVIDERS, OTHER)  # every value provider_of can return, in report order

_BY_DOMAIN: dict[str, str] = {domain: name for name, domains in PROVIDERS.items() for domain in domains}
assert len(_BY_DOMAIN) == sum(map(len, PROVIDERS.values())), "a domain belongs to one provider"


def domain_of(address_or_domain: str) -> str:
    """The part after the last '@' (the whole text without one), lower-cased, without surrounding
    spaces or a trailing dot. `edm.store.sql.email_domain` spells the same in SQL."""
    return address_or_domain.rpartition("@")[2].strip().rstrip(".").lower()


def provider_of(address_or_domain: str) -> str:
    """'gmail', 'microsoft', 'yahoo', 'qq', 'netease', or 'other' for any other domain."""
    return _BY_DOMAIN.get(domain_of(address_or_domain), OTHER)
