"""Audience rules compiled to SQLAlchemy expressions over customers and their profiles.

YAML never becomes SQL text: every condition is a column, an operator and bound
values. A condition on a figure that is unknown (NULL: never ordered, never opened)
is false, and so `not` of it is true: `not: {days_since_last_order: {more_than: 90}}`
includes customers who never ordered, as a marketer reading it would expect.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, false, func, literal, not_, or_, true

from edm.campaigns.rules import Match, Range
from edm.clock import epoch_day
from edm.engagement.levels import ACTIVE_DAYS, COOLING_DAYS
from edm.store import Customer, CustomerProfile
from edm.store.sql import epoch_days, json_number, json_text
from edm.surveys.scores import PASSIVE_FROM, PROMOTER_FROM, Survey

P = CustomerProfile
_CLASS_COLUMNS = {
    "tiers": P.value_tier, "stages": P.lifecycle_stage, "kind": Customer.kind, "locale": Customer.locale,
}
_NUMBERS = {
    "order_count": P.order_count, "revenue": P.revenue, "annual_revenue": P.annual_revenue,
    "margin": P.margin, "margin_rate": P.margin_rate, "orders_per_year": P.orders_per_year,
    "share_of_wallet": P.share_of_wallet, "churn_risk": 1 - P.probability_alive,
    "engagement_score": P.engagement_score, "nps_score": P.nps_score, "csat_score": P.csat_score,
    "expected_orders_90d": P.expected_orders_90d, "expected_orders_365d": P.expected_orders_365d,
    "predicted_value": P.predicted_value, "expected_interval_days": P.expected_interval_days,
}
_AGES = {  # days since a moment, compared as moments so an index can serve them
    "days_since_last_order": P.last_order_at,
    "days_since_first_order": P.first_order_at,
    "days_since_engaged": P.last_engaged_at,
    "days_since_surveyed": P.surveyed_at,
}


def audience_filter(match: Match, now: datetime) -> ColumnElement[bool]:
    """A WHERE clause over `customers` joined to `customer_profiles` selecting the audience."""
    return and_(true(), *(_condition(name, value, now) for name, value in match.conditions().items()))


def _condition(name: str, value: Any, now: datetime) -> ColumnElement[bool]:
    if name == "all":
        return and_(true(), *(audience_filter(m, now) for m in value))
    if name == "any":
        return or_(false(), *(audience_filter(m, now) for m in value))
    if name == "not":
        return not_(audience_filter(value, now))
    if name == "dropped_line":
        return _known(_listed(P.dropped_lines, value))
    if name == "tags":
        return _known(_listed(Customer.tags, value))
    if name == "attributes":
        return and_(*(_known(_attribute(key, wanted)) for key, wanted in value.items()))
    if name == "account_manager":
        return _known(or_(Customer.account_manager.in_(value),
                          func.lower(Customer.account_manager_email).in_([v.lower() for v in value])))
    if name == "has_account_manager":
        has = and_(Customer.account_manager_email.is_not(None), Customer.account_manager_email != "")
        return has if value else not_(has)
    if name == "key_account":
        return key_account() if value else not_(key_account())
    if name in ("satisfaction", "satisfaction_trend"):
        return _known(getattr(P, name).in_(value))
    if name == "in_sunset":
        return P.sunset.is_(True) if value else P.sunset.is_(False)
    if name == "engagement_level":
        return or_(*(_engagement(level, now) for level in value))
    if name in _AGES:
        return _known(_age(_AGES[name], value, now))
    if name == "overdue_intervals":  # as edm.customers.classify.overdue, without the whole-day rounding
        overdue = (literal(epoch_day(now)) - epoch_days(P.last_order_at)) / P.expected_interval_days
        return _known(_within(overdue, value))
    if name == "days_until_expected_order":  # negative once they are late
        return _known(_within(epoch_days(P.next_order_expected_at) - literal(epoch_day(now)), value))
    if name in _NUMBERS:
        return _known(_within(_NUMBERS[name], value))
    column = _CLASS_COLUMNS.get(name, getattr(P, name, None))
    if column is None:
        raise ValueError(f"no audience condition named {name!r}")
    return column.in_(value)


def key_account() -> ColumnElement[bool]:
    """Large or high-value customers: a named person's relationship, never a bulk promotion's target."""
    return or_(P.scale == "large", P.value_tier == "high")


def satisfaction_class(survey: Any, score: Any) -> ColumnElement[str]:
    """`edm.surveys.scores.satisfaction_of` in SQL: promoter, passive or detractor."""
    def at_least(bounds: dict[Survey, int]) -> ColumnElement[bool]:
        return or_(*(and_(survey == name, score >= low) for name, low in bounds.items()))

    return case((at_least(PROMOTER_FROM), "promoter"), (at_least(PASSIVE_FROM), "passive"), else_="detractor")


def _listed(column: Any, items: list[str]) -> ColumnElement[bool]:
    """A ", "-separated text column holds any of `items` (whole items, not parts of one)."""
    padded = ", " + column + ", "
    return or_(*(padded.contains(f", {item}, ", autoescape=True) for item in items))


def _attribute(key: str, wanted: list[str | int | float] | Range) -> ColumnElement[bool]:
    """Texts match texts and numbers numbers: `region: east` never matches a number 0."""
    if isinstance(wanted, Range):
        return _within(json_number(Customer.attributes, key), wanted)
    texts = [v for v in wanted if isinstance(v, str)]
    numbers = [float(v) for v in wanted if not isinstance(v, str)]
    checks = []
    if texts:
        checks.append(json_text(Customer.attributes, key).in_(texts))
    if numbers:
        checks.append(json_number(Customer.attributes, key).in_(numbers))
    return or_(*checks)


def _engagement(level: str, now: datetime) -> ColumnElement[bool]:
    engaged = P.last_engaged_at
    if level == "never":
        return engaged.is_(None)
    if level == "active":
        return _known(_age(engaged, Range(at_most=ACTIVE_DAYS), now))
    if level == "cooling":
        return _known(_age(engaged, Range(more_than=ACTIVE_DAYS, at_most=COOLING_DAYS), now))
    return _known(_age(engaged, Range(more_than=COOLING_DAYS), now))


def _known(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """NULL (unknown) counts as false, so that `not` of a condition is its complement."""
    return func.coalesce(condition, false())


def _within(value: Any, bounds: Range) -> ColumnElement[bool]:
    checks = []
    if bounds.more_than is not None:
        checks.append(value > bounds.more_than)
    if bounds.at_least is not None:
        checks.append(value >= bounds.at_least)
    if bounds.less_than is not None:
        checks.append(value < bounds.less_than)
    if bounds.at_most is not None:
        checks.append(value <= bounds.at_most)
    return and_(*checks)


def _age(moment: Any, bounds: Range, now: datetime) -> ColumnElement[bool]:
    """"More than N days since" is "before now - N days": the bounds swap sides."""
    def before(days: float) -> datetime:
        return now - timedelta(days=days)

    checks = []
    if bounds.more_than is not None:
        checks.append(moment < before(bounds.more_than))
    if bounds.at_least is not None:
        checks.append(moment <= before(bounds.at_least))
    if bounds.less_than is not None:
        checks.append(moment > before(bounds.less_than))
    if bounds.at_most is not None:
        checks.append(moment >= before(bounds.at_most))
    return and_(*checks)
