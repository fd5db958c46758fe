"""Per-customer figures from columnar orders: hand-made histories and invariants."""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from edm.classes import INDUSTRIES
from edm.config import ClassificationSettings, LifecycleRules, RhythmRules
from edm.customers import features, rhythm
from edm.customers.classify import classify, falling_pace
from edm.customers.features import (
    NO_LINE,
    CustomerColumns,
    OrderColumns,
    by_customer_then_day,
    customer_features,
)

NOW = 20_000.0  # epoch day
RULES = ClassificationSettings()  # frequency window 365, rhythm recent 180, churn-kind recent 180
LINES = ("ink", "paper", "toner")


def _customers(n: int, **columns: Any) -> CustomerColumns:
    nan = np.full(n, np.nan)
    return CustomerColumns(
        customer_id=np.arange(1, n + 1, dtype=np.int64),
        industry_text=columns.get("industry_text", [""] * n),
        share=np.asarray(columns.get("share", nan), dtype=float),
        category_spend=np.asarray(columns.get("category_spend", nan), dtype=float),
        engaged_day=np.asarray(columns.get("engaged_day", nan), dtype=float),
    )


def _orders(rows: list[tuple[int, float, float, float, str | None]]) -> OrderColumns:
    """Rows of (customer id, days ago, amount, margin or NaN, product line)."""
    return OrderColumns(
        customer_id=np.array([r[0] for r in rows], dtype=np.int64),
        day=np.array([NOW - r[1] for r in rows], dtype=float),
        amount=np.array([r[2] for r in rows], dtype=float),
        margin=np.array([r[3] for r in rows], dtype=float),
        line=np.array([NO_LINE if r[4] is None else LINES.index(r[4]) for r in rows], dtype=np.int64),
        line_names=LINES,
    )


Row = tuple[int, float, float, float, str | None]


def _features(n: int, rows: list[Row], **columns: Any) -> pd.DataFrame:
    frame, _ = customer_features(_customers(n, **columns), _orders(rows), NOW, RULES)
    return frame.set_index("customer_id")


NAN = float("nan")


def test_totals_margins_and_gaps_per_customer() -> None:
    rows = [
        # customer 1: orders 400, 300, 100 and twice 10 days ago (one distinct day)
        (1, 400.0, 100.0, 20.0, "ink"), (1, 300.0, 200.0, NAN, "ink"), (1, 100.0, 300.0, 30.0, "paper"),
        (1, 10.0, 50.0, 5.0, "paper"), (1, 10.0, 50.0, 5.0, "paper"),
        (2, 30.0, 80.0, NAN, None),
    ]
    frame = _features(3, rows)
    one, two, prospect = frame.loc[1], frame.loc[2], frame.loc[3]
    assert (one.order_count, one.order_days, one.revenue) == (5, 4, 700.0)
    assert one.margin == 60.0 and one.margin_rate == pytest.approx(60.0 / 500.0)
    assert one.annual_revenue == 600.0
    assert (one.days_since_first, one.days_since_last) == (400.0, 10.0)
    assert one.longest_gap_days == 200.0 and one.mean_gap_days == 130.0
    assert one.gap_variation == pytest.approx(np.std([100.0, 200.0, 90.0]) / 130.0)
    assert np.isnan(two.margin) and np.isnan(two.margin_rate) and np.isnan(two.mean_gap_days)
    assert prospect.order_count == 0 and prospect.revenue == 0.0
    assert np.isnan(prospect.days_since_last) and np.isnan(prospect.probability_alive)


def test_order_rates_use_the_window_or_the_tenure_if_shorter() -> None:
    rows = [(1, d, 10.0, NAN, None) for d in (700.0, 500.0, 300.0, 200.0, 100.0, 50.0)]
    rows += [(2, 60.0, 10.0, NAN, None), (2, 5.0, 10.0, NAN, None)]
    rows += [(3, 1.0, 10.0, NAN, None)]
    frame = _features(3, rows)
    assert frame.loc[1, "orders_per_year"] == pytest.approx(4.0)  # 4 orders in the last 365 days
    assert frame.loc[1, "recent_orders_per_year"] == pytest.approx(2 / 180 * 365)
    # the pace of the gaps before the window: 3 gaps over the 500 days from 700 to 200 days ago
    assert frame.loc[1, "usual_orders_per_year"] == pytest.approx(3 / (700 - 200) * 365)
    assert frame.loc[2, "orders_per_year"] == pytest.approx(2 / 60 * 365)  # a customer for 60 days
    assert frame.loc[2, "recent_orders_per_year"] == pytest.approx(2 / 60 * 365)
    assert np.isnan(frame.loc[2, "usual_orders_per_year"])  # first order inside the recent window
    assert frame.loc[3, "orders_per_year"] == pytest.approx(1 / 30 * 365)  # at least a 30-day span


