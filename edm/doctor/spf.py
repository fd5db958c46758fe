"""SPF (RFC 7208): find the record, parse it, walk its includes counting DNS lookups, judge an address.

Receivers give up with `permerror` (SPF fails) past 10 lookups (include, a, mx, ptr, exists,
redirect) or 2 void lookups (a name with no record) over the whole tree, so the whole tree is
counted, not just the path one address takes. Macros (`%{i}`) cannot be expanded without a
message: such a term counts its lookup and matches nothing. Pure apart from the `Lookup` given.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from edm.doctor.lookup import Lookup, LookupFailed

MAX_LOOKUPS = 10
MAX_VOID_LOOKUPS = 2
_QUALIFIERS = "+-~?"
_MODIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*=")
_PREFIXES = re.compile(r"(?:/(\d{1,3}))?(?://(\d{1,3}))?")
_MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
_LOOKUP_TERMS = ("include", "a", "mx", "ptr", "exists", "redirect")
_GIVE_UP_AT = 40  # lookups: a runaway tree (a loop) is permerror long before; stop walking it
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SpfSyntaxError(ValueError):
    """A term receivers cannot read: they answer permerror."""


@dataclass(frozen=True)
class Term:
    """One mechanism (`qualifier` + - ~ ?) or modifier (`qualifier` empty: redirect, exp, unknown)."""

    qualifier: str
    name: str
    value: str | None = None
    cidr4: int | None = None
    cidr6: int | None = None


def is_spf(text: str) -> bool:
    return text.lower() == "v=spf1" or text.lower().startswith("v=spf1 ")


def parse_spf(text: str) -> list[Term]:
    """The terms of a `v=spf1 ...` record; raises SpfSyntaxError naming the first bad term."""
    if not is_spf(text):
        raise SpfSyntaxError("the record does not start with v=spf1")
    terms = []
    for word in text.split()[1:]:
        terms.append(_term(word))
    return terms


def _term(word: str) -> Term:
    if _MODIFIER.match(word):
        name, value = word.split("=", 1)
        if not value and name.lower() in ("redirect", "exp"):
            raise SpfSyntaxError(f"{word!r}: {name} needs a domain")
        return Term("", name.lower(), value)
    qualifier, rest = ("+", word) if word[:1] not in _QUALIFIERS else (word[0], word[1:])
    found = re.match(r"[A-Za-z0-9]+", rest)
    name = found.group(0).lower() if found else ""
    rest = rest[len(name):]
    if name not in _MECHANISMS:
        raise SpfSyntaxError(f"{word!r}: unknown mechanism")
    if rest and not rest.startswith((":", "/") if name in ("a", "mx") else ":"):
        raise SpfSyntaxError(f"{word!r}: unexpected {rest!r}")
    value = rest[1:] if rest.startswith(":") else ""
    cidr4 = cidr6 = None
    if name in ("a", "mx"):
        spec = value if rest.startswith(":") else rest
        value, slash, prefixes = spec.partition("/")
        if slash:
            cidr4, cidr6 = _cidrs(word, slash + prefixes)
    elif name in ("ip4", "ip6"):
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise SpfSyntaxError(f"{word!r}: not an {name} address or network") from None
        if (name == "ip4") != (network.version == 4):
            raise SpfSyntaxError(f"{word!r}: an {'IPv4' if name == 'ip4' else 'IPv6'} network is expected")
    elif name in ("include", "exists") and not value:
        raise SpfSyntaxError(f"{word!r}: {name} needs a domain")
    elif name == "all" and rest:
        raise SpfSyntaxError(f"{word!r}: all takes no value")
    return Term(qualifier, name, value or None, cidr4, cidr6)


def _cidrs(word: str, prefixes: str) -> tuple[int | None, int | None]:
    """The IPv4 and IPv6 prefix lengths of a/mx: `/24`, `/24//64`, `//64`."""
    found = _PREFIXES.fullmatch(prefixes)
    if found is None:
        raise SpfSyntaxError(f"{word!r}: expected /IPv4-prefix and/or //IPv6-prefix")
    cidr4 = int(found.group(1)) if found.group(1) else None
    cidr6 = int(found.group(2)) if found.group(2) else None
    if (cidr4 is not None and not 0 <= cidr4 <= 32) or (cidr6 is not None and not 0 <= cidr6 <= 128):
        raise SpfSyntaxError(f"{word!r}: prefix length out of range")
    return cidr4, cidr6


@dataclass
class SpfResult:
    """What walking a domain's SPF tree found.

    `records`: the SPF records at the domain itself (none, one, or too many); `lookups` and `voids`:
    counted over the whole tree; `problems`: what makes receivers answer permerror (bad syntax, an
    include without SPF); `results`: per address asked about, the qualifier it met (+ pass, - fail,
    ~ softfail, ? neutral) or None (no term matched: neutral); `unresolved`: questions a server
    could not answer; `uncertain`: terms with macros, which match nothing here.
    """

    domain: str
    records: list[str] = field(default_factory=list)
    lookups: int = 0
    voids: int = 0
    problems: list[str] = field(default_factory=list)
    results: dict[str, str | None] = field(default_factory=dict)
    unresolved: list[str] = field(default_factory=list)
    uncertain: list[str] = field(default_factory=list)
    all_qualifier: str | None = None  # of the top record's `all`


def check_spf(domain: str, lookup: Lookup, addresses: list[str]) -> SpfResult:
    """Walk `domain`'s SPF tree once, counting lookups, and judge each of `addresses` against it."""
    result = SpfResult(domain)
    try:
        result.records = [text for text in lookup.txt(domain) if is_spf(text)]
    except LookupFailed as exc:
        result.unresolved.append(str(exc))
        return result
    if len(result.records) != 1:
        return result
    walker = _Walker(lookup, result, [ipaddress.ip_address(a) for a in addresses])
    matched = walker.walk(domain, result.records[0], top=True)
    for address, qualifier in zip(addresses, matched, strict=True):
        result.results[address] = qualifier
    return result


