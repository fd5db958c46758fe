"""Bulk sending does not start while DNS or identity has an ERROR, unless --i-know or enforce: false."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from edm.cli import main
from edm.config import load_settings
from edm.resources import bundled_config_dir
from edm.runner import open_store
from tests.delivery.rows import queue, states
from tests.doctor.conftest import DOMAIN, Relay, write_folder
from tests.doctor.dns_zone import DnsServer

RECIPIENT = "ann@customer.test"


def _folder(tmp_path: Path, zone: DnsServer, relay: Relay, key: bytes, **sections: Any) -> dict[str, str]:
    folder = tmp_path / "work"
    environment = write_folder(folder, key=key, nameserver=zone.address, relay=relay, **sections)
    shutil.copytree(bundled_config_dir() / "campaigns", folder / "campaigns")
    settings = load_settings(folder / "edm.yaml", {"EDM_SECRET_KEY": environment["EDM_SECRET_KEY"]})
    queue(open_store(settings), [RECIPIENT], datetime.now(UTC))
    return environment


def _edm(environment: dict[str, str], *arguments: str) -> Result:
    return CliRunner(env=environment).invoke(main, list(arguments), catch_exceptions=False)


def _sessions(environment: dict[str, str]) -> Any:
    return open_store(load_settings(Path(environment["EDM_CONFIG"]), {}))


def test_send_refuses_while_dns_has_an_error_and_says_why(tmp_path: Path, zone: DnsServer, tls_relay: Relay,
                                                          key2048: bytes) -> None:
    del zone.records[(f"_dmarc.{DOMAIN}", "TXT")]
    environment = _folder(tmp_path, zone, tls_relay, key2048, deliverability={"enforce": True})

    result = _edm(environment, "send", "--no-wait")

    assert result.exit_code == 1
    assert "not sending: mailbox providers would refuse this mail (1 error)" in result.stderr
    assert f"DMARC record: no DMARC record at _dmarc.{DOMAIN}" in result.stderr
    assert "--i-know" in result.stderr and "Traceback" not in result.output
    assert tls_relay.handler.messages == []
    assert states(_sessions(environment)) == {RECIPIENT: "queued"}


def test_i_know_sends_anyway(tmp_path: Path, zone: DnsServer, tls_relay: Relay, key2048: bytes) -> None:
    del zone.records[(f"_dmarc.{DOMAIN}", "TXT")]
    environment = _folder(tmp_path, zone, tls_relay, key2048, deliverability={"enforce": True})

    result = _edm(environment, "send", "--no-wait", "--i-know")

    assert result.exit_code == 0, result.output
    assert [str(m["To"]) for m in tls_relay.handler.messages] == [f"ann <{RECIPIENT}>"]
    assert states(_sessions(environment)) == {RECIPIENT: "sent"}


def test_a_sound_setup_sends_through_the_gate(tmp_path: Path, zone: DnsServer, tls_relay: Relay,
                                              key2048: bytes) -> None:
    environment = _folder(tmp_path, zone, tls_relay, key2048, deliverability={"enforce": True})

    result = _edm(environment, "send", "--no-wait")

    assert result.exit_code == 0, result.output
    assert len(tls_relay.handler.messages) == 1
    assert (f"_dmarc.{DOMAIN}", "TXT") in zone.asked  # the gate did look


@pytest.mark.parametrize("enforce", ["remote", False])
def test_a_relay_on_this_machine_is_not_gated_unless_asked(
        enforce: str | bool, tmp_path: Path, zone: DnsServer, tls_relay: Relay, key2048: bytes) -> None:
    """The default ("remote") leaves the demo's sink and test relays on 127.0.0.1 alone; false never gates."""
    del zone.records[(DOMAIN, "TXT")]
    environment = _folder(tmp_path, zone, tls_relay, key2048, deliverability={"enforce": enforce})

    result = _edm(environment, "send", "--no-wait")

    assert result.exit_code == 0, result.output
    assert len(tls_relay.handler.messages) == 1
    assert zone.asked == []


def test_a_remote_relay_is_gated_by_default(tmp_path: Path, zone: DnsServer, tls_relay: Relay,
                                            key2048: bytes) -> None:
    """A relay elsewhere (a name the test DNS does not know) is gated; the identity error stops it."""
    environment = _folder(tmp_path, zone, tls_relay, key2048,
                          sender={"from_address": "Customer Care <care@example.com>", "return_path": None},
                          smtp={"host": "relay.acme.test"})

    result = _edm(environment, "send", "--no-wait")

    assert result.exit_code == 1
    assert "From address: sender.from_address is care@example.com" in result.stderr
    assert "sending address" not in result.stderr  # a WARN: the relay may be a name only its network knows


def test_campaign_run_and_the_daemon_refuse_too(tmp_path: Path, zone: DnsServer, tls_relay: Relay,
                                                key2048: bytes) -> None:
    zone.records[(DOMAIN, "TXT")] = ["v=spf1 +all"]
    environment = _folder(tmp_path, zone, tls_relay, key2048, deliverability={"enforce": True})

    run = _edm(environment, "campaign", "run", "win_back")
    daemon = _edm(environment, "daemon")

    for result in (run, daemon):
        assert result.exit_code == 1
        assert "SPF record: acme.test ends in +all" in result.stderr
    assert tls_relay.handler.messages == []
    assert states(_sessions(environment)) == {RECIPIENT: "queued"}
    dry = _edm(environment, "campaign", "run", "win_back", "--dry-run")  # a dry run sends nothing: not gated
    assert "not sending" not in dry.output
