"""Recompute every customer's profile: aggregates in SQL, classification in pandas.

The per-customer numbers (order count, revenue, first/last order, longest gap between
two orders) are computed by the database, so only one row per customer travels to
Python. Only the classification columns of `customer_profiles` are written; the
contact interval belongs to the engagement module and survives every recompute.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.classes import LIFECYCLE_STAGES, VALUE_TIERS
from edm.clock import Clock
from edm.config import ClassificationSettings
from edm.customers.classify import classify
from edm.store import Customer, CustomerProfile, Order, upsert
from edm.store.sql import days_between

PROFILE_COLUMNS = (
    "value_tier",
    "lifecycle_stage",
    "order_count",
    "revenue",
    "first_order_at",
    "last_order_at",
    "computed_at",
)


@dataclass(frozen=True)
class ClassificationSummary:
    """Customers per tier and per stage, and how many moved (a first profile counts as moved)."""

    tiers: dict[str, int]
    stages: dict[str, int]
    changed: int
    total: int


def aggregates_query() -> Select[Any]:
    """One row per customer (prospects included) with order aggregates and the old profile."""
    previous_at = func.lag(Order.ordered_at).over(
        partition_by=Order.customer_id, order_by=Order.ordered_at
    )
    orders = select(
        Order.customer_id, Order.ordered_at, Order.amount, previous_at.label("previous_at")
    ).subquery("ordered")
    totals = (
        select(
            orders.c.customer_id,
            func.count().label("order_count"),
            func.sum(orders.c.amount).label("revenue"),
            func.min(orders.c.ordered_at).label("first_order_at"),
            func.max(orders.c.ordered_at).label("last_order_at"),
            func.max(days_between(orders.c.ordered_at, orders.c.previous_at)).label(
                "longest_gap_days"
            ),
        )
        .group_by(orders.c.customer_id)
        .subquery("totals")
    )
    return (
        select(
            Customer.id,
            totals.c.order_count,
            totals.c.revenue,
            totals.c.first_order_at,
            totals.c.last_order_at,
            totals.c.longest_gap_days,
            CustomerProfile.value_tier,
            CustomerProfile.lifecycle_stage,
        )
        .outerjoin(totals, totals.c.customer_id == Customer.id)
        .outerjoin(CustomerProfile, CustomerProfile.customer_id == Customer.id)
        .order_by(Customer.id)
    )


def recompute_profiles(
    sessions: sessionmaker[Session], rules: ClassificationSettings, clock: Clock
) -> ClassificationSummary:
    """Classify every customer now and store the result, in one transaction."""
    now = clock.now()
    with sessions.begin() as session:
        rows = session.execute(aggregates_query()).all()
        frame = _frame(rows)
        classified = classify(frame, rules, now)
        tiers = classified["value_tier"].tolist()
        stages = classified["lifecycle_stage"].tolist()
        profiles = [
            {
                "customer_id": row[0],
                "value_tier": tier,
                "lifecycle_stage": stage,
                "order_count": row[1] or 0,
                "revenue": row[2] if row[2] is not None else Decimal("0.00"),
                "first_order_at": row[3],
                "last_order_at": row[4],
                "computed_at": now,
            }
            for row, tier, stage in zip(rows, tiers, stages, strict=True)
        ]
        upsert(session, CustomerProfile, profiles, key="customer_id", update=PROFILE_COLUMNS)
    changed = sum(
        (row[6], row[7]) != (tier, stage) for row, tier, stage in zip(rows, tiers, stages, strict=True)
    )
    tier_counts, stage_counts = Counter(tiers), Counter(stages)
    return ClassificationSummary(
        tiers={t: tier_counts[t] for t in VALUE_TIERS},
        stages={s: stage_counts[s] for s in LIFECYCLE_STAGES},
        changed=changed,
        total=len(rows),
    )


def _frame(rows: Sequence[Any]) -> pd.DataFrame:
    """The SQL rows as the frame `classify` expects (floats and UTC timestamps)."""
    return pd.DataFrame(
        {
            "customer_id": pd.Series([r[0] for r in rows], dtype="int64"),
            "order_count": pd.Series([r[1] or 0 for r in rows], dtype="int64"),
            "revenue": pd.Series([float(r[2] or 0) for r in rows], dtype="float64"),
            "first_order_at": pd.to_datetime(pd.Series([r[3] for r in rows], dtype=object), utc=True),
            "last_order_at": pd.to_datetime(pd.Series([r[4] for r in rows], dtype=object), utc=True),
            "longest_gap_days": pd.Series(
                [float("nan") if r[5] is None else float(r[5]) for r in rows], dtype="float64"
            ),
        }
    )
