"""Bulk sending does not start while `edm doctor` finds an ERROR in DNS or the sender's identity.

Providers refuse such mail (Outlook `550 5.7.515`, Gmail `5.7.26`) and count it against the
domain, so it is cheaper to stop before the first message. `deliverability.enforce`: "remote"
(default) gates only when a relay is off this machine (the demo's sink and test servers on
127.0.0.1 are not gated), true always, false never; `--i-know` skips it for one run.
"""

from __future__ import annotations

import os

from edm.config import Settings
from edm.delivery.pool import relays_from
from edm.doctor.relay import is_local
from edm.doctor.report import errors
from edm.doctor.resolver import DnsResolver
from edm.doctor.run import gate_checks
from edm.errors import ConfigError

GATED = ("dns", "identity")


def enforced(settings: Settings) -> bool:
    enforce = settings.deliverability.enforce
    if enforce == "remote":
        return any(not is_local(relay.host) for relay in relays_from(settings.smtp, os.environ))
    return bool(enforce)


def require_deliverable(settings: Settings, *, i_know: bool = False) -> None:
    """Raise ConfigError listing each DNS or identity ERROR, unless not enforced or `i_know`."""
    if i_know or not enforced(settings):
        return
    try:
        resolver = DnsResolver(settings.deliverability.nameservers)
    except ValueError as exc:
        raise ConfigError(f"deliverability.nameservers: {exc}") from None
    found = [check for check in errors(gate_checks(settings, resolver)) if check.section in GATED]
    if found:
        lines = "\n".join(f"  {check.name}: {check.message}\n    fix: {check.fix}" for check in found)
        raise ConfigError(
            f"not sending: mailbox providers would refuse this mail ({len(found)} error"
            f"{'s' * (len(found) != 1)}):\n{lines}\n"
            "run `edm doctor` for the full report; pass --i-know (or set deliverability.enforce: false) "
            "to send anyway"
        )


__all__ = ["GATED", "enforced", "require_deliverable"]
