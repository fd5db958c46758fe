"""`Lookup` over dnspython: the system's resolvers, or the ones given as IP or IP:PORT.

dnspython's exceptions end here: no record becomes an empty list, anything else `LookupFailed`.
Answers are kept for the run (SPF includes and the gate ask the same names more than once).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import dns.exception
import dns.nameserver
import dns.resolver
import dns.reversename

from edm.doctor.lookup import LookupFailed

DEFAULT_TIMEOUT = 5.0  # seconds for one question, all servers and retries included


def parse_nameserver(text: str) -> tuple[str, int]:
    """'192.0.2.53', '192.0.2.53:5353', '[2001:db8::53]:5353' or '2001:db8::53' → (address, port).

    Raises ValueError saying what is expected."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"nameserver {text!r}: expected [IPv6]:PORT")
            port = _port(text, rest[1:])
    elif text.count(":") == 1:
        host, _, rest = text.partition(":")
        port = _port(text, rest)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"nameserver {text!r}: expected an IP address, optionally with :PORT") from None
    return host, port


def _port(text: str, value: str) -> int:
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"nameserver {text!r}: the port must be a number from 1 to 65535")
    return int(value)


class DnsResolver:
    """Real DNS questions. `nameservers` empty: the system's (/etc/resolv.conf)."""

    def __init__(self, nameservers: Sequence[str] = (), *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self._servers = [parse_nameserver(server) for server in nameservers]
        self._timeout = timeout
        self._resolver: dns.resolver.Resolver | None = None
        self._cache: dict[tuple[str, str], list[str]] = {}
        self._silent: str | None = None  # set by a timeout: later questions fail at once, not one by one

    def _get(self) -> dns.resolver.Resolver:
        if self._resolver is None:
            try:
                resolver = dns.resolver.Resolver(configure=not self._servers)
            except dns.exception.DNSException as exc:
                raise LookupFailed(f"no DNS resolver configured ({exc}): pass --nameserver IP") from None
            if self._servers:
                resolver.nameservers = [dns.nameserver.Do53Nameserver(host, port)
                                        for host, port in self._servers]
            resolver.lifetime = self._timeout
            resolver.timeout = self._timeout
            self._resolver = resolver
        return self._resolver

    def _ask(self, name: str, rdtype: str) -> list[str]:
        key = (name.lower().rstrip("."), rdtype)
        if key in self._cache:
            return self._cache[key]
        if self._silent is not None:
            raise LookupFailed(f"{rdtype} {key[0]}: not asked, {self._silent}")
        try:
            answer = self._get().resolve(key[0] + ".", rdtype, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            found: list[str] = []
        except dns.exception.Timeout:
            self._silent = f"the DNS server gave no answer within {self._timeout:g} s before"
            raise LookupFailed(f"{rdtype} {key[0]}: no answer within {self._timeout:g} s") from None
        except dns.resolver.NoNameservers:
            raise LookupFailed(f"{rdtype} {key[0]}: the name servers failed to answer (SERVFAIL)") from None
        except dns.exception.DNSException as exc:
            raise LookupFailed(f"{rdtype} {key[0]}: {exc}") from None
        else:
            found = [self._text(rdata, rdtype) for rdata in answer]
            if rdtype == "MX":
                found = [host for _, host in sorted((rdata.preference, str(rdata.exchange).rstrip("."))
                                                    for rdata in answer)]
        self._cache[key] = found
        return found

    @staticmethod
    def _text(rdata: object, rdtype: str) -> str:
        if rdtype == "TXT":
            strings: list[bytes] = getattr(rdata, "strings", [])
            return b"".join(strings).decode("utf-8", "replace")
        return str(rdata).rstrip(".")

    def txt(self, name: str) -> list[str]:
        return self._ask(name, "TXT")

    def addresses(self, name: str) -> list[str]:
        return self._ask(name, "A") + self._ask(name, "AAAA")

    def mx(self, name: str) -> list[str]:
        return self._ask(name, "MX")

    def ptr(self, address: str) -> list[str]:
        return self._ask(dns.reversename.from_address(address).to_text(), "PTR")


__all__ = ["DEFAULT_TIMEOUT", "DnsResolver", "parse_nameserver"]