def test_the_pace_counts_order_days_and_needs_four_of_them_before_the_window() -> None:
    rows = [(1, d, 10.0, NAN, None) for d in (600.0, 500.0, 400.0, 300.0)]
    rows += [(1, 180.0, 10.0, NAN, None), (1, 180.0, 5.0, NAN, None)]  # two orders on the cut-off day
    rows += [(2, d, 10.0, NAN, None) for d in (500.0, 400.0, 300.0, 10.0)]
    rows += [(3, d, 10.0, NAN, None) for d in (600.0, 600.0, 500.0, 400.0, 179.0)]
    frame = _features(3, rows)
    assert frame.loc[1, "recent_orders_per_year"] == pytest.approx(1 / 180 * 365)  # one day, counted
    assert frame.loc[1, "usual_orders_per_year"] == pytest.approx(3 / 300 * 365)
    assert np.isnan(frame.loc[2, "usual_orders_per_year"])  # 3 order days before the window
    assert frame.loc[2, "recent_orders_per_year"] == pytest.approx(1 / 180 * 365)
    assert np.isnan(frame.loc[3, "usual_orders_per_year"])  # 4 orders before, but on 3 days
    assert frame.loc[3, "recent_orders_per_year"] == pytest.approx(1 / 180 * 365)


def test_the_expected_interval_leans_on_the_peers_and_never_below_the_own_mean() -> None:
    rows = [(1, d, 10.0, NAN, None) for d in (700.0, 500.0, 300.0, 200.0, 100.0, 50.0)]  # mean gap 130
    rows += [(2, 60.0, 10.0, NAN, None), (2, 5.0, 10.0, NAN, None)]  # one gap of 55
    rows += [(3, 1.0, 10.0, NAN, None)]
    frame, models = customer_features(_customers(4), _orders(rows), NOW, RULES)
    # peers: the median mean gap of those with 3 order days or more (too few per industry: everyone's)
    assert models.peer_intervals == {industry: 130.0 for industry in INDUSTRIES}
    expected = frame.set_index("customer_id")["expected_interval_days"]
    assert expected.loc[1] == 130.0
    assert expected.loc[2] == pytest.approx((2 * 130.0 + 55.0) / 3)  # shrunk with the weight of 2 gaps
    assert expected.loc[3] == 130.0  # one order day: the peers' interval
    assert np.isnan(expected.loc[4])  # no orders


def test_peers_are_the_industry_when_enough_of_it_has_a_rhythm_else_everyone_else_the_default() -> None:
    rules = ClassificationSettings(rhythm=RhythmRules(min_peers=2))
    rows = [(1, d, 10.0, NAN, None) for d in (70.0, 40.0, 10.0)]  # manufacturing, gaps of 30
    rows += [(2, d, 10.0, NAN, None) for d in (110.0, 60.0, 10.0)]  # manufacturing, gaps of 50
    rows += [(3, d, 10.0, NAN, None) for d in (210.0, 110.0, 10.0)]  # trade, gaps of 100: alone
    rows += [(4, 5.0, 10.0, NAN, None), (5, 5.0, 10.0, NAN, None), (6, 5.0, 10.0, NAN, None)]
    texts = ["机械制造", "Factory", "零售", "机械制造", "零售", ""]
    frame, models = customer_features(_customers(6, industry_text=texts), _orders(rows), NOW, rules)
    assert models.peer_intervals == {"manufacturing": 40.0, "services": 50.0, "trade": 50.0, "other": 50.0}
    expected = frame["expected_interval_days"].tolist()
    assert expected[0] == pytest.approx((2 * 40.0 + 60.0) / 4)  # 35: shrunk up toward the peers' 40
    assert expected[1] == 50.0  # shrunk would be 45: never below the own mean of 50
    assert expected[2] == 100.0  # (2 * 50 + 200) / 4 = 75 is below their own 100
    assert expected[3:] == [40.0, 50.0, 50.0]
    alone, nobody = customer_features(_customers(2), _orders([(1, 5.0, 1.0, NAN, None),
                                                              (2, 40.0, 1.0, NAN, None),
                                                              (2, 10.0, 1.0, NAN, None)]), NOW, RULES)
    assert nobody.peer_intervals == {industry: 90.0 for industry in INDUSTRIES}  # the default
    assert alone["expected_interval_days"].tolist() == [90.0, (2 * 90.0 + 30.0) / 3]


