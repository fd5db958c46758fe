"""Standard Webhooks signatures (https://www.standardwebhooks.com): pure, no I/O.

signature = base64(HMAC-SHA256(key, f"{webhook-id}.{webhook-timestamp}.{body}")), sent as
`webhook-signature: v1,<signature>`; the key is the base64 after `whsec_` in the secret.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as random_bytes
from collections.abc import Iterable, Mapping

PREFIX = "whsec_"
VERSION = "v1"
TOLERANCE_SECONDS = 300  # what the specification suggests: older (or later) messages are refused


def new_secret() -> str:
    """A fresh `whsec_` secret of 32 random bytes."""
    return PREFIX + base64.b64encode(random_bytes.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key inside a `whsec_<base64>` secret; ValueError (naming no secret) when it is not one."""
    text = secret.strip().removeprefix(PREFIX)
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not a whsec_<base64> secret") from None
    if len(key) < 16:
        raise ValueError("the secret is shorter than 16 bytes")
    return key


def signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of the signed content."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, content, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode()}"


def headers(keys: Iterable[bytes], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers; several keys (a rotation) give several space-separated signatures."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(key, msg_id, timestamp, body) for key in keys),
    }


def verify(key: bytes, sent: Mapping[str, str], body: bytes, now: int,
           tolerance: int = TOLERANCE_SECONDS) -> bool:
    """Whether `sent` (header names lower-case) carries a valid v1 signature of `body`, timely."""
    msg_id, stamp = sent.get("webhook-id"), sent.get("webhook-timestamp")
    given = sent.get("webhook-signature")
    if not msg_id or not stamp or not given or not stamp.isdigit():
        return False
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance:
        return False
    expected = signature(key, msg_id, timestamp, body)
    return any(hmac.compare_digest(expected, part) for part in given.split(" ") if part.startswith("v1,"))
