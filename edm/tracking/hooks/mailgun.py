"""Mailgun webhooks (one event a POST, JSON): `signature` {timestamp, token, signature} and `event-data`.

Verified as Mailgun documents ("Securing webhooks"): the signature is the hex HMAC-SHA256 of
timestamp + token under the webhook signing key. Mailgun advises refusing a token used before
and an old timestamp: both are refused here (ReplayGuard; `hooks.max_age_seconds`).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from typing import Any

from edm.tracking.events import Feedback
from edm.tracking.hooks.common import (
    HookMalformed,
    HookRefused,
    ReplayGuard,
    bracketed,
    epoch_time,
    json_body,
    mapping,
    text,
)

SOURCE = "mailgun"


def parse(body: bytes) -> dict[str, Any]:
    payload = json_body(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("event-data"), dict):
        raise HookMalformed("not a Mailgun webhook")
    return payload


def verify(payload: dict[str, Any], key: bytes, now: datetime, max_age: float, seen: ReplayGuard) -> None:
    signed = mapping(payload.get("signature"))
    timestamp, token, signature = (text(signed.get(k)) for k in ("timestamp", "token", "signature"))
    if timestamp is None or token is None or signature is None:
        raise HookRefused("no Mailgun signature", 401)
    expected = hmac.new(key, (timestamp + token).encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature.strip().lower()):
        raise HookRefused("the Mailgun signature does not verify")
    sent = epoch_time(timestamp)
    if sent is None or abs((now - sent).total_seconds()) > max_age:
        raise HookRefused("the Mailgun timestamp is too old (or in the future)")
    if not seen.first_time(token, now.timestamp(), now.timestamp() + 2 * max_age):
        raise HookRefused("the Mailgun token was used before (a replay)")


def normalise(payload: dict[str, Any]) -> list[Feedback]:
    data = mapping(payload.get("event-data"))
    event, email = data.get("event"), text(data.get("recipient"))
    if event == "failed":
        kind = "bounce" if data.get("severity") == "permanent" else "soft_bounce"
    else:
        kind = {"complained": "complaint", "unsubscribed": "unsubscribe"}.get(str(event), "")
    if not kind or email is None:
        return []
    headers = mapping(mapping(data.get("message")).get("headers"))
    ids = tuple(i for i in (bracketed(text(headers.get("message-id"))),) if i)
    return [Feedback(kind, SOURCE, email, ids, epoch_time(data.get("timestamp")), data)]