def test_a_return_is_the_first_order_day_after_the_last_lapse() -> None:
    rows = [(1, d, 10.0, NAN, None) for d in (900.0, 870.0, 840.0, 810.0, 100.0, 70.0)]  # 710 after 30s
    rows += [(2, d, 10.0, NAN, None) for d in (2000.0, 1500.0, 300.0)]  # 1200 > churned_days
    rows += [(3, d, 10.0, NAN, None) for d in (400.0, 300.0, 200.0, 100.0)]  # steady: never lapsed
    rows += [(4, d, 10.0, NAN, None) for d in (3000.0, 2980.0, 1500.0, 1480.0, 100.0, 80.0, 60.0)]
    rows += [(5, d, 10.0, NAN, None) for d in (700.0, 400.0, 100.0)]  # 300 every time: their rhythm
    rows += [(6, d, 10.0, NAN, None)  # lapsed after 2970, then 4 order days 30 apart and one since
             for d in (3000.0, 2990.0, 2980.0, 2970.0, 500.0, 470.0, 440.0, 410.0, 100.0)]
    rows += [(7, 1000.0, 10.0, NAN, None), (7, 100.0, 10.0, NAN, None)]  # an only gap is their rhythm
    rows += [(8, 1300.0, 10.0, NAN, None), (8, 100.0, 10.0, NAN, None)]  # ... unless over churned_days
    frame = _features(8, rows)
    assert frame["days_since_return"].tolist()[:2] == [100.0, 300.0]
    assert frame["orders_since_return"].tolist()[:2] == [2.0, 1.0]
    assert frame.loc[[3, 5, 7], ["days_since_return", "orders_since_return"]].isna().all().all()
    assert (frame.loc[8, "days_since_return"], frame.loc[8, "orders_since_return"]) == (100.0, 1.0)
    assert (frame.loc[4, "days_since_return"], frame.loc[4, "orders_since_return"]) == (100.0, 3.0)
    # the usual pace counts from the return: the pace before a lapse is another relationship's
    assert np.isnan(frame.loc[1, "usual_orders_per_year"])  # 4 order days before the window, all pre-lapse
    assert frame.loc[6, "usual_orders_per_year"] == pytest.approx(3 / 90 * 365)  # 500 to 410, not 3000 on
    assert frame.loc[6, "days_since_return"] == 500.0
    classes, _ = classify(frame.reset_index(), RULES)
    assert classes["lifecycle_stage"].tolist() == [
        "reacquired", "reacquired", "mature", "growing", "mature", "at_risk", "mature", "reacquired"]
    assert falling_pace(frame, RULES).tolist() == [False] * 5 + [True] + [False] * 2  # 6: since the return
    no_ceiling = ClassificationSettings(lifecycle=LifecycleRules(churned_days=None))
    frame, _ = customer_features(_customers(8), _orders(rows), NOW, no_ceiling)
    assert frame["days_since_return"].isna().tolist() == [False, True, True, False, True, False, True, True]
    # 2: 1200 after 500 is not 3x their other gaps; 8: an only gap


