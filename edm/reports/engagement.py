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
- orders / revenue: last touch. Each order goes to the latest delivered mail to that
  customer in the `attribution_days` before it, so no order is counted twice and the
  groups add up to the total.
- Tier, stage and industry are the customer's current profile (no history is kept).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
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


def engagement_table(
    session: Session,
    by: Sequence[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    attribution_days: int = 30,
) -> pd.DataFrame:
    """One row per group plus a `Total` row: the counts, revenue and rates described above."""
    [table] = engagement_tables(session, [by], since=since, until=until, attribution_days=attribution_days)
    return table


def engagement_tables(
    session: Session,
    groupings: Sequence[Sequence[str]],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    attribution_days: int = 30,
) -> list[pd.DataFrame]:
    """One table per grouping, from a single SQL pass grouped by every column any of them uses."""
    chosen = [checked_grouping(by) for by in groupings]
    check_window(since, until)
    columns = list(dict.fromkeys(name for by in chosen for name in by))
    counts = _count_in_sql(session, columns, since, until, attribution_days)
    tables = []
    for by in chosen:
        at = [columns.index(name) for name in by]
        tables.append(tabulate(by, ((tuple(key[i] for i in at), numbers) for key, numbers in counts)))
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


def tabulate(by: Sequence[str], counts: Iterable[tuple[GroupKey, Figures]]) -> pd.DataFrame:
    """Pure: merge per-group figures (COUNTS then MONEY), sort the groups, add rates and the Total row."""
    width = len(COUNTS) + len(MONEY)
    merged: dict[GroupKey, list[float]] = {}
    for key, numbers in counts:
        into = merged.setdefault(tuple(key), [0] * width)
        for i, number in enumerate(numbers):
            into[i] += number
    ordered = sorted(merged, key=lambda key: [rank(c, v) for c, v in zip(by, key, strict=True)])
    totals = [sum(column) for column in zip(*merged.values(), strict=True)] or [0] * width
    records = [_record(by, key, merged[key]) for key in ordered]
    records.append(_record(by, (TOTAL,) * len(by), totals))
    table = pd.DataFrame.from_records(records, columns=[*by, *COUNTS, *MONEY, *RATES])
    return table.astype(
        {**dict.fromkeys(COUNTS, "int64"), **dict.fromkeys((*MONEY, *RATES), "float64")}
    )


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
    session: Session, by: Sequence[str], since: datetime | None, until: datetime | None, days: int
) -> list[tuple[GroupKey, Figures]]:
    """Aggregates per group; the only function here that talks to the database."""
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
    grouped = [columns[name] for name in by]
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
    width = len(by)
    return [
        (
            tuple(_label(name, value) for name, value in zip(by, row[:width], strict=True)),
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


def _record(by: Sequence[str], key: GroupKey, numbers: Sequence[float]) -> dict[str, object]:
    figures = dict(zip((*COUNTS, *MONEY), numbers, strict=True))
    record: dict[str, object] = dict(zip(by, key, strict=True))
    record.update({name: int(figures[name]) for name in COUNTS})
    record["revenue"] = round(float(figures["revenue"]), 2)
    delivered = int(figures["delivered"])
    for rate, count in (("open_rate", "opened"), ("click_rate", "clicked"),
                        ("unsubscribe_rate", "unsubscribed")):
        record[rate] = round(int(figures[count]) / delivered, 4) if delivered else 0.0
    opened = int(figures["opened"])
    record["click_to_open"] = round(int(figures["clicked"]) / opened, 4) if opened else 0.0
    return record
