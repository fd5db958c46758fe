"""`edm doctor`'s checks put together: the mail setup from the settings, then each section in turn.

`gate_checks` is the fast subset (identity and DNS: no relay session, no message, no store) that
`gate.py` runs before bulk sending.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from edm.config import Settings
from edm.delivery.dkim import private_key_pem
from edm.delivery.message import Mailbox
from edm.delivery.pool import relays_from
from edm.doctor.dns_checks import MailSetup, dns_checks
from edm.doctor.identity import identity_checks
from edm.doctor.lookup import Lookup, LookupFailed
from edm.doctor.rates import DEFAULT_MAX_BOUNCE_RATE, count_rates, judge_rates
from edm.doctor.relay import is_local, probe_relay
from edm.doctor.report import Check, warn
from edm.doctor.sample import build_checks
from edm.errors import ConfigError

SECTIONS = ("identity", "dns", "relay", "message", "rates")
RELAY_TIMEOUT = 10.0  # seconds: a probe need not wait as long as sending does


def mail_setup(
    settings: Settings, lookup: Lookup, sending_ips: Sequence[str] = ()
) -> tuple[MailSetup, list[Check]]:
    """What receivers will see, from the settings; the addresses mail leaves from are `sending_ips`, else
    the relays' public addresses (looked up): a relay on this machine or on a private network says
    nothing about where mail reaches the internet from. Raises ConfigError on an unusable sender."""
    sender = settings.sender
    from_ = _mailbox(sender.from_address, "sender.from_address")
    envelope = _mailbox(sender.return_path, "sender.return_path") if sender.return_path else from_
    checks: list[Check] = []
    addresses = list(sending_ips)
    if not addresses:
        for relay in relays_from(settings.smtp, os.environ):
            if is_local(relay.host):
                continue
            try:
                addresses += [str(ipaddress.ip_address(relay.host.strip("[]")))]
            except ValueError:
                try:
                    found = lookup.addresses(relay.host)
                except LookupFailed as exc:
                    checks.append(warn("dns", "sending address", f"could not look up the relay {relay.host}: "
                                       f"{exc}", "pass the address mail leaves from as --sending-ip"))
                    continue
                if not found:
                    checks.append(warn("dns", "sending address", f"the relay {relay.host} has no address in "
                                       "DNS", f"check {relay.setting}.host, or pass the address mail leaves "
                                       "from as --sending-ip"))
                addresses += found
        addresses = [address for address in addresses if ipaddress.ip_address(address).is_global]
        if not addresses and not checks:
            checks.append(warn("dns", "sending address", "every relay is on this machine or a private "
                               "network: the address mail leaves from is unknown, so SPF coverage and "
                               "reverse DNS are not checked",
                               "pass the public address your mail leaves from as --sending-ip IP"))
    setup = MailSetup(
        from_address=from_.address,
        from_name=from_.name,
        envelope_address=envelope.address,
        dkim_selector=sender.dkim_selector,
        dkim_domain=(sender.dkim_domain or from_.address.rpartition("@")[2]).lower(),
        dkim_private_key=private_key_pem(sender),
        sending_ips=tuple(dict.fromkeys(addresses)),
    )
    return setup, checks


def _mailbox(value: str, setting: str) -> Mailbox:
    try:
        return Mailbox.parse(value)
    except ValueError as exc:
        raise ConfigError(f"{setting}: {exc}") from None


def gate_checks(settings: Settings, lookup: Lookup) -> list[Check]:
    """Identity and DNS: what no amount of retrying fixes, and what makes providers refuse bulk mail."""
    setup, found = mail_setup(settings, lookup)
    return [*identity_checks(setup.from_name, setup.from_address, settings.brand),
            *found, *dns_checks(setup, lookup)]


def run_doctor(
    settings: Settings,
    lookup: Lookup,
    now: datetime,
    *,
    sending_ips: Sequence[str] = (),
    skip: Collection[str] = (),
    sessions: sessionmaker[Session] | None = None,
) -> list[Check]:
    """Every check of the sections not in `skip`; `sessions` is needed for the rates."""
    checks: list[Check] = []
    setup, found = mail_setup(settings, lookup, sending_ips)
    if "identity" not in skip:
        checks += identity_checks(setup.from_name, setup.from_address, settings.brand)
    if "dns" not in skip:
        checks += found + dns_checks(setup, lookup)
    if "relay" not in skip:
        checks += asyncio.run(_probe_relays(settings))
    if "message" not in skip:
        checks += build_checks(settings, now)
    if "rates" not in skip and sessions is not None:
        deliverability = getattr(settings, "deliverability", None)
        max_bounce = getattr(deliverability, "max_bounce_rate", None) or DEFAULT_MAX_BOUNCE_RATE
        checks += judge_rates(count_rates(sessions, now), max_bounce_rate=max_bounce)
    return checks


async def _probe_relays(settings: Settings) -> list[Check]:
    timeout = min(settings.smtp.timeout_seconds, RELAY_TIMEOUT)
    relays = relays_from(settings.smtp, os.environ)
    results = await asyncio.gather(*(probe_relay(relay, timeout) for relay in relays))
    return [check for checks in results for check in checks]


__all__ = ["SECTIONS", "gate_checks", "mail_setup", "run_doctor"]
