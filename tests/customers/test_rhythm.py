"""Each customer's own rhythm from raw orders (edm.customers.rhythm), and what the rules make of it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edm.classes import INDUSTRIES
from edm.config import ClassificationSettings
from edm.customers.classify import classify
from edm.customers.features import NO_LINE, CustomerColumns, OrderColumns, customer_features
from edm.customers.rhythm import order_rhythm, peer_intervals

RULES = ClassificationSettings()
TODAY = 20_000.0  # whole days since the epoch; "now" is noon of that day
NOW = TODAY + 0.5
OTHER = INDUSTRIES.index("other")


def _rhythm(days_per_customer: list[list[float]], rules: ClassificationSettings = RULES,
            industry: list[int] | None = None):  # type: ignore[no-untyped-def]
    who = np.concatenate([np.full(len(d), i, np.int64) for i, d in enumerate(days_per_customer)])
    day = np.concatenate([np.sort(np.asarray(d, float)) for d in days_per_customer])
    n = len(days_per_customer)
    codes = np.asarray(industry if industry is not None else [OTHER] * n, np.int64)
    return order_rhythm(who, day, n, codes, TODAY, rules)


def test_a_long_history_keeps_its_own_interval_and_a_short_one_leans_on_its_peers() -> None:
    rules = ClassificationSettings.model_validate({"rhythm": {"min_peers": 1}})
    peers = [[TODAY - 10 * k for k in range(6)]] * 3  # three customers every 10 days: peers' 10
    slow_long = [TODAY - 100 * k for k in range(11)]  # ten gaps of 100
    fast_short = [TODAY - 4, TODAY]  # one gap of 4 days
    rhythm = _rhythm([*peers, slow_long, fast_short], rules)
    assert rhythm.peer_intervals["other"] == pytest.approx(10.0)
    assert rhythm.expected_interval[3] == pytest.approx(100.0)  # never shortened below their own mean
    # (2 · 10 + 4) / (2 + 1) = 8 is below their own 4? no: above it, so the peers' rhythm lengthens it
    assert rhythm.expected_interval[4] == pytest.approx((2 * 10 + 4) / 3)


def test_peers_are_per_industry_when_there_are_enough_of_them() -> None:
    totals = np.array([20.0, 40.0, 300.0, 600.0])
    counts = np.array([2.0, 2.0, 2.0, 2.0])
    industry = np.array([0, 0, 2, 2])
    peers = peer_intervals(totals, counts, industry, min_peers=2, default=90.0)
    assert peers["manufacturing"] == pytest.approx(15.0) and peers["trade"] == pytest.approx(225.0)
    assert peers["services"] == peers["other"] == pytest.approx(np.median([10, 20, 150, 300]))
    assert peer_intervals(np.zeros(2), np.array([1.0, 0.0]), np.zeros(2, np.int64), 1, 90.0) == {
        name: 90.0 for name in INDUSTRIES}  # nobody with two gaps yet: the default


def test_one_time_buyers_take_their_peers_interval() -> None:
    rhythm = _rhythm([[TODAY - 700], []])
    assert rhythm.expected_interval[0] == RULES.rhythm.default_interval_days
    assert np.isnan(rhythm.expected_interval[1])  # no orders: no interval


def test_the_usual_pace_needs_enough_order_days_before_the_window() -> None:
    window = RULES.rhythm.recent_days
    three = [TODAY - window - 20 * k for k in range(1, 4)]
    four = [TODAY - window - 20 * k for k in range(1, 5)]
    rhythm = _rhythm([three, [*four, TODAY - window + 5]])
    assert np.isnan(rhythm.usual_rate[0])
    assert rhythm.usual_rate[1] == pytest.approx(365 / 20)  # exactly one every 20 days
    assert rhythm.recent_rate[1] == pytest.approx(365 / window)


def test_the_window_counts_its_first_day() -> None:
    rhythm = _rhythm([[TODAY - RULES.rhythm.recent_days], [TODAY - RULES.rhythm.recent_days - 1]])
    assert rhythm.recent_rate[0] > 0 and rhythm.recent_rate[1] == 0


def test_a_return_after_a_lapse_is_found_and_counted() -> None:
    before = [TODAY - 2000 - 30 * k for k in range(10)]  # monthly, until 2000 days ago
    after = [TODAY - 30 * k for k in range(5)]  # back 120 days ago, five order days since
    short_break = [TODAY - 100 - 30 * k for k in range(10)] + [TODAY]  # 100 days: no lapse for the floor
    rhythm = _rhythm([before + after, short_break])
    assert rhythm.return_day[0] == TODAY - 120 and rhythm.orders_since_return[0] == 5
    assert np.isnan(rhythm.return_day[1]) and np.isnan(rhythm.orders_since_return[1])


def test_the_usual_pace_counts_from_the_return() -> None:
    before_lapse = [TODAY - 2000 - 10 * k for k in range(20)]  # every 10 days, long ago
    since_return = [TODAY - 400 - 50 * k for k in range(5)]  # back 600 days ago, every 50 days
    rhythm = _rhythm([[*before_lapse, *since_return, TODAY - 350]])
    assert rhythm.usual_rate[0] == pytest.approx(365 / 50)


def test_the_latest_of_several_lapses_is_the_return() -> None:
    days = [TODAY - 3000, TODAY - 2970, TODAY - 2000, TODAY - 1970, TODAY - 1000, TODAY - 970, TODAY - 940]
    rhythm = _rhythm([days])
    assert rhythm.return_day[0] == TODAY - 1000 and rhythm.orders_since_return[0] == 3


# --- the rules over whole populations (pure: features + classify) ---------------------------


def _population(extra: list[list[float]]) -> pd.DataFrame:
    """A steady background (monthly and quarterly buyers, some who stopped, one-time buyers) plus
    `extra` customers (orders as whole days), classified at NOW; the extra ones come first."""
    rnd = np.random.default_rng(5)
    background: list[list[float]] = []
    for i in range(60):
        gap = [30, 90, 45][i % 3]
        stop = 0 if i % 4 else 400
        start = 700 + 10 * i
        background.append([TODAY - d for d in range(start, stop, -gap)])
    background += [[TODAY - float(rnd.integers(5, 800))] for _ in range(15)]
    people = [*extra, *background]
    ids = np.arange(1, len(people) + 1, dtype=np.int64)
    who = np.concatenate([np.full(len(days), i + 1, np.int64) for i, days in enumerate(people)])
    day = np.concatenate([np.asarray(days, float) for days in people])
    customers = CustomerColumns(ids, [""] * len(people), np.full(len(people), np.nan),
                                np.full(len(people), np.nan), np.full(len(people), np.nan))
    orders = OrderColumns(who, day, np.full(len(day), 100.0), np.full(len(day), np.nan),
                          np.full(len(day), NO_LINE, np.int64), ())
    features, _ = customer_features(customers, orders, NOW, RULES)
    classes, _ = classify(features, RULES)
    return pd.concat([features, classes], axis=1)


@settings(max_examples=60)
@given(gap=st.integers(1, 400), orders=st.integers(2, 40), into_gap=st.floats(0, 1))
def test_a_customer_exactly_at_their_usual_pace_is_never_at_risk(
    gap: int, orders: int, into_gap: float
) -> None:
    silent = int(into_gap * gap)  # whole days since their last order: at most one usual gap
    days = [TODAY - silent - gap * k for k in range(orders)]
    row = _population([days]).iloc[0]
    assert row["lifecycle_stage"] not in ("at_risk", "churned"), row.to_dict()
    assert row["loyalty"] not in ("at_risk", "churned")
    assert row["relationship_stage"] != "interrupted"


def test_overdue_multiples_decide_at_risk_and_churned_at_their_edges() -> None:
    def every_40_days(silent: int) -> list[float]:
        return [TODAY - silent - 40 * k for k in range(12)]

    interval = _population([every_40_days(0)])["expected_interval_days"].iloc[0]
    at_risk = RULES.lifecycle.at_risk_overdue * interval  # the shrinkage may lengthen it past 40
    churned = max(RULES.lifecycle.churned_overdue * interval, RULES.lifecycle.churned_min_days)
    silences = {"on_time": 40, "just_under_at_risk": int(np.ceil(at_risk)) - 1,
                "at_risk": int(np.ceil(at_risk)), "just_under_churned": int(np.ceil(churned)) - 1,
                "churned": int(np.ceil(churned))}
    frame = _population([every_40_days(silent) for silent in silences.values()])
    assert (frame["expected_interval_days"].iloc[: len(silences)] == interval).all()
    stages = dict(zip(silences, frame["lifecycle_stage"].iloc[: len(silences)], strict=True))
    assert stages == {"on_time": "mature", "just_under_at_risk": "mature", "at_risk": "at_risk",
                      "just_under_churned": "at_risk", "churned": "churned"}


def test_churned_needs_the_floor_in_days_whatever_the_multiple() -> None:
    weekly = [TODAY - 100 - 7 * k for k in range(30)]  # 100 days silent: 14x their week, under 180 days
    row = _population([weekly]).iloc[0]
    assert row["lifecycle_stage"] == "at_risk"
    assert row["relationship_stage"] == "interrupted"


def test_a_return_ends_being_reacquired_at_the_third_order_day() -> None:
    lapsed = [TODAY - 1500 - 30 * k for k in range(10)]
    cases = [lapsed + [TODAY - 60 + 25 * k for k in range(n)] for n in (1, 2, 3)]
    stages = _population(cases)["lifecycle_stage"].iloc[:3].tolist()
    assert stages == ["reacquired", "reacquired", "growing"]


def test_a_return_ends_being_reacquired_after_a_year() -> None:
    lapsed = [TODAY - 3000 - 30 * k for k in range(10)]
    cases = [[*lapsed, TODAY - 364, TODAY - 200], [*lapsed, TODAY - 366, TODAY - 200]]
    stages = _population(cases)["lifecycle_stage"].iloc[:2].tolist()
    assert stages == ["reacquired", "mature"]


def test_adding_todays_order_never_makes_a_customer_at_risk_or_raises_their_churn_risk() -> None:
    silent = [TODAY - 150 - 30 * k for k in range(10)]  # monthly buyer, silent 150 days
    frame = _population([silent, [*silent, TODAY]])
    before, after = frame.iloc[0], frame.iloc[1]
    assert before["lifecycle_stage"] == "at_risk" and after["lifecycle_stage"] != "at_risk"
    assert 1 - after["probability_alive"] < 1 - before["probability_alive"]


def test_one_order_day_missing_from_a_quarterly_rhythm_is_chance_not_a_falling_pace() -> None:
    quarterly = [TODAY - 71 - 94 * k for k in range(1, 6)] + [TODAY - 71]  # one order day in the window
    monthly_then_one = [TODAY - 200 - 30 * k for k in range(12)] + [TODAY - 40]  # six expected, one came
    frame = _population([quarterly, monthly_then_one])
    assert frame["lifecycle_stage"].iloc[0] == "mature"
    assert frame["lifecycle_stage"].iloc[1] == "at_risk"


def test_a_single_long_gap_is_a_rhythm_not_a_lapse() -> None:
    two_orders_a_year_apart = [TODAY - 465, TODAY - 100]
    peers = [[TODAY - 10 * k for k in range(6)]] * 3  # the usual gap around them: 10 days
    rhythm = _rhythm([two_orders_a_year_apart, [TODAY - 900, TODAY - 870, TODAY - 100], *peers])
    assert np.isnan(rhythm.return_day[0])
    assert rhythm.return_day[1] == TODAY - 100  # with another gap to compare with, it is a lapse
    assert _population([two_orders_a_year_apart])["lifecycle_stage"].iloc[0] == "mature"
