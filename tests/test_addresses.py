"""The canonical address: every spelling of one mailbox gives one key."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edm.addresses import canonical_address, canonical_domain

ASCII_LOCAL = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.+_-"),
                      min_size=1, max_size=30)
LABEL = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"),
                min_size=1, max_size=20)
DOMAIN = st.lists(LABEL, min_size=2, max_size=4).map(".".join)
UNICODE_LABEL = st.sampled_from(["例子", "中国", "用户", "bücher", "例え", "테스트", "пример", "xn--fiqs8s"])
UNICODE_DOMAIN = st.lists(UNICODE_LABEL, min_size=2, max_size=3).map(".".join)
ADDRESS = st.builds(lambda local, domain: f"{local}@{domain}", ASCII_LOCAL, DOMAIN | UNICODE_DOMAIN)


@pytest.mark.parametrize(("text", "key"), [
    ("Alice@Example.COM", "alice@example.com"),
    ("ALICE@example.com", "alice@example.com"),
    ("  alice@example.com\n", "alice@example.com"),
    ("用户@例子.中国", "用户@xn--fsqu00a.xn--fiqs8s"),
    ("Wang@例子.中国", "wang@xn--fsqu00a.xn--fiqs8s"),
    ("wang@XN--FSQU00A.xn--fiqs8s", "wang@xn--fsqu00a.xn--fiqs8s"),
    ("müller@Bücher.DE", "müller@xn--bcher-kva.de"),
    ("a@exa_mple.com", "a@exa_mple.com"),  # not a host name IDNA accepts: kept lower-cased
    ("a@bad..中国", "a@bad..中国"),  # refused by IDNA: kept lower-cased
    ("no-at-sign", "no-at-sign"),
])
def test_known_spellings(text: str, key: str) -> None:
    assert canonical_address(text) == key


@settings(derandomize=True, max_examples=300)
@given(st.text())
@example("ß@İ.例子")
@example("\x00@\x00")
def test_canonical_is_idempotent(text: str) -> None:
    key = canonical_address(text)
    assert canonical_address(key) == key


@settings(derandomize=True, max_examples=300)
@given(ADDRESS)
def test_capitals_do_not_matter(address: str) -> None:
    key = canonical_address(address)
    assert canonical_address(address.upper()) == key
    assert canonical_address(address.lower()) == key
    assert canonical_address(address.swapcase()) == key


@settings(derandomize=True, max_examples=200)
@given(ADDRESS, st.text(" \t\r\n", max_size=3), st.text(" \t\r\n", max_size=3))
def test_surrounding_whitespace_is_trimmed(address: str, before: str, after: str) -> None:
    assert canonical_address(before + address + after) == canonical_address(address)


@settings(derandomize=True, max_examples=200)
@given(ASCII_LOCAL, UNICODE_DOMAIN)
def test_unicode_domains_and_their_punycode_are_one_mailbox(local: str, domain: str) -> None:
    ascii_domain = canonical_domain(domain)
    assert ascii_domain.isascii()
    assert canonical_address(f"{local}@{domain}") == canonical_address(f"{local}@{ascii_domain}")
