"""Value tier and lifecycle stage as pure functions over per-customer aggregates.

Partition-safe: the only global numbers are the revenue quantiles (`tier_thresholds`),
computed once over all customers; `assign_value_tier` and `assign_lifecycle_stage` then
look at one row at a time, so they can run per partition (e.g. under Dask `map_partitions`).

Input frame, one row per customer: `customer_id, order_count, revenue (float),
first_order_at, last_order_at (UTC datetimes or NaT), longest_gap_days (float, NaN when
fewer than 2 orders)`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from edm.config import ClassificationSettings, LifecycleRules, ValueTierRules

AGGREGATE_COLUMNS = (
    "customer_id",
    "order_count",
    "revenue",
    "first_order_at",
    "last_order_at",
    "longest_gap_days",
)
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class TierThresholds:
    """Revenue cut-offs: `high` or more is high value, more than `medium` is medium.

    `inf` when nobody has ordered yet, so every customer is low.
    """

    high: float
    medium: float


def tier_thresholds(revenue: pd.Series, rules: ValueTierRules) -> TierThresholds:
    """The revenue quantiles over the customers who have ordered (pass only their revenue).

    Customers who never ordered would drag every quantile towards zero, so they are left out.
    """
    values = pd.to_numeric(revenue, errors="coerce").dropna().astype(float)
    if values.empty:
        return TierThresholds(high=math.inf, medium=math.inf)
    return TierThresholds(
        high=float(values.quantile(rules.high_quantile)),
        medium=float(values.quantile(rules.medium_quantile)),
    )


def assign_value_tier(aggregates: pd.DataFrame, thresholds: TierThresholds) -> pd.Series:
    """high / medium / low per row; customers without orders are always low.

    High needs revenue at or above the high cut-off *and* above the medium cut-off, so
    when ties make both cut-offs equal the tied mass is not all declared high.
    """
    revenue = aggregates["revenue"].astype(float).to_numpy()
    ordered = aggregates["order_count"].fillna(0).astype(int).to_numpy() > 0
    above_medium = ordered & (revenue > thresholds.medium)
    high = above_medium & (revenue >= thresholds.high)
    tiers = np.select([high, above_medium], ["high", "medium"], default="low")
    return pd.Series(tiers, index=aggregates.index, name="value_tier", dtype=object)


def assign_lifecycle_stage(
    aggregates: pd.DataFrame, rules: LifecycleRules, now: datetime
) -> pd.Series:
    """The lifecycle stage per row, first matching rule wins.

    Order: prospect (no orders), churned (silent > churned_days), at_risk (silent >
    at_risk_days), new (first order within new_days), reacquired (once silent for more
    than churned_days between two orders, active again), growing (customer for less
    than mature_days), mature.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    at = pd.Timestamp(now).tz_convert("UTC")
    first = pd.to_datetime(aggregates["first_order_at"], utc=True)
    last = pd.to_datetime(aggregates["last_order_at"], utc=True)
    since_first = ((at - first).dt.total_seconds() / SECONDS_PER_DAY).to_numpy(float)
    since_last = ((at - last).dt.total_seconds() / SECONDS_PER_DAY).to_numpy(float)
    gap = aggregates["longest_gap_days"].astype(float).to_numpy()
    count = aggregates["order_count"].fillna(0).astype(int).to_numpy()
    prospect = (count == 0) | np.isnan(since_last)
    with np.errstate(invalid="ignore"):
        conditions = [
            prospect,
            since_last > rules.churned_days,
            since_last > rules.at_risk_days,
            since_first <= rules.new_days,
            (gap > rules.churned_days) & (since_last <= rules.at_risk_days),
            since_first < rules.mature_days,
        ]
    choices = ["prospect", "churned", "at_risk", "new", "reacquired", "growing"]
    stages = np.select(conditions, choices, default="mature")
    return pd.Series(stages, index=aggregates.index, name="lifecycle_stage", dtype=object)


def classify(
    aggregates: pd.DataFrame, rules: ClassificationSettings, now: datetime
) -> pd.DataFrame:
    """A copy of `aggregates` with `value_tier` and `lifecycle_stage` added."""
    missing = [c for c in AGGREGATE_COLUMNS if c not in aggregates.columns]
    if missing:
        raise ValueError(f"aggregates lack column(s): {', '.join(missing)}")
    buyers = aggregates["order_count"].fillna(0).astype(int) > 0
    thresholds = tier_thresholds(aggregates.loc[buyers, "revenue"], rules.value_tier)
    result = aggregates.copy()
    result["value_tier"] = assign_value_tier(aggregates, thresholds)
    result["lifecycle_stage"] = assign_lifecycle_stage(aggregates, rules.lifecycle, now)
    return result
