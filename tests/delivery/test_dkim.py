"""DKIM signatures, checked by verifiers that share no code with the signer.

The first is Perl's Mail::DKIM (Debian's libmail-dkim-perl, installed by .ci/run), fed the
public key through a stand-in for its DNS lookup; the second is dkimpy's verifier.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import SecretStr

from edm.config import SenderSettings, default_settings, load_settings
from edm.delivery.dkim import DkimSigner, signer_from_settings
from edm.delivery.message import Mailbox, MessageBuilder
from edm.errors import ConfigError
from tests.delivery.external import needs

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)
SELECTOR = "edm2026"
DOMAIN = "acme.example"
VERIFY_PL = r"""
use strict; use warnings;
use Mail::DKIM::Verifier;
use Net::DNS::RR;
my ($name, $txt, @files) = @ARGV;
{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {    # the one TXT record, instead of asking DNS
        my ($domain, $type) = @_;
        if (lc $domain eq lc $name && $type eq 'TXT') {
            $@ = 'NOERROR';
            return (Net::DNS::RR->new(name => $domain, type => 'TXT', txtdata => [unpack('(A255)*', $txt)]));
        }
        $@ = 'NXDOMAIN';
        return;
    };
}
for my $file (@files) {
    my $dkim = Mail::DKIM::Verifier->new();
    open(my $fh, '<:raw', $file) or die "cannot read $file";
    while (my $line = <$fh>) { $dkim->PRINT($line); }
    $dkim->CLOSE;
    my @sigs = $dkim->signatures;
    print join(' ', $dkim->result_detail, map { $_->domain } @sigs), "\n";
}
"""


def _perl_has_mail_dkim() -> bool:
    if shutil.which("perl") is None:
        return False
    return (
        subprocess.run(
            ["perl", "-MMail::DKIM::Verifier", "-MNet::DNS::RR", "-e", "1"], capture_output=True
        ).returncode
        == 0
    )


needs_mail_dkim = needs(
    _perl_has_mail_dkim(),
    "Perl's Mail::DKIM is not installed (apt-get install libmail-dkim-perl, as .ci/run does)",
)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def dns_txt(key: rsa.RSAPrivateKey) -> str:
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "v=DKIM1; k=rsa; p=" + base64.b64encode(public).decode("ascii")


def mail_dkim(key: rsa.RSAPrivateKey, messages: list[bytes], tmp_path: Path) -> list[str]:
    """Mail::DKIM's verdict per message: 'pass acme.example', 'fail (body has been altered) ...'."""
    script = tmp_path / "verify.pl"
    script.write_text(VERIFY_PL)
    files = []
    for n, message in enumerate(messages):
        files.append(tmp_path / f"m{n}.eml")
        files[-1].write_bytes(message)
    run = subprocess.run(
        ["perl", str(script), f"{SELECTOR}._domainkey.{DOMAIN}", dns_txt(key), *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return run.stdout.splitlines()


def dkimpy(key: rsa.RSAPrivateKey, message: bytes) -> bool:
    def txt(name: bytes, timeout: int = 5) -> bytes:
        assert name == f"{SELECTOR}._domainkey.{DOMAIN}.".encode()
        return dns_txt(key).encode()

    return bool(dkim.verify(message, dnsfunc=txt))


def message(
    name: str = "王芳",
    subject: str = "王芳，新春快乐",
    text: str = "你好\n",
    html: str = "<p>你好</p>\n",
    from_address: str = f"Acme 客户关怀 <care@{DOMAIN}>",
) -> bytes:
    builder = MessageBuilder(
        sender=Mailbox.parse(from_address), reply_to=None, unsubscribe_mailto=f"unsubscribe@{DOMAIN}"
    )
    return builder.build(
        to=Mailbox(name, "wang@example.com"),
        subject=subject,
        text=text,
        html=html,
        message_id=f"<{'a' * 32}@{DOMAIN}>",
        unsubscribe_url="https://t.example/u/x",
        date=NOW,
    )


def signer(key: rsa.RSAPrivateKey, **settings: object) -> DkimSigner:
    sender = SenderSettings(
        from_address=f"Acme <care@{DOMAIN}>",
        dkim_selector=SELECTOR,
        dkim_private_key=SecretStr(pem(key).decode()),
        **settings,
    )  # type: ignore[arg-type]
    made = signer_from_settings(sender)
    assert made is not None
    return made


# Messages whose canonicalisation is easy to get wrong: whitespace runs and tabs, trailing
# blanks, empty lines at the end of the body, long folded headers, an ASCII-only mail.
VARIED = [
    {},
    {"subject": "Spring   greetings,\tdear  customer " * 4, "name": "Alice  Wang"},
    {"text": "line with trailing blanks   \t\nand  inner   runs\n\n\n\n", "html": "<p>x</p>\n\n\n"},
    {"text": "", "html": ""},
    {
        "subject": "尊敬的客户，感谢您多年来的支持与信任" * 5,
        "name": "深圳市某某计算机系统有限公司华南区客户服务中心",
    },
    {"text": "x" * 500 + "\n", "html": "<p>" + "中" * 400 + "</p>"},
]


@needs_mail_dkim
def test_signatures_verify_with_perls_mail_dkim_and_with_dkimpy(
    key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    sign = signer(key)
    signed = [sign.sign(message(**case)) for case in VARIED]  # type: ignore[arg-type]
    assert mail_dkim(key, signed, tmp_path) == [f"pass {DOMAIN}"] * len(VARIED)
    assert all(dkimpy(key, one) for one in signed)


@needs_mail_dkim
def test_tampering_with_the_body_or_a_signed_header_fails_verification(
    key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    signed = signer(key).sign(message(text="Pay 10 USD\n"))
    body = signed.replace(b"Pay 10 USD", b"Pay 99 USD")
    subject = signed.replace(b"Subject: =?utf-8?b?", b"Subject: =?utf-8?B?X")
    extra_reply_to = signed.replace(b"\r\nTo: ", b"\r\nReply-To: thief@evil.example\r\nTo: ", 1)
    verdicts = mail_dkim(key, [signed, body, subject, extra_reply_to], tmp_path)
    assert verdicts[0] == f"pass {DOMAIN}"
    assert verdicts[1].startswith("fail (body has been altered)")
    assert verdicts[2].startswith("fail") and verdicts[3].startswith("fail")
    assert [dkimpy(key, one) for one in (signed, body, subject, extra_reply_to)] == [
        True,
        False,
        False,
        False,
    ]


def test_the_signing_domain_is_the_from_domain_unless_configured(key: rsa.RSAPrivateKey) -> None:
    assert signer(key).domain == DOMAIN  # aligned with From, as Gmail's bulk-sender rules want
    assert signer(key, dkim_domain="mail.acme.example").domain == "mail.acme.example"
    signed = signer(key).sign(message())
    assert signed.startswith(
        b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n d=acme.example; s=edm2026;"
    )
    head = signed.partition(b"\r\n\r\n")[0]
    assert max(len(line) for line in head.split(b"\r\n")) <= 78


def test_dkim_is_off_until_configured_and_half_a_setup_is_an_error(
    key: rsa.RSAPrivateKey, tmp_path: Path
) -> None:
    assert signer_from_settings(SenderSettings()) is None
    with pytest.raises(ConfigError, match="needs both"):
        signer_from_settings(SenderSettings(dkim_selector=SELECTOR))
    with pytest.raises(ConfigError, match="needs both"):
        signer_from_settings(SenderSettings(dkim_private_key=SecretStr(pem(key).decode())))
    key_file = tmp_path / "dkim.pem"
    key_file.write_bytes(pem(key))
    from_file = signer_from_settings(SenderSettings(dkim_selector=SELECTOR, dkim_private_key_file=key_file))
    assert from_file is not None and from_file.domain == "example.com"  # the default From's domain
    with pytest.raises(ConfigError, match="cannot read"):
        signer_from_settings(SenderSettings(dkim_selector=SELECTOR, dkim_private_key_file=tmp_path / "nope"))


def test_the_key_comes_from_the_environment_only_and_never_shows(
    key: rsa.RSAPrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    text = pem(key).decode()
    escaped = text.replace("\n", "\\n")  # how a PEM often travels in one environment line
    settings = default_settings(
        environ={"EDM_SENDER__DKIM_SELECTOR": SELECTOR, "EDM_SENDER__DKIM_PRIVATE_KEY": escaped}
    )
    made = signer_from_settings(settings.sender)
    assert made is not None and made.selector == SELECTOR
    secret_line = text.splitlines()[1]
    assert secret_line not in repr(settings) and secret_line not in repr(made)

    config = tmp_path / "edm.yaml"
    config.write_text(f"sender:\n  dkim_private_key: {escaped!r}\n")
    with pytest.raises(ConfigError, match="secrets belong in the environment"):
        load_settings(config, {})


@pytest.mark.parametrize(
    "bad",
    [b"-----BEGIN PRIVATE KEY-----\nMIIsecretsecret\n-----END PRIVATE KEY-----\n", b"not a key at all"],
)
def test_an_unusable_key_is_a_config_error_that_does_not_quote_it(bad: bytes) -> None:
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key") as caught:
        DkimSigner(selector=SELECTOR, domain=DOMAIN, private_key=bad)
    assert "secret" not in str(caught.value)


def test_only_rsa_keys_sign() -> None:
    with pytest.raises(ConfigError, match="must be an RSA key"):
        DkimSigner(selector=SELECTOR, domain=DOMAIN, private_key=pem(ec.generate_private_key(ec.SECP256R1())))
    with pytest.raises(ConfigError, match="plain ASCII"):
        DkimSigner(selector="a b", domain=DOMAIN, private_key=b"")
