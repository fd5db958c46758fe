"""The DNS records receivers judge our mail by: SPF, DKIM, DMARC, reverse DNS, MTA-STS and TLS-RPT.

Every function takes the plain `MailSetup` and a `Lookup` and returns `Check`s; a question no
server answered gives a WARN (we could not tell), never an ERROR (the record is missing), so a
DNS outage does not stop sending through the gate.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field

from edm.doctor.dkim_key import judge_dkim_key, parse_tags
from edm.doctor.dmarc import aligned, dmarc_records, organizational_domain, record_problem
from edm.doctor.lookup import Lookup, LookupFailed
from edm.doctor.report import Check, error, ok, warn
from edm.doctor.spf import MAX_LOOKUPS, MAX_VOID_LOOKUPS, check_spf

SECTION = "dns"


@dataclass(frozen=True)
class MailSetup:
    """What receivers will see of our mail, from the settings: the From and envelope domains, the DKIM
    identity and key, and the addresses mail leaves from (`sending_ips`; empty when unknown: every
    relay is on this machine and no --sending-ip was given)."""

    from_address: str
    from_name: str
    envelope_address: str
    dkim_selector: str | None
    dkim_domain: str
    dkim_private_key: bytes | None = field(repr=False)
    sending_ips: tuple[str, ...] = ()

    @property
    def from_domain(self) -> str:
        return self.from_address.rpartition("@")[2].lower()

    @property
    def envelope_domain(self) -> str:
        return self.envelope_address.rpartition("@")[2].lower()


def _could_not(name: str, exc: LookupFailed) -> Check:
    return warn(SECTION, name, f"could not look it up: {exc}",
                "check the DNS server (or pass --nameserver IP) and run edm doctor again")


def spf_checks(setup: MailSetup, lookup: Lookup) -> list[Check]:
    """SPF of the envelope sender's domain (what receivers check), its lookups, and our addresses."""
    domain = setup.envelope_domain
    result = check_spf(domain, lookup, list(setup.sending_ips))
    if result.unresolved and not result.records:
        return [_could_not("SPF record", LookupFailed(result.unresolved[0]))]
    example = " ".join([*(f"ip4:{ip}" if ":" not in ip else f"ip6:{ip}" for ip in setup.sending_ips),
                        "include:<your provider's SPF domain>"][:3])
    if not result.records:
        return [error(SECTION, "SPF record", f"no SPF record at {domain} (the envelope sender's domain): "
                      "receivers cannot tell our servers from forgers",
                      f"publish TXT {domain} \"v=spf1 {example} -all\"")]
    if len(result.records) > 1:
        return [error(SECTION, "SPF record", f"{len(result.records)} SPF records at {domain}: receivers "
                      "answer permerror and SPF fails", "merge them into one v=spf1 record")]
    checks = []
    if result.problems:
        checks.append(error(SECTION, "SPF record", f"receivers answer permerror for {domain}: "
                            + "; ".join(result.problems[:3]), "correct the record (or the included domain)"))
    elif result.all_qualifier == "+":
        checks.append(error(SECTION, "SPF record", f"{domain} ends in +all: any server on the internet "
                            "passes",
                            "end the record in -all or ~all"))
    else:
        checks.append(ok(SECTION, "SPF record", f"{domain}: {result.records[0]}"))
    if result.lookups > MAX_LOOKUPS:
        checks.append(error(SECTION, "SPF lookups", f"{domain} needs {result.lookups} DNS lookups, over the "
                            f"limit of {MAX_LOOKUPS}: receivers answer permerror and SPF fails",
                            "drop includes you no longer use, or replace an include by its ip4:/ip6: ranges"))
    elif result.voids > MAX_VOID_LOOKUPS:
        checks.append(error(SECTION, "SPF lookups", f"{domain} has {result.voids} lookups of names without "
                            f"records (limit {MAX_VOID_LOOKUPS}): receivers answer permerror",
                            "remove the a:, mx: or include: terms that name nothing"))
    else:
        checks.append(ok(SECTION, "SPF lookups", f"{result.lookups} of {MAX_LOOKUPS} lookups, "
                         f"{result.voids} of {MAX_VOID_LOOKUPS} void"))
    if result.unresolved:
        checks.append(_could_not("SPF includes", LookupFailed(result.unresolved[0])))
    for ip, qualifier in result.results.items():
        name = f"SPF covers {ip}"
        if qualifier == "+":
            checks.append(ok(SECTION, name, f"{ip} passes SPF for {domain}"))
        else:
            outcome = {"-": "fails", "~": "soft-fails", "?": "is neutral"}.get(qualifier or "?", "is neutral")
            maybe = " (a term with a macro could not be judged here)" if result.uncertain else ""
            checks.append(warn(SECTION, name, f"{ip}, where mail leaves from, {outcome} under {domain}'s "
                               f"SPF{maybe}: Gmail and Outlook want SPF to pass",
                               f"add ip{'6' if ':' in ip else '4'}:{ip} (or your provider's include:) to "
                               f"the record at {domain}; if mail leaves from another address, pass it "
                               "as --sending-ip"))
    return checks


