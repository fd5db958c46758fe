"""Sample bounces and complaints name our mail by Message-ID: give their ids the keyed tag edm writes."""

from __future__ import annotations

import re

from edm.delivery.message import mail_tag
from tests.conftest import SECRET_KEY

KEYS = (SECRET_KEY.encode(),)
_UNTAGGED = re.compile(rb"(?<![0-9A-Fa-f.])([0-9a-fA-F]{32})@")


def tagged(raw: bytes, key: bytes = KEYS[0]) -> bytes:
    """`raw` with every untagged id of ours (32 hex digits before an @) tagged under `key`."""
    return _UNTAGGED.sub(lambda m: m[1] + b"." + mail_tag(m[1].decode(), key).encode() + b"@", raw)
