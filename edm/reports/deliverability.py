"""Hard-bounce and complaint rates per campaign, receiving provider and day or week: the figures
mailbox providers judge a sender by (Gmail: spam complaints below 0.1%, never 0.3%).

Counting happens in SQL: one subquery marks each message (delivered, bounced, complained, its
provider and period), and each table is one GROUP BY over it; only one row per group reaches
Python, which divides.

What each figure means:
- A message belongs to the period by the moment it was sent (refused at once: when queued),
  as in the engagement report.
- delivered: accepted by the relay and not bounced afterwards (outbox state `sent`).
- bounced: hard bounces: refused by the relay with a 5xx, or a DSN later (state `bounced`).
  Soft bounces (deferred, retried) are not counted.
- complained: delivered messages with at least one `complaint` event (a feedback-loop report
  or a provider's webhook naming the message), whenever it came.
- bounce_rate = bounced / (delivered + bounced); complaint_rate = complained / delivered.
  A group with no denominator has no rate (NaN), not 0.
- provider: `edm.providers` grouping of the recipient's domain (exact domain match).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, func, select, union_all
from sqlalchemy.orm import Session

from edm.errors import EdmError
from edm.providers import OTHER, PROVIDERS
from edm.reports.engagement import check_window, kept_totals, within
from edm.store import Event, EventTotal, OutboxMessage
from edm.store.sql import email_domain, utc_day

PERIODS = ("day", "week")
COUNTS = ("delivered", "bounced", "complained")
RATES = ("bounce_rate", "complaint_rate")
COLUMNS = ("delivered", "bounced", "bounce_rate", "complained", "complaint_rate")
TOTAL = "Total"
GMAIL = "gmail"  # the provider whose figures the period table shows apart
COMPLAINT = "complaint"
EPOCH = date(1970, 1, 1)
WEEK_SHIFT = 3  # 1970-01-01 was a Thursday: (day + 3) // 7 counts weeks from Monday 1969-12-29

Counts = tuple[int, int, int]


def checked_period(period: str) -> str:
    if period not in PERIODS:
        raise EdmError(f"no deliverability report per {period!r}; choose from: {', '.join(PERIODS)}")
    return period


def provider_expression(address: Any) -> ColumnElement[str]:
    """`edm.providers.provider_of` in SQL, built from the same PROVIDERS table."""
    domain = email_domain(address)
    return case(*((domain.in_(domains), name) for name, domains in PROVIDERS.items()), else_=OTHER)


def count_by(
    session: Session, keys: Sequence[str], *, since: datetime | None = None, until: datetime | None = None,
    period: str = "day",
) -> list[tuple[tuple[Any, ...], Counts]]:
    """(key values, (delivered, bounced, complained)) per group of `keys`: campaign, provider, period
    (whole days, or weeks from Monday, since 1970-01-01)."""
    check_window(since, until)
    checked_period(period)
    messages = _messages(since, until, period)
    grouped = [messages.c[key] for key in keys]
    sums = [func.sum(messages.c[name]) for name in COUNTS]
    query = select(*grouped, *sums).group_by(*grouped)
    width = len(keys)
    return [(tuple(row[:width]), (int(row[width]), int(row[width + 1]), int(row[width + 2])))
            for row in session.execute(query)]


def unmatched_complaints(session: Session, *, since: datetime | None = None,
                         until: datetime | None = None) -> int:
    """Complaints in the period (by when they came) that name no message: counted nowhere else."""
    query = select(func.count(Event.id)).where(
        Event.kind == COMPLAINT, Event.outbox_id.is_(None), *within(Event.occurred_at, since, until)
    )
    kept = select(func.coalesce(func.sum(EventTotal.events), 0)).where(  # past retention: by UTC day
        EventTotal.kind == COMPLAINT, EventTotal.outbox_id.is_(None),
        *([EventTotal.day >= since.date()] if since is not None else []),
        *([EventTotal.day < until.date()] if until is not None else []))
    return int(session.scalar(query) or 0) + int(session.scalar(kept) or 0)


def _messages(since: datetime | None, until: datetime | None, period: str) -> Any:
    """One row per message with a final answer in the period, marked 0/1 and labelled."""
    state, sent_at = OutboxMessage.state, OutboxMessage.sent_at
    moment = func.coalesce(sent_at, OutboxMessage.created_at)
    complaints = select(Event.outbox_id).where(Event.kind == COMPLAINT, Event.outbox_id.is_not(None))
    if since is not None:  # a complaint never comes before its message
        complaints = complaints.where(Event.occurred_at >= since)
    signals = union_all(complaints, kept_totals((COMPLAINT,), since).with_only_columns(EventTotal.outbox_id)
                        .where(EventTotal.outbox_id.is_not(None))).subquery("signals")
    complained = select(signals.c.outbox_id).group_by(signals.c.outbox_id).subquery("complaints")
    day = utc_day(moment)
    bucket = day if period == "day" else (day + WEEK_SHIFT) // 7
    delivered = state == "sent"

    def flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return case((condition, 1), else_=0)

    return (
        select(
            OutboxMessage.campaign.label("campaign"),
            provider_expression(OutboxMessage.to_address).label("provider"),
            bucket.label("period"),
            flag(delivered).label("delivered"),
            flag(state == "bounced").label("bounced"),
            flag(and_(delivered, complained.c.outbox_id.is_not(None))).label("complained"),
        )
        .select_from(OutboxMessage)
        .outerjoin(complained, complained.c.outbox_id == OutboxMessage.id)
        .where(state.in_(("sent", "bounced")), *within(moment, since, until))
        .subquery("messages")
    )


def rates(delivered: int, bounced: int, complained: int) -> tuple[float, float]:
    """Pure: (bounce rate, complaint rate); NaN where nothing was attempted or delivered."""
    attempts = delivered + bounced
    bounce = bounced / attempts if attempts else float("nan")
    complaint = complained / delivered if delivered else float("nan")
    return bounce, complaint


def figures(counts: Counts, prefix: str = "") -> dict[str, float | int]:
    """Pure: the counts and rates as COLUMNS, names optionally prefixed ('gmail_')."""
    delivered, bounced, complained = counts
    bounce, complaint = rates(delivered, bounced, complained)
    values: dict[str, float | int] = {"delivered": delivered, "bounced": bounced, "bounce_rate": bounce,
                                      "complained": complained, "complaint_rate": complaint}
    return {prefix + name: values[name] for name in COLUMNS}


def group_table(key: str, rows: Iterable[tuple[str, Counts]], order: Sequence[str] = ()) -> pd.DataFrame:
    """Pure: one row per group (those in `order` first, always shown, in that order; the rest by
    name), then the Total row."""
    merged: dict[str, list[int]] = {name: [0, 0, 0] for name in order}
    for name, counts in rows:
        into = merged.setdefault(str(name), [0, 0, 0])
        for i, count in enumerate(counts):
            into[i] += count
    names = [*order, *sorted(set(merged) - set(order))]
    totals = _sum(merged.values())
    records = [{key: name, **figures(_counts(merged[name]))} for name in names]
    records.append({key: TOTAL, **figures(totals)})
    return _typed(pd.DataFrame.from_records(records, columns=[key, *COLUMNS]), [""])


def period_table(rows: Iterable[tuple[int, str, Counts]], period: str) -> pd.DataFrame:
    """Pure: per period from the first with mail to the last (quiet ones with 0 and no rates), all
    providers and Gmail alone side by side, then the Total row."""
    checked_period(period)
    every: dict[int, list[int]] = {}
    gmail: dict[int, list[int]] = {}
    for index, provider, counts in rows:
        for into in [every] + ([gmail] if provider == GMAIL else []):
            sums = into.setdefault(int(index), [0, 0, 0])
            for i, count in enumerate(counts):
                sums[i] += count
    span = range(min(every), max(every) + 1) if every else range(0)
    records = [
        {"period": period_label(index, period), **figures(_counts(every.get(index, [0, 0, 0]))),
         **figures(_counts(gmail.get(index, [0, 0, 0])), "gmail_")}
        for index in span
    ]
    records.append({"period": TOTAL, **figures(_sum(every.values())),
                    **figures(_sum(gmail.values()), "gmail_")})
    columns = ["period", *COLUMNS, *(f"gmail_{name}" for name in COLUMNS)]
    return _typed(pd.DataFrame.from_records(records, columns=columns), ["", "gmail_"])


def period_label(index: int, period: str) -> str:
    """Pure: a day index as '2024-03-10'; a week index as its ISO week, '2024-W10'."""
    if period == "day":
        return (EPOCH + timedelta(days=index)).isoformat()
    monday = EPOCH + timedelta(days=index * 7 - WEEK_SHIFT)
    year, week, _ = monday.isocalendar()
    return f"{year}-W{week:02d}"


def _counts(values: Sequence[int]) -> Counts:
    return int(values[0]), int(values[1]), int(values[2])


def _sum(groups: Iterable[Sequence[int]]) -> Counts:
    totals = [0, 0, 0]
    for values in groups:
        for i, value in enumerate(values):
            totals[i] += value
    return _counts(totals)


def _typed(table: pd.DataFrame, prefixes: Sequence[str]) -> pd.DataFrame:
    types: dict[str, str] = {}
    for prefix in prefixes:
        types |= {prefix + name: "int64" for name in COUNTS} | {prefix + name: "float64" for name in RATES}
    return table.astype(types)