def dkim_checks(setup: MailSetup, lookup: Lookup) -> list[Check]:
    if setup.dkim_selector is None:
        return judge_dkim_key("", [], None)
    name = f"{setup.dkim_selector}._domainkey.{setup.dkim_domain}"
    try:
        records = lookup.txt(name)
    except LookupFailed as exc:
        return [_could_not("DKIM key", exc)]
    return judge_dkim_key(name, records, setup.dkim_private_key)


def dmarc_checks(setup: MailSetup, lookup: Lookup) -> list[Check]:
    """The From domain's DMARC policy (or its organizational domain's), and whether DKIM's d= and the
    envelope sender align with From under it."""
    domain = setup.from_domain
    names = list(dict.fromkeys([f"_dmarc.{domain}", f"_dmarc.{organizational_domain(domain)}"]))
    records: list[dict[str, str]] = []
    found_at = ""
    for name in names:
        try:
            records = dmarc_records(lookup.txt(name))
        except LookupFailed as exc:
            return [_could_not("DMARC record", exc)]
        if records:
            found_at = name
            break
    checks = []
    if not records:
        checks.append(error(SECTION, "DMARC record", f"no DMARC record at _dmarc.{domain}: Gmail, Yahoo and "
                            "Outlook refuse bulk mail from a domain without one",
                            f"publish TXT _dmarc.{domain} \"v=DMARC1; p=none; rua=mailto:dmarc@{domain}\" "
                            "(then move to p=quarantine once reports look clean)"))
        tags: dict[str, str] = {}
    elif len(records) > 1:
        checks.append(error(SECTION, "DMARC record", f"{len(records)} DMARC records at {found_at}: receivers "
                            "ignore them all", "keep one v=DMARC1 record"))
        tags = {}
    else:
        tags = records[0]
        problem = record_problem(tags)
        if problem:
            checks.append(error(SECTION, "DMARC record", f"{found_at}: {problem}; receivers ignore it",
                                f"publish \"v=DMARC1; p=none; rua=mailto:dmarc@{domain}\" at {found_at}"))
        else:
            checks.append(ok(SECTION, "DMARC record", f"{found_at}: p={tags['p']}"))
    checks.append(_alignment(setup, tags))
    return checks


def _alignment(setup: MailSetup, tags: dict[str, str]) -> Check:
    """DMARC passes when DKIM or SPF passes *aligned* with From; NetEase and QQ also show mail whose
    envelope sender's domain differs as sent "on behalf of" (代发)."""
    domain = setup.from_domain
    dkim_mode = tags.get("adkim", "r").lower()
    dkim = setup.dkim_selector is not None and aligned(setup.dkim_domain, domain, dkim_mode)
    spf = aligned(setup.envelope_domain, domain, tags.get("aspf", "r").lower())
    name = "DMARC alignment"
    if not dkim and not spf:
        return error(SECTION, name, f"neither DKIM (d={setup.dkim_domain}) nor the envelope sender "
                     f"({setup.envelope_domain}) aligns with From ({domain}): DMARC fails for every message",
                     f"sign with sender.dkim_domain {domain} (or a subdomain) and set sender.return_path to "
                     f"an address at {domain}")
    if not dkim:
        return warn(SECTION, name, f"DKIM's d={setup.dkim_domain} does not align with From ({domain}); "
                    "DMARC rests on SPF alone, which forwarding breaks",
                    f"sign with sender.dkim_domain {domain} (or a subdomain of it)")
    if not spf:
        return warn(SECTION, name, f"the envelope sender's domain ({setup.envelope_domain}) does not align "
                    f"with From ({domain}): NetEase and QQ Mail show the mail as sent on behalf of (代发) "
                    f"{setup.envelope_domain}", f"set sender.return_path to an address at {domain} "
                    "(or a subdomain with its own SPF)")
    return ok(SECTION, name, f"DKIM d={setup.dkim_domain} and envelope sender {setup.envelope_domain} both "
              f"align with From ({domain})")


