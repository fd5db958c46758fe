"""How campaigns did, grouped by campaign, variant, value tier, lifecycle stage, industry or locale.

Counting happens in SQL: one GROUP BY over the outbox, joined to two pre-aggregated
subqueries (reactions per message from the event log, attributed orders per message),
so only one row per group ever reaches pandas, however many events exist.

What each figure means:
- A message belongs to the period by the moment it was sent (unsent ones: when queued).
- sent: accepted by the relay; delivered: sent and not bounced afterwards (a DSN);
  bounced: refused, at once or later; deferred: still waiting for a retry.
- opened / clicked / unsubscribed / complained: delivered messages with at least one such
  event, whenever it came (late readers count). Opens and clicks by privacy proxies and
  scanners (`Event.machine`) are not a person's: opens by machines are `machine_opened`,
  machine clicks are left out. A person's click means they opened the mail, whatever the
  pixel said (a privacy proxy fetched it, or images were off), so `opened` counts people who
  opened or clicked and click-to-open (clicked / opened) never exceeds 100%. Rates are over
  delivered messages.
- Rates leave out mail sent less than `judge_after_days` before the report's time (`too_recent`):
  people read within a day or two, so newer mail would look ignored. Each rate says what it is
  over (its n): open and unsubscribe rates over `judged` delivered mails, click rate over
  `judged_linked` (mails of campaigns that have links: a greeting without one cannot be clicked),
  click-to-open over `opened_linked`. A rate over nothing is NaN. A row whose rates rest on fewer
  than `min_n` judged mails reads TOO_FEW (TOO_RECENT when all of its mail is too recent).
- orders / revenue: last touch. Each order goes to the latest delivered mail to that
  customer in the `attribution_days` before it, so no order is counted twice and the
  groups add up to the total.
- Tier, stage and industry are the customer's current profile (no history is kept).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, cast, func, literal, or_, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import SQLCoreOperations

from edm.classes import INDUSTRIES, LIFECYCLE_STAGES, VALUE_TIERS
from edm.errors import EdmError
from edm.store import Customer, CustomerProfile, Event, EventTotal, Order, OutboxMessage
from edm.store.models import BigId
from edm.store.sql import epoch_days

GROUPINGS = ("campaign", "variant", "tier", "stage", "industry", "locale")
COUNTS = (
    "sent", "delivered", "deferred", "bounced", "opened", "machine_opened", "clicked",
    "unsubscribed", "complained", "orders",
)
MONEY = ("revenue",)
RATES = ("open_rate", "click_rate", "unsubscribe_rate", "click_to_open")
BASES = ("judged", "judged_linked", "opened_linked")  # what the rates are over (their n)
RATE_BASES = {"open_rate": "judged", "click_rate": "judged_linked", "unsubscribe_rate": "judged",
              "click_to_open": "opened_linked"}
TOO_FEW = "too few to judge 样本太少"
TOO_RECENT = "too recent to judge 太新，暂不评判"
TOTAL = "Total"
UNKNOWN = "unknown"
NO_VARIANT = "-"  # a campaign without variants
REACTIONS = ("opened", "machine_open", "click", "unsubscribe", "complaint")

# Analysts read tiers and stages in their natural order, not alphabetically.
_NATURAL_ORDER: dict[str, tuple[str, ...]] = {
    "tier": VALUE_TIERS,
    "stage": LIFECYCLE_STAGES,
    "industry": INDUSTRIES,
}

GroupKey = tuple[str, ...]
Figures = Sequence[int | float]


@dataclass(frozen=True)
class Counted:
    """One group's figures (COUNTS then MONEY) for mail of one kind: `recent` (sent inside the
    judging window) or not, of a campaign with links or without."""

    key: GroupKey
    numbers: Figures
    recent: bool = False
    linked: bool = True


def engagement_table(
    session: Session,
    by: Sequence[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    attribution_days: int = 30,
    judging: Judging | None = None,
) -> pd.DataFrame:
    """One row per group plus a `Total` row: the counts, revenue and rates described above."""
    [table] = engagement_tables(session, [by], since=since, until=until, attribution_days=attribution_days,
                                judging=judging)
    return table


@dataclass(frozen=True)
class Judging:
    """How rates are judged: mail sent at or after `recent_since` is too recent; the campaigns in
    `unlinked` have no links (no click rate); a row over fewer than `min_n` judged mails is too few."""

    recent_since: datetime | None = None
    unlinked: Collection[str] = ()
    min_n: int = 1

    @classmethod
    def at(cls, now: datetime, days: float, unlinked: Collection[str] = (), min_n: int = 1) -> Judging:
        return cls(now - timedelta(days=days) if days > 0 else None, unlinked, min_n)


def engagement_tables(
    session: Session,
    groupings: Sequence[Sequence[str]],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    attribution_days: int = 30,
    judging: Judging | None = None,
) -> list[pd.DataFrame]:
    """One table per grouping, from a single SQL pass grouped by every column any of them uses (and
    by campaign and by too recent or not, which the rates need)."""
    judging = judging or Judging()
    chosen = [checked_grouping(by) for by in groupings]
    check_window(since, until)
    columns = list(dict.fromkeys([*(name for by in chosen for name in by), "campaign"]))
    counts = _count_in_sql(session, columns, since, until, attribution_days, judging.recent_since)
    at_campaign = columns.index("campaign")
    tables = []
    for by in chosen:
        at = [columns.index(name) for name in by]
        tables.append(tabulate(by, (
            Counted(tuple(key[i] for i in at), numbers, recent, key[at_campaign] not in judging.unlinked)
            for key, recent, numbers in counts), min_n=judging.min_n))
    return tables


def engagement_summary(table: pd.DataFrame) -> dict[str, float | int]:
    """The Total row of an engagement table as plain numbers, for a short printed summary."""
    totals = table[table.iloc[:, 0] == TOTAL]
    if totals.empty:
        raise ValueError("the table has no Total row; build it with engagement_table()")
    row = totals.iloc[-1]
    summary: dict[str, float | int] = {name: int(row[name]) for name in COUNTS}
    summary.update({name: float(row[name]) for name in (*MONEY, *RATES)})
    return summary


def tabulate(
    by: Sequence[str], counts: Iterable[Counted | tuple[GroupKey, Figures]], *, min_n: int = 1
) -> pd.DataFrame:
    """Pure: merge per-group figures (COUNTS then MONEY; a plain pair is judged mail with links),
    sort the groups, add rates, their n, the reading and the Total row."""
    width = len(COUNTS) + len(MONEY)
    merged: dict[GroupKey, list[list[float]]] = {}  # every mail, judged mail, judged mail with links
    for item in counts:
        counted = item if isinstance(item, Counted) else Counted(*item)
        into = merged.setdefault(tuple(counted.key), [[0] * width for _ in range(3)])
        parts = [into[0]] + ([] if counted.recent else [into[1]] + ([into[2]] if counted.linked else []))
        for part in parts:
            for i, number in enumerate(counted.numbers):
                part[i] += number
    ordered = sorted(merged, key=lambda key: [rank(c, v) for c, v in zip(by, key, strict=True)])
    totals = [[sum(column) for column in zip(*(merged[key][part] for key in merged), strict=True)]
              or [0] * width for part in range(3)]
    records = [_record(by, key, merged[key], min_n) for key in ordered]
    records.append(_record(by, (TOTAL,) * len(by), totals, min_n))
    table = pd.DataFrame.from_records(
        records, columns=[*by, *COUNTS, *MONEY, *RATES, "too_recent", *BASES, "judgement"])
    return table.astype({**dict.fromkeys((*COUNTS, "too_recent", *BASES), "int64"),
                         **dict.fromkeys((*MONEY, *RATES), "float64"), "judgement": object})


def checked_grouping(by: Sequence[str]) -> list[str]:
    """The groupings as a list; an unknown or repeated one is the user's error."""
    return checked_choices(by, GROUPINGS, "report")


