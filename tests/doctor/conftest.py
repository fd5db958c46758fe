"""Fixtures for `edm doctor`: a DNS server with a good zone, DKIM keys, a TLS relay, a working folder."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from edm.delivery.sink import free_port
from tests.conftest import SECRET_KEY, RecordingHandler
from tests.doctor.dns_zone import DnsServer, Records, dns_server

DATA = Path(__file__).parent / "data"
DOMAIN = "acme.test"
SENDING_IP = "192.0.2.10"
SELECTOR = "s1"
USER, PASSWORD = "edm", "relay-password"


def new_key(bits: int) -> bytes:
    """An RSA private key as PEM; 512 bits (which `cryptography` no longer makes) from a file."""
    if bits < 1024:
        return (DATA / "dkim512.pem").read_bytes()
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_b64(pem: bytes) -> str:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


@pytest.fixture(scope="session")
def key2048() -> bytes:
    return new_key(2048)


def good_records(key: bytes) -> Records:
    """acme.test as a careful sender publishes it."""
    return {
        (DOMAIN, "TXT"): [f"v=spf1 ip4:{SENDING_IP} include:_spf.{DOMAIN} -all", "site-verification=x"],
        (f"_spf.{DOMAIN}", "TXT"): ["v=spf1 ip4:198.51.100.0/24 ip6:2001:db8::/32 -all"],
        (f"{SELECTOR}._domainkey.{DOMAIN}", "TXT"): [f"v=DKIM1; k=rsa; p={public_b64(key)}"],
        (f"_dmarc.{DOMAIN}", "TXT"): [f"v=DMARC1; p=quarantine; rua=mailto:dmarc@{DOMAIN}"],
        ("10.2.0.192.in-addr.arpa", "PTR"): [f"mail.{DOMAIN}."],
        (f"mail.{DOMAIN}", "A"): [SENDING_IP],
        (f"_mta-sts.{DOMAIN}", "TXT"): ["v=STSv1; id=20240101"],
        (f"_smtp._tls.{DOMAIN}", "TXT"): [f"v=TLSRPTv1; rua=mailto:tls@{DOMAIN}"],
    }


@pytest.fixture
def zone(key2048: bytes) -> Iterator[DnsServer]:
    with dns_server(good_records(key2048)) as server:
        yield server


@dataclass
class Relay:
    port: int
    handler: RecordingHandler
    ca_file: Path


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    good = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(), PASSWORD.encode())
    return AuthResult(success=good, handled=False)


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_relay(tmp_path: Path, ca: trustme.CA) -> Iterator[Relay]:
    """aiosmtpd demanding STARTTLS (a certificate for 127.0.0.1 from a test CA) and a login."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, authenticator=_authenticator, auth_require_tls=True)
    controller.start()
    yield Relay(port, handler, ca_file)
    controller.stop()


@pytest.fixture
def plain_relay(tmp_path: Path) -> Iterator[Relay]:
    """aiosmtpd without STARTTLS or AUTH."""
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield Relay(port, handler, tmp_path / "no-ca.pem")
    controller.stop()


def write_folder(folder: Path, *, key: bytes, nameserver: str, relay: Relay, starttls: bool = True,
                 **sections: dict[str, Any]) -> dict[str, str]:
    """A working folder for acme.test (edm.yaml, the DKIM key file); returns the environment to run in.
    `sections` are merged over the settings, e.g. sender={"return_path": "b@other.test"}."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dkim.pem").write_bytes(key)
    settings: dict[str, Any] = {
        "database_url": "sqlite:///edm.db",
        "sender": {"from_address": f"Acme Trading <news@{DOMAIN}>", "return_path": f"bounces@{DOMAIN}",
                   "dkim_selector": SELECTOR, "dkim_private_key_file": str(folder / "dkim.pem")},
        "smtp": {"host": "127.0.0.1", "port": relay.port, "starttls": starttls, "timeout_seconds": 5,
                 "give_up_after_seconds": 2, "compose_processes": 0},
        "tracking": {"base_url": f"https://t.{DOMAIN}"},
        "deliverability": {"nameservers": [nameserver]},
        "brand": {"company": {"en": "Acme Trading", "zh-Hans": "阿克米贸易"}, "website": f"https://www.{DOMAIN}",
                  "postal_address": {"en": "1 Harbour Road, Hong Kong", "zh-Hans": "香港海港道1号"}},
    }
    for name, values in sections.items():
        settings[name] = {**settings.get(name, {}), **values}
    (folder / "edm.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    return {"EDM_CONFIG": str(folder / "edm.yaml"), "EDM_SECRET_KEY": SECRET_KEY,
            "EDM_SMTP__USERNAME": USER, "EDM_SMTP__PASSWORD": PASSWORD,
            "SSL_CERT_FILE": str(relay.ca_file)}
