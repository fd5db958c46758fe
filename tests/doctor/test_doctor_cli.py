"""`edm doctor` against a real DNS server on loopback and real aiosmtpd relays."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from edm.cli import main
from tests.doctor.conftest import (
    DOMAIN,
    SELECTOR,
    SENDING_IP,
    Relay,
    new_key,
    public_b64,
    write_folder,
)
from tests.doctor.dns_zone import DnsServer, Records


def doctor(environment: dict[str, str], *arguments: str) -> Result:
    return CliRunner(env=environment).invoke(main, ["doctor", "--sending-ip", SENDING_IP, *arguments],
                                             catch_exceptions=False)


def checks_of(result: Result) -> dict[str, dict[str, str]]:
    report = json.loads(result.stdout)
    return {check["name"]: check for check in report["checks"]}


def test_a_careful_sender_passes_every_check(tmp_path: Path, zone: DnsServer, tls_relay: Relay,
                                             key2048: bytes) -> None:
    environment = write_folder(tmp_path / "work", key=key2048, nameserver=zone.address, relay=tls_relay)

    result = doctor(environment, "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    not_ok = [c for c in report["checks"] if c["status"] != "OK"]
    assert not_ok == []
    names = {check["name"] for check in report["checks"]}
    assert {"SPF record", "SPF lookups", f"SPF covers {SENDING_IP}", "DKIM key", "DMARC record",
            "DMARC alignment", f"reverse DNS {SENDING_IP}", "MTA-STS", "TLS-RPT",
            f"127.0.0.1:{tls_relay.port} TLS", f"127.0.0.1:{tls_relay.port} AUTH", "DKIM signature",
            "one-click unsubscribe", "complaint rate", "bounce rate"} <= names
    assert "published" in checks_of(result)["MTA-STS"]["message"]
    assert tls_relay.handler.messages == []  # a probe sends nothing


def test_the_table_lists_each_check_and_the_counts(tmp_path: Path, zone: DnsServer, tls_relay: Relay,
                                                   key2048: bytes) -> None:
    del zone.records[(f"_dmarc.{DOMAIN}", "TXT")]
    environment = write_folder(tmp_path / "work", key=key2048, nameserver=zone.address, relay=tls_relay)

    result = doctor(environment, "--skip", "relay,rates")

    assert result.exit_code == 1
    rows = [line for line in result.stdout.splitlines() if "DMARC record" in line]
    assert len(rows) == 1 and "ERROR" in rows[0] and "no DMARC record" in rows[0]
    assert "fix: publish TXT" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].endswith("1 ERROR")


Mutation = Callable[[Records, dict[str, Any]], None]


def _drop(*keys: tuple[str, str]) -> Mutation:
    def mutate(records: Records, sections: dict[str, Any]) -> None:
        for key in keys:
            del records[key]
    return mutate


def _set(key: tuple[str, str], *values: str) -> Mutation:
    def mutate(records: Records, sections: dict[str, Any]) -> None:
        records[key] = list(values)
    return mutate


def _many_includes(records: Records, sections: dict[str, Any]) -> None:
    includes = " ".join(f"include:_i{n}.{DOMAIN}" for n in range(11))
    records[(DOMAIN, "TXT")] = [f"v=spf1 ip4:{SENDING_IP} {includes} -all"]
    for n in range(11):
        records[(f"_i{n}.{DOMAIN}", "TXT")] = ["v=spf1 ip4:203.0.113.0/24 -all"]


def _nested_includes(records: Records, sections: dict[str, Any]) -> None:
    """Four lookups at the top, but each include holds three more: 4 + 3 × 3 = 13."""
    records[(DOMAIN, "TXT")] = [f"v=spf1 ip4:{SENDING_IP} mx include:_a.{DOMAIN} include:_b.{DOMAIN} "
                                f"include:_c.{DOMAIN} -all"]
    records[(DOMAIN, "MX")] = [f"10 mail.{DOMAIN}."]
    for name in "abc":
        records[(f"_{name}.{DOMAIN}", "TXT")] = [
            f"v=spf1 a:mail.{DOMAIN} mx:{DOMAIN} exists:mail.{DOMAIN} ~all"]


def _unaligned(records: Records, sections: dict[str, Any]) -> None:
    """DKIM signs for another domain and bounces go to a third: nothing aligns with acme.test."""
    key = records[(f"{SELECTOR}._domainkey.{DOMAIN}", "TXT")]
    records[(f"{SELECTOR}._domainkey.mailer.test", "TXT")] = key
    records[("mailer.test", "TXT")] = [f"v=spf1 ip4:{SENDING_IP} -all"]
    sections["sender"] = {"dkim_domain": "mailer.test", "return_path": "bounces@mailer.test"}


def _other_key(records: Records, sections: dict[str, Any]) -> None:
    records[(f"{SELECTOR}._domainkey.{DOMAIN}", "TXT")] = [f"v=DKIM1; k=rsa; p={public_b64(new_key(1024))}"]


def _configured_key(bits: int) -> Mutation:
    def mutate(records: Records, sections: dict[str, Any]) -> None:
        key = new_key(bits)
        records[(f"{SELECTOR}._domainkey.{DOMAIN}", "TXT")] = [f"v=DKIM1; k=rsa; p={public_b64(key)}"]
        sections["key"] = key
    return mutate


BROKEN: dict[str, tuple[Mutation, str, str, str]] = {
    # what is broken: (how, the check, its status, a phrase of the fix)
    "no SPF": (_drop((DOMAIN, "TXT")), "SPF record", "ERROR",
               "publish TXT acme.test \"v=spf1 ip4:192.0.2.10"),
    "two SPF records": (_set((DOMAIN, "TXT"), "v=spf1 -all", "v=spf1 ~all"), "SPF record", "ERROR", "merge"),
    "SPF include without SPF": (_drop((f"_spf.{DOMAIN}", "TXT")), "SPF record", "ERROR", "correct"),
    "SPF > 10 lookups": (_many_includes, "SPF lookups", "ERROR", "replace an include by its ip4:"),
    "SPF > 10 lookups, nested": (_nested_includes, "SPF lookups", "ERROR", "drop includes"),
    "SPF > 2 void lookups": (_set((DOMAIN, "TXT"), f"v=spf1 ip4:{SENDING_IP} a:gone1.{DOMAIN} "
                                  f"a:gone2.{DOMAIN} mx:gone3.{DOMAIN} -all"),
                             "SPF lookups", "ERROR", "name nothing"),
    "SPF misses the sending address": (_set((DOMAIN, "TXT"), "v=spf1 ip4:198.51.100.7 -all"),
                                       f"SPF covers {SENDING_IP}", "WARN", "add ip4:192.0.2.10"),
    "SPF +all": (_set((DOMAIN, "TXT"), "v=spf1 +all"), "SPF record", "ERROR", "-all"),
    "no DKIM record": (_drop((f"{SELECTOR}._domainkey.{DOMAIN}", "TXT")), "DKIM key", "ERROR", "publish TXT"),
    "wrong DKIM key": (_other_key, "DKIM key", "ERROR", "openssl rsa -in dkim.pem -pubout"),
    "revoked DKIM key": (_set((f"{SELECTOR}._domainkey.{DOMAIN}", "TXT"), "v=DKIM1; p="), "DKIM key", "ERROR",
                         "publish the current public key"),
    "1024-bit DKIM key": (_configured_key(1024), "DKIM key", "WARN", "2048-bit"),
    "512-bit DKIM key": (_configured_key(512), "DKIM key", "ERROR", "2048-bit"),
    "no DMARC": (_drop((f"_dmarc.{DOMAIN}", "TXT")), "DMARC record", "ERROR", "v=DMARC1; p=none"),
    "DMARC without p=": (_set((f"_dmarc.{DOMAIN}", "TXT"), "v=DMARC1; rua=mailto:d@acme.test"),
                         "DMARC record", "ERROR", "v=DMARC1; p=none"),
    "unaligned From": (_unaligned, "DMARC alignment", "ERROR", "set sender.return_path"),
    "envelope sender elsewhere (代发)": (
        lambda records, sections: sections.update(sender={"return_path": "bounces@mailer.test"})
        or records.update({("mailer.test", "TXT"): [f"v=spf1 ip4:{SENDING_IP} -all"]}),
        "DMARC alignment", "WARN", "sender.return_path"),
    "no PTR": (_drop(("10.2.0.192.in-addr.arpa", "PTR")), f"reverse DNS {SENDING_IP}", "ERROR", "PTR record"),
    "PTR not confirmed": (_drop((f"mail.{DOMAIN}", "A")), f"reverse DNS {SENDING_IP}", "ERROR",
                          f"add an A/AAAA record mail.{DOMAIN}"),
    "MTA-STS without id": (_set((f"_mta-sts.{DOMAIN}", "TXT"), "v=STSv1"), "MTA-STS", "WARN", "id="),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_each_broken_record_gives_its_own_finding_and_fix(case: str, tmp_path: Path, zone: DnsServer,
                                                          tls_relay: Relay, key2048: bytes) -> None:
    mutate, name, status, fix = BROKEN[case]
    sections: dict[str, Any] = {}
    mutate(zone.records, sections)
    key = sections.pop("key", key2048)
    environment = write_folder(tmp_path / "work", key=key, nameserver=zone.address, relay=tls_relay,
                               **sections)

    result = doctor(environment, "--json", "--skip", "relay,rates")

    found = checks_of(result)
    assert found[name]["status"] == status, found[name]
    assert fix in found[name]["fix"]
    assert result.exit_code == (1 if status == "ERROR" else 0), result.stdout
    others = [c for c in found.values() if c["status"] != "OK" and c["name"] != name
              and c["section"] in ("dns", "identity")]
    assert others == [], others  # the broken record, and nothing else in DNS, is blamed


def test_a_dns_server_that_does_not_answer_is_a_warning_not_a_missing_record(
        tmp_path: Path, zone: DnsServer, tls_relay: Relay, key2048: bytes) -> None:
    zone.silent.add(f"_dmarc.{DOMAIN}")
    environment = write_folder(tmp_path / "work", key=key2048, nameserver=zone.address, relay=tls_relay,
                               deliverability={"nameservers": [zone.address]})
    result = doctor(environment, "--json", "--skip", "relay,rates,message")
    # the resolver's timeout is seconds; the server's silence is for one name only
    found = checks_of(result)
    assert found["DMARC record"]["status"] == "WARN"
    assert "could not look it up" in found["DMARC record"]["message"]


def test_a_relay_without_starttls_is_an_error(tmp_path: Path, zone: DnsServer, plain_relay: Relay,
                                              key2048: bytes) -> None:
    environment = write_folder(tmp_path / "work", key=key2048, nameserver=zone.address, relay=plain_relay)

    result = doctor(environment, "--json", "--skip", "dns,rates,message,identity")

    assert result.exit_code == 1
    found = checks_of(result)
    tls = found[f"127.0.0.1:{plain_relay.port} TLS"]
    assert tls["status"] == "ERROR" and "does not offer STARTTLS" in tls["message"]
    assert found[f"127.0.0.1:{plain_relay.port} AUTH"]["status"] == "ERROR"  # no password in clear


def test_a_plain_local_relay_is_only_a_warning_when_tls_is_not_demanded(
        tmp_path: Path, zone: DnsServer, plain_relay: Relay, key2048: bytes) -> None:
    environment = write_folder(tmp_path / "work", key=key2048, nameserver=zone.address, relay=plain_relay,
                               starttls=False)
    del environment["EDM_SMTP__USERNAME"], environment["EDM_SMTP__PASSWORD"]

    result = doctor(environment, "--json", "--skip", "dns,rates,message,identity")

    assert result.exit_code == 0, result.stdout
    found = checks_of(result)
    assert found[f"127.0.0.1:{plain_relay.port} TLS"]["status"] == "WARN"
    assert found[f"127.0.0.1:{plain_relay.port} AUTH"]["status"] == "OK"


def test_a_refused_login_and_an_untrusted_certificate_are_errors(
        tmp_path: Path, zone: DnsServer, tls_relay: Relay, key2048: bytes) -> None:
    environment = write_folder(tmp_path / "work", key=key2048, nameserver=zone.address, relay=tls_relay)
    skip = ("--json", "--skip", "dns,rates,message,identity")

    wrong = doctor({**environment, "EDM_SMTP__PASSWORD": "not-it"}, *skip)
    untrusted = doctor({**environment, "SSL_CERT_FILE": str(tmp_path / "nothing.pem")}, *skip)

    login = checks_of(wrong)[f"127.0.0.1:{tls_relay.port} AUTH"]
    assert login["status"] == "ERROR" and "refused the login for 'edm'" in login["message"]
    assert "not-it" not in wrong.stdout
    tls = checks_of(untrusted)[f"127.0.0.1:{tls_relay.port} TLS"]
    assert tls["status"] == "ERROR" and "certificate" in tls["message"]


def test_the_sample_message_needs_https_for_one_click_unsubscribe(
        tmp_path: Path, zone: DnsServer, tls_relay: Relay, key2048: bytes) -> None:
    environment = write_folder(tmp_path / "work", key=key2048, nameserver=zone.address, relay=tls_relay,
                               tracking={"base_url": "http://t.acme.test"})

    result = doctor(environment, "--json", "--skip", "dns,relay,rates")

    found = checks_of(result)
    assert found["one-click unsubscribe"]["status"] == "ERROR"
    assert "tracking.base_url" in found["one-click unsubscribe"]["fix"]
    assert found["DKIM signature"]["status"] == "OK"
    assert result.exit_code == 1


def test_the_bundled_example_sender_is_an_identity_error(tmp_path: Path, zone: DnsServer, tls_relay: Relay,
                                                        key2048: bytes) -> None:
    environment = write_folder(tmp_path / "work", key=key2048, nameserver=zone.address, relay=tls_relay,
                               sender={"from_address": "Customer Care <care@example.com>",
                                       "return_path": None})

    result = doctor(environment, "--json", "--skip", "dns,relay,rates,message")

    found = checks_of(result)
    assert found["From address"]["status"] == "ERROR" and "example.com" in found["From address"]["message"]
    assert found["From name"]["status"] == "WARN"
    assert result.exit_code == 1


@pytest.mark.parametrize("arguments, complaint", [
    (["--skip", "dns,everything"], "unknown section everything"),
    (["--nameserver", "dns.example"], "expected an IP address"),
    (["--sending-ip", "mail.acme.test"], "is not an IP address"),
])
def test_bad_options_are_named(arguments: list[str], complaint: str, tmp_path: Path, zone: DnsServer,
                               tls_relay: Relay, key2048: bytes) -> None:
    environment = write_folder(tmp_path / "work", key=key2048, nameserver=zone.address, relay=tls_relay)
    result = CliRunner(env=environment).invoke(main, ["doctor", *arguments])
    assert result.exit_code == 2
    assert complaint in result.stderr


def test_without_sending_ip_the_relays_public_addresses_are_checked(
        tmp_path: Path, zone: DnsServer, tls_relay: Relay, key2048: bytes) -> None:
    public = "93.184.215.14"  # the relay's address in the test zone; nothing is sent to it
    zone.records[(f"relay.{DOMAIN}", "A")] = [public, "10.0.0.5"]  # the private one says nothing
    zone.records[(DOMAIN, "TXT")] = [f"v=spf1 a:relay.{DOMAIN} -all"]
    environment = write_folder(tmp_path / "work", key=key2048, nameserver=zone.address, relay=tls_relay,
                               smtp={"host": f"relay.{DOMAIN}"})

    result = CliRunner(env=environment).invoke(main, ["doctor", "--json", "--skip", "relay,rates"],
                                               catch_exceptions=False)

    found = checks_of(result)
    assert found[f"SPF covers {public}"]["status"] == "OK"
    assert found[f"reverse DNS {public}"]["status"] == "ERROR"  # the zone has no PTR for it
    assert not any("10.0.0.5" in name for name in found)
    assert result.exit_code == 1
