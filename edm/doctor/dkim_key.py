"""Does the DKIM key published at `selector._domainkey.domain` belong to the key we sign with?

Receivers verify our signatures with the published `p=` key; a different key (an old one, a
typo) fails DKIM for every message. Keys under 1024 bits are ignored by receivers (RFC 8301);
2048 is what to publish. Pure: TXT texts and PEM bytes in, `Check`s out. `cryptography`'s
exceptions end here (and in `edm.delivery.dkim`, the signer).
"""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from edm.doctor.report import Check, error, ok, warn

MIN_BITS = 1024  # RFC 8301: verifiers ignore shorter keys
GOOD_BITS = 2048
SECTION = "dns"
NAME = "DKIM key"
GENERATE = ("generate a 2048-bit key (openssl genrsa -out dkim.pem 2048), publish its public half "
            "(openssl rsa -in dkim.pem -pubout) as p= and set sender.dkim_private_key_file")


def parse_tags(text: str) -> dict[str, str]:
    """`v=DKIM1; k=rsa; p=MIG...` as {tag: value}, whitespace (folding) removed from values."""
    tags = {}
    for part in text.split(";"):
        name, equals, value = part.partition("=")
        if equals:
            tags[name.strip().lower()] = "".join(value.split())
    return tags


def _public_der(p: str) -> tuple[bytes, int] | None:
    """(SubjectPublicKeyInfo DER, bits) of a p= value, or None if it is no RSA public key."""
    try:
        der = base64.b64decode(p, validate=True)
        key = serialization.load_der_public_key(der)
    except (binascii.Error, ValueError, UnsupportedAlgorithm):
        return None
    if not isinstance(key, rsa.RSAPublicKey):
        return None
    return _spki(key), key.key_size


def _spki(key: rsa.RSAPublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def private_public_der(pem: bytes) -> tuple[bytes, int] | None:
    """(the public key's DER, bits) of an unencrypted RSA private key PEM, or None if it is not one."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    if not isinstance(key, rsa.RSAPrivateKey):
        return None
    return _spki(key.public_key()), key.key_size


def judge_dkim_key(name: str, records: list[str], private_pem: bytes | None) -> list[Check]:
    """Checks for the DKIM key record at `name` (TXT texts `records`) against our private key."""
    if private_pem is None:
        return [error(SECTION, NAME, "DKIM is not configured: mail goes out unsigned, and Gmail, Yahoo and "
                      "Outlook refuse unsigned bulk mail",
                      "set sender.dkim_selector and the key (EDM_SENDER__DKIM_PRIVATE_KEY or "
                      f"sender.dkim_private_key_file); {GENERATE}")]
    ours = private_public_der(private_pem)
    if ours is None:
        return [error(SECTION, NAME, "the configured DKIM private key is not an unencrypted RSA PEM key",
                      GENERATE)]
    keys = [tags for tags in map(parse_tags, records) if "p" in tags]
    if not keys:
        return [error(SECTION, NAME, f"no DKIM key record at {name}",
                      f"publish TXT {name} \"v=DKIM1; k=rsa; p=<your public key, base64>\"")]
    if len(keys) > 1:
        return [error(SECTION, NAME, f"{len(keys)} DKIM key records at {name}: receivers may pick either",
                      "keep one record at the selector")]
    tags = keys[0]
    if not tags["p"]:
        return [error(SECTION, NAME, f"the key at {name} is revoked (empty p=)",
                      "publish the current public key, or sign with another selector")]
    if tags.get("k", "rsa").lower() != "rsa":
        return [error(SECTION, NAME, f"the key at {name} is k={tags['k']}, but edm signs with RSA",
                      "publish the RSA public key of the configured private key")]
    published = _public_der(tags["p"])
    if published is None:
        return [error(SECTION, NAME, f"p= at {name} is not a base64 RSA public key",
                      "copy the base64 between the BEGIN/END PUBLIC KEY lines into p=, without spaces")]
    if published[0] != ours[0]:
        return [error(SECTION, NAME, f"the key published at {name} is not the public half of the configured "
                      "private key: every signature fails",
                      "publish the public key of the configured key (openssl rsa -in dkim.pem -pubout), "
                      "or configure the private key that belongs to the published one")]
    bits = published[1]
    if bits < MIN_BITS:
        return [error(SECTION, NAME, f"the key at {name} has {bits} bits: receivers ignore keys under "
                      f"{MIN_BITS} bits", GENERATE)]
    if bits < GOOD_BITS:
        return [warn(SECTION, NAME, f"the key at {name} matches but has {bits} bits; {GOOD_BITS} is what "
                     "providers recommend", GENERATE + ", under a new selector")]
    return [ok(SECTION, NAME, f"the key at {name} matches the configured private key ({bits} bits)")]


__all__ = ["GOOD_BITS", "MIN_BITS", "judge_dkim_key", "parse_tags", "private_public_der"]
