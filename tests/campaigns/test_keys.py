"""Outbox keys: one per (campaign, step, customer, occurrence), a plan's rows in customer order in the
key's index, their first 32 digits their own (Message-IDs carry them), and the plain hash kept for the
occurrences a store upgraded from an older edm may already hold rows of."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from edm.campaigns.keys import OutboxKeys, outbox_key

HEX64 = re.compile(r"[0-9a-f]{64}")
campaigns = st.text(min_size=1, max_size=100)
steps = st.integers(0, 20)
customers = st.integers(1, 2**63 - 1)
days = st.dates(date(2000, 1, 1), date(2100, 1, 1))
tuples = st.tuples(campaigns, steps, customers, days)


def _plain_hash(campaign: str, step: int, customer_id: int, occurrence: date) -> str:
    """The key an edm from before migration 0017 gave a row."""
    return hashlib.sha256(f"{campaign}|{step}|{customer_id}|{occurrence.isoformat()}".encode()).hexdigest()


@given(tuples, tuples)
def test_a_key_is_one_rows_alone_in_full_and_in_its_first_32_digits(
    one: tuple[str, int, int, date], other: tuple[str, int, int, date]
) -> None:
    key, other_key = outbox_key(*one), outbox_key(*other)
    assert HEX64.fullmatch(key)
    assert outbox_key(*one) == key  # the same plan again finds it
    assert (key == other_key) == (one == other)
    assert (key[:32] == other_key[:32]) == (one == other)  # a bounce's Message-ID names one row


@given(campaigns, steps, days, st.lists(customers, min_size=2, max_size=50, unique=True))
def test_a_plans_keys_follow_its_customers_order(
    campaign: str, step: int, occurrence: date, ids: list[int]
) -> None:
    """The planner streams customers by id: its rows are appended to one stretch of the index."""
    keys = [outbox_key(campaign, step, customer_id, occurrence) for customer_id in sorted(ids)]
    assert keys == sorted(keys)
    assert len({key[:16] for key in keys}) == 1


@given(tuples, days)
def test_occurrences_an_upgraded_store_may_hold_keep_their_plain_hash(
    row: tuple[str, int, int, date], hashed_through: date
) -> None:
    keys = OutboxKeys(hashed_through)
    campaign, step, customer_id, occurrence = row
    if occurrence <= hashed_through:
        assert keys(*row) == _plain_hash(*row)
    else:
        assert keys(*row) == outbox_key(*row) != _plain_hash(*row)
    later = max(occurrence, hashed_through) + timedelta(days=1)
    assert keys(campaign, step, customer_id, later) == outbox_key(campaign, step, customer_id, later)
