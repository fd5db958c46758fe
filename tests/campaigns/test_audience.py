"""Audience rules against a real store: each condition at its edges, and all / any / not as set algebra."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.audience import audience_filter
from edm.campaigns.rules import Match
from edm.store import Customer, CustomerProfile

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)

# name: (customer fields, profile fields); days are days before NOW
PEOPLE: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "ann": ({"kind": "company", "locale": "zh-CN", "tags": "expo-2025, vip",
             "attributes": {"region": "east", "employees": 250, "code": "7"},
             "account_manager": "李雷", "account_manager_email": "li.lei@example.com"},
            {"value_tier": "high", "lifecycle_stage": "mature", "loyalty": "loyal", "scale": "large",
             "order_count": 40, "revenue": Decimal("90000.00"), "probability_alive": 0.95,
             "last_order": 10, "first_order": 1500, "engaged": 3, "expected_interval_days": 30.0,
             "engagement_score": 12.5, "next_order_expected_at": NOW + timedelta(days=20),
             "expected_orders_90d": 3.1, "predicted_value": Decimal("36000.00")}),
    "bob": ({"kind": "company", "locale": "en", "tags": "vip-lapsed",
             "attributes": {"region": "north", "employees": 40, "code": 7},
             "account_manager": "Mary Major", "account_manager_email": "Mary@example.com"},
            {"value_tier": "medium", "lifecycle_stage": "at_risk", "loyalty": "at_risk", "scale": "medium",
             "order_count": 6, "revenue": Decimal("8000.00"), "probability_alive": 0.40,
             "last_order": 200, "first_order": 900, "engaged": None, "expected_interval_days": 50.0,
             "churn_kind": "partial", "dropped_lines": "pumps, valves",
             "next_order_expected_at": NOW - timedelta(days=150), "expected_orders_90d": 0.4,
             "predicted_value": Decimal("1200.00")}),
    "cat": ({"kind": "person", "locale": "en", "attributes": {"region": 0}},
            {"value_tier": "low", "lifecycle_stage": "churned", "loyalty": "churned", "scale": "small",
             "order_count": 1, "revenue": Decimal("50.00"), "probability_alive": 0.05,
             "last_order": 500, "first_order": 500, "engaged": 400, "expected_interval_days": None,
             "churn_kind": "full", "sunset": True, "engagement_score": 0.0}),
    "dan": ({"kind": "person", "locale": "zh-CN"},
            {"value_tier": "low", "lifecycle_stage": "prospect", "loyalty": "general", "scale": "small",
             "order_count": 0, "revenue": Decimal("0.00"), "probability_alive": None,
             "last_order": None, "first_order": None, "engaged": None, "expected_interval_days": None,
             "dropped_lines": "valves-x"}),
}
EVERYONE = set(PEOPLE)


def _ago(days: float | None) -> datetime | None:
    return None if days is None else NOW - timedelta(days=days)


def _populate(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with sessions.begin() as session:
        for name, (fields, profile) in PEOPLE.items():
            customer = Customer(external_id=name, name=name, email=f"{name}@example.com", timezone="UTC",
                                created_at=NOW, **fields)
            session.add(customer)
            session.flush()
            values = dict(profile)
            moments = {"last_order_at": _ago(values.pop("last_order")),
                       "first_order_at": _ago(values.pop("first_order")),
                       "last_engaged_at": _ago(values.pop("engaged"))}
            session.add(CustomerProfile(customer_id=customer.id, computed_at=NOW, **values, **moments))
    return sessions


@pytest.fixture
def store(any_sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    return _populate(any_sessions)


@pytest.fixture
def sqlite_store(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    return _populate(sessions)  # hypothesis runs many examples: SQLite only


def _who(sessions: sessionmaker[Session], rules: dict[str, Any]) -> set[str]:
    query = (
        select(Customer.external_id)
        .join(CustomerProfile, CustomerProfile.customer_id == Customer.id)
        .where(audience_filter(Match.model_validate(rules), NOW))
    )
    with sessions() as session:
        return set(session.scalars(query))


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        ({}, EVERYONE),
        ({"tiers": ["high", "medium"]}, {"ann", "bob"}),
        ({"value_tier": "low", "stages": "churned"}, {"cat"}),
        ({"loyalty": ["loyal", "at_risk"], "scale": "medium"}, {"bob"}),
        ({"kind": "person", "locale": "zh-CN"}, {"dan"}),
        ({"churn_kind": "partial"}, {"bob"}),
        ({"dropped_line": "valves"}, {"bob"}),  # a whole name: "valves-x" is another line
        ({"dropped_line": ["seals", "pumps"]}, {"bob"}),
        ({"days_since_last_order": {"more_than": 200}}, {"cat"}),
        ({"days_since_last_order": {"at_least": 200}}, {"bob", "cat"}),
        ({"days_since_last_order": {"less_than": 200}}, {"ann"}),
        ({"days_since_last_order": {"at_most": 200, "more_than": 10}}, {"bob"}),
        ({"days_since_first_order": 900}, {"ann", "bob"}),  # a bare number: at least
        ({"days_since_engaged": {"at_most": 3}}, {"ann"}),
        ({"overdue_intervals": {"at_least": 4}}, {"bob"}),  # 200 days / 50 usual: 4 times overdue
        ({"days_until_expected_order": {"at_most": 20}}, {"ann", "bob"}),  # bob's was 150 days ago
        ({"days_until_expected_order": {"at_least": 0}}, {"ann"}),
        ({"expected_orders_90d": {"at_least": 1}}, {"ann"}),
        ({"predicted_value": {"more_than": 1000}}, {"ann", "bob"}),  # unknown (never ordered): none
        ({"expected_interval_days": {"less_than": 40}}, {"ann"}),
        ({"churn_risk": {"more_than": 0.7}}, {"cat"}),
        ({"churn_risk": {"at_least": 0.55}}, {"bob", "cat"}),
        ({"order_count": {"less_than": 2}}, {"cat", "dan"}),
        ({"revenue": {"at_least": 8000}}, {"ann", "bob"}),
        ({"tags": "VIP"}, {"ann"}),  # whole tags, any case: "vip-lapsed" is another tag
        ({"tags": ["vip-lapsed", "expo-2025"]}, {"ann", "bob"}),
        ({"not": {"tags": "vip"}}, {"bob", "cat", "dan"}),  # no tags at all is not having it
        ({"attributes": {"region": "east"}}, {"ann"}),
        ({"attributes": {"region": ["east", "north"], "employees": {"less_than": 100}}}, {"bob"}),
        ({"attributes": {"employees": 250}}, {"ann"}),  # a bare value is that value, not "at least"
        ({"attributes": {"code": [7]}}, {"bob"}),  # a number matches numbers, not the text "7"
        ({"attributes": {"code": ["7"]}}, {"ann"}),
        ({"attributes": {"region": {"at_most": 0}}}, {"cat"}),  # texts never compare as numbers
        ({"not": {"attributes": {"region": "east"}}}, {"bob", "cat", "dan"}),
        ({"account_manager": "李雷"}, {"ann"}),
        ({"account_manager": "mary@example.com"}, {"bob"}),  # or the manager's address, any case
        ({"has_account_manager": True}, {"ann", "bob"}),
        ({"has_account_manager": False}, {"cat", "dan"}),
        ({"engagement_level": "active"}, {"ann"}),  # engaged 3 days ago
        ({"engagement_level": "dormant"}, {"cat"}),  # 400 days ago
        ({"engagement_level": "never"}, {"bob", "dan"}),
        ({"engagement_level": ["cooling", "never"]}, {"bob", "dan"}),
        ({"in_sunset": True}, {"cat"}),
        ({"in_sunset": False}, {"ann", "bob", "dan"}),
        ({"engagement_score": {"more_than": 1}}, {"ann"}),
        ({"any": [{"tiers": "high"}, {"stages": "churned"}]}, {"ann", "cat"}),
        ({"all": [{"kind": "company"}, {"not": {"tiers": "high"}}]}, {"bob"}),
        # unknown figures are false, so `not` of them is true: Dan never ordered
        ({"not": {"days_since_last_order": {"more_than": 100}}}, {"ann", "dan"}),
    ],
)
def test_each_condition_selects_exactly_its_customers(
    store: sessionmaker[Session], rules: dict[str, Any], expected: set[str]
) -> None:
    assert _who(store, rules) == expected


LEAVES = [
    {"tiers": "high"}, {"stages": ["at_risk", "churned"]}, {"kind": "person"}, {"locale": "zh-CN"},
    {"days_since_last_order": {"more_than": 100}}, {"churn_risk": {"at_least": 0.5}},
    {"days_since_engaged": {"less_than": 100}}, {"dropped_line": "valves"}, {"overdue_intervals": 2},
    {"tags": "vip"}, {"attributes": {"employees": {"more_than": 100}}}, {"engagement_level": "never"},
]
RULES = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.one_of(
        st.lists(inner, min_size=1, max_size=3).map(lambda rules: {"all": rules}),
        st.lists(inner, min_size=1, max_size=3).map(lambda rules: {"any": rules}),
        inner.map(lambda rule: {"not": rule}),
    ),
    max_leaves=6,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=RULES, second=RULES)
def test_all_any_and_not_are_intersection_union_and_complement(
    sqlite_store: sessionmaker[Session], first: dict[str, Any], second: dict[str, Any]
) -> None:
    a, b = _who(sqlite_store, first), _who(sqlite_store, second)
    assert _who(sqlite_store, {"all": [first, second]}) == a & b
    assert _who(sqlite_store, {"any": [first, second]}) == a | b
    assert _who(sqlite_store, {"not": first}) == EVERYONE - a
    assert _who(sqlite_store, {"any": [first], "not": {"not": second}}) == a & b  # a mapping: all hold


@pytest.mark.parametrize(
    ("rules", "error"),
    [
        ({"tags": "a,b"}, "single non-empty tag"),
        ({"attributes": {"Region": "east"}}, "lower-case letters"),
        ({"attributes": {}}, "at least 1"),
        ({"engagement_level": "hot"}, "'active', 'cooling', 'dormant' or 'never'"),
    ],
)
def test_bad_new_conditions_are_refused(rules: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        Match.model_validate(rules)
