from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from edm.config import EngagementSettings
from edm.engagement import contact_interval, judged_reaction, may_contact

RULES = EngagementSettings()
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def test_engaged_customers_are_contacted_sooner_and_silent_ones_later() -> None:
    assert contact_interval(14, [True], RULES) == 7
    assert contact_interval(14, [False], RULES) == 21
    assert contact_interval(14, [True, True], RULES) == 3.5
    assert contact_interval(14, [], RULES) == 14


def test_interval_stays_within_bounds() -> None:
    assert contact_interval(14, [True] * 10, RULES) == RULES.min_interval_days
    assert contact_interval(14, [False] * 20, RULES) == RULES.max_interval_days


@given(st.floats(1, 60), st.lists(st.booleans(), max_size=40))
def test_interval_is_always_within_bounds(base: float, history: list[bool]) -> None:
    interval = contact_interval(base, history, RULES)
    assert RULES.min_interval_days <= interval <= RULES.max_interval_days


@given(st.floats(1, 60), st.lists(st.booleans(), max_size=20))
def test_one_more_reaction_never_lengthens_and_one_more_silence_never_shortens(
    base: float, history: list[bool]
) -> None:
    interval = contact_interval(base, history, RULES)
    assert contact_interval(base, [*history, True], RULES) <= interval
    assert contact_interval(base, [*history, False], RULES) >= interval


def test_a_fresh_mail_is_not_judged_ignored_yet() -> None:
    assert judged_reaction(NOW - timedelta(days=1), False, NOW, RULES) is None
    assert judged_reaction(NOW - timedelta(days=4), False, NOW, RULES) is False
    assert judged_reaction(NOW - timedelta(hours=1), True, NOW, RULES) is True


def test_may_contact_only_after_the_interval() -> None:
    last = NOW - timedelta(days=5)
    assert may_contact(None, 7, NOW)
    assert not may_contact(last, 7, NOW)
    assert may_contact(last, 5, NOW)
