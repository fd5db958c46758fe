"""Amazon SES bounce and complaint notifications, delivered by Amazon SNS.

Verified as the SNS documentation says ("Verifying the signatures of Amazon SNS messages"):
the string to sign is the named fields, each as `Name\\nvalue\\n`, in a fixed order
(Notification: Message, MessageId, Subject if present, Timestamp, TopicArn, Type;
SubscriptionConfirmation and UnsubscribeConfirmation: Message, MessageId, SubscribeURL,
Timestamp, Token, TopicArn, Type); `Signature` is RSA PKCS#1 v1.5 over it with SHA1
(SignatureVersion 1) or SHA256 (2), by the key in the certificate at `SigningCertURL`. That URL
must be https on an SNS host of AWS (`sns.<region>.amazonaws.com[.cn]`): no other is fetched.
SNS signs every topic's messages alike, so only the configured topics are taken.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import ssl
import threading
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from edm.tracking.events import Feedback
from edm.tracking.hooks.common import (
    HookMalformed,
    HookRefused,
    bracketed,
    iso_time,
    items,
    json_body,
    mapping,
    text,
)

SOURCE = "ses"
NOTIFICATION_FIELDS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
CONFIRMATIONS = ("SubscriptionConfirmation", "UnsubscribeConfirmation")
HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
REQUIRED = ("Type", "TopicArn")
CERT_MAX_BYTES = 64 * 1024
FETCH_TIMEOUT = 10.0

Fetch = Callable[[str], bytes]
"""GET an https URL and return the body (the signing certificate; a subscription confirmation)."""


def parse(body: bytes) -> dict[str, Any]:
    envelope = json_body(body)
    if not isinstance(envelope, dict) or not all(isinstance(envelope.get(k), str) for k in REQUIRED):
        raise HookMalformed("not an SNS message")
    return envelope


def sns_url(url: Any) -> str:
    """`url` if it is https on an SNS host of AWS, else refused: a forged message must not make us fetch."""
    if not isinstance(url, str):
        raise HookRefused("no SigningCertURL", 401)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise HookRefused("SigningCertURL is not a URL") from exc
    host = parts.hostname or ""
    plain = port is None and parts.username is None and parts.password is None
    if parts.scheme != "https" or not plain or not SNS_HOST.match(host):
        raise HookRefused("SigningCertURL is not on an Amazon SNS host")
    return url


def string_to_sign(envelope: Mapping[str, Any]) -> bytes:
    names = CONFIRMATION_FIELDS if envelope.get("Type") in CONFIRMATIONS else NOTIFICATION_FIELDS
    lines = []
    for name in names:
        value = envelope.get(name)
        if value is None and name == "Subject":
            continue
        if not isinstance(value, str):
            raise HookMalformed(f"the SNS message has no {name}")
        lines.append(f"{name}\n{value}\n")
    return "".join(lines).encode("utf-8")


class Certificates:
    """SNS signing keys by URL, fetched once each (a handful of certificates exist)."""

    MAX = 64

    def __init__(self, fetch: Fetch | None = None) -> None:
        self._fetch = fetch or fetch_https
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._lock = threading.Lock()

    def key(self, url: str) -> rsa.RSAPublicKey:
        with self._lock:
            found = self._keys.get(url)
        if found is not None:
            return found
        try:
            certificate = x509.load_pem_x509_certificate(self._fetch(sns_url(url)))
        except (OSError, ValueError) as exc:
            raise HookRefused("the signing certificate could not be fetched or read") from exc
        key = certificate.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise HookRefused("the signing certificate holds no RSA key")
        with self._lock:
            if len(self._keys) >= self.MAX:
                self._keys.clear()
            self._keys[url] = key
        return key


def verify(envelope: Mapping[str, Any], certificates: Certificates, topics: tuple[str, ...]) -> None:
    """Raise HookRefused unless SNS signed `envelope` for one of `topics`."""
    if envelope.get("TopicArn") not in topics:
        raise HookRefused("not a configured SNS topic")
    algorithm = HASHES.get(str(envelope.get("SignatureVersion", "")))
    signature = text(envelope.get("Signature"))
    if algorithm is None or signature is None:
        raise HookRefused("no SNS signature", 401)
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise HookRefused("the SNS signature is not base64") from exc
    message = string_to_sign(envelope)
    key = certificates.key(sns_url(envelope.get("SigningCertURL")))
    try:
        key.verify(raw, message, padding.PKCS1v15(), algorithm())
    except InvalidSignature as exc:
        raise HookRefused("the SNS signature does not verify") from exc


def normalise(envelope: Mapping[str, Any]) -> list[Feedback]:
    """The bounces and complaints in a verified SNS Notification (other notifications: none)."""
    if envelope.get("Type") != "Notification":
        return []
    try:
        notification = json.loads(str(envelope.get("Message", "")))
    except (ValueError, RecursionError):
        return []
    if not isinstance(notification, dict):
        return []
    kind = text(notification.get("notificationType")) or text(notification.get("eventType"))
    mail = mapping(notification.get("mail"))
    ids = tuple(i for i in (_header(mail, "Message-ID"),
                            bracketed(text(mapping(mail.get("commonHeaders")).get("messageId")))) if i)
    if kind == "Bounce":
        bounce = mapping(notification.get("bounce"))
        hard = bounce.get("bounceType") == "Permanent"
        when = iso_time(bounce.get("timestamp"))
        return [Feedback("bounce" if hard else "soft_bounce", SOURCE, text(r.get("emailAddress")), ids, when,
                         notification)
                for r in map(mapping, items(bounce.get("bouncedRecipients"))) if text(r.get("emailAddress"))]
    if kind == "Complaint":
        complaint = mapping(notification.get("complaint"))
        if complaint.get("complaintFeedbackType") == "not-spam":
            return []
        when = iso_time(complaint.get("timestamp"))
        recipients = map(mapping, items(complaint.get("complainedRecipients")))
        return [Feedback("complaint", SOURCE, text(r.get("emailAddress")), ids, when, notification)
                for r in recipients if text(r.get("emailAddress"))]
    return []


def _header(mail: Mapping[str, Any], name: str) -> str | None:
    for header in map(mapping, items(mail.get("headers"))):
        if str(header.get("name", "")).lower() == name.lower():
            return text(header.get("value"))
    return None


def fetch_https(url: str) -> bytes:
    """GET `url` over verified TLS, at most CERT_MAX_BYTES. Only ever called with an SNS URL."""
    context = ssl.create_default_context()
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT, context=context) as response:  # noqa: S310
        return bytes(response.read(CERT_MAX_BYTES + 1))[:CERT_MAX_BYTES]
