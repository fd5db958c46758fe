"""Recompute every customer's profile from the store, and record who moved between classes.

The store is read as columns (raw cursor, no ORM rows), the figures and classes are
computed in memory by pure functions, and profiles are written back with one bulk
upsert. A customer's first profile records no transition: there is nothing it moved
from. Every recompute also stores a `ClassificationRun` with the thresholds it resolved,
so a class can be explained later with the figures that decided it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Float, Select, cast, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from edm.classes import DIMENSIONS
from edm.clock import Clock
from edm.config import ClassificationSettings
from edm.customers.churn_model import BgNbdParams
from edm.customers.classify import classify
from edm.customers.features import (
    NO_LINE,
    CustomerColumns,
    OrderColumns,
    customer_features,
    day_timestamps,
    epoch_day,
)
from edm.store import (
    ClassificationRun,
    Customer,
    CustomerProfile,
    Event,
    Order,
    ProfileTransition,
    WalletEstimate,
)
from edm.store.bulk import bulk_upsert, nullable, sql_timestamps
from edm.store.sql import epoch_days

FETCH_ROWS = 200_000
ENGAGEMENT_KINDS = ("open", "click")

FIGURES = (
    "order_count", "order_days", "revenue", "annual_revenue", "margin", "margin_rate",
    "orders_per_year", "recent_orders_per_year", "usual_orders_per_year", "longest_gap_days",
    "mean_gap_days", "gap_variation", "share_of_wallet", "dropped_lines", "probability_alive",
)
MONEY = ("revenue", "annual_revenue", "margin")


@dataclass(frozen=True)
class ClassificationSummary:
    """Customers per class in each dimension, and who moved since the last recompute."""

    counts: dict[str, dict[str, int]]
    moved_into: dict[str, dict[str, int]]  # per dimension and class: customers who just entered it
    customers_moved: int  # customers with a change in any dimension
    first_profiles: int  # customers classified for the first time
    total: int
    computed_at: datetime
    churn_model: BgNbdParams | None


def recompute_profiles(
    sessions: sessionmaker[Session], rules: ClassificationSettings, clock: Clock
) -> ClassificationSummary:
    """Classify every customer now; store profiles, transitions and the run, in one transaction."""
    now = clock.now()
    with sessions.begin() as session:
        customers = load_customer_columns(session)
        orders = load_order_columns(session)
        features, model = customer_features(customers, orders, epoch_day(now), rules)
        classes, thresholds = classify(features, rules)
        previous = _previous_classes(session, customers.customer_id)
        moves = _transitions(customers.customer_id, previous, classes)
        _write_profiles(session, features, classes, customers.engaged_day, now)
        _write_transitions(session, moves, now)
        moved_customers = int(moves["customer_id"].nunique())
        session.add(
            ClassificationRun(
                computed_at=now,
                customers=len(features),
                moved=moved_customers,
                thresholds=thresholds.as_dict(),
                churn_model=model.as_dict() if model else None,
            )
        )
    first_profiles = int(previous[next(iter(DIMENSIONS))].isna().sum())
    return ClassificationSummary(
        counts={
            dimension: {str(c): int(n) for c, n in _counts(classes[dimension], names).items()}
            for dimension, names in DIMENSIONS.items()
        },
        moved_into={
            str(dimension): {str(c): int(n) for c, n in group["new"].value_counts().items()}
            for dimension, group in moves.groupby("dimension")
        },
        customers_moved=moved_customers,
        first_profiles=first_profiles,
        total=len(features),
        computed_at=now,
        churn_model=model,
    )


def _counts(classes: pd.Series, names: tuple[str, ...]) -> pd.Series:
    return classes.value_counts().reindex(list(names), fill_value=0)


def load_customer_columns(session: Session) -> CustomerColumns:
    """Every customer by id, with industry, share-of-wallet estimate and last engagement."""
    engaged = (
        select(Event.customer_id, func.max(epoch_days(Event.occurred_at)).label("day"))
        .where(Event.kind.in_(ENGAGEMENT_KINDS))
        .group_by(Event.customer_id)
        .subquery("engaged")
    )
    query = (
        select(
            Customer.id,
            Customer.industry,
            WalletEstimate.share,
            cast(WalletEstimate.category_spend, Float),
            engaged.c.day,
        )
        .outerjoin(WalletEstimate, WalletEstimate.customer_id == Customer.id)
        .outerjoin(engaged, engaged.c.customer_id == Customer.id)
        .order_by(Customer.id)
    )
    ids, industry, share, spend, engaged_day = _columns(session, query, 5)
    return CustomerColumns(
        customer_id=np.array(ids, dtype=np.int64),
        industry_text=[text or "" for text in industry],
        share=_floats(share),
        category_spend=_floats(spend),
        engaged_day=_floats(engaged_day),
    )


def load_order_columns(session: Session) -> OrderColumns:
    """Every order as arrays; product lines as codes into their sorted names."""
    lines = session.scalars(select(Order.product_line).where(Order.product_line.is_not(None)).distinct())
    names = tuple(sorted(line for line in lines if line is not None))
    query = select(
        Order.customer_id,
        epoch_days(Order.ordered_at),
        cast(Order.amount, Float),
        cast(Order.margin, Float),
        Order.product_line,
    )
    ids, day, amount, margin, line = _columns(session, query, 5)
    codes = pd.Categorical(list(line), categories=list(names)).codes.astype(np.int64)
    return OrderColumns(
        customer_id=np.array(ids, dtype=np.int64),
        day=_floats(day),
        amount=_floats(amount),
        margin=_floats(margin),
        line=np.where(codes < 0, NO_LINE, codes),
        line_names=names,
    )


def _columns(session: Session, query: Select[Any], width: int) -> list[tuple[Any, ...]]:
    """The query's result as one tuple per column, fetched through the raw cursor in batches."""
    connection = session.connection()
    sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
    cursor = connection.connection.cursor()
    parts: list[list[tuple[Any, ...]]] = [[] for _ in range(width)]
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(FETCH_ROWS):
            for part, column in zip(parts, zip(*rows, strict=True), strict=True):
                part.append(column)
    finally:
        cursor.close()
    return [tuple(chain.from_iterable(part)) for part in parts]


