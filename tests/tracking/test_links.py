from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edm.tracking import Link, TrackingLinks, read_token

KEYS = [b"current-key", b"old-key"]
ids = st.integers(min_value=1, max_value=2**53)


def _token(url: str, prefix: str) -> str:
    return url.split(prefix, 1)[1]


@given(ids, ids)
def test_each_link_reads_back_only_as_its_own_kind(outbox_id: int, customer_id: int) -> None:
    links = TrackingLinks("https://t.example.com/", KEYS)
    pixel = _token(links.open_url(outbox_id, customer_id), "/o/").removesuffix(".gif")
    click = _token(links.click_url(outbox_id, customer_id, "https://shop.example/a?b=1#c"), "/c/")
    unsub = _token(links.unsubscribe_url(outbox_id, customer_id), "/u/")

    assert read_token(pixel, KEYS, "o") == Link("o", outbox_id, customer_id)
    assert read_token(click, KEYS, "c") == Link(
        "c", outbox_id, customer_id, "https://shop.example/a?b=1#c"
    )
    assert read_token(unsub, KEYS, "u") == Link("u", outbox_id, customer_id)
    assert read_token(pixel, KEYS, "u") is None
    assert read_token(pixel, KEYS, "c") is None
    assert read_token(click, KEYS, "u") is None
    assert read_token(unsub, KEYS, "o") is None


def test_urls_sit_under_the_base_url() -> None:
    links = TrackingLinks("https://t.example.com/track/", KEYS)
    assert links.open_url(1, 2).startswith("https://t.example.com/track/o/")
    assert links.open_url(1, 2).endswith(".gif")
    assert links.click_url(1, 2, "http://x.example/").startswith("https://t.example.com/track/c/")
    assert links.unsubscribe_url(1, 2).startswith("https://t.example.com/track/u/")


@pytest.mark.parametrize(
    "url",
    ["/relative", "//evil.example/x", "javascript:alert(1)", "ftp://x.example/", "https:///nohost",
     "https://x.example/\r\nSet-Cookie: a=b", "https://x.example/a b", "mailto:a@example.com"],
)
def test_click_targets_must_be_absolute_web_urls(url: str) -> None:
    with pytest.raises(ValueError, match="absolute http"):
        TrackingLinks("https://t.example.com", KEYS).click_url(1, 2, url)


def test_links_need_a_key() -> None:
    with pytest.raises(ValueError, match="key"):
        TrackingLinks("https://t.example.com", [])
