"""Uplift against the holdout on the hand-made history, and the two intervals against published
and independently computed values."""

from __future__ import annotations

import math

import pytest
from scipy import stats
from sqlalchemy.orm import Session, sessionmaker

from edm.reports import newcombe_interval, uplift_table
from edm.reports.uplift import Group, welch_interval, wilson_interval
from tests.reports.history import MARCH, seed

# spring, mailed (sent, any order within 30 days of sent_at): #1 c1 o1+o2 = 150, #2 c2 o3 = 80,
# #3 c3 o7 = 10, #14 c1 o1+o2 = 150, #15 c2 o3 = 80 (accepted, bounced later: still mailed).
MAILED = [150.0, 80.0, 10.0, 150.0, 80.0]
# holdout, from the planned moment 03-10: c5 o8 = 60 (5 days), c6 o9 = 0 (41 days: outside)
HOLDOUT = [60.0, 0.0]


@pytest.mark.parametrize(("counts", "published"), [
    # Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
])
def test_newcombe_interval_matches_the_published_examples(
    counts: tuple[int, int, int, int], published: tuple[float, float]
) -> None:
    low, high = newcombe_interval(*counts)
    assert (round(low, 4), round(high, 4)) == published


def test_wilson_interval_by_hand() -> None:
    # 1 of 2 at 95%: centre (0.5 + z²/4) / (1 + z²/2) = 0.5; half z/(1+z²/2) * sqrt(1/8 + z²/16)
    z = 1.959963984540054
    half = z / (1 + z * z / 2) * math.sqrt(0.125 + z * z / 16)
    assert wilson_interval(1, 2) == pytest.approx((0.5 - half, 0.5 + half))


def test_welch_interval_agrees_with_scipy() -> None:
    mailed = Group(len(MAILED), 5, sum(MAILED), sum(v * v for v in MAILED))
    held = Group(len(HOLDOUT), 1, sum(HOLDOUT), sum(v * v for v in HOLDOUT))
    expected = stats.ttest_ind(MAILED, HOLDOUT, equal_var=False).confidence_interval(0.95)
    assert welch_interval(mailed, held) == pytest.approx((expected.low, expected.high))
    assert math.isnan(welch_interval(mailed, Group(1, 1, 60.0, 3600.0))[0])  # one member: no variance


def test_uplift_of_the_campaign_with_a_holdout(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    with any_sessions() as session:
        table = uplift_table(session, attribution_days=30, confidence=0.95)
        march = uplift_table(session, attribution_days=30, **MARCH)
    assert table["campaign"].tolist() == ["spring"]  # winback had no holdout
    row = table.iloc[0]
    assert (row["mailed"], row["mailed_buyers"], row["holdout"], row["holdout_buyers"]) == (5, 5, 2, 1)
    assert row["mailed_order_rate"] == 1.0 and row["holdout_order_rate"] == 0.5
    assert row["order_rate_uplift"] == pytest.approx(0.5)
    assert (row["order_rate_low"], row["order_rate_high"]) == pytest.approx(newcombe_interval(5, 5, 1, 2))
    assert row["mailed_revenue_per_recipient"] == pytest.approx(94.0)  # 470 / 5
    assert row["holdout_revenue_per_recipient"] == pytest.approx(30.0)  # 60 / 2
    assert row["revenue_uplift"] == pytest.approx(64.0)
    welch = stats.ttest_ind(MAILED, HOLDOUT, equal_var=False).confidence_interval(0.95)
    assert (row["revenue_low"], row["revenue_high"]) == pytest.approx((welch.low, welch.high))
    assert march.equals(table)  # every spring message was planned in March


def test_no_holdout_in_the_period_gives_an_empty_table(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    with any_sessions() as session:
        table = uplift_table(session, since=MARCH["until"])
    assert table.empty
