"""Did the campaign make people buy? Mailed recipients against the campaign's holdout group.

The holdout (`OutboxMessage.state == "held_out"`) was planned like everyone else and never
sent. For each campaign that has one, the mailed group (sent messages, from `sent_at`) and
the holdout (from the moment its mail was planned for, `next_attempt_at`) are followed for
`attribution_days`: did the customer order (the order rate), and how much did they spend
(revenue per recipient, 0 for those who did not buy). Every order in the window counts,
whichever mail came before it, so both groups are measured the same way.

Intervals (both two-sided, at `confidence`):
- order rate difference: Newcombe's hybrid score interval (method 10 of Newcombe 1998),
  built from the two Wilson intervals; it stays sensible for small groups and rates near 0.
- revenue per recipient difference: Welch's t interval (unequal variances), from each
  group's n, sum and sum of squares, which SQL aggregates.
The SQL is one nested GROUP BY: per message its orders and revenue, then per campaign and group.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from scipy.stats import norm, t
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from edm.reports.engagement import attribution_join, check_window, within
from edm.store import Order, OutboxMessage

HOLDOUT, MAILED = "holdout", "mailed"
COLUMNS = (
    "campaign", "mailed", "mailed_buyers", "mailed_order_rate", "holdout", "holdout_buyers",
    "holdout_order_rate", "order_rate_uplift", "order_rate_low", "order_rate_high",
    "mailed_revenue_per_recipient", "holdout_revenue_per_recipient", "revenue_uplift",
    "revenue_low", "revenue_high",
)


@dataclass(frozen=True)
class Group:
    """One arm of the comparison, as SQL aggregates it."""

    n: int
    buyers: int
    revenue: float
    revenue_squares: float

    @property
    def rate(self) -> float:
        return self.buyers / self.n if self.n else math.nan

    @property
    def mean(self) -> float:
        return self.revenue / self.n if self.n else math.nan

    @property
    def variance(self) -> float:
        """Sample variance of revenue per recipient (n - 1 in the denominator)."""
        if self.n < 2:
            return math.nan
        return max(0.0, (self.revenue_squares - self.revenue**2 / self.n) / (self.n - 1))


def uplift_table(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    attribution_days: int = 30,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """One row per campaign with a holdout in the period: both groups, the uplifts and their intervals."""
    check_window(since, until)
    groups = _groups_in_sql(session, since, until, attribution_days)
    records = []
    for campaign in sorted(campaign for campaign, arm in groups if arm == HOLDOUT):
        mailed = groups.get((campaign, MAILED), Group(0, 0, 0.0, 0.0))
        held = groups.get((campaign, HOLDOUT), Group(0, 0, 0.0, 0.0))
        rate_low, rate_high = newcombe_interval(mailed.buyers, mailed.n, held.buyers, held.n, confidence)
        money_low, money_high = welch_interval(mailed, held, confidence)
        records.append({
            "campaign": campaign,
            "mailed": mailed.n, "mailed_buyers": mailed.buyers, "mailed_order_rate": mailed.rate,
            "holdout": held.n, "holdout_buyers": held.buyers, "holdout_order_rate": held.rate,
            "order_rate_uplift": mailed.rate - held.rate,
            "order_rate_low": rate_low, "order_rate_high": rate_high,
            "mailed_revenue_per_recipient": mailed.mean, "holdout_revenue_per_recipient": held.mean,
            "revenue_uplift": mailed.mean - held.mean, "revenue_low": money_low, "revenue_high": money_high,
        })
    table = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    return table.astype({name: "int64" for name in ("mailed", "mailed_buyers", "holdout", "holdout_buyers")})


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for one proportion."""
    if n == 0:
        return math.nan, math.nan
    z = float(norm.ppf((1 + confidence) / 2))
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def newcombe_interval(
    x1: int, n1: int, x0: int, n0: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Interval for x1/n1 - x0/n0 (Newcombe 1998, method 10); NaN when a group is empty."""
    if n1 == 0 or n0 == 0:
        return math.nan, math.nan
    p1, p0 = x1 / n1, x0 / n0
    (l1, u1), (l0, u0) = wilson_interval(x1, n1, confidence), wilson_interval(x0, n0, confidence)
    difference = p1 - p0
    return (difference - math.hypot(p1 - l1, u0 - p0), difference + math.hypot(u1 - p1, p0 - l0))


def welch_interval(first: Group, second: Group, confidence: float = 0.95) -> tuple[float, float]:
    """Interval for first.mean - second.mean by Welch's t; NaN when a group has under two members
    or neither varies (nothing to estimate an error from)."""
    if first.n < 2 or second.n < 2:
        return math.nan, math.nan
    a, b = first.variance / first.n, second.variance / second.n
    if a + b == 0:
        return math.nan, math.nan
    freedom = (a + b) ** 2 / (a * a / (first.n - 1) + b * b / (second.n - 1))
    half = float(t.ppf((1 + confidence) / 2, freedom)) * math.sqrt(a + b)
    difference = first.mean - second.mean
    return difference - half, difference + half


def _groups_in_sql(
    session: Session, since: datetime | None, until: datetime | None, days: int
) -> dict[tuple[str, str], Group]:
    held_out = OutboxMessage.state == "held_out"
    moment = case((held_out, OutboxMessage.next_attempt_at), else_=OutboxMessage.sent_at)
    arm = case((held_out, HOLDOUT), else_=MAILED)
    with_holdout = select(OutboxMessage.campaign).where(held_out).distinct()
    per_message = (
        select(
            OutboxMessage.campaign.label("campaign"),
            arm.label("arm"),
            func.count(Order.id).label("orders"),
            func.coalesce(func.sum(Order.amount), 0).label("revenue"),
        )
        .select_from(OutboxMessage)
        .outerjoin(Order, attribution_join(moment, days))
        .where(
            held_out | OutboxMessage.sent_at.is_not(None),
            OutboxMessage.campaign.in_(with_holdout),
            *within(moment, since, until),
        )
        .group_by(OutboxMessage.id, OutboxMessage.campaign, arm)
        .subquery("per_message")
    )
    revenue = per_message.c.revenue
    query = select(
        per_message.c.campaign,
        per_message.c.arm,
        func.count(),
        func.count(case((per_message.c.orders > 0, 1))),
        func.coalesce(func.sum(revenue), 0),
        func.coalesce(func.sum(revenue * revenue), 0),
    ).group_by(per_message.c.campaign, per_message.c.arm)
    return {
        (str(campaign), str(group)): Group(int(n), int(buyers), float(total), float(squares))
        for campaign, group, n, buyers, total, squares in session.execute(query)
    }
