"""HMAC-signed, URL-safe tokens for tracking links, with key rotation.

A token is `base64url(json) "." base64url(mac)`. The payload is readable (it holds ids and a
URL the recipient already has) but cannot be forged or altered without a key. New tokens are
signed with the newest key, and every listed key still verifies, so rotating the key never
breaks links in mail that is already delivered.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

MAC_BYTES = 16  # 128 bits: plenty against forgery, and keeps links short
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_JSON = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False)


def sign(payload: Mapping[str, Any], keys: Sequence[bytes]) -> str:
    """A token carrying `payload` (JSON-serialisable), signed with the newest key, `keys[0]`."""
    return sign_json(_JSON.encode(dict(payload)), keys)


def sign_json(text: str, keys: Sequence[bytes]) -> str:
    """A token carrying `text`, a JSON object written as `sign` writes one (keys sorted, no spaces,
    not ASCII-escaped), for callers that write their few fixed fields faster than `json` does."""
    if not keys:
        raise ValueError("sign() needs at least one key")
    body = _encode(text.encode("utf-8"))
    return f"{body}.{_encode(_mac(keys[0], body))}"


def json_string(value: str) -> str:
    """`value` as `sign` writes a string in its JSON."""
    return _JSON.encode(value)


def verify(token: str, keys: Sequence[bytes]) -> dict[str, Any] | None:
    """The payload if `token` was signed with any of `keys`; otherwise None, never an exception."""
    if not isinstance(token, str):
        return None
    body, dot, mac_text = token.partition(".")
    mac = _decode(mac_text) if dot else None
    data = _decode(body) if mac is not None and len(mac) == MAC_BYTES else None
    if data is None or mac is None:
        return None
    if not any(hmac.compare_digest(mac, _mac(key, body)) for key in keys):
        return None
    try:
        payload = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def _mac(key: bytes, body: str) -> bytes:
    mac = _keyed(key).copy()  # the key's pads are hashed once, not for every token
    mac.update(body.encode("ascii"))
    return mac.digest()[:MAC_BYTES]


@functools.lru_cache(maxsize=16)
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def _encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes | None:
    """Strict base64url: only the canonical spelling of some bytes decodes, so no two tokens
    (differing, say, in unused low bits of the last character) verify as the same one."""
    if not _SEGMENT.fullmatch(text):
        return None
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None
    return data if _encode(data) == text else None