def _floats(values: Sequence[Any]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """Numbers with NULL as NaN (numpy converts None to NaN for float arrays)."""
    return np.array(values, dtype=np.float64)


def _previous_classes(session: Session, ids: np.ndarray[Any, Any]) -> pd.DataFrame:
    """The stored classes, aligned with `ids` (NaN where a customer has no profile yet)."""
    query = select(CustomerProfile.customer_id, *[getattr(CustomerProfile, d) for d in DIMENSIONS])
    columns = _columns(session, query, 1 + len(DIMENSIONS))
    names = ["customer_id", *DIMENSIONS]
    stored = pd.DataFrame(
        {name: pd.Series(values, dtype=object) for name, values in zip(names, columns, strict=True)}
    )
    return stored.set_index("customer_id").reindex(ids)


def _transitions(ids: np.ndarray[Any, Any], previous: pd.DataFrame, classes: pd.DataFrame) -> pd.DataFrame:
    """One row per (customer, dimension) whose class differs from a stored one."""
    moves = []
    for dimension in DIMENSIONS:
        old = previous[dimension].to_numpy()
        new = classes[dimension].to_numpy()
        changed = pd.notna(old) & (old != new)
        moves.append(
            pd.DataFrame(
                {"customer_id": ids[changed], "dimension": dimension,
                 "old": old[changed], "new": new[changed]}
            )
        )
    return pd.concat(moves, ignore_index=True)


def _write_profiles(
    session: Session,
    features: pd.DataFrame,
    classes: pd.DataFrame,
    engaged_day: np.ndarray[Any, np.dtype[np.float64]],
    now: datetime,
) -> None:
    dialect = session.get_bind().dialect.name
    data: dict[str, list[Any]] = {"customer_id": features["customer_id"].tolist()}
    data.update({d: classes[d].tolist() for d in DIMENSIONS})
    for name in FIGURES:
        column = features[name].round(2) if name in MONEY else features[name]
        data[name] = nullable(column.to_numpy(), dialect) if column.dtype.kind == "f" else column.tolist()
    data["dropped_lines"] = [text or None for text in features["dropped_lines"]]
    times = {
        "first_order_at": day_timestamps(features["first_order_day"].to_numpy()),
        "last_order_at": day_timestamps(features["last_order_day"].to_numpy()),
        "last_engaged_at": day_timestamps(engaged_day),
        "computed_at": np.full(len(features), np.datetime64(now.astimezone(UTC).replace(tzinfo=None), "us")),
    }
    data.update({name: sql_timestamps(values, dialect) for name, values in times.items()})
    columns = list(data)
    rows = list(zip(*data.values(), strict=True))
    bulk_upsert(session, CustomerProfile.__table__, columns, rows, key=["customer_id"])  # type: ignore[arg-type]


def _write_transitions(session: Session, moves: pd.DataFrame, now: datetime) -> None:
    if moves.empty:
        return
    rows = [
        {"customer_id": int(c), "dimension": d, "old": o, "new": n, "computed_at": now}
        for c, d, o, n in moves.itertuples(index=False, name=None)
    ]
    session.execute(insert(ProfileTransition), rows)
