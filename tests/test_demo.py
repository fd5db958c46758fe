"""`edm demo`'s count of the kinds only a customer's own clock tells apart, from plain profile rows.

The whole demo runs in tests/test_cli.py; tests/test_sample.py checks the counts on the bundled sample.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from edm.config import ClassificationSettings, LifecycleRules
from edm.demo import OWN_CLOCK_COLUMNS, OwnClockKinds, format_own_clock, own_clock_kinds

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
RULES = ClassificationSettings()


def _row(stage: str, *, order_days: int = 12, interval: float | None = 30.0, silent_days: float = 10,
         returned_days_ago: int | None = None, recent: float = 12.0, usual: float | None = 12.0,
         alive: float | None = 0.9) -> dict[str, Any]:
    row = {
        "lifecycle_stage": stage,
        "order_days": order_days,
        "expected_interval_days": interval,
        "returned_at": None if returned_days_ago is None else NOW - timedelta(days=returned_days_ago),
        "recent_orders_per_year": recent,
        "usual_orders_per_year": usual,
        "probability_alive": alive,
        "last_order_at": NOW - timedelta(days=silent_days),
        "computed_at": NOW,
    }
    assert set(row) == set(OWN_CLOCK_COLUMNS)
    return row


def test_annual_buyers_on_time_have_a_year_long_interval_and_are_growing_or_mature() -> None:
    rows = [
        _row("mature", order_days=3, interval=365, silent_days=250),  # on time
        _row("growing", order_days=3, interval=300, silent_days=120),  # on time, at the bound
        _row("at_risk", order_days=3, interval=365, silent_days=800),  # late: not on time
        _row("churned", order_days=3, interval=365, silent_days=1200),
        _row("mature", interval=299),  # a shorter rhythm
        _row("mature", order_days=5, interval=320, returned_days_ago=400),  # back after a lapse instead
    ]
    kinds = own_clock_kinds(rows, RULES)
    assert kinds.annual_on_time == 2
    assert kinds.back_long_ago == 1


def test_pace_fell_counts_the_at_risk_whose_pace_not_silence_put_them_there() -> None:
    rows = [
        _row("at_risk", interval=30, silent_days=20, recent=2.0, usual=12.0),  # counted
        _row("at_risk", interval=30, silent_days=59.9, recent=2.0, usual=12.0),  # 59 whole days: 1.97x
        _row("at_risk", interval=30, silent_days=60, recent=2.0, usual=12.0),  # 2x late: the silence
        _row("at_risk", interval=30, silent_days=20, recent=6.0, usual=12.0),  # exactly half: no fall
        _row("at_risk", interval=30, silent_days=20, recent=2.0, usual=None),  # usual pace unknown
        _row("mature", interval=30, silent_days=20, recent=2.0, usual=12.0),  # not at risk
    ]
    assert own_clock_kinds(rows, RULES).pace_fell == 2
    stricter = ClassificationSettings(lifecycle=LifecycleRules(falling_ratio=0.1))
    assert own_clock_kinds(rows, stricter).pace_fell == 0


def test_one_time_buyers_past_new_with_their_range_of_churn_risk() -> None:
    rows = [
        _row("at_risk", order_days=1, silent_days=160, alive=0.6),
        _row("churned", order_days=1, silent_days=900, alive=0.05),
        _row("churned", order_days=1, silent_days=400, alive=None),  # no model: counted, no risk
        _row("new", order_days=1, silent_days=5, alive=0.99),  # just started, not a one-time buyer yet
        _row("mature", order_days=2),
    ]
    kinds = own_clock_kinds(rows, RULES)
    assert kinds.one_time == 3
    assert kinds.one_time_risk == pytest.approx((0.4, 0.95))


def test_back_after_a_lapse_long_ago_only_once_no_longer_reacquired() -> None:
    rows = [
        _row("mature", returned_days_ago=420),
        _row("growing", returned_days_ago=200, order_days=9),
        _row("reacquired", returned_days_ago=30),
        _row("at_risk", returned_days_ago=500, silent_days=200),
    ]
    assert own_clock_kinds(rows, RULES).back_long_ago == 2


def test_no_profiles_count_nothing_and_the_line_says_so() -> None:
    kinds = own_clock_kinds([], RULES)
    assert kinds == OwnClockKinds(0, 0, 0, None, 0)
    assert "0 one-time buyers (churn risk n/a)" in format_own_clock(kinds)


def test_the_line() -> None:
    line = format_own_clock(OwnClockKinds(14, 11, 20, (0.341, 0.968), 9))
    assert line == ("Judged by their own clock: 14 annual buyers on time, 11 whose pace fell (at risk before "
                    "they were late), 20 one-time buyers (churn risk 34%–97%), 9 back after a lapse long ago "
                    "(now growing or mature)")