def reverse_dns_checks(setup: MailSetup, lookup: Lookup) -> list[Check]:
    """Forward-confirmed reverse DNS of each address mail leaves from: its PTR name resolves back to it."""
    checks = []
    for ip in setup.sending_ips:
        name = f"reverse DNS {ip}"
        try:
            names = lookup.ptr(ip)
            confirmed = [host for host in names if _has(lookup.addresses(host), ip)]
        except LookupFailed as exc:
            checks.append(_could_not(name, exc))
            continue
        if not names:
            checks.append(error(SECTION, name, f"{ip} has no PTR record: Gmail and Outlook refuse mail from "
                                "addresses without reverse DNS",
                                f"ask whoever owns {ip} (your host or provider) for a PTR record naming the "
                                "relay, e.g. mail.<your domain>, with an A record pointing back"))
        elif not confirmed:
            checks.append(error(SECTION, name, f"{ip}'s PTR names {', '.join(names)}, which does not resolve "
                                f"back to {ip}: reverse DNS is not forward-confirmed",
                                f"add an A/AAAA record {names[0]} → {ip}, or change the PTR"))
        else:
            checks.append(ok(SECTION, name, f"{ip} ↔ {confirmed[0]}"))
    return checks


def _has(addresses: list[str], ip: str) -> bool:
    wanted = ipaddress.ip_address(ip)
    return any(ipaddress.ip_address(address) == wanted for address in addresses)


def policy_checks(setup: MailSetup, lookup: Lookup) -> list[Check]:
    """MTA-STS and TLS-RPT of the From domain (they protect mail coming to it: replies, bounces):
    reported when present, optional when absent."""
    domain = setup.from_domain
    checks = []
    for name, record, version, hint in (
        ("MTA-STS", f"_mta-sts.{domain}", "stsv1", "a policy at https://mta-sts.<domain>/.well-known/mta-sts.txt"),
        ("TLS-RPT", f"_smtp._tls.{domain}", "tlsrptv1", "rua=mailto: where TLS failure reports go"),
    ):
        try:
            texts = lookup.txt(record)
        except LookupFailed as exc:
            checks.append(_could_not(name, exc))
            continue
        found = [parse_tags(text) for text in texts if parse_tags(text).get("v", "").lower() == version]
        if not found:
            checks.append(ok(SECTION, name, f"none at {record} (optional: {hint})"))
        elif name == "MTA-STS" and not found[0].get("id"):
            checks.append(warn(SECTION, name, f"{record} has no id=",
                               "add id=<a new value per policy change>"))
        elif name == "TLS-RPT" and not found[0].get("rua"):
            checks.append(warn(SECTION, name, f"{record} has no rua=",
                               f"add rua=mailto:tls-reports@{domain}"))
        else:
            checks.append(ok(SECTION, name, f"published at {record}: {texts[0]}"))
    return checks


DNS_CHECKS: tuple[Callable[[MailSetup, Lookup], list[Check]], ...] = (
    spf_checks, dkim_checks, dmarc_checks, reverse_dns_checks, policy_checks,
)


def dns_checks(setup: MailSetup, lookup: Lookup) -> list[Check]:
    return [check for run in DNS_CHECKS for check in run(setup, lookup)]


__all__ = ["MailSetup", "dkim_checks", "dmarc_checks", "dns_checks", "policy_checks", "reverse_dns_checks",
           "spf_checks"]
