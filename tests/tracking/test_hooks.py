"""Provider webhooks over real HTTP into a real SQLite store: signed payloads (modelled on each
provider's documented samples) become events and suppressions; forged, unsigned, stale or replayed
posts are refused and write nothing."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.config import HooksSettings, load_settings
from edm.errors import ConfigError
from edm.store import Customer, Event, OutboxMessage, Suppression
from edm.suppression import COMPLAINT, HARD_BOUNCE, UNSUBSCRIBED
from edm.tracking import create_tracking_app, serve_in_background
from edm.tracking.hooks import HookMalformed, Hooks, mailgun, postmark, sendgrid, ses
from edm.tracking.hooks.common import HookRefused, Incoming
from tests.tracking.conftest import KEY, NOW

DATA = Path(__file__).parent / "data" / "hooks"
TOPIC = "arn:aws:sns:us-east-1:123456789012:edm-ses-feedback"
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"
MAILGUN_KEY = "key-7e55e5b2c7b3f1c8d1e0a9b8c7d6e5f4"
POSTMARK = ("postmark-hooks", "s3cret-Pa55word-for-hooks")
MAILS = {  # customer -> the key of the mail sent to them (its first 32 hex digits are in the Message-ID)
    "wang@example.com": "3f9a1c0e5b7d42e8a6c1f0d9b2e47a15" + "0" * 32,
    "li@example.com": "1a2b3c4d5e6f70819203a4b5c6d7e8f9" + "0" * 32,
    "zhao@example.com": "9a8b7c6d5e4f30211203f4e5d6c7b8a9" + "0" * 32,
    "chen@example.com": "d1e2f3a4b5c6d7e8f9a0b1c2d3e4f5a6" + "0" * 32,
}


def _fixture(name: str) -> Any:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


@dataclass
class Aws:
    """A stand-in for SNS's signing key and the certificate AWS serves at CERT_URL."""

    key: rsa.RSAPrivateKey
    pem: bytes
    fetched: list[str] = field(default_factory=list)

    def fetch(self, url: str) -> bytes:
        self.fetched.append(url)
        if url == CERT_URL:
            return self.pem
        if "Action=ConfirmSubscription" in url:
            return b"<ConfirmSubscriptionResponse/>"
        raise OSError(f"no such URL {url}")

    def envelope(self, message: str, *, version: str = "1", kind: str = "Notification",
                 topic: str = TOPIC) -> dict[str, Any]:
        """An SNS message signed as the SNS documentation describes (written out here independently)."""
        envelope: dict[str, Any] = {
            "Type": kind, "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": topic,
            "Message": message, "Timestamp": "2026-11-24T09:01:06.655Z", "SignatureVersion": version,
            "SigningCertURL": CERT_URL,
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x",
        }
        if kind == "Notification":
            names = ["Message", "MessageId", "Timestamp", "TopicArn", "Type"]
        else:
            envelope["Token"] = "2336412f37fb687f5d51e6e2425dacbba"
            envelope["SubscribeURL"] = ("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"
                                        f"&TopicArn={topic}&Token=2336412f37fb687f5d51e6e2425dacbba")
            names = ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"]
        signed = "".join(f"{name}\n{envelope[name]}\n" for name in names).encode()
        algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        signature = self.key.sign(signed, padding.PKCS1v15(), algorithm)
        envelope["Signature"] = base64.b64encode(signature).decode()
        return envelope


@pytest.fixture(scope="module")
def aws_identity() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=365))
            .sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def aws(aws_identity: tuple[rsa.RSAPrivateKey, bytes]) -> Aws:
    return Aws(*aws_identity)


@pytest.fixture
def mails(sessions: sessionmaker[Session]) -> dict[str, int]:
    ids = {}
    with sessions.begin() as session:
        for email, key in MAILS.items():
            customer = Customer(external_id=email, name=email, email=email, kind="person", created_at=NOW)
            session.add(customer)
            session.flush()
            row = OutboxMessage(key=key, campaign="spring_sale", step=0, customer_id=customer.id,
                                occurrence=date(2026, 11, 24), to_address=email, state="sent", attempts=1,
                                next_attempt_at=NOW, created_at=NOW, sent_at=NOW - timedelta(hours=1))
            session.add(row)
            session.flush()
            ids[email] = row.id
    return ids


