"""Postmark webhooks (bounce, spam complaint, subscription change), protected by HTTP basic auth.

Postmark signs nothing: the webhook URL carries credentials (`https://user:pass@host/hooks/postmark`)
and Postmark sends them as basic auth, compared here in constant time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from typing import Any

from edm.tracking.events import Feedback
from edm.tracking.hooks.common import HookMalformed, HookRefused, Incoming, iso_time, json_body, text

SOURCE = "postmark"
HARD = ("HardBounce", "BadEmailAddress")
SOFT = ("SoftBounce", "Transient", "DnsError")
SUPPRESSION_KINDS = {"ManualSuppression": "unsubscribe", "HardBounce": "bounce", "SpamComplaint": "complaint"}


def verify(incoming: Incoming, username: str, password: str) -> None:
    scheme, _, encoded = incoming.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise HookRefused("no credentials", 401)
    try:
        user, colon, given = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, ValueError) as exc:
        raise HookRefused("unreadable credentials", 401) from exc
    right_user = hmac.compare_digest(user.encode(), username.encode())
    right_password = hmac.compare_digest(given.encode(), password.encode())
    if not (colon and right_user and right_password):
        raise HookRefused("wrong credentials", 401)


def parse(body: bytes) -> dict[str, Any]:
    payload = json_body(body)
    if not isinstance(payload, dict) or not isinstance(payload.get("RecordType"), str):
        raise HookMalformed("not a Postmark webhook")
    return payload


def normalise(payload: dict[str, Any]) -> list[Feedback]:
    record = payload.get("RecordType")
    kind = ""
    if record == "SpamComplaint":
        kind = "complaint"
    elif record == "Bounce":
        kind = {**dict.fromkeys(HARD, "bounce"), **dict.fromkeys(SOFT, "soft_bounce"),
                "SpamComplaint": "complaint", "Unsubscribe": "unsubscribe"}.get(str(payload.get("Type")), "")
    elif record == "SubscriptionChange" and payload.get("SuppressSending") is True:
        kind = SUPPRESSION_KINDS.get(str(payload.get("SuppressionReason")), "")
    email = text(payload.get("Email")) or text(payload.get("Recipient"))
    if not kind or email is None:
        return []
    when = iso_time(payload.get("BouncedAt")) or iso_time(payload.get("ChangedAt"))
    # Postmark's MessageID is its own; the mail is found by the recipient's address
    return [Feedback(kind, SOURCE, email, (), when, payload)]
