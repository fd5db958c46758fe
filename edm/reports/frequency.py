"""How often each tier is mailed and how engaged it is, now and compared with the period before.

Now: the distribution of every customer's current contact interval and engagement score
(`CustomerProfile`), per value tier, as SQL histogram bins plus count, mean, min and max.

Changed: profiles keep only the current figures, so the change is measured from what the
store keeps over time: the gaps that actually occurred between two mails sent to the same
customer (SQL window function LAG), and the share of delivered mail a person opened or
clicked, for the period against the previous period of the same length. A gap belongs
to the period of its later mail.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import SQLCoreOperations

from edm.classes import VALUE_TIERS
from edm.reports.engagement import UNKNOWN, check_window, within
from edm.store import CustomerProfile, Event, EventTotal, OutboxMessage
from edm.store.sql import epoch_days

INTERVAL_EDGES = (7.0, 14.0, 21.0, 30.0, 45.0, 60.0, 90.0)  # days
SCORE_EDGES = (0.0, 1.0, 3.0, 10.0)
NONE = "none"  # not computed yet
PERIODS = ("previous", "current")
SUMMARY_COLUMNS = (
    "tier", "customers", "interval_mean", "interval_min", "interval_max",
    "score_mean", "score_min", "score_max", "sunset",
)
CHANGE_COLUMNS = (
    "tier", "gaps_previous", "gap_mean_previous", "gaps_current", "gap_mean_current",
    "delivered_previous", "engaged_rate_previous", "delivered_current", "engaged_rate_current",
)


def bin_labels(edges: Sequence[float], unit: str = "") -> list[str]:
    """Pure: '<7', '7-14', ..., '90+' for the edges (7, 14, ..., 90)."""
    labels = [f"<{edges[0]:g}{unit}"]
    labels += [f"{low:g}-{high:g}{unit}" for low, high in pairwise(edges)]
    return [*labels, f"{edges[-1]:g}+{unit}"]


def profile_summary(session: Session) -> pd.DataFrame:
    """Per tier: customers, interval and score mean/min/max, how many are in sunset."""
    interval, score = CustomerProfile.contact_interval_days, CustomerProfile.engagement_score
    query = select(
        CustomerProfile.value_tier, func.count(), func.avg(interval), func.min(interval), func.max(interval),
        func.avg(score), func.min(score), func.max(score),
        func.count(case((CustomerProfile.sunset.is_(True), 1))),
    ).group_by(CustomerProfile.value_tier)
    rows: list[list[object]] = [[tier or UNKNOWN, int(n), *(_number(v) for v in figures), int(sunset)]
                                for tier, n, *figures, sunset in session.execute(query)]
    rows.sort(key=lambda row: _tier_rank(str(row[0])))
    return pd.DataFrame.from_records(rows, columns=list(SUMMARY_COLUMNS))


def distribution(session: Session, measure: str) -> pd.DataFrame:
    """Customers per tier (rows) and bin (columns) of `measure`: "interval" or "score"."""
    edges: tuple[float, ...]
    if measure == "interval":
        column: Any = CustomerProfile.contact_interval_days
        edges, labels = INTERVAL_EDGES, bin_labels(INTERVAL_EDGES, "d")
    elif measure == "score":
        column, edges, labels = CustomerProfile.engagement_score, SCORE_EDGES, bin_labels(SCORE_EDGES)
    else:
        raise ValueError(f"no distribution of {measure!r}; use 'interval' or 'score'")
    bins = case(
        (column.is_(None), literal(-1)),
        *((column < edge, literal(i)) for i, edge in enumerate(edges)),
        else_=literal(len(edges)),
    )
    query = select(CustomerProfile.value_tier, bins, func.count()).group_by(CustomerProfile.value_tier, bins)
    names = [*labels, NONE]
    counts: dict[str, dict[str, int]] = {}
    for tier, index, n in session.execute(query):
        counts.setdefault(tier or UNKNOWN, dict.fromkeys(names, 0))[names[int(index)]] += int(n)
    tiers = sorted(counts, key=_tier_rank)
    table = pd.DataFrame([[tier, *counts[tier].values()] for tier in tiers], columns=["tier", *names])
    if table[NONE].sum() == 0:
        table = table.drop(columns=NONE)
    return table.astype({name: "int64" for name in table.columns if name != "tier"})


def change_table(session: Session, *, since: datetime, until: datetime) -> pd.DataFrame:
    """Per tier: actual gaps between mails and the engaged share, previous period vs [since, until)."""
    check_window(since, until)
    previous = since - (until - since)
    gaps = _gaps(session, previous, since, until)
    engaged = _engaged(session, previous, since, until)
    tiers = sorted({tier for tier, _ in gaps} | {tier for tier, _ in engaged}, key=_tier_rank)
    rows = []
    for tier in tiers:
        row: list[object] = [tier]
        for period in PERIODS:
            n, mean = gaps.get((tier, period), (0, float("nan")))
            row += [n, mean]
        for period in PERIODS:
            delivered, reacted = engaged.get((tier, period), (0, 0))
            row += [delivered, round(reacted / delivered, 4) if delivered else float("nan")]
        rows.append(row)
    table = pd.DataFrame.from_records(rows, columns=list(CHANGE_COLUMNS))
    counts = [name for name in CHANGE_COLUMNS if name.startswith(("gaps_", "delivered_"))]
    return table.astype(dict.fromkeys(counts, "int64"))


def _period(moment: SQLCoreOperations[Any], since: datetime) -> ColumnElement[str]:
    return case((moment < since, literal(PERIODS[0])), else_=literal(PERIODS[1]))


def _gaps(
    session: Session, previous: datetime, since: datetime, until: datetime
) -> dict[tuple[str, str], tuple[int, float]]:
    sent_at = OutboxMessage.sent_at
    before = func.lag(sent_at).over(partition_by=OutboxMessage.customer_id,
                                    order_by=(sent_at, OutboxMessage.id))
    mails = (
        select(OutboxMessage.customer_id, sent_at.label("sent_at"), before.label("before"))
        .where(sent_at.is_not(None), sent_at < until)
        .subquery("mails")
    )
    gap = epoch_days(mails.c.sent_at) - epoch_days(mails.c.before)
    period = _period(mails.c.sent_at, since)
    query = (
        select(CustomerProfile.value_tier, period, func.count(), func.avg(gap))
        .select_from(mails)
        .outerjoin(CustomerProfile, CustomerProfile.customer_id == mails.c.customer_id)
        .where(mails.c.before.is_not(None), mails.c.sent_at >= previous)
        .group_by(CustomerProfile.value_tier, period)
    )
    return {(tier or UNKNOWN, str(p)): (int(n), round(float(mean), 2))
            for tier, p, n, mean in session.execute(query)}


def _engaged(
    session: Session, previous: datetime, since: datetime, until: datetime
) -> dict[tuple[str, str], tuple[int, int]]:
    reacted = or_(
        exists().where(Event.outbox_id == OutboxMessage.id, Event.kind.in_(("open", "click")),
                       Event.machine.is_(False)),
        exists().where(EventTotal.outbox_id == OutboxMessage.id, EventTotal.kind.in_(("open", "click")),
                       EventTotal.machine.is_(False)),  # events past retention (edm.privacy.retention)
    )
    period = _period(OutboxMessage.sent_at, since)
    query = (
        select(CustomerProfile.value_tier, period, func.count(), func.count(case((reacted, 1))))
        .select_from(OutboxMessage)
        .outerjoin(CustomerProfile, CustomerProfile.customer_id == OutboxMessage.customer_id)
        .where(and_(OutboxMessage.state == "sent", *within(OutboxMessage.sent_at, previous, until)))
        .group_by(CustomerProfile.value_tier, period)
    )
    return {(tier or UNKNOWN, str(p)): (int(n), int(k)) for tier, p, n, k in session.execute(query)}


def _number(value: Any) -> float:
    return float("nan") if value is None else round(float(value), 2)


def _tier_rank(tier: str) -> tuple[int, str]:
    return (VALUE_TIERS.index(tier), "") if tier in VALUE_TIERS else (len(VALUE_TIERS), tier)
