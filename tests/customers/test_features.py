"""Per-customer figures from columnar orders: hand-made histories and invariants."""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

from edm.config import ClassificationSettings
from edm.customers.features import (
    NO_LINE,
    CustomerColumns,
    OrderColumns,
    by_customer_then_day,
    customer_features,
)

NOW = 20_000.0  # epoch day
RULES = ClassificationSettings()  # frequency window 365, loyalty recent 180, churn-kind recent 180
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
    assert frame.loc[1, "usual_orders_per_year"] == pytest.approx(4 / (700 - 180) * 365)
    assert frame.loc[2, "orders_per_year"] == pytest.approx(2 / 60 * 365)  # a customer for 60 days
    assert np.isnan(frame.loc[2, "usual_orders_per_year"])  # first order inside the recent window
    assert frame.loc[3, "orders_per_year"] == pytest.approx(1 / 30 * 365)  # at least a 30-day span


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