def _hooks_settings(sendgrid_key: ec.EllipticCurvePrivateKey, **changes: Any) -> HooksSettings:
    public = sendgrid_key.public_key().public_bytes(serialization.Encoding.DER,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    values: dict[str, Any] = {
        "ses_topic_arns": (TOPIC,), "sendgrid_public_key": base64.b64encode(public).decode(),
        "mailgun_signing_key": SecretStr(MAILGUN_KEY), "postmark_username": SecretStr(POSTMARK[0]),
        "postmark_password": SecretStr(POSTMARK[1]), "max_body_bytes": 64 * 1024, **changes,
    }
    return HooksSettings(**values)


@pytest.fixture
def server(sessions: sessionmaker[Session], aws: Aws, sendgrid_key: ec.EllipticCurvePrivateKey,
           mails: dict[str, int]) -> Iterator[httpx.Client]:
    clock = FixedClock(NOW)
    hooks = Hooks(_hooks_settings(sendgrid_key), clock, fetch=aws.fetch)
    with serve_in_background(create_tracking_app(sessions, [KEY], clock, hooks=hooks)) as url, \
            httpx.Client(base_url=url, timeout=30) as client:
        yield client


def _written(sessions: sessionmaker[Session]) -> tuple[int, int]:
    with sessions() as session:
        return (session.scalar(select(func.count()).select_from(Event)) or 0,
                session.scalar(select(func.count()).select_from(Suppression)) or 0)


def _events(sessions: sessionmaker[Session]) -> list[tuple[str, str | None, int | None]]:
    with sessions() as session:
        return [(e.kind, e.source, e.outbox_id) for e in session.scalars(select(Event).order_by(Event.id))]


def _suppressed(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        return {s.address_key: s.reason for s in session.scalars(select(Suppression))}


def _sendgrid_post(client: httpx.Client, key: ec.EllipticCurvePrivateKey, body: bytes,
                   timestamp: str = "1795512100") -> httpx.Response:
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return client.post("/hooks/sendgrid", content=body, headers={
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp, "Content-Type": "application/json"})


def _mailgun_signed(payload: dict[str, Any], token: str, timestamp: int) -> dict[str, Any]:
    signed = copy.deepcopy(payload)
    digest = hmac.new(MAILGUN_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    signed["signature"] = {"timestamp": str(timestamp), "token": token, "signature": digest}
    return signed


def _basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


# ---- Amazon SES through SNS


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_complaint_and_bounce_signed_by_sns_are_recorded_and_suppressed(
    server: httpx.Client, sessions: sessionmaker[Session], aws: Aws, mails: dict[str, int], version: str
) -> None:
    for name in ("ses_complaint.json", "ses_bounce.json"):
        envelope = aws.envelope(json.dumps(_fixture(name)), version=version)
        answer = server.post("/hooks/ses", content=json.dumps(envelope),
                             headers={"x-amz-sns-message-type": "Notification"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["recorded"] == 1
    assert _events(sessions) == [("complaint", "ses", mails["wang@example.com"]),
                                 ("bounce", "ses", mails["li@example.com"])]
    assert _suppressed(sessions) == {"wang@example.com": COMPLAINT, "li@example.com": HARD_BOUNCE}
    with sessions() as session:
        complaint = session.scalars(select(Event).where(Event.kind == "complaint")).one()
        assert complaint.detail == _fixture("ses_complaint.json")  # the raw notification kept
        assert complaint.occurred_at == datetime(2026, 11, 24, 9, 0, 38, 237000, tzinfo=UTC)
        assert session.get_one(OutboxMessage, mails["li@example.com"]).state == "bounced"
    assert aws.fetched == [CERT_URL]  # once: the certificate is kept
    again = aws.envelope(json.dumps(_fixture("ses_complaint.json")), version=version)
    assert server.post("/hooks/ses", content=json.dumps(again)).json()["repeated"] == 1  # SNS redelivers
    assert _written(sessions) == (2, 2)


@pytest.mark.parametrize("forge", ["signature", "message", "unsigned", "version", "topic",
                                   "http", "other_host", "lookalike_host", "port", "userinfo"])
def test_forged_sns_posts_are_refused_and_write_nothing(
    server: httpx.Client, sessions: sessionmaker[Session], aws: Aws, forge: str
) -> None:
    envelope = aws.envelope(json.dumps(_fixture("ses_complaint.json")))
    elsewhere = {"http": CERT_URL.replace("https:", "http:"),
                 "other_host": "https://certs.example.com/SimpleNotificationService.pem",
                 "lookalike_host": "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
                 "port": "https://sns.us-east-1.amazonaws.com:8443/cert.pem",
                 "userinfo": "https://sns.us-east-1.amazonaws.com@evil.example/cert.pem"}
    if forge == "signature":
        envelope["Signature"] = base64.b64encode(b"\x00" * 256).decode()
    elif forge == "message":
        envelope["Message"] = envelope["Message"].replace("wang@example.com", "li@example.com")
    elif forge == "unsigned":
        del envelope["Signature"]
    elif forge == "version":
        envelope["SignatureVersion"] = "3"
    elif forge == "topic":
        envelope = aws.envelope(envelope["Message"], topic="arn:aws:sns:us-east-1:999999999999:theirs")
    else:
        envelope["SigningCertURL"] = elsewhere[forge]
    answer = server.post("/hooks/ses", content=json.dumps(envelope))
    assert answer.status_code in (401, 403), answer.text
    assert _written(sessions) == (0, 0)
    assert all(url == CERT_URL for url in aws.fetched)  # no other URL was ever fetched


def test_a_subscription_is_confirmed_only_when_allowed_and_only_at_sns(
    sessions: sessionmaker[Session], aws: Aws, sendgrid_key: ec.EllipticCurvePrivateKey,
    caplog: pytest.LogCaptureFixture
) -> None:
    confirmation = aws.envelope("You have chosen to subscribe to the topic.", kind="SubscriptionConfirmation")
    for confirm, visited in ((False, []), (True, [confirmation["SubscribeURL"]])):
        aws.fetched.clear()
        hooks = Hooks(_hooks_settings(sendgrid_key, ses_confirm_subscriptions=confirm), FixedClock(NOW),
                      fetch=aws.fetch)
        with serve_in_background(create_tracking_app(sessions, [KEY], FixedClock(NOW), hooks=hooks)) as url:
            answer = httpx.post(url + "/hooks/ses", content=json.dumps(confirmation), timeout=30)
        assert answer.status_code == 200
        assert aws.fetched == [CERT_URL, *visited]
    assert "awaits confirmation" in caplog.text
    assert _written(sessions) == (0, 0)


# ---- SendGrid


def test_sendgrid_sdk_test_vector_verifies() -> None:
    """The key, signature and payload SendGrid's own SDKs test their verifiers with."""
    key = sendgrid.public_key("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdb"
                              "cwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==")
    body = b'{"category":"example_payload","event":"test_event","message_id":"message_id"}'
    headers = {sendgrid.SIGNATURE_HEADER: "MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8"
                                          "xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=",
               sendgrid.TIMESTAMP_HEADER: "1588788367"}
    sendgrid.verify(Incoming(body, headers), key)
    with pytest.raises(HookRefused):
        sendgrid.verify(Incoming(body.replace(b"test_event", b"spamreport"), headers), key)


def test_sendgrid_signed_events_become_one_vocabulary(
    server: httpx.Client, sessions: sessionmaker[Session], sendgrid_key: ec.EllipticCurvePrivateKey,
    mails: dict[str, int]
) -> None:
    answer = _sendgrid_post(server, sendgrid_key, (DATA / "sendgrid_events.json").read_bytes())
    assert answer.status_code == 200, answer.text
    assert sorted(_events(sessions)) == sorted([
        ("complaint", "sendgrid", mails["wang@example.com"]), ("bounce", "sendgrid", mails["li@example.com"]),
        ("unsubscribe", "sendgrid", mails["zhao@example.com"]),  # found by address: no smtp-id
        ("soft_bounce", "sendgrid", mails["chen@example.com"]),  # blocked: our mail, not the address
    ])  # the open is engagement, not feedback
    assert _suppressed(sessions) == {"wang@example.com": COMPLAINT, "li@example.com": HARD_BOUNCE,
                                     "zhao@example.com": UNSUBSCRIBED}


@pytest.mark.parametrize("forge", ["body", "key", "timestamp", "unsigned"])
def test_forged_sendgrid_posts_write_nothing(
    server: httpx.Client, sessions: sessionmaker[Session], sendgrid_key: ec.EllipticCurvePrivateKey,
    forge: str,
) -> None:
    body = (DATA / "sendgrid_events.json").read_bytes()
    if forge == "unsigned":
        answer = server.post("/hooks/sendgrid", content=body)
        assert answer.status_code == 401
    else:
        signer = ec.generate_private_key(ec.SECP256R1()) if forge == "key" else sendgrid_key
        signature = signer.sign(b"1795512100" + body, ec.ECDSA(hashes.SHA256()))
        sent = body.replace(b"spamreport", b"unsubscribe") if forge == "body" else body
        answer = server.post("/hooks/sendgrid", content=sent, headers={
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": "1795512101" if forge == "timestamp" else "1795512100"})
        assert answer.status_code == 403
    assert _written(sessions) == (0, 0)


# ---- Mailgun


def test_mailgun_complaint_is_recorded_once_and_a_replay_is_refused(
    server: httpx.Client, sessions: sessionmaker[Session], mails: dict[str, int]
) -> None:
    now = int(NOW.timestamp())
    payload = _mailgun_signed(_fixture("mailgun_complained.json"), "b9ce0edb2dd8301dee6c24052355", now - 30)
    assert server.post("/hooks/mailgun", json=payload).status_code == 200
    assert _events(sessions) == [("complaint", "mailgun", mails["wang@example.com"])]
    assert _suppressed(sessions) == {"wang@example.com": COMPLAINT}
    replay = server.post("/hooks/mailgun", json=payload)
    assert replay.status_code == 403
    assert _written(sessions) == (1, 1)


@pytest.mark.parametrize("forge", ["signature", "old", "future", "unsigned", "documented_key"])
def test_forged_or_stale_mailgun_posts_write_nothing(
    server: httpx.Client, sessions: sessionmaker[Session], forge: str
) -> None:
    now = int(NOW.timestamp())
    payload = _fixture("mailgun_complained.json")  # as documented: signed with a key that is not ours
    if forge == "signature":
        payload = _mailgun_signed(payload, "c1", now)
        payload["signature"]["signature"] = "0" * 64
    elif forge == "old":
        payload = _mailgun_signed(payload, "c2", now - 3600)
    elif forge == "future":
        payload = _mailgun_signed(payload, "c3", now + 3600)
    elif forge == "unsigned":
        del payload["signature"]
    answer = server.post("/hooks/mailgun", json=payload)
    assert answer.status_code == (401 if forge == "unsigned" else 403)
    assert _written(sessions) == (0, 0)


# ---- Postmark


def test_postmark_complaint_with_basic_auth_finds_the_customer_by_address(
    server: httpx.Client, sessions: sessionmaker[Session], mails: dict[str, int]
) -> None:
    body = (DATA / "postmark_spam_complaint.json").read_bytes()
    assert server.post("/hooks/postmark", content=body, headers=_basic(*POSTMARK)).status_code == 200
    assert _events(sessions) == [("complaint", "postmark", mails["wang@example.com"])]
    # an unsubscribe for an address no customer has: suppressed all the same (the provider is verified)
    change = (DATA / "postmark_subscription_change.json").read_bytes()
    answer = server.post("/hooks/postmark", content=change, headers=_basic(*POSTMARK))
    assert answer.json()["suppressed"] == 1
    assert _suppressed(sessions) == {"wang@example.com": COMPLAINT,
                                     "nobody-we-know@example.com": UNSUBSCRIBED}
    assert _written(sessions) == (1, 2)


@pytest.mark.parametrize("auth", [None, ("postmark-hooks", "wrong"), ("someone", POSTMARK[1]), "Bearer x"])
def test_postmark_without_the_credentials_writes_nothing(
    server: httpx.Client, sessions: sessionmaker[Session], auth: tuple[str, str] | str | None
) -> None:
    headers = _basic(*auth) if isinstance(auth, tuple) else {"Authorization": auth} if auth else {}
    answer = server.post("/hooks/postmark", content=(DATA / "postmark_spam_complaint.json").read_bytes(),
                         headers=headers)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Basic")
    assert _written(sessions) == (0, 0)


# ---- the route


def test_unknown_unconfigured_malformed_and_oversized_posts(
    server: httpx.Client, sessions: sessionmaker[Session], aws: Aws
) -> None:
    assert server.post("/hooks/sparkpost", content=b"[]").status_code == 404
    assert server.get("/hooks/postmark").status_code == 405
    assert server.post("/hooks/postmark", content=b"not json", headers=_basic(*POSTMARK)).status_code == 400
    assert server.post("/hooks/postmark", content=b"[1, 2]", headers=_basic(*POSTMARK)).status_code == 400
    assert server.post("/hooks/postmark", content=b"x" * (64 * 1024 + 1),
                       headers=_basic(*POSTMARK)).status_code == 413
    assert _written(sessions) == (0, 0)


def test_a_provider_without_its_settings_is_not_there(
    sessions: sessionmaker[Session], sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    hooks = Hooks(HooksSettings(), FixedClock(NOW))
    assert hooks.enabled == ()
    with serve_in_background(create_tracking_app(sessions, [KEY], FixedClock(NOW), hooks=hooks)) as url:
        for provider in ("ses", "sendgrid", "mailgun", "postmark"):
            assert httpx.post(f"{url}/hooks/{provider}", content=b"{}", timeout=30).status_code == 404


# ---- parsers never raise on damaged bodies


def _read_all(body: bytes) -> None:
    """Every provider's parse and normalise on `body`: feedback, or HookMalformed; nothing else."""
    for parse, normalise in ((ses.parse, ses.normalise), (sendgrid.parse, sendgrid.normalise),
                             (mailgun.parse, mailgun.normalise), (postmark.parse, postmark.normalise)):
        try:
            payload = parse(body)
        except HookMalformed:
            continue
        normalise(payload)  # type: ignore[arg-type]
    ses.normalise({"Type": "Notification", "Message": body.decode("utf-8", "replace")})


_SAMPLES = sorted(p.read_bytes() for p in DATA.glob("*.json"))
_SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
            | st.text(max_size=8))
_JSON = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=12)


@settings(max_examples=300, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample=st.sampled_from(_SAMPLES), cut=st.integers(min_value=0, max_value=3000),
       junk=st.binary(max_size=20))
def test_damaged_webhook_bodies_never_raise(sample: bytes, cut: int, junk: bytes) -> None:
    _read_all(sample[:cut] + junk + sample[cut + len(junk):])


@settings(max_examples=300, derandomize=True, deadline=None)
@given(value=_JSON, key=st.sampled_from(["event-data", "RecordType", "Type", "bounce", "complaint", "mail",
                                         "Message", "event", "recipient", "Email", "timestamp"]))
def test_odd_json_in_known_places_never_raises(value: Any, key: str) -> None:
    for name in ("ses_complaint.json", "mailgun_complained.json", "postmark_spam_complaint.json"):
        payload = _fixture(name)
        payload[key] = copy.deepcopy(value)
        if key != "event-data" and isinstance(payload.get("event-data"), dict):
            payload["event-data"][key] = copy.deepcopy(value)
        _read_all(json.dumps(payload).encode())
        envelope = {"Type": "Notification", "TopicArn": TOPIC, "Message": json.dumps(payload)}
        _read_all(json.dumps(envelope).encode())
    _read_all(json.dumps([{"event": "bounce", key: value}]).encode())


def test_hook_secrets_come_only_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "edm.yaml"
    path.write_text("hooks:\n  mailgun_signing_key: abc\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="EDM_HOOKS__MAILGUN_SIGNING_KEY"):
        load_settings(path, environ={})
    path.write_text(f"hooks:\n  ses_topic_arns: [{TOPIC}]\n", encoding="utf-8")
    loaded = load_settings(path, environ={"EDM_HOOKS__MAILGUN_SIGNING_KEY": "mg-secret-value",
                                          "EDM_HOOKS__POSTMARK_PASSWORD": "pm-secret-value"})
    assert loaded.hooks.mailgun_signing_key is not None
    assert loaded.hooks.mailgun_signing_key.get_secret_value() == "mg-secret-value"
    assert "mg-secret-value" not in repr(loaded) and "pm-secret-value" not in repr(loaded)
    assert Hooks(loaded.hooks, FixedClock(NOW)).enabled == ("ses", "mailgun")  # Postmark needs both
    with pytest.raises(ConfigError, match="sendgrid_public_key"):
        Hooks(HooksSettings(sendgrid_public_key="not a key"), FixedClock(NOW))