def checked_choices(by: Sequence[str], valid: Sequence[str], report: str) -> list[str]:
    """`by` (one name or several) as a list of `valid` names; a missing, unknown or repeated one
    is the user's error, said for `report`."""
    chosen = [by] if isinstance(by, str) else list(by)
    names = ", ".join(valid)
    if not chosen:
        raise EdmError(f"choose at least one grouping for the {report}: {names}")
    unknown = [name for name in chosen if name not in valid]
    if unknown:
        raise EdmError(f"cannot group the {report} by {', '.join(map(repr, unknown))}; choose from: {names}")
    if len(set(chosen)) != len(chosen):
        raise EdmError(f"each grouping may appear once, got {chosen}; choose from: {names}")
    return chosen


def check_window(since: datetime | None, until: datetime | None) -> None:
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            example = moment.isoformat() + "+00:00"
            raise EdmError(f"the report's {name} time needs a time zone, e.g. {example}")
    if since is not None and until is not None and since >= until:
        raise EdmError(f"empty report window: since ({since}) must be before until ({until})")


def within(
    column: SQLCoreOperations[Any], since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    """`since <= column < until`, either bound optional."""
    bounds: list[ColumnElement[bool]] = []
    if since is not None:
        bounds.append(column >= since)
    if until is not None:
        bounds.append(column < until)
    return bounds


def _count_in_sql(
    session: Session, by: Sequence[str], since: datetime | None, until: datetime | None, days: int,
    recent_since: datetime | None = None,
) -> list[tuple[GroupKey, bool, Figures]]:
    """Aggregates per group and per too recent (sent at or after `recent_since`) or not; the only
    function here that talks to the database."""
    columns: dict[str, SQLCoreOperations[Any]] = {
        "campaign": OutboxMessage.campaign,
        "variant": OutboxMessage.variant,
        "tier": CustomerProfile.value_tier,
        "stage": CustomerProfile.lifecycle_stage,
        "industry": CustomerProfile.industry,
        "locale": Customer.locale,
    }
    # Grouping by the plain columns (NULL = no profile) keeps PostgreSQL happy; the
    # "unknown" label is put on afterwards in Python.
    grouped: list[Any] = [columns[name] for name in by]
    if recent_since is not None:
        grouped.append(case((OutboxMessage.sent_at >= recent_since, 1), else_=0))
    profile = {"tier", "stage", "industry"} & set(by)
    reactions = _reactions(since, kept=session.scalar(select(EventTotal.id).limit(1)) is not None)
    attributed = _attributed_orders(since, days)
    state, sent_at = OutboxMessage.state, OutboxMessage.sent_at
    moment = func.coalesce(sent_at, OutboxMessage.created_at)
    delivered = state == "sent"

    def reacted(flag: str) -> ColumnElement[int]:
        return _count_where(and_(delivered, reactions.c[flag] == 1))

    query = (
        select(
            *grouped,
            _count_where(sent_at.is_not(None)),
            _count_where(delivered),
            _count_where(state == "deferred"),
            _count_where(state == "bounced"),
            *(reacted(flag) for flag in REACTIONS),
            func.coalesce(func.sum(attributed.c.orders), 0),
            func.coalesce(func.sum(attributed.c.revenue), 0),
        )
        .select_from(OutboxMessage)
        .outerjoin(reactions, reactions.c.outbox_id == OutboxMessage.id)
        .outerjoin(attributed, attributed.c.outbox_id == OutboxMessage.id)
        .where(
            or_(sent_at.is_not(None), state.in_(("bounced", "deferred"))),
            *within(moment, since, until),
        )
        .group_by(*grouped)
    )
    if profile:  # joined only when needed: each join is a lookup per message
        query = query.outerjoin(CustomerProfile, CustomerProfile.customer_id == OutboxMessage.customer_id)
    if "locale" in by:
        query = query.outerjoin(Customer, Customer.id == OutboxMessage.customer_id)
    width = len(grouped)
    return [
        (
            tuple(_label(name, value) for name, value in zip(by, row[:len(by)], strict=True)),
            recent_since is not None and bool(row[len(by)]),
            [*(int(n) for n in row[width:-1]), float(row[-1])],
        )
        for row in session.execute(query)
    ]


def _reactions(since: datetime | None, kept: bool = False) -> Any:
    """Per message: 1 where a person opened it (a pixel open or a click: a click is an open), a
    machine opened it, a person clicked, ... `kept`: read `event_totals` too (a store with events
    past retention; without, the raw events alone are read, as fast as before retention existed)."""

    def flag(condition: ColumnElement[bool], name: str) -> Any:
        return func.max(case((condition, 1), else_=0)).label(name)

    kinds = ("open", "click", "unsubscribe", "complaint")
    # grouped by CAST(outbox_id + 0), not the column: SQLite would walk the outbox_id index and read
    # the rows in random order, three times slower than one scan of the table and a sort (the CAST
    # keeps the integer affinity SQLite needs to index the result for the join)
    message: Any = cast(Event.outbox_id + 0, BigId).label("outbox_id")
    kind: Any = Event.kind
    machine: Any = Event.machine
    time_bound = [Event.occurred_at >= since] if since is not None else []  # no reaction before its message
    if kept:
        raw = select(message, kind, machine).where(kind.in_(kinds), *time_bound)
        signals = union_all(raw, kept_totals(kinds, since)).subquery("signals")
        message, kind, machine = signals.c.outbox_id, signals.c.kind, signals.c.machine
    human, machine_made = machine.is_(False), machine.is_(True)
    query = select(
        message,
        flag(and_(kind.in_(("open", "click")), human), "opened"),
        flag(and_(kind == "open", machine_made), "machine_open"),
        flag(and_(kind == "click", human), "click"),
        flag(kind == "unsubscribe", "unsubscribe"),
        flag(kind == "complaint", "complaint"),
    )
    if not kept:
        query = query.where(kind.in_(kinds), *time_bound)
    return query.group_by(message).subquery("reactions")


def kept_totals(kinds: Sequence[str], since: datetime | None) -> Any:
    """(outbox_id, kind, machine) of events past retention, from `event_totals` (edm.privacy.retention):
    the reports read them beside the raw events, so dropping raw events changes no figure. They are
    kept by UTC day, so `since` counts the whole of its first day."""
    query = select(EventTotal.outbox_id, EventTotal.kind, EventTotal.machine).where(
        EventTotal.kind.in_(kinds))
    if since is not None:
        query = query.where(EventTotal.day >= since.date())
    return query


def attribution_join(moment: SQLCoreOperations[Any], days: int) -> ColumnElement[bool]:
    """Orders by the message's customer in [moment, moment + days)."""
    return and_(
        Order.customer_id == OutboxMessage.customer_id,
        Order.ordered_at >= moment,
        epoch_days(Order.ordered_at) - epoch_days(moment) < literal(float(days)),
    )


def _attributed_orders(since: datetime | None, days: int) -> Any:
    """Per delivered message: the orders whose last touch it was, and their revenue."""
    latest_first = func.row_number().over(
        partition_by=Order.id, order_by=(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
    )
    touches = (
        select(Order.id.label("order_id"), Order.amount, OutboxMessage.id.label("outbox_id"),
               latest_first.label("rank"))
        .select_from(Order)
        .join(OutboxMessage, and_(OutboxMessage.state == "sent",
                                  attribution_join(OutboxMessage.sent_at, days)))
    )
    if since is not None:  # an order before the period cannot be credited to a mail in it
        touches = touches.where(Order.ordered_at >= since)
    touched = touches.subquery("touches")
    return (
        select(touched.c.outbox_id, func.count().label("orders"), func.sum(touched.c.amount).label("revenue"))
        .where(touched.c.rank == 1)
        .group_by(touched.c.outbox_id)
        .subquery("attributed")
    )


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """Outbox rows meeting `condition`; one row per message, so no DISTINCT is needed."""
    return func.count(case((condition, OutboxMessage.id)))


def _label(grouping: str, value: object) -> str:
    if value is None:
        return NO_VARIANT if grouping == "variant" else UNKNOWN
    return str(value)


def rank(column: str, value: str) -> tuple[int, str]:
    """Sort key: tiers, stages and industries in their natural order, unknown last, the rest by name."""
    order = _NATURAL_ORDER.get(column, ())
    if value in order:
        return order.index(value), ""
    return (len(order) + 1 if value == UNKNOWN else len(order)), value


def _record(
    by: Sequence[str], key: GroupKey, parts: Sequence[Sequence[float]], min_n: int
) -> dict[str, object]:
    every, judged, linked = (dict(zip((*COUNTS, *MONEY), part, strict=True)) for part in parts)
    record: dict[str, object] = dict(zip(by, key, strict=True))
    record.update({name: int(every[name]) for name in COUNTS})
    record["revenue"] = round(float(every["revenue"]), 2)
    record["open_rate"] = _rate(judged["opened"], judged["delivered"])
    record["click_rate"] = _rate(linked["clicked"], linked["delivered"])
    record["unsubscribe_rate"] = _rate(judged["unsubscribed"], judged["delivered"])
    record["click_to_open"] = _rate(linked["clicked"], linked["opened"])
    record["too_recent"] = int(every["delivered"] - judged["delivered"])
    record.update(judged=int(judged["delivered"]), judged_linked=int(linked["delivered"]),
                  opened_linked=int(linked["opened"]))
    too_recent = not judged["delivered"] and record["too_recent"]
    record["judgement"] = TOO_RECENT if too_recent else TOO_FEW if judged["delivered"] < min_n else ""
    return record


def _rate(count: float, base: float) -> float:
    return round(count / base, 4) if base else float("nan")