def test_expected_orders_and_predicted_value_come_from_the_fitted_models() -> None:
    rows: list[Row] = []
    for c in range(1, 41):  # buyers of different rhythms and order values
        rows += [(c, float(d), 10.0 * (1 + c % 7) + d % 3, NAN, None)
                 for d in range(5 + c % 9, 40 + 13 * c, 10 + 5 * (c % 12))]
    rows += [(41, d, 10.0, NAN, None) for d in (990.0, 960.0, 930.0, 900.0, 870.0, 840.0)]  # gone quiet
    rows += [(42, 900.0, 10.0, NAN, None)]  # bought once, long ago
    frame, models = customer_features(_customers(43), _orders(rows), NOW, RULES)
    assert models.churn is not None and models.churn.modified  # MBG/NBD
    assert models.spend is not None
    buyers = frame.iloc[:42]
    soon, year = buyers["expected_orders_90d"], buyers["expected_orders_365d"]
    assert soon.notna().all() and (soon >= 0).all() and (year >= soon).all()
    assert soon.iloc[:40].min() > 10 * soon.iloc[40]  # the quiet customer is expected to buy little
    assert buyers["probability_alive"].iloc[41] < 0.5  # a one-time buyer can have dropped out too
    # predicted value = expected orders over 365 days × a value per order between the customer's
    # own mean repeat order (the first order day left out) and the population's mean
    spend = models.spend
    population = spend.p * spend.gamma / (spend.q - 1)
    orders = pd.DataFrame(rows, columns=["customer", "ago", "amount", "margin", "line"])
    first_day = orders.groupby("customer")["ago"].transform("max") == orders["ago"]
    repeat_total = orders[~first_day].groupby("customer")["amount"].sum()
    repeat = buyers["order_days"] > 1
    own = repeat_total.to_numpy() / (buyers.loc[repeat, "order_days"].to_numpy() - 1)
    per_order = (buyers["predicted_value"] / year)[repeat].to_numpy()
    assert (per_order >= np.minimum(own, population) * (1 - 1e-9)).all()
    assert (per_order <= np.maximum(own, population) * (1 + 1e-9)).all()
    assert not np.allclose(per_order, population)  # the customer's own orders count
    prospect = frame.iloc[42]
    assert prospect[["expected_orders_90d", "expected_orders_365d", "predicted_value"]].isna().all()


def test_dropped_lines_are_those_bought_last_year_but_not_recently() -> None:
    rows = [
        (1, 300.0, 10.0, NAN, "ink"), (1, 250.0, 10.0, NAN, "paper"), (1, 20.0, 10.0, NAN, "paper"),
        (1, 900.0, 10.0, NAN, "toner"),  # bought long ago only: not a recent habit that stopped
        (2, 200.0, 10.0, NAN, "toner"), (2, 181.0, 10.0, NAN, "ink"), (2, 179.0, 10.0, NAN, "ink"),
    ]
    frame = _features(2, rows)
    assert frame.loc[1, "dropped_lines"] == "ink"
    assert frame.loc[2, "dropped_lines"] == "toner"


def test_share_of_wallet_is_the_estimate_or_last_year_sales_over_category_spend() -> None:
    rows = [(1, 10.0, 300.0, NAN, None), (2, 10.0, 300.0, NAN, None), (3, 10.0, 5000.0, NAN, None)]
    frame = _features(4, rows, share=[0.4, NAN, NAN, NAN], category_spend=[NAN, 1000.0, 1000.0, NAN])
    assert list(frame["share_of_wallet"].iloc[:3]) == pytest.approx([0.4, 0.3, 1.0])
    assert np.isnan(frame.loc[4, "share_of_wallet"])


def test_engagement_age_and_probability_alive() -> None:
    regular = [(c, d, 10.0, NAN, None) for c in range(1, 41) for d in range(10, 400, 30)]
    lapsed = [(41, d, 10.0, NAN, None) for d in range(700, 1000, 30)]
    frame = _features(42, regular + lapsed, engaged_day=[NAN] * 41 + [NOW - 3.0])
    assert frame.loc[42, "days_since_engaged"] == 3.0 and np.isnan(frame.loc[1, "days_since_engaged"])
    assert frame.loc[1, "probability_alive"] > frame.loc[41, "probability_alive"]
    assert frame["probability_alive"].min() >= 0.0 and frame["probability_alive"].max() <= 1.0


def test_an_order_for_an_unknown_customer_is_refused() -> None:
    with pytest.raises(ValueError, match="not in the customer list"):
        customer_features(_customers(1), _orders([(7, 1.0, 1.0, NAN, None)]), NOW, RULES)


