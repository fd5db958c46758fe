"""Did the campaign make people buy? Mailed recipients against the campaign's holdout group, per
campaign, and within each campaign per value tier, lifecycle stage and variant.

The holdout (`OutboxMessage.state == "held_out"`) was planned like everyone else and never
sent. For each campaign that has one, the mailed group (sent messages, from `sent_at`) and
the holdout (from the moment its mail was planned for, `next_attempt_at`) are followed for
`attribution_days`: did the customer order (the order rate), and how much did they spend
(revenue per recipient, 0 for those who did not buy). Every order in the window counts,
whichever mail came before it, so both groups are measured the same way.

Tier and stage are the customer's class when the mail went out (the holdout: when it was
planned for), read from `profile_transitions`; a customer with no class recorded by then
falls back to their current profile. Not today's class: a mail that works moves its buyers
up a tier, and grouping by today's tier would credit them to the wrong one. (The engagement
tables group by the current profile.) A variant's mailed group is compared with its
campaign's whole holdout (the same tier or stage when grouped so): the holdout gets no variant,
and assignment is one hash, so the holdout is a random sample of every variant's audience.

Intervals (both two-sided, at `confidence`):
- order rate difference: Newcombe's hybrid score interval (method 10 of Newcombe 1998),
  built from the two Wilson intervals; it stays sensible for small groups and rates near 0.
- revenue per recipient difference: Welch's t interval (unequal variances), from each
  group's n, sum and sum of squares, which SQL aggregates.
A group with fewer than `min_group` mailed or held-out recipients reads "too few": its rates
are shown, its uplift and intervals are not. The SQL is one pass: per message its class at
the time and its orders, then per campaign, arm, variant, tier and stage; the groupings are
sums of those.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from scipy.stats import norm, t
from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import SQLCoreOperations

from edm.errors import EdmError
from edm.reports.engagement import NO_VARIANT, UNKNOWN, check_window, rank, within
from edm.store import CustomerProfile, Order, OutboxMessage, ProfileTransition
from edm.store.sql import epoch_days

HOLDOUT, MAILED = "holdout", "mailed"
GROUPINGS = ("campaign", "tier", "stage", "variant")
TABLES: tuple[tuple[str, ...], ...] = (("campaign",), ("campaign", "tier"), ("campaign", "stage"),
                                       ("campaign", "variant"))
DEFAULT_MIN_GROUP = 30
FIGURES = (
    "mailed", "mailed_buyers", "mailed_order_rate", "holdout", "holdout_buyers",
    "holdout_order_rate", "order_rate_uplift", "order_rate_low", "order_rate_high",
    "mailed_revenue_per_recipient", "holdout_revenue_per_recipient", "revenue_uplift",
    "revenue_low", "revenue_high", "reading",
)
COLUMNS = ("campaign", *FIGURES)
# What the order-rate comparison says, in the table's `reading` column.
TOO_FEW = "too few 样本太少"
MORE = "more buyers 下单更多"
FEWER = "fewer buyers 下单更少"
UNCLEAR = "no clear effect 效果不显著"
COUNTS = ("mailed", "mailed_buyers", "holdout", "holdout_buyers")
_DIMENSIONS = {"tier": "value_tier", "stage": "lifecycle_stage"}

Key = tuple[str, ...]  # (campaign, arm, variant, tier, stage)


@dataclass(frozen=True)
class Group:
    """One arm of the comparison, as SQL aggregates it."""

    n: int
    buyers: int
    revenue: float
    revenue_squares: float

    def __add__(self, other: Group) -> Group:
        return Group(self.n + other.n, self.buyers + other.buyers, self.revenue + other.revenue,
                     self.revenue_squares + other.revenue_squares)

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
    by: Sequence[str] = ("campaign",),
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    attribution_days: int = 30,
    confidence: float = 0.95,
    min_group: int = DEFAULT_MIN_GROUP,
) -> pd.DataFrame:
    """One row per group (of campaigns with a holdout in the period): both arms, the uplifts, their
    intervals and the reading. `by` starts with campaign, e.g. ("campaign", "tier")."""
    [table] = uplift_tables(session, [by], since=since, until=until, attribution_days=attribution_days,
                            confidence=confidence, min_group=min_group)
    return table


def uplift_tables(
    session: Session,
    groupings: Sequence[Sequence[str]] = TABLES,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    attribution_days: int = 30,
    confidence: float = 0.95,
    min_group: int = DEFAULT_MIN_GROUP,
) -> list[pd.DataFrame]:
    """One table per grouping, from a single SQL pass."""
    chosen = [checked_uplift_grouping(by) for by in groupings]
    check_window(since, until)
    groups = _groups_in_sql(session, since, until, attribution_days)
    return [compare(by, groups, confidence=confidence, min_group=min_group) for by in chosen]


def checked_uplift_grouping(by: Sequence[str]) -> list[str]:
    """`by` as a list: campaign first, then tier, stage or variant, each once."""
    chosen = [by] if isinstance(by, str) else list(by)
    if not chosen or chosen[0] != "campaign" or len(set(chosen)) != len(chosen) or not set(chosen) <= set(
            GROUPINGS):
        raise EdmError(f"uplift is grouped by campaign, then any of tier, stage, variant; got {chosen}")
    return chosen


def compare(
    by: Sequence[str], groups: dict[Key, Group], *, confidence: float = 0.95,
    min_group: int = DEFAULT_MIN_GROUP,
) -> pd.DataFrame:
    """Pure: sum the SQL's groups into `by`'s, and set each mailed group against its holdout (the
    campaign's, within the same tier or stage: variants share it)."""
    columns = list(by)
    place = {"campaign": 0, "variant": 2, "tier": 3, "stage": 4}
    held_by = [name for name in columns if name != "variant"]
    mailed: dict[Key, Group] = {}
    held: dict[Key, Group] = {}
    for key, group in groups.items():
        if key[1] == HOLDOUT:
            into, named = held, tuple(key[place[name]] for name in held_by)
        else:
            into, named = mailed, tuple(key[place[name]] for name in columns)
        into[named] = into.get(named, EMPTY) + group
    campaigns = {key[0] for key in held}
    keys = {key for key in mailed if key[0] in campaigns}
    if "variant" not in columns:
        keys |= set(held)
    ordered = sorted(keys, key=lambda key: [rank(n, value) for n, value in zip(columns, key, strict=True)])
    records = []
    for key in ordered:
        control = tuple(value for name, value in zip(columns, key, strict=True) if name != "variant")
        records.append({**dict(zip(columns, key, strict=True)),
                        **figures(mailed.get(key, EMPTY), held.get(control, EMPTY), confidence, min_group)})
    table = pd.DataFrame.from_records(records, columns=[*columns, *FIGURES])
    return table.astype({name: "int64" for name in COUNTS})


def figures(mailed: Group, held: Group, confidence: float, min_group: int) -> dict[str, Any]:
    """Pure: one row's comparison; below `min_group` in either arm only the rates, read as too few."""
    row: dict[str, Any] = {
        "mailed": mailed.n, "mailed_buyers": mailed.buyers, "mailed_order_rate": mailed.rate,
        "holdout": held.n, "holdout_buyers": held.buyers, "holdout_order_rate": held.rate,
        "mailed_revenue_per_recipient": mailed.mean, "holdout_revenue_per_recipient": held.mean,
    }
    if min(mailed.n, held.n) < max(1, min_group):
        blank = ("order_rate_uplift", "order_rate_low", "order_rate_high", "revenue_uplift", "revenue_low",
                 "revenue_high")
        return row | dict.fromkeys(blank, math.nan) | {"reading": TOO_FEW}
    rate_low, rate_high = newcombe_interval(mailed.buyers, mailed.n, held.buyers, held.n, confidence)
    money_low, money_high = welch_interval(mailed, held, confidence)
    reading = MORE if rate_low > 0 else FEWER if rate_high < 0 else UNCLEAR
    return row | {
        "order_rate_uplift": mailed.rate - held.rate,
        "order_rate_low": rate_low, "order_rate_high": rate_high,
        "revenue_uplift": mailed.mean - held.mean, "revenue_low": money_low, "revenue_high": money_high,
        "reading": reading,
    }


EMPTY = Group(0, 0, 0.0, 0.0)


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
) -> dict[Key, Group]:
    held_out = OutboxMessage.state == "held_out"
    moment = case((held_out, OutboxMessage.next_attempt_at), else_=OutboxMessage.sent_at)
    arm = case((held_out, HOLDOUT), else_=MAILED)
    with_holdout = select(OutboxMessage.campaign).where(held_out).distinct()
    messages = (
        select(
            OutboxMessage.id.label("id"),
            OutboxMessage.customer_id.label("customer_id"),
            OutboxMessage.campaign.label("campaign"),
            arm.label("arm"),
            case((held_out, None), else_=OutboxMessage.variant).label("variant"),
            moment.label("moment"),
            func.coalesce(_class_at("tier", moment), CustomerProfile.value_tier).label("tier"),
            func.coalesce(_class_at("stage", moment), CustomerProfile.lifecycle_stage).label("stage"),
        )
        .select_from(OutboxMessage)
        .outerjoin(CustomerProfile, CustomerProfile.customer_id == OutboxMessage.customer_id)
        .where(
            held_out | OutboxMessage.sent_at.is_not(None),
            OutboxMessage.campaign.in_(with_holdout),
            *within(moment, since, until),
        )
        .subquery("messages")
    )
    m = messages.c
    keys = (m.campaign, m.arm, m.variant, m.tier, m.stage)
    per_message = (
        select(*keys, func.count(Order.id).label("orders"),
               func.coalesce(func.sum(Order.amount), 0).label("revenue"))
        .select_from(messages)
        .outerjoin(Order, and_(Order.customer_id == m.customer_id, Order.ordered_at >= m.moment,
                               epoch_days(Order.ordered_at) - epoch_days(m.moment) < literal(float(days))))
        .group_by(m.id, *keys)
        .subquery("per_message")
    )
    p = per_message.c
    revenue = p.revenue
    query = select(
        p.campaign, p.arm, p.variant, p.tier, p.stage,
        func.count(),
        func.count(case((p.orders > 0, 1))),
        func.coalesce(func.sum(revenue), 0),
        func.coalesce(func.sum(revenue * revenue), 0),
    ).group_by(p.campaign, p.arm, p.variant, p.tier, p.stage)
    groups: dict[Key, Group] = {}
    for campaign, group, variant, tier, stage, n, buyers, total, squares in session.execute(query):
        key = (str(campaign), str(group), NO_VARIANT if variant is None else str(variant),
               UNKNOWN if tier is None else str(tier), UNKNOWN if stage is None else str(stage))
        groups[key] = groups.get(key, EMPTY) + Group(int(n), int(buyers), float(total), float(squares))
    return groups


def _class_at(name: str, moment: SQLCoreOperations[Any]) -> ColumnElement[Any]:
    """The customer's class in `name`'s dimension as last recorded at or before `moment` (NULL: none)."""
    return (
        select(ProfileTransition.new)
        .where(ProfileTransition.customer_id == OutboxMessage.customer_id,
               ProfileTransition.dimension == _DIMENSIONS[name], ProfileTransition.computed_at <= moment)
        .order_by(ProfileTransition.computed_at.desc(), ProfileTransition.id.desc())
        .limit(1)
        .correlate(OutboxMessage)
        .scalar_subquery()
    )

