from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edm.config import ClassificationSettings, LifecycleRules, ValueTierRules
from edm.customers import (
    LIFECYCLE_STAGES,
    VALUE_TIERS,
    TierThresholds,
    assign_lifecycle_stage,
    assign_value_tier,
    classify,
    tier_thresholds,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULES = ClassificationSettings()  # new 90, mature 365, at risk 150, churned 365 days
NaN = float("nan")


def _customer(
    customer_id: int,
    *,
    orders: int = 0,
    revenue: float = 0.0,
    first_days_ago: float | None = None,
    last_days_ago: float | None = None,
    gap: float = NaN,
) -> dict[str, object]:
    def ago(days: float | None) -> object:
        return pd.NaT if days is None else NOW - timedelta(days=days)

    return {
        "customer_id": customer_id,
        "order_count": orders,
        "revenue": revenue,
        "first_order_at": ago(first_days_ago),
        "last_order_at": ago(last_days_ago),
        "longest_gap_days": gap,
    }


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    for column in ("first_order_at", "last_order_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _stage(**kwargs: object) -> str:
    frame = _frame([_customer(1, **kwargs)])  # type: ignore[arg-type]
    return str(assign_lifecycle_stage(frame, RULES.lifecycle, NOW).iloc[0])


@pytest.mark.parametrize(
    ("customer", "stage"),
    [
        ({}, "prospect"),
        ({"orders": 1, "first_days_ago": 30, "last_days_ago": 30}, "new"),
        ({"orders": 2, "first_days_ago": 90, "last_days_ago": 10, "gap": 80}, "new"),
        ({"orders": 2, "first_days_ago": 91, "last_days_ago": 10, "gap": 81}, "growing"),
        ({"orders": 3, "first_days_ago": 364, "last_days_ago": 5, "gap": 200}, "growing"),
        ({"orders": 3, "first_days_ago": 365, "last_days_ago": 5, "gap": 200}, "mature"),
        ({"orders": 9, "first_days_ago": 900, "last_days_ago": 150, "gap": 100}, "mature"),
        ({"orders": 9, "first_days_ago": 900, "last_days_ago": 150.01, "gap": 100}, "at_risk"),
        ({"orders": 1, "first_days_ago": 365, "last_days_ago": 365}, "at_risk"),
        ({"orders": 1, "first_days_ago": 366, "last_days_ago": 366}, "churned"),
        ({"orders": 4, "first_days_ago": 2000, "last_days_ago": 400, "gap": 900}, "churned"),
        ({"orders": 4, "first_days_ago": 1000, "last_days_ago": 30, "gap": 366}, "reacquired"),
        ({"orders": 4, "first_days_ago": 1000, "last_days_ago": 150, "gap": 500}, "reacquired"),
        ({"orders": 4, "first_days_ago": 1000, "last_days_ago": 30, "gap": 365}, "mature"),
        ({"orders": 4, "first_days_ago": 1000, "last_days_ago": 200, "gap": 500}, "at_risk"),
    ],
)
def test_lifecycle_stage_on_each_rule_and_boundary(customer: dict[str, object], stage: str) -> None:
    assert _stage(**customer) == stage


def test_value_tier_boundaries_with_fixed_thresholds() -> None:
    revenues = [100.0, 99.99, 50.01, 50.0, 0.0]
    frame = _frame([_customer(i, orders=1, revenue=r) for i, r in enumerate(revenues)])
    tiers = assign_value_tier(frame, TierThresholds(high=100.0, medium=50.0)).tolist()
    assert tiers == ["high", "medium", "medium", "low", "low"]


def test_customers_without_orders_are_low_whatever_the_revenue_says() -> None:
    frame = _frame([_customer(1, orders=0, revenue=1e9)])
    assert assign_value_tier(frame, TierThresholds(high=1.0, medium=0.5)).tolist() == ["low"]


def test_thresholds_are_the_quantiles_of_customers_who_ordered() -> None:
    buyers = [_customer(i, orders=1, revenue=float(i), first_days_ago=9, last_days_ago=9)
              for i in range(1, 11)]
    prospects = [_customer(100 + i) for i in range(10)]
    result = classify(_frame(buyers + prospects), RULES, NOW)
    by_id = dict(zip(result["customer_id"], result["value_tier"], strict=True))
    assert [by_id[i] for i in range(1, 11)] == ["low"] * 5 + ["medium"] * 3 + ["high"] * 2
    assert all(by_id[100 + i] == "low" for i in range(10))
    assert set(result["lifecycle_stage"]) == {"new", "prospect"}
    assert tier_thresholds(pd.Series([float(i) for i in range(1, 11)]), RULES.value_tier) == (
        TierThresholds(high=8.2, medium=5.05)
    )


def test_equal_revenue_everywhere_makes_nobody_high() -> None:
    frame = _frame([_customer(i, orders=1, revenue=500.0) for i in range(5)])
    assert set(classify(frame, RULES, NOW)["value_tier"]) == {"low"}


def test_nobody_ordered_yet_means_everyone_is_a_low_prospect() -> None:
    thresholds = tier_thresholds(pd.Series([], dtype=float), RULES.value_tier)
    assert thresholds == TierThresholds(math.inf, math.inf)
    result = classify(_frame([_customer(1), _customer(2)]), RULES, NOW)
    assert result["value_tier"].tolist() == ["low", "low"]
    assert result["lifecycle_stage"].tolist() == ["prospect", "prospect"]


def test_classify_keeps_the_input_and_refuses_missing_columns() -> None:
    frame = _frame([_customer(7, orders=1, revenue=3.0, first_days_ago=1, last_days_ago=1)])
    result = classify(frame, RULES, NOW)
    assert list(result.columns) == [*frame.columns, "value_tier", "lifecycle_stage"]
    assert "value_tier" not in frame.columns
    with pytest.raises(ValueError, match="longest_gap_days"):
        classify(frame.drop(columns="longest_gap_days"), RULES, NOW)


@st.composite
def aggregates(draw: st.DrawFn) -> pd.DataFrame:
    """Self-consistent per-customer aggregates: first <= last, gap <= span."""
    rows = []
    for customer_id in range(draw(st.integers(0, 40))):
        orders = draw(st.integers(0, 30))
        if orders == 0:
            rows.append(_customer(customer_id))
            continue
        first = draw(st.floats(0, 4000))
        last = draw(st.floats(0, first))
        gap = draw(st.floats(0, first - last)) if orders > 1 else NaN
        revenue = draw(st.integers(0, 10**8)) / 100
        rows.append(_customer(customer_id, orders=orders, revenue=revenue,
                              first_days_ago=first, last_days_ago=last, gap=gap))
    if not rows:
        return _frame([_customer(0)]).iloc[0:0]
    return _frame(rows)


lifecycle_rules = st.builds(
    lambda new, mature, at_risk, extra: LifecycleRules(
        new_days=new, mature_days=mature, at_risk_days=at_risk, churned_days=at_risk + extra
    ),
    st.integers(1, 400), st.integers(1, 1000), st.integers(1, 600), st.integers(1, 600),
)
tier_rules = st.tuples(st.floats(0.01, 0.98), st.floats(0.01, 0.98)).filter(
    lambda q: abs(q[0] - q[1]) > 1e-6
).map(lambda q: ValueTierRules(high_quantile=max(q), medium_quantile=min(q)))


@given(aggregates(), lifecycle_rules, tier_rules)
def test_every_customer_gets_exactly_one_known_stage_and_tier(
    frame: pd.DataFrame, lifecycle: LifecycleRules, tiers: ValueTierRules
) -> None:
    rules = ClassificationSettings(value_tier=tiers, lifecycle=lifecycle)
    result = classify(frame, rules, NOW)
    assert len(result) == len(frame) and result.index.equals(frame.index)
    assert set(result["value_tier"]) <= set(VALUE_TIERS)
    assert set(result["lifecycle_stage"]) <= set(LIFECYCLE_STAGES)
    prospects = result["order_count"] == 0
    assert (result.loc[prospects, "lifecycle_stage"] == "prospect").all()
    assert (result.loc[~prospects, "lifecycle_stage"] != "prospect").all()
    assert (result.loc[prospects, "value_tier"] == "low").all()


@given(aggregates(), st.integers(1, 5))
def test_classifying_partitions_with_global_thresholds_matches_the_whole(
    frame: pd.DataFrame, parts: int
) -> None:
    whole = classify(frame, RULES, NOW)
    buyers = frame["order_count"] > 0
    thresholds = tier_thresholds(frame.loc[buyers, "revenue"], RULES.value_tier)
    size = max(1, -(-len(frame) // parts))
    pieces = [frame.iloc[i : i + size] for i in range(0, len(frame), size)]
    tiers = [assign_value_tier(p, thresholds) for p in pieces]
    stages = [assign_lifecycle_stage(p, RULES.lifecycle, NOW) for p in pieces]
    if pieces:
        assert pd.concat(tiers).tolist() == whole["value_tier"].tolist()
        assert pd.concat(stages).tolist() == whole["lifecycle_stage"].tolist()


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=300, unique=True), tier_rules)
def test_tier_proportions_follow_the_quantiles(cents: list[int], rules: ValueTierRules) -> None:
    frame = _frame([_customer(i, orders=1, revenue=c / 100, first_days_ago=1, last_days_ago=1)
                    for i, c in enumerate(cents)])
    thresholds = tier_thresholds(frame["revenue"], rules)
    tiers = assign_value_tier(frame, thresholds).value_counts()
    n = len(cents)
    high, medium = int(tiers.get("high", 0)), int(tiers.get("medium", 0))
    assert abs(high - n * (1 - rules.high_quantile)) <= 1
    assert abs(high + medium - n * (1 - rules.medium_quantile)) <= 1


@given(
    st.floats(0, 1e9), st.floats(0, 1e9), st.floats(0, 1e9), st.floats(0, 1e9)
)
def test_more_revenue_never_lowers_the_tier(
    revenue: float, extra: float, a: float, b: float
) -> None:
    thresholds = TierThresholds(high=max(a, b), medium=min(a, b))
    rank = {"low": 0, "medium": 1, "high": 2}
    frame = _frame([_customer(1, orders=1, revenue=revenue),
                    _customer(2, orders=1, revenue=revenue + extra)])
    before, after = assign_value_tier(frame, thresholds).tolist()
    assert rank[after] >= rank[before]
