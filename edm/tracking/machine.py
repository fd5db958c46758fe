"""Machine opens: was it a person, or a privacy proxy, prefetcher or security scanner?

Apple Mail Privacy Protection fetches every image of every mail through Apple's proxies,
Gmail and Yahoo fetch them through their image proxies, and corporate mail gateways open
and click links to scan them, usually within seconds of delivery. Such events are kept
(with `machine=True`) but are no sign of interest, so engagement leaves them out.

A pure function of what the request shows: its user agent, the client's address and the
time since the mail was sent. The rules are data, so deployments can add proxies they see.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from ipaddress import IPv4Network, IPv6Network

Network = IPv4Network | IPv6Network

# Apple owns 17.0.0.0/8; Mail Privacy Protection's fetches come from it.
DEFAULT_PROXY_NETWORKS: tuple[str, ...] = ("17.0.0.0/8",)
# Lower-case substrings of user agents that are never a person reading the mail.
DEFAULT_MACHINE_AGENTS: tuple[tuple[str, str], ...] = (
    ("googleimageproxy", "google_image_proxy"),  # "... (via ggpht.com GoogleImageProxy)"
    ("ggpht.com", "google_image_proxy"),
    ("yahoomailproxy", "yahoo_image_proxy"),
    ("yahoo! slurp", "yahoo_image_proxy"),
    ("proofpoint", "security_scanner"),
    ("mimecast", "security_scanner"),
    ("barracuda", "security_scanner"),
    ("ironport", "security_scanner"),
    ("forcepoint", "security_scanner"),
    ("trendmicro", "security_scanner"),
    ("safelinks", "security_scanner"),
    ("googlebot", "crawler"),
    ("bingbot", "crawler"),
    ("bingpreview", "crawler"),
    ("slackbot", "link_preview"),
    ("twitterbot", "link_preview"),
    ("linkedinbot", "link_preview"),
    ("facebookexternalhit", "link_preview"),
    ("skypeuripreview", "link_preview"),
    ("discordbot", "link_preview"),
    ("whatsapp/", "link_preview"),
    ("telegrambot", "link_preview"),
)
# Apple's proxy sends exactly this and nothing more; no mail client or browser does.
APPLE_PROXY_AGENT = "Mozilla/5.0"
DEFAULT_SCANNER_SECONDS = 10.0


@dataclass(frozen=True)
class MachineRules:
    """What marks an event as a machine's; build with `MachineRules.build` to add to the defaults."""

    networks: tuple[Network, ...]
    agents: tuple[tuple[str, str], ...]  # (lower-case substring, reason)
    scanner_seconds: float = DEFAULT_SCANNER_SECONDS
    # derived once, for speed: every substring in one regular expression, IPv4 as integers
    _agent_pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)
    _ipv4: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        needles = "|".join(re.escape(needle) for needle, _ in self.agents) or "(?!)"
        object.__setattr__(self, "_agent_pattern", re.compile(needles))
        object.__setattr__(self, "_ipv4", tuple(
            (int(n.network_address), int(n.netmask)) for n in self.networks if n.version == 4
        ))

    @classmethod
    def build(
        cls,
        *,
        extra_networks: Iterable[str | Network] = (),
        extra_agents: Iterable[str] = (),
        scanner_seconds: float = DEFAULT_SCANNER_SECONDS,
    ) -> MachineRules:
        """The built-in rules plus a deployment's own; raises ValueError for a bad network."""
        networks = tuple(
            ipaddress.ip_network(n, strict=False) if isinstance(n, str) else n
            for n in (*DEFAULT_PROXY_NETWORKS, *extra_networks)
        )
        agents = (*DEFAULT_MACHINE_AGENTS, *((a.lower(), "configured_agent") for a in extra_agents if a))
        return cls(networks=networks, agents=agents, scanner_seconds=scanner_seconds)

    def agent_reason(self, lowered_agent: str) -> str | None:
        match = self._agent_pattern.search(lowered_agent)
        if match is None:
            return None
        return next(reason for needle, reason in self.agents if needle == match.group())

    def from_network(self, ip: str) -> bool:
        """Whether `ip` lies in one of the networks (False for anything that is no address)."""
        if ":" not in ip:  # IPv4, the common case: integers, not ipaddress objects
            try:
                number = int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big")
            except OSError:
                return False
            return any(number & mask == network for network, mask in self._ipv4)
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            return self.from_network(str(address.ipv4_mapped))
        return any(address.version == n.version and address in n for n in self.networks)


DEFAULT_RULES = MachineRules.build()


def machine_reason(
    user_agent: str | None,
    ip: str | None,
    seconds_since_sent: float | None,
    rules: MachineRules = DEFAULT_RULES,
) -> str | None:
    """Why this open or click looks like a machine's, or None when it looks like a person's.

    `seconds_since_sent` is None when the mail's send time is unknown (then timing says nothing).
    """
    agent = (user_agent or "").strip()
    if agent == APPLE_PROXY_AGENT:
        return "apple_privacy_proxy"
    reason = rules.agent_reason(agent.lower())
    if reason is not None:
        return reason
    if ip and rules.from_network(ip):
        return "proxy_network"
    if seconds_since_sent is not None and seconds_since_sent < rules.scanner_seconds:
        return "too_soon_after_sending"
    return None


def is_machine(
    user_agent: str | None,
    ip: str | None,
    seconds_since_sent: float | None,
    rules: MachineRules = DEFAULT_RULES,
) -> bool:
    """True for a privacy proxy, prefetcher or scanner (see `machine_reason`)."""
    return machine_reason(user_agent, ip, seconds_since_sent, rules) is not None
