"""SendGrid's Event Webhook, signed (Twilio SendGrid "Event Webhook Security Features").

The signature (`X-Twilio-Email-Event-Webhook-Signature`, base64 DER) is ECDSA P-256 with SHA256
over the timestamp header's value followed by the exact body bytes; the verification key is
the base64 DER public key shown in SendGrid's mail settings. The body is a JSON array of events.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from edm.tracking.events import Feedback
from edm.tracking.hooks.common import (
    HookMalformed,
    HookRefused,
    Incoming,
    bracketed,
    epoch_time,
    json_body,
    text,
)

SOURCE = "sendgrid"
SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"
KINDS = {"spamreport": "complaint", "unsubscribe": "unsubscribe", "group_unsubscribe": "unsubscribe"}


def public_key(value: str) -> ec.EllipticCurvePublicKey:
    """The verification key from its base64 DER (or PEM) form; ValueError when it is none."""
    try:
        data = value.encode("ascii")
        key = (serialization.load_pem_public_key(data) if b"BEGIN" in data
               else serialization.load_der_public_key(base64.b64decode(data, validate=True)))
    except (binascii.Error, ValueError, UnsupportedAlgorithm, UnicodeEncodeError) as exc:
        raise ValueError("hooks.sendgrid_public_key is not a base64 public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise ValueError("hooks.sendgrid_public_key is not an elliptic-curve key")
    return key


def verify(incoming: Incoming, key: ec.EllipticCurvePublicKey) -> None:
    signature, timestamp = incoming.headers.get(SIGNATURE_HEADER), incoming.headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise HookRefused("no SendGrid signature", 401)
    try:
        key.verify(base64.b64decode(signature, validate=True), timestamp.encode("utf-8") + incoming.body,
                   ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise HookRefused("the SendGrid signature does not verify") from exc


def parse(body: bytes) -> list[dict[str, Any]]:
    events = json_body(body)
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise HookMalformed("not a list of SendGrid events")
    return events


def normalise(events: list[dict[str, Any]]) -> list[Feedback]:
    """Bounces (`blocked`: soft), spam reports and unsubscribes; other events are engagement, not ours."""
    found = []
    for event in events:
        name, email = event.get("event"), text(event.get("email"))
        if name == "bounce":
            kind = "soft_bounce" if event.get("type") == "blocked" else "bounce"
        else:
            kind = KINDS.get(str(name), "")
        if kind and email:
            ids = tuple(i for i in (bracketed(text(event.get("smtp-id"))),) if i)
            found.append(Feedback(kind, SOURCE, email, ids, epoch_time(event.get("timestamp")), event))
    return found