order_rows = st.lists(
    st.tuples(
        st.integers(1, 6),
        st.floats(0, 2000, allow_nan=False),
        st.floats(0, 1e6, allow_nan=False),
        st.one_of(st.just(NAN), st.floats(-1e5, 1e5, allow_nan=False)),
        st.sampled_from([None, *LINES]),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(order_rows)
def test_figures_agree_with_a_plain_groupby(rows: list[tuple[int, float, float, float, str | None]]) -> None:
    frame = _features(6, rows)
    orders = pd.DataFrame(rows, columns=["customer", "ago", "amount", "margin", "line"])
    grouped = orders.groupby("customer")
    expected_count = grouped.size().reindex(range(1, 7), fill_value=0)
    assert frame["order_count"].tolist() == expected_count.tolist()
    assert frame["revenue"].to_numpy() == pytest.approx(
        grouped["amount"].sum().reindex(range(1, 7), fill_value=0.0).to_numpy(dtype=float)
    )
    assert (frame["order_days"] <= frame["order_count"]).all()
    assert (frame["annual_revenue"] <= frame["revenue"] + 1e-6).all()
    bought = frame["order_count"] > 0
    assert frame.loc[bought, "days_since_first"].ge(frame.loc[bought, "days_since_last"]).all()
    assert frame.loc[~bought, "probability_alive"].isna().all()
    # the own rhythm: known for every buyer, never shorter than their own mean gap
    interval = frame["expected_interval_days"]
    assert interval[bought].notna().all() and interval[~bought].isna().all()
    gaps = frame["mean_gap_days"].notna()
    assert (interval[gaps] >= frame.loc[gaps, "mean_gap_days"] - 1e-9).all()
    returned = frame["days_since_return"].notna()
    assert frame["orders_since_return"].notna().equals(returned)
    back = frame[returned]
    assert (back["orders_since_return"] >= 1).all()
    assert (back["orders_since_return"] < back["order_days"]).all()
    assert (back["days_since_return"] >= back["days_since_last"]).all()
    assert (back["days_since_return"] < back["days_since_first"]).all()
    assert (back["longest_gap_days"] > RULES.lifecycle.churned_min_days).all()  # a lapse came before
    for horizon in ("expected_orders_90d", "expected_orders_365d", "predicted_value"):
        assert frame.loc[~bought, horizon].isna().all()


@settings(max_examples=60, deadline=None)
@given(order_rows, st.integers(1, 7))
def test_figures_judged_a_slice_at_a_time_are_those_judged_at_once(rows: list[Row], size: int) -> None:
    """Dropped lines and lapses are worked out in slices (their sorts and temporaries stay small): any
    slice size gives what one slice gives, and a slice never splits a customer's orders."""
    at_once = _features(6, rows)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(features, "CHUNK_ORDERS", size)
        patch.setattr(rhythm, "CHUNK_GAPS", size)
        sliced = _features(6, rows)
    pd.testing.assert_frame_equal(sliced, at_once)
    who = np.sort(np.array([r[0] for r in rows], dtype=np.int64))
    parts = list(features._whole_customers(who, size))
    assert [i for part in parts for i in range(part.start, part.stop)] == list(range(len(who)))
    assert all(who[part.stop - 1] != who[part.stop] for part in parts[:-1])


@given(
    st.lists(
        st.tuples(st.sampled_from([1, 2, 7, 2**31 - 1, 2**40]), st.floats(-40_000, 80_000, allow_nan=False)),
        min_size=1,
        max_size=30,
    )
)
def test_orders_sort_by_customer_then_time_like_lexsort(rows: list[tuple[int, float]]) -> None:
    ids = np.array([r[0] for r in rows], dtype=np.int64)
    days = np.array([r[1] for r in rows])
    orders = OrderColumns(ids, days, np.arange(len(rows), dtype=float), np.full(len(rows), np.nan),
                          np.full(len(rows), NO_LINE, dtype=np.int64), ())
    expected = np.lexsort((days, ids))  # stable: ties keep their order
    result = by_customer_then_day(orders)
    assert result.customer_id.tolist() == ids[expected].tolist()
    assert result.day.tolist() == days[expected].tolist()
    assert result.amount.tolist() == expected.tolist()  # each order once, its columns kept together


def test_orders_within_one_second_still_sort_by_time() -> None:
    days = np.array([20_000.000002, 20_000.0, 20_000.000001, 19_000.0])  # the first three: within 0.2 s
    orders = OrderColumns(np.array([1, 1, 1, 2]), days, np.arange(4.0), np.full(4, np.nan),
                          np.full(4, NO_LINE, dtype=np.int64), ())
    assert by_customer_then_day(orders).amount.tolist() == [1.0, 2.0, 0.0, 3.0]
