from __future__ import annotations

import base64
import hashlib
import hmac
import string
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from edm.tracking import sign, verify

KEY = b"k" * 32
OLD_KEY = b"o" * 32

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
payloads = st.dictionaries(st.text(), json_values, max_size=6)
keys = st.binary(min_size=1, max_size=64)
TOKEN_CHARS = string.ascii_letters + string.digits + "-_.=+/ %"


@given(payloads, keys)
def test_a_signed_payload_verifies_back_unchanged(payload: dict[str, Any], key: bytes) -> None:
    token = sign(payload, [key])
    assert verify(token, [key]) == payload
    assert all(ch in string.ascii_letters + string.digits + "-_." for ch in token)


@given(payloads, keys, st.data())
def test_any_single_character_change_fails(
    payload: dict[str, Any], key: bytes, data: st.DataObject
) -> None:
    token = sign(payload, [key])
    index = data.draw(st.integers(0, len(token) - 1))
    replacement = data.draw(st.sampled_from(TOKEN_CHARS))
    assume(replacement != token[index])
    tampered = token[:index] + replacement + token[index + 1 :]
    assert verify(tampered, [key]) is None


@given(payloads, st.data())
def test_a_truncated_or_extended_token_fails(payload: dict[str, Any], data: st.DataObject) -> None:
    token = sign(payload, [KEY])
    cut = data.draw(st.integers(0, len(token) - 1))
    assert verify(token[:cut], [KEY]) is None
    assert verify(token + data.draw(st.text(TOKEN_CHARS, min_size=1)), [KEY]) is None


@given(st.text())
def test_garbage_never_verifies_and_never_raises(garbage: str) -> None:
    assert verify(garbage, [KEY]) is None


@given(st.from_regex(r"[A-Za-z0-9_-]{1,40}\.[A-Za-z0-9_-]{22}", fullmatch=True))
def test_token_shaped_garbage_never_verifies(garbage: str) -> None:
    assert verify(garbage, [KEY]) is None


def test_a_token_signed_with_an_unknown_key_fails() -> None:
    assert verify(sign({"a": 1}, [b"someone-else"]), [KEY, OLD_KEY]) is None
    assert verify(sign({"a": 1}, [KEY]), []) is None


def test_old_keys_still_verify_and_new_tokens_use_the_newest_key() -> None:
    old_token = sign({"a": 1}, [OLD_KEY])
    assert verify(old_token, [KEY, OLD_KEY]) == {"a": 1}
    new_token = sign({"a": 1}, [KEY, OLD_KEY])
    assert verify(new_token, [KEY]) == {"a": 1}
    assert verify(new_token, [OLD_KEY]) is None


def test_a_validly_signed_non_object_is_refused() -> None:
    import base64
    import hashlib
    import hmac

    body = base64.urlsafe_b64encode(b"[1,2]").rstrip(b"=").decode()
    mac = hmac.new(KEY, body.encode(), hashlib.sha256).digest()[:16]
    token = f"{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    assert verify(token, [KEY]) is None


def test_tokens_are_compact() -> None:
    token = sign({"k": "o", "m": 123456, "c": 654321}, [KEY])
    assert len(token) < 70 and "=" not in token


@given(payloads, st.binary(max_size=200))
def test_the_mac_is_hmac_sha256_cut_to_sixteen_bytes(payload: dict[str, Any], key: bytes) -> None:
    """Links in mail already delivered must keep verifying: the MAC stays RFC 2104's, whatever the key."""
    body, _, mac = sign(payload, [key]).partition(".")
    expected = hmac.new(key, body.encode("ascii"), hashlib.sha256).digest()[:16]
    assert base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4)) == expected
