"""How campaigns did, grouped by campaign, value tier and lifecycle stage.

Counting happens in SQL (one GROUP BY over the outbox with EXISTS probes into the
event log), so only one row per group ever reaches pandas, however many events exist.
A message belongs to the window by when it was sent (bounces: when it was queued);
its opens and clicks count whenever they happened, so late readers are not lost.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from edm.classes import LIFECYCLE_STAGES, VALUE_TIERS
from edm.errors import EdmError
from edm.store import CustomerProfile, Event, OutboxMessage

GROUPINGS = ("campaign", "tier", "stage")
COUNTS = ("sent", "bounced", "opened", "clicked", "unsubscribed")
RATES = ("open_rate", "click_rate")
TOTAL = "Total"
UNKNOWN = "unknown"

# Analysts read tiers and stages in their natural order, not alphabetically.
_NATURAL_ORDER: dict[str, tuple[str, ...]] = {
    "tier": VALUE_TIERS,
    "stage": LIFECYCLE_STAGES,
}

GroupKey = tuple[str, ...]


def engagement_table(
    session: Session,
    by: Sequence[str],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> pd.DataFrame:
    """One row per group plus a `Total` row: counts of sent/bounced/opened/... and rates."""
    by = _checked_grouping(by)
    _check_window(since, until)
    return tabulate(by, _count_in_sql(session, by, since, until))


def engagement_summary(table: pd.DataFrame) -> dict[str, float | int]:
    """The Total row of an engagement table as plain numbers, for a short printed summary."""
    totals = table[table.iloc[:, 0] == TOTAL]
    if totals.empty:
        raise ValueError("the table has no Total row; build it with engagement_table()")
    row = totals.iloc[-1]
    summary: dict[str, float | int] = {name: int(row[name]) for name in COUNTS}
    summary.update({name: float(row[name]) for name in RATES})
    return summary


def tabulate(by: Sequence[str], counts: Iterable[tuple[GroupKey, Sequence[int]]]) -> pd.DataFrame:
    """Pure: merge per-group counts, sort the groups, add rates and the Total row."""
    merged: dict[GroupKey, list[int]] = {}
    for key, numbers in counts:
        into = merged.setdefault(tuple(key), [0] * len(COUNTS))
        for i, number in enumerate(numbers):
            into[i] += int(number)
    ordered = sorted(merged, key=lambda key: [_rank(c, v) for c, v in zip(by, key, strict=True)])
    totals = [sum(column) for column in zip(*merged.values(), strict=True)] or [0] * len(COUNTS)
    records = [_record(by, key, merged[key]) for key in ordered]
    records.append(_record(by, (TOTAL,) * len(by), totals))
    table = pd.DataFrame.from_records(records, columns=[*by, *COUNTS, *RATES])
    return table.astype({**dict.fromkeys(COUNTS, "int64"), **dict.fromkeys(RATES, "float64")})


def _checked_grouping(by: Sequence[str]) -> list[str]:
    if isinstance(by, str):
        by = [by]
    chosen = list(by)
    valid = ", ".join(GROUPINGS)
    if not chosen:
        raise EdmError(f"choose at least one grouping for the report: {valid}")
    unknown = [name for name in chosen if name not in GROUPINGS]
    if unknown:
        names = ", ".join(map(repr, unknown))
        raise EdmError(f"cannot group the report by {names}; choose from: {valid}")
    if len(set(chosen)) != len(chosen):
        raise EdmError(f"each grouping may appear once, got {chosen}; choose from: {valid}")
    return chosen


def _check_window(since: datetime | None, until: datetime | None) -> None:
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            example = moment.isoformat() + "+00:00"
            raise EdmError(f"the report's {name} time needs a time zone, e.g. {example}")
    if since is not None and until is not None and since >= until:
        raise EdmError(f"empty report window: since ({since}) must be before until ({until})")


def _count_in_sql(
    session: Session, by: Sequence[str], since: datetime | None, until: datetime | None
) -> list[tuple[GroupKey, Sequence[int]]]:
    """Aggregates per group; the only function here that talks to the database."""
    raw: dict[str, InstrumentedAttribute[str]] = {
        "campaign": OutboxMessage.campaign,
        "tier": CustomerProfile.value_tier,
        "stage": CustomerProfile.lifecycle_stage,
    }
    # Grouping by the plain columns (NULL = no profile) keeps PostgreSQL happy; the
    # "unknown" label is put on afterwards in Python.
    grouped = [raw[name] for name in by]
    state = OutboxMessage.state
    was_sent = and_(state == "sent", *_within(OutboxMessage.sent_at, since, until))
    bounced = and_(state == "bounced", *_within(OutboxMessage.created_at, since, until))
    query = (
        select(
            *grouped,
            _count_where(was_sent),
            _count_where(bounced),
            _count_where(and_(was_sent, _has_event("open"))),
            _count_where(and_(was_sent, _has_event("click"))),
            _count_where(and_(was_sent, _has_event("unsubscribe"))),
        )
        .select_from(OutboxMessage)
        .outerjoin(CustomerProfile, CustomerProfile.customer_id == OutboxMessage.customer_id)
        .where(or_(was_sent, bounced))
        .group_by(*grouped)
    )
    width = len(by)
    return [
        (
            tuple(UNKNOWN if value is None else str(value) for value in row[:width]),
            [int(n) for n in row[width:]],
        )
        for row in session.execute(query)
    ]


def _within(
    column: InstrumentedAttribute[Any], since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    bounds: list[ColumnElement[bool]] = []
    if since is not None:
        bounds.append(column >= since)
    if until is not None:
        bounds.append(column < until)
    return bounds


def _has_event(kind: str) -> ColumnElement[bool]:
    """At least one event of `kind` on this outbox row (however many there are)."""
    return exists().where(Event.outbox_id == OutboxMessage.id, Event.kind == kind)


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    """Outbox rows meeting `condition`; one row per message, so no DISTINCT is needed."""
    return func.count(case((condition, OutboxMessage.id)))


def _rank(column: str, value: str) -> tuple[int, str]:
    order = _NATURAL_ORDER.get(column, ())
    if value in order:
        return order.index(value), ""
    return (len(order) + 1 if value == UNKNOWN else len(order)), value


def _record(by: Sequence[str], key: GroupKey, numbers: Sequence[int]) -> dict[str, object]:
    record: dict[str, object] = dict(zip(by, key, strict=True))
    record.update(zip(COUNTS, numbers, strict=True))
    sent, opened, clicked = numbers[0], numbers[2], numbers[3]
    record["open_rate"] = round(opened / sent, 4) if sent else 0.0
    record["click_rate"] = round(clicked / sent, 4) if sent else 0.0
    return record
