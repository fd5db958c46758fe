from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from edm.config import EngagementSettings, TierCadence
from edm.engagement import contact_interval, in_sunset, judged_reaction, may_contact
from edm.engagement.interval import read_rate, spaced_interval, veiled_reads

RULES = EngagementSettings()
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)
MEDIUM = RULES.tier_cadence("medium")  # 14 days, between 7 and 60
WIDE = TierCadence(base_days=14, min_days=3, max_days=90)


def test_engaged_customers_are_contacted_sooner_and_silent_ones_later() -> None:
    assert contact_interval(WIDE, [True], RULES) == 7
    assert contact_interval(WIDE, [False], RULES) == 17.5
    assert contact_interval(WIDE, [True, True], RULES) == 3.5
    assert contact_interval(WIDE, [], RULES) == 14


def test_each_tier_keeps_its_own_bounds() -> None:
    high, low = RULES.tier_cadence("high"), RULES.tier_cadence("low")
    assert contact_interval(high, [True] * 10, RULES) == 14  # key accounts: never more often than fortnightly
    assert contact_interval(low, [True] * 10, RULES) == 3  # small customers: a batch cadence, down to 3 days
    assert contact_interval(MEDIUM, [False] * 20, RULES) == 60
    assert RULES.tier_cadence("unknown") == high  # an unlisted tier gets the longest base (the safe side)


def test_asking_for_less_mail_stretches_the_interval_within_bounds() -> None:
    assert contact_interval(MEDIUM, [], RULES, preference="less") == 28
    assert contact_interval(MEDIUM, [True] * 5, RULES, preference="less") == 14  # never below the base
    assert contact_interval(MEDIUM, [False] * 20, RULES, preference="less") == 120


@given(st.floats(1, 60), st.floats(1, 60), st.lists(st.booleans(), max_size=40))
def test_interval_is_always_within_the_tiers_bounds(low: float, span: float, history: list[bool]) -> None:
    cadence = TierCadence(base_days=low + span / 2, min_days=low, max_days=low + span)
    assert low <= contact_interval(cadence, history, RULES) <= low + span


@given(st.lists(st.booleans(), max_size=20))
def test_one_more_reaction_never_lengthens_and_one_more_silence_never_shortens(history: list[bool]) -> None:
    interval = contact_interval(WIDE, history, RULES)
    assert contact_interval(WIDE, [*history, True], RULES) <= interval
    assert contact_interval(WIDE, [*history, False], RULES) >= interval


def test_a_fresh_mail_is_not_judged_ignored_yet() -> None:
    assert judged_reaction(NOW - timedelta(days=1), False, NOW, RULES) is None
    assert judged_reaction(NOW - timedelta(days=4), False, NOW, RULES) is False
    assert judged_reaction(NOW - timedelta(hours=1), True, NOW, RULES) is True


def test_may_contact_only_after_the_interval() -> None:
    last = NOW - timedelta(days=5)
    assert may_contact(None, 7, NOW)
    assert not may_contact(last, 7, NOW)
    assert may_contact(last, 5, NOW)


def test_sunset_after_a_whole_period_of_mail_without_a_signal() -> None:
    long_ago, recently = NOW - timedelta(days=400), NOW - timedelta(days=30)
    assert in_sunset(long_ago, None, NOW, 180)
    assert in_sunset(long_ago, NOW - timedelta(days=181), NOW, 180)
    assert not in_sunset(long_ago, NOW - timedelta(days=179), NOW, 180)  # read something recently
    assert not in_sunset(recently, None, NOW, 180)  # not mailed long enough to judge
    assert not in_sunset(None, None, NOW, 180)  # never mailed
    assert not in_sunset(long_ago, None, NOW, None)  # sunset switched off


def test_the_gap_follows_the_read_rate_around_the_target() -> None:
    assert read_rate(0, 0, 0.25, 4) == 0.25  # no history: the target, so the tier's base gap
    assert read_rate(4, 4, 0.25, 4) == 0.625 and read_rate(0, 4, 0.25, 4) == 0.125
    assert spaced_interval(WIDE, 0.25, 0.25, RULES) == 14
    assert spaced_interval(WIDE, 0.5, 0.25, RULES) == 7  # reads twice as much: twice as often
    assert spaced_interval(WIDE, 0.05, 0.25, RULES) == 70
    assert spaced_interval(WIDE, 0.0, 0.25, RULES) == 90  # reads nothing: the tier's longest gap
    assert spaced_interval(MEDIUM, 0.25, 0.25, RULES, preference="less") == 28


def test_a_veiled_readers_clicks_stand_for_the_opens_the_proxy_hid() -> None:
    assert veiled_reads(2, 0.25) == 8  # one open in four leads to a click, everyone's rate says
    assert veiled_reads(2, None) == 2  # nobody has opened yet: a click is one read mail
    assert veiled_reads(3, 2.0) == 3  # more clicks than opens (links clicked twice): never fewer reads


@settings(derandomize=True)
@given(st.integers(0, 50), st.integers(0, 50), st.floats(0.01, 1), st.floats(0, 20))
def test_read_rate_is_a_share_and_one_more_read_never_lowers_it(
    reads: int, ignored: int, target: float, prior: float
) -> None:
    rate = read_rate(reads, reads + ignored, target, prior)
    assert 0 <= rate <= 1
    assert read_rate(reads + 1, reads + ignored + 1, target, prior) >= rate
    assert read_rate(reads, reads + ignored + 1, target, prior) <= rate


@settings(derandomize=True)
@given(st.floats(1, 60), st.floats(0, 60), st.floats(0, 1), st.floats(0, 1), st.floats(0.01, 1),
       st.sampled_from([None, "less"]))
def test_the_spaced_gap_stays_in_bounds_and_a_keener_reader_never_waits_longer(
    low: float, span: float, rate: float, more: float, target: float, preference: str | None
) -> None:
    cadence = TierCadence(base_days=low + span / 2, min_days=low, max_days=low + span)
    gap = spaced_interval(cadence, rate, target, RULES, preference=preference)
    upper = (low + span) * (RULES.less_mail_factor if preference else 1)
    assert low <= gap <= upper + 0.01
    assert spaced_interval(cadence, max(rate, more), target, RULES, preference=preference) <= gap


@settings(derandomize=True)
@given(st.integers(0, 100), st.none() | st.floats(0.001, 5))
def test_a_veiled_readers_clicks_never_count_for_fewer_reads_than_clicks(
    clicked: int, rate: float | None
) -> None:
    assert veiled_reads(clicked, rate) >= clicked
    assert veiled_reads(clicked + 1, rate) >= veiled_reads(clicked, rate)
