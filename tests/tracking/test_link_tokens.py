"""Links write their tokens' JSON directly (it is most of a mail's signing time): the tokens must be
exactly the ones `sign` makes from the same payload, so either can be read by the other's reader."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edm.tracking import TrackingLinks
from edm.tracking.tokens import sign

KEYS = [b"current-key", b"old-key"]
ids = st.integers(min_value=0, max_value=2**63)
UNPRINTABLE = ("Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp")  # what no web URL may hold
paths = st.text(st.characters(blacklist_categories=UNPRINTABLE), max_size=30)


@given(ids, ids, paths)
def test_link_tokens_are_the_tokens_sign_makes(outbox_id: int, customer_id: int, path: str) -> None:
    url = f"https://shop.example/{path}"
    links = TrackingLinks("https://t.example.com", KEYS)

    assert links.open_url(outbox_id, customer_id) == (
        f"https://t.example.com/o/{sign({'k': 'o', 'm': outbox_id, 'c': customer_id}, KEYS)}.gif")
    assert links.unsubscribe_url(outbox_id, customer_id) == (
        f"https://t.example.com/u/{sign({'k': 'u', 'm': outbox_id, 'c': customer_id}, KEYS)}")
    for _ in range(2):  # the second time from the cache of targets
        assert links.click_url(outbox_id, customer_id, url) == (
            f"https://t.example.com/c/{sign({'k': 'c', 'm': outbox_id, 'c': customer_id, 'u': url}, KEYS)}")
