from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.config import ClassificationSettings
from edm.customers import recompute_profiles
from edm.customers.profiles import aggregates_query
from edm.store import Customer, CustomerProfile, Order

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RULES = ClassificationSettings()  # new 90, mature 365, at risk 150, churned 365 days

# customer -> orders as (days ago, amount)
HISTORY: dict[str, list[tuple[float, str]]] = {
    "prospect": [],
    "new": [(10, "100.00")],
    "mature": [(500, "4000.00"), (300, "2500.00"), (20, "1500.00")],
    "churned": [(400, "0.10"), (399.5, "0.20")],
    "reacquired": [(1000, "800.00"), (500, "700.00"), (10.25, "900.00")],
    "at_risk": [(300, "50.00"), (200, "60.00")],
}


def _seed(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions.begin() as session:
        for name in HISTORY:
            session.add(Customer(external_id=name, name=f"客户 {name}", email=f"{name}@example.com",
                                 kind="company", locale="zh-CN", timezone="Asia/Shanghai",
                                 created_at=NOW))
        session.flush()
        ids = dict(session.execute(select(Customer.external_id, Customer.id)).all())
        for name, orders in HISTORY.items():
            for n, (days, amount) in enumerate(orders):
                session.add(Order(external_id=f"{name}-{n}", customer_id=ids[name],
                                  ordered_at=NOW - timedelta(days=days), amount=Decimal(amount)))
    return ids


def _profiles(sessions: sessionmaker[Session], ids: dict[str, int]) -> dict[str, CustomerProfile]:
    names = {v: k for k, v in ids.items()}
    with sessions() as session:
        return {names[p.customer_id]: p for p in session.scalars(select(CustomerProfile))}


def test_profiles_hold_each_customers_stage_tier_and_totals(
    any_sessions: sessionmaker[Session],
) -> None:
    ids = _seed(any_sessions)
    summary = recompute_profiles(any_sessions, RULES, FixedClock(NOW))
    profiles = _profiles(any_sessions, ids)
    assert {name: p.lifecycle_stage for name, p in profiles.items()} == {
        name: name for name in HISTORY
    }
    assert summary.total == 6 and summary.changed == 6
    assert summary.stages == {
        "prospect": 1, "new": 1, "growing": 0, "mature": 1, "at_risk": 1, "churned": 1,
        "reacquired": 1,
    }
    assert summary.tiers == {"high": 1, "medium": 2, "low": 3}
    mature = profiles["mature"]
    assert (mature.order_count, mature.revenue) == (3, Decimal("8000.00"))
    assert mature.value_tier == "high"
    assert mature.first_order_at == NOW - timedelta(days=500)
    assert mature.last_order_at == NOW - timedelta(days=20)
    assert mature.computed_at == NOW
    assert profiles["churned"].revenue == Decimal("0.30")
    prospect = profiles["prospect"]
    assert (prospect.order_count, prospect.revenue, prospect.value_tier) == (0, Decimal("0"), "low")
    assert prospect.first_order_at is None and prospect.last_order_at is None


def test_longest_gap_between_orders_is_computed_in_sql(
    any_sessions: sessionmaker[Session],
) -> None:
    ids = _seed(any_sessions)
    with any_sessions() as session:
        gaps = {row[0]: row[5] for row in session.execute(aggregates_query())}
    assert gaps[ids["reacquired"]] == pytest.approx(500.0)
    assert gaps[ids["churned"]] == pytest.approx(0.5)
    assert gaps[ids["new"]] is None and gaps[ids["prospect"]] is None


def test_recompute_counts_only_real_changes_and_keeps_the_contact_interval(
    any_sessions: sessionmaker[Session],
) -> None:
    ids = _seed(any_sessions)
    clock = FixedClock(NOW)
    recompute_profiles(any_sessions, RULES, clock)
    interval_at = NOW - timedelta(hours=3)
    with any_sessions.begin() as session:
        session.execute(
            update(CustomerProfile)
            .where(CustomerProfile.customer_id == ids["at_risk"])
            .values(contact_interval_days=10.5, interval_updated_at=interval_at)
        )
    assert recompute_profiles(any_sessions, RULES, clock).changed == 0

    with any_sessions.begin() as session:
        session.add(Order(external_id="at_risk-back", customer_id=ids["at_risk"],
                          ordered_at=NOW, amount=Decimal("10.00")))
    clock.advance(timedelta(days=1))
    summary = recompute_profiles(any_sessions, RULES, clock)
    profile = _profiles(any_sessions, ids)["at_risk"]
    assert summary.changed == 1
    assert (profile.lifecycle_stage, profile.order_count) == ("growing", 3)
    assert profile.revenue == Decimal("120.00")
    assert profile.computed_at == NOW + timedelta(days=1)
    assert profile.contact_interval_days == 10.5
    assert profile.interval_updated_at == interval_at


def test_an_empty_store_gives_an_empty_summary(any_sessions: sessionmaker[Session]) -> None:
    summary = recompute_profiles(any_sessions, RULES, FixedClock(NOW))
    assert (summary.total, summary.changed) == (0, 0)
    assert set(summary.tiers.values()) == {0} and set(summary.stages.values()) == {0}
