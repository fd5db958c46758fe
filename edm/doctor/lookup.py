"""The DNS questions the checks ask, as a narrow interface (`resolver.DnsResolver` asks real servers).

An empty answer means the name has no such record (NXDOMAIN or no data): a fact the checks judge.
A server that could not answer (timeout, SERVFAIL, no resolver configured) raises `LookupFailed`:
the checks then say they could not tell, never that the record is missing.
"""

from __future__ import annotations

from typing import Protocol


class LookupFailed(Exception):
    """No answer could be had for a question; the message names the question and why."""


class Lookup(Protocol):
    def txt(self, name: str) -> list[str]:
        """The TXT records at `name`, each record's strings joined."""

    def addresses(self, name: str) -> list[str]:
        """The A and AAAA addresses of `name`."""

    def mx(self, name: str) -> list[str]:
        """The mail exchangers of `name`, most preferred first."""

    def ptr(self, address: str) -> list[str]:
        """The names the reverse zone gives `address`, without the final dot."""


__all__ = ["Lookup", "LookupFailed"]
