"""Standard Webhooks signatures: ours verify with the official package, and any change breaks them."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from edm.webhooks import signing
from edm.webhooks.backoff import retry_delay

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # the specification's example secret
KEY = signing.secret_key(SECRET)
NOW = 1_700_000_000
ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_", min_size=1, max_size=40)
bodies = st.binary(max_size=300)


def test_the_specifications_example() -> None:
    """The example in the specification (standard-webhooks/spec, "Signature scheme")."""
    body = b'{"test": 2432232314}'
    assert signing.signature(KEY, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) \
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@settings(derandomize=True, max_examples=200)
@given(ids, bodies, st.integers(NOW - 250, NOW + 250))
def test_what_we_sign_verifies(msg_id: str, body: bytes, timestamp: int) -> None:
    headers = signing.headers([KEY], msg_id, timestamp, body)
    assert signing.verify(KEY, headers, body, NOW)


@settings(derandomize=True, max_examples=200)
@given(ids, bodies, st.data())
def test_any_change_breaks_it(msg_id: str, body: bytes, data: st.DataObject) -> None:
    headers = signing.headers([KEY], msg_id, NOW, body)
    other_body = data.draw(bodies.filter(lambda b: b != body))
    other_id = data.draw(ids.filter(lambda i: i != msg_id))
    other_time = data.draw(st.integers(NOW - 250, NOW + 250).filter(lambda t: t != NOW))
    assert not signing.verify(KEY, headers, other_body, NOW)
    assert not signing.verify(KEY, headers | {"webhook-id": other_id}, body, NOW)
    assert not signing.verify(KEY, headers | {"webhook-timestamp": str(other_time)}, body, NOW)
    assert not signing.verify(signing.secret_key(signing.new_secret()), headers, body, NOW)


def test_the_official_package_verifies_ours_and_we_verify_its() -> None:
    body, now = b'{"type":"customer.unsubscribed"}', int(time.time())
    ours = signing.headers([KEY], "msg_1", now, body)
    assert Webhook(SECRET).verify(body, ours) == {"type": "customer.unsubscribed"}
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body + b" ", ours)
    theirs = Webhook(SECRET).sign("msg_2", datetime.fromtimestamp(now, UTC), body.decode())
    sent = {"webhook-id": "msg_2", "webhook-timestamp": str(now), "webhook-signature": theirs}
    assert signing.verify(KEY, sent, body, now)


def test_a_rotation_signs_with_both_keys_and_either_verifies() -> None:
    new = signing.secret_key(signing.new_secret())
    headers = signing.headers([new, KEY], "msg_3", NOW, b"{}")
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert signing.verify(KEY, headers, b"{}", NOW) and signing.verify(new, headers, b"{}", NOW)


def test_old_or_future_messages_are_refused() -> None:
    headers = signing.headers([KEY], "msg_4", NOW, b"{}")
    assert not signing.verify(KEY, headers, b"{}", NOW + signing.TOLERANCE_SECONDS + 1)
    assert not signing.verify(KEY, headers, b"{}", NOW - signing.TOLERANCE_SECONDS - 1)


@pytest.mark.parametrize("bad", ["", "whsec_", "whsec_not base64!", "whsec_c2hvcnQ="])
def test_a_bad_secret_is_refused_without_echoing_it(bad: str) -> None:
    with pytest.raises(ValueError) as error:
        signing.secret_key(bad)
    assert bad.removeprefix("whsec_") not in str(error.value) or not bad.removeprefix("whsec_")


def test_the_retry_schedule_grows_then_stays_at_its_last_step() -> None:
    schedule = (5, 30, 120)
    assert [retry_delay(n, schedule, 0) for n in range(1, 6)] == [5, 30, 120, 120, 120]
    assert all(30 <= retry_delay(2, schedule, 0.1) <= 33 for _ in range(100))
