"""Sign message bytes with DKIM (RFC 6376), so receivers can tie the mail to the From domain.

Gmail's and Yahoo's bulk-sender rules want a DKIM signature whose `d=` domain is the From
domain, so `dkim_domain` defaults to it. The private key comes from the environment
(`EDM_SENDER__DKIM_PRIVATE_KEY`, PEM text) or a key file, never from the settings file,
and is never logged: errors say which setting to fix, not what the key holds.

Why not dkimpy's signer: it does RSA in pure Python, about 7 ms a message here, which
would cap a sender at ~140 mails a second. Relaxed canonicalisation of the headers and
body edm itself wrote is a few lines; the RSA signature is OpenSSL's, through
`cryptography` (~0.3 ms). The tests verify every signature with two independent
verifiers (Perl's Mail::DKIM, and dkimpy).

`cryptography`'s exceptions become `ConfigError` here and nowhere else.
"""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from edm.config import SenderSettings
from edm.delivery.message import Mailbox
from edm.errors import ConfigError

# Every header a receiver or a list owner cares about. One absent from a message is still
# listed, which makes adding it later break the signature (RFC 6376 5.4.2).
SIGNED_HEADERS = (
    "From", "Reply-To", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type",
    "List-Unsubscribe", "List-Unsubscribe-Post",
)
MIN_KEY_BITS = 1024  # RFC 8301; 2048 is what to generate
_WSP_RUN = re.compile(rb"[ \t]+")
_SIGNATURE_CHUNK = 72  # characters of b= per folded line


class DkimSigner:
    """Signs with one RSA key: rsa-sha256, relaxed/relaxed canonicalisation."""

    def __init__(self, *, selector: str, domain: str, private_key: bytes) -> None:
        if not (re.fullmatch(r"[A-Za-z0-9._-]+", selector) and re.fullmatch(r"[A-Za-z0-9.-]+", domain)):
            raise ConfigError("sender.dkim_selector and sender.dkim_domain must be plain ASCII names "
                              "(an internationalised domain as its xn-- form)")
        self.selector = selector
        self.domain = domain.lower()
        self._key = _load_key(private_key)
        names = [name.lower().encode("ascii") for name in SIGNED_HEADERS]
        self._wanted = names
        self._tags = (
            f"v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n d={self.domain}; s={selector};\r\n"
            f" h={_folded_list([name.decode() for name in names])};\r\n"
        )

    def __repr__(self) -> str:
        return f"DkimSigner(selector={self.selector!r}, domain={self.domain!r})"  # never the key

    def sign(self, message: bytes) -> bytes:
        """`message` (CRLF line ends, as `MessageBuilder` writes it) with a DKIM-Signature in front."""
        head, separator, body = message.partition(b"\r\n\r\n")
        if not separator:
            raise ValueError("a message needs a blank line between its headers and its body")
        fields: dict[bytes, bytes] = {}
        for field in _fields(head):
            name = field.split(b":", 1)[0].strip().lower()
            fields[name] = field  # the last one of a name is the one signed (we write each once)
        body_hash = base64.b64encode(hashlib.sha256(_relaxed_body(body)).digest()).decode("ascii")
        unsigned = f"DKIM-Signature: {self._tags} bh={body_hash};\r\n b="
        signed_data = b"".join(_relaxed_header(fields[name]) for name in self._wanted if name in fields)
        signed_data += _relaxed_header(unsigned.encode("ascii")).removesuffix(b"\r\n")
        signature = base64.b64encode(self._key.sign(signed_data, padding.PKCS1v15(), hashes.SHA256()))
        chunks = [signature[i : i + _SIGNATURE_CHUNK] for i in range(0, len(signature), _SIGNATURE_CHUNK)]
        return unsigned.encode("ascii") + b"\r\n ".join(chunks) + b"\r\n" + message


def signer_from_settings(sender: SenderSettings) -> DkimSigner | None:
    """The signer the settings ask for, or None when DKIM is not configured.

    A selector without a key (or a key without a selector) is a ConfigError: half a DKIM
    setup would silently send unsigned mail.
    """
    key = _private_key(sender)
    if sender.dkim_selector is None and key is None:
        return None
    if sender.dkim_selector is None or key is None:
        raise ConfigError(
            "DKIM needs both sender.dkim_selector and a key (EDM_SENDER__DKIM_PRIVATE_KEY or "
            "sender.dkim_private_key_file)"
        )
    domain = sender.dkim_domain or Mailbox.parse(sender.from_address).address.rpartition("@")[2]
    return DkimSigner(selector=sender.dkim_selector, domain=domain, private_key=key)


def _folded_list(names: list[str]) -> str:
    """'a:b:c' broken (after a colon, where FWS is allowed) into lines of at most 78."""
    lines = [" h="]
    for name in names:
        if len(lines[-1]) + len(name) + 2 > 78:
            lines.append(" ")
        lines[-1] += name + ":"
    return "\r\n".join(lines).removeprefix(" h=").removesuffix(":")


def _fields(head: bytes) -> list[bytes]:
    """Header fields, each with its folding kept and its CRLF."""
    fields: list[bytes] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line + b"\r\n"
        else:
            fields.append(line + b"\r\n")
    return fields


def _relaxed_header(field: bytes) -> bytes:
    """RFC 6376 3.4.2: name lower-cased, unfolded, whitespace runs as one space, none around ':'."""
    name, _, value = field.partition(b":")
    value = _WSP_RUN.sub(b" ", value.replace(b"\r\n", b"")).strip(b" ")
    return name.strip(b" \t").lower() + b":" + value + b"\r\n"


def _relaxed_body(body: bytes) -> bytes:
    """RFC 6376 3.4.4: whitespace runs as one space, none at line ends, no empty lines at the end."""
    lines = [_WSP_RUN.sub(b" ", line).rstrip(b" ") for line in body.split(b"\r\n")]
    while lines and not lines[-1]:
        lines.pop()
    return b"".join(line + b"\r\n" for line in lines)


def _load_key(pem: bytes) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise ConfigError(
            "the DKIM private key (EDM_SENDER__DKIM_PRIVATE_KEY or sender.dkim_private_key_file) is not "
            "an unencrypted PEM private key"
        ) from None  # the underlying error may quote the key
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ConfigError(f"the DKIM private key must be an RSA key, not {type(key).__name__}")
    if key.key_size < MIN_KEY_BITS:
        raise ConfigError(
            f"the DKIM private key has {key.key_size} bits; receivers want at least {MIN_KEY_BITS} (use 2048)"
        )
    return key


def private_key_pem(sender: SenderSettings) -> bytes | None:
    """The configured private key's PEM bytes (environment or key file), or None; for `edm doctor`."""
    return _private_key(sender)


def _private_key(sender: SenderSettings) -> bytes | None:
    if sender.dkim_private_key is not None:
        # An environment variable often carries the PEM's line breaks as literal "\n".
        return sender.dkim_private_key.get_secret_value().replace("\\n", "\n").encode("utf-8")
    if sender.dkim_private_key_file is None:
        return None
    try:
        return sender.dkim_private_key_file.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"sender.dkim_private_key_file: cannot read {sender.dkim_private_key_file}: {exc.strerror}"
        ) from exc


__all__ = ["MIN_KEY_BITS", "SIGNED_HEADERS", "DkimSigner", "private_key_pem", "signer_from_settings"]