class _Walker:
    def __init__(self, lookup: Lookup, result: SpfResult,
                 addresses: list[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> None:
        self.lookup = lookup
        self.result = result
        self.addresses = addresses

    def _count(self) -> bool:
        """One more lookup; False once the tree is hopeless (stop walking it)."""
        self.result.lookups += 1
        return self.result.lookups <= _GIVE_UP_AT

    def _ask(self, kind: str, name: str) -> list[str]:
        try:
            answer = self.lookup.txt(name) if kind == "txt" else (
                self.lookup.mx(name) if kind == "mx" else self.lookup.addresses(name))
        except LookupFailed as exc:
            self.result.unresolved.append(str(exc))
            return []
        if not answer:
            self.result.voids += 1
        return answer

    def walk(self, domain: str, record: str, *, top: bool = False) -> list[str | None]:
        """Each address's qualifier under `record` (None: no match), counting every lookup below it."""
        matched: list[str | None] = [None] * len(self.addresses)
        try:
            terms = parse_spf(record)
        except SpfSyntaxError as exc:
            self.result.problems.append(f"{domain}: {exc}")
            return matched
        redirect = None
        for term in terms:
            if term.name == "redirect":
                redirect = term.value
                continue
            if not term.qualifier:
                continue  # exp= and unknown modifiers are ignored
            if term.name == "all" and top:
                self.result.all_qualifier = term.qualifier
            hits = self._match(domain, term)
            for index, hit in enumerate(hits):
                if hit and matched[index] is None:
                    matched[index] = term.qualifier
        if redirect is not None and self._count():
            if "%" in redirect:
                self.result.uncertain.append(f"{domain}: redirect={redirect}")
            else:
                target = self._record(redirect, f"redirect={redirect}")
                if target is not None:
                    below = self.walk(redirect, target)
                    if not any(term.name == "all" for term in terms):  # redirect applies only without all
                        matched = [m if m is not None else b for m, b in zip(matched, below, strict=True)]
        return matched

    def _record(self, domain: str, via: str) -> str | None:
        """The one SPF record of `domain` reached through `via`, or None with the problem noted."""
        records = [text for text in self._ask("txt", domain) if is_spf(text)]
        if len(records) == 1:
            return records[0]
        what = "no SPF record" if not records else f"{len(records)} SPF records"
        self.result.problems.append(f"{via}: {domain} has {what}")
        return None

    def _match(self, domain: str, term: Term) -> list[bool]:
        none = [False] * len(self.addresses)
        if term.name == "all":
            return [True] * len(self.addresses)
        if term.name in ("ip4", "ip6"):
            network = ipaddress.ip_network(term.value or "", strict=False)
            return [address in network for address in self.addresses]
        if term.name not in _LOOKUP_TERMS or not self._count():
            return none
        target = term.value or domain
        if "%" in target:
            self.result.uncertain.append(f"{domain}: {term.name}:{target}")
            return none
        if term.name == "include":
            record = self._record(target, f"include:{target}")
            if record is None:
                return none
            return [qualifier == "+" for qualifier in self.walk(target, record)]
        if term.name == "a":
            return self._within(self._ask("a", target), term)
        if term.name == "mx":
            hosts = self._ask("mx", target)
            found: list[str] = []
            for host in hosts[:10]:  # RFC 7208 4.6.4: at most 10 names per mx term
                found += self._ask("a", host)
            return self._within(found, term)
        if term.name == "exists":
            return [bool(self._ask("a", target))] * len(self.addresses)
        return none  # ptr: deprecated (RFC 7208 5.5), and slow for receivers; never a match here

    def _within(self, found: list[str], term: Term) -> list[bool]:
        networks: list[IpNetwork] = []
        for text in found:
            address = ipaddress.ip_address(text)
            prefix = term.cidr4 if address.version == 4 else term.cidr6
            length = prefix if prefix is not None else address.max_prefixlen
            networks.append(ipaddress.ip_network(f"{address}/{length}", strict=False))
        return [any(address in network for network in networks) for address in self.addresses]


__all__ = ["MAX_LOOKUPS", "MAX_VOID_LOOKUPS", "SpfResult", "SpfSyntaxError", "Term", "check_spf", "is_spf",
           "parse_spf"]
