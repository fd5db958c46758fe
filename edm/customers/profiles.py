"""Recompute every customer's profile from the store, and record who moved between classes.

The store is read as columns (raw cursor, no ORM rows), the figures and classes are
computed in memory by pure functions, and the profiles whose classes or figures differ
from the stored ones are written back: a first profile or a moved class with one bulk
upsert of every column, moved figures alone with one bulk update of just those columns
(rewriting a million unchanged rows took most of a recompute where nothing changed). A
customer's first profile records no transition (there is nothing it moved from; a history
imported today is not news), except one: a customer first seen as `new` entered that stage
(old = None), so a welcome can trigger on it. Every recompute also stores a
`ClassificationRun` with the thresholds it resolved, so a class can be explained later
with the figures that decided it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from edm import __version__
from edm.classes import DIMENSIONS
from edm.clock import Clock, epoch_day
from edm.config import ClassificationSettings
from edm.customers.classify import classify
from edm.customers.columns import load_store_columns, reading_stored_figures
from edm.customers.features import FittedModels, customer_features, day_timestamps
from edm.store import Base, ClassificationRun, Customer, ProfileTransition
from edm.store.bulk import Upsert, update_columns, write_columns
from edm.store.changes import input_state
from edm.surveys.scores import capped_loyalty
from edm.webhooks.emit import emit, wanted
from edm.webhooks.events import TRANSITION_EVENTS, transition

FIGURES = (
    "order_count",
    "order_days",
    "revenue",
    "annual_revenue",
    "margin",
    "margin_rate",
    "orders_per_year",
    "recent_orders_per_year",
    "usual_orders_per_year",
    "longest_gap_days",
    "mean_gap_days",
    "gap_variation",
    "share_of_wallet",
    "dropped_lines",
    "probability_alive",
    "expected_interval_days",
    "expected_orders_90d",
    "expected_orders_365d",
    "orders_since_return",
    "predicted_value",
)
MONEY = ("revenue", "annual_revenue", "margin", "predicted_value")
STAMPS = ("first_order_at", "last_order_at", "next_order_expected_at", "returned_at", "last_engaged_at")
MILLIS_PER_DAY = 86_400_000.0
FIRST_SEEN_ENTRY = "new"  # the one class a first profile is recorded as entering


@dataclass(frozen=True)
class Stored:
    """What the store holds of each customer's profile, aligned with the customers: what a new one is
    compared with (None and NaN where there is no profile yet)."""

    classes: dict[str, np.ndarray[Any, Any]]
    figures: dict[str, np.ndarray[Any, Any]]  # as `reading_stored_figures` gives them
    profiled: np.ndarray[Any, np.dtype[np.bool_]]


@dataclass(frozen=True)
class ClassificationSummary:
    """Customers per class in each dimension, and who moved since the last recompute."""

    counts: dict[str, dict[str, int]]
    moved_into: dict[str, dict[str, int]]  # per dimension and class: customers who just entered it
    customers_moved: int  # customers with a change in any dimension
    first_profiles: int  # customers classified for the first time
    total: int
    computed_at: datetime
    models: FittedModels
    kept_since: datetime | None = None  # nothing had changed since this run: its profiles were kept


def recompute_profiles(
    sessions: sessionmaker[Session], rules: ClassificationSettings, clock: Clock, *, full: bool = False
) -> ClassificationSummary:
    """Classify every customer now; store profiles, transitions and the run, in one transaction.

    Unless `full`, a run on the same UTC day as the last, with the same settings and edm, where none
    of what classification reads has changed (edm.store.changes) keeps the profiles as that run left
    them: it would compute the same classes, only the figures that age with the hour would move.
    """
    now = clock.now()
    with sessions.begin() as session:
        connection = session.connection()
        inputs = _inputs(connection, rules, now)  # read first: a change from here on shows next time
        last = session.scalars(select(ClassificationRun).order_by(ClassificationRun.id.desc())).first()
        if not full and inputs is not None and last is not None and last.inputs == inputs and last.counts:
            return _kept(session, last, now)
        store = load_store_columns(connection, rebuild=full)
        customers, previous, profiled = store.customers, store.stored_classes, store.profiled
        # read by one child meanwhile, on the core the figures' own work leaves idle
        with reading_stored_figures(connection, customers.customer_id, (*FIGURES, *STAMPS),
                                    readers=1) as stored_figures:
            features, models = customer_features(customers, store.orders, epoch_day(now), rules)
            classes, thresholds = classify(features, rules)
            classes["loyalty"] = _cap_loyalty(classes["loyalty"].to_numpy(dtype=object), store.satisfaction)
            del store  # the orders, most of the memory, before the stored figures come
            moves = _transitions(customers.customer_id, previous, classes)
            stored = Stored(previous, stored_figures(), profiled)
        _write_profiles(connection, features, classes, customers.engaged_day, now, stored=stored)
        _write_transitions(session, moves, now)
        moved_customers = int(moves["customer_id"][pd.notna(moves["old"])].nunique())
        counts = {dimension: {str(c): int(n) for c, n in _counts(classes[dimension], names).items()}
                  for dimension, names in DIMENSIONS.items()}
        session.add(
            ClassificationRun(
                computed_at=now,
                customers=len(features),
                moved=moved_customers,
                thresholds=thresholds.as_dict(),
                churn_model=models.as_dict(),
                inputs=inputs,
                counts=counts,
            )
        )
    first_profiles = int(pd.isna(previous[next(iter(DIMENSIONS))]).sum())
    return ClassificationSummary(
        counts=counts,
        moved_into={
            str(dimension): {str(c): int(n) for c, n in group["new"].value_counts().items()}
            for dimension, group in moves.groupby("dimension")
        },
        customers_moved=moved_customers,
        first_profiles=first_profiles,
        total=len(features),
        computed_at=now,
        models=models,
    )


def _inputs(connection: Connection, rules: ClassificationSettings, now: datetime) -> str | None:
    """What a run reads, as `ClassificationRun.inputs` keeps it: equal only for the same day, settings,
    edm and store contents (None: the store cannot tell)."""
    state = input_state(connection)
    if state is None:
        return None
    settings = hashlib.sha256(rules.model_dump_json(exclude={"max_age_hours"}).encode()).hexdigest()[:16]
    return f"{now.astimezone(UTC).date()}, settings {settings}, edm {__version__}; {state}"


def _kept(session: Session, last: ClassificationRun, now: datetime) -> ClassificationSummary:
    """Nothing read has changed since `last`: the profiles stay, the run is recorded with its figures."""
    session.add(ClassificationRun(computed_at=now, customers=last.customers, moved=0, inputs=last.inputs,
                                  counts=last.counts, thresholds=last.thresholds,
                                  churn_model=last.churn_model))
    first = select(func.min(ClassificationRun.computed_at)).where(ClassificationRun.inputs == last.inputs)
    since = session.scalar(first)
    return ClassificationSummary(counts=last.counts or {}, moved_into={}, customers_moved=0, first_profiles=0,
                                 total=last.customers, computed_at=now,
                                 models=FittedModels.from_dict(last.churn_model or {}), kept_since=since)


def _cap_loyalty(loyalty: np.ndarray[Any, Any], satisfaction: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    """`capped_loyalty` (a detractor cannot be loyal: edm.surveys) per customer, once per distinct pair."""
    loyalty_codes, loyalties = pd.factorize(loyalty)
    satisfaction_codes, satisfactions = pd.factorize(satisfaction, use_na_sentinel=False)  # None a value too
    pair = loyalty_codes * len(satisfactions) + satisfaction_codes
    distinct, at = np.unique(pair, return_inverse=True)
    answers = [capped_loyalty(loyalties[p // len(satisfactions)], satisfactions[p % len(satisfactions)])
               for p in distinct.tolist()]
    return np.asarray(answers, dtype=object)[at]


def _counts(classes: pd.Series, names: tuple[str, ...]) -> pd.Series:
    return classes.value_counts().reindex(list(names), fill_value=0)


def _transitions(
    ids: np.ndarray[Any, Any], previous: dict[str, np.ndarray[Any, Any]], classes: pd.DataFrame
) -> pd.DataFrame:
    """One row per (customer, dimension) whose class differs from a stored one, and first-seen `new`s."""
    moves = []
    for dimension in DIMENSIONS:
        old = previous[dimension]
        new = classes[dimension].to_numpy()
        changed = pd.notna(old) & (old != new)
        if dimension == "lifecycle_stage":
            changed |= pd.isna(old) & (new == FIRST_SEEN_ENTRY)
        moves.append(
            pd.DataFrame(
                {
                    "customer_id": ids[changed],
                    "dimension": dimension,
                    "old": old[changed],
                    "new": new[changed],
                }
            )
        )
    return pd.concat(moves, ignore_index=True)


def _write_profiles(
    connection: Connection,
    features: pd.DataFrame,
    classes: pd.DataFrame,
    engaged_day: np.ndarray[Any, np.dtype[np.float64]],
    now: datetime,
    *,
    stored: Stored | None = None,
) -> None:
    """Write the profiles: all, or, given what is `stored`, those whose classes or figures differ from it.

    A profile left as it is is not written at all, not even its `computed_at`: it holds as of this
    run (the card explains it with the last run), and a recompute where nothing moved writes nothing.
    """
    values = {"customer_id": features["customer_id"].to_numpy()}
    values.update({d: classes[d].to_numpy(dtype=object) for d in DIMENSIONS})
    values.update({name: features[name].to_numpy() for name in FIGURES})
    values.update({name: np.round(features[name].to_numpy() * 100) for name in MONEY})  # cents
    dropped = features["dropped_lines"].to_numpy(dtype=object, copy=True)
    dropped[dropped == ""] = None  # NULL, not NaN (which PostgreSQL would store as the text 'NaN')
    values["dropped_lines"] = dropped
    values["first_order_at"] = day_timestamps(features["first_order_day"].to_numpy())
    values["last_order_at"] = day_timestamps(features["last_order_day"].to_numpy())
    expected = np.floor(features["last_order_day"].to_numpy()) + features["expected_interval_days"].to_numpy()
    values["next_order_expected_at"] = day_timestamps(expected)
    values["returned_at"] = day_timestamps(features["return_day"].to_numpy())
    values["last_engaged_at"] = day_timestamps(engaged_day)
    moment = np.datetime64(now.astimezone(UTC).replace(tzinfo=None), "us")
    values["computed_at"] = np.full(len(features), moment)
    if stored is None:
        write_columns(connection, _profile_upsert(tuple(values)), values)
        return
    differs = _differences(values, stored)
    whole = ~stored.profiled  # a first profile, or a class moved (an indexed column): the whole row
    for dimension in DIMENSIONS:
        whole |= differs[dimension]
    kept = ~whole
    figures = tuple(name for name, rows in differs.items() if name not in DIMENSIONS and (rows & kept).any())
    indexed = tuple(name for name in figures if name in _indexed_columns())
    figures = tuple(name for name in figures if name not in indexed)
    partly = np.zeros(len(whole), dtype=bool)
    for name in figures:
        partly |= differs[name]
    columns = tuple(values)
    # first profiles inserted, moved ones updated: an upsert would carry the UPDATE trigger that watches the
    # classes (edm.store.changes) into every insert, measured 5 µs a row
    write_columns(connection, _profile_insert(columns), values, ~stored.profiled)
    moved = whole & stored.profiled
    update_columns(connection, "customer_profiles", "customer_id", columns[1:], values, moved)
    # the rest of the changed rows: only the figures that moved in any of them (a day on, the ones that
    # age with the clock), far fewer values to bind than every column
    update_columns(connection, "customer_profiles", "customer_id", (*figures, "computed_at"), values,
                   partly & kept)
    # an indexed figure (the last order's moment) only where it moved: SQLite rewrites an index entry
    # for every row whose UPDATE sets the column, changed or not (845 k unchanged ones: 5 s)
    for name in indexed:
        update_columns(connection, "customer_profiles", "customer_id", (name, "computed_at"), values,
                       differs[name] & kept)


def _differences(
    values: dict[str, np.ndarray[Any, Any]], stored: Stored
) -> dict[str, np.ndarray[Any, Any]]:
    """Per class and figure, the customers whose value differs from the stored one (all, without a profile).

    Compared as they are stored: money in cents, timestamps to the millisecond, NULL equal to NULL.
    """
    differences = {}
    for name, new in values.items():
        if name in ("customer_id", "computed_at"):
            continue
        old = stored.classes[name] if name in DIMENSIONS else stored.figures[name]
        if new.dtype.kind == "O":  # text: None and NaN are both NULL
            differs = np.asarray(new != old, dtype=bool)
            if differs.any():
                differs[differs] = ~(pd.isna(new[differs]) & pd.isna(old[differs]))
            differences[name] = differs
            continue
        if new.dtype.kind == "M":
            new = np.where(np.isnat(new), np.nan, new.astype("datetime64[ms]").astype(np.int64).astype(float))
            old = np.round(old * MILLIS_PER_DAY)
        elif name in MONEY:
            old = np.round(old * 100)
        new = new.astype(np.float64)
        differences[name] = (new != old) & ~(np.isnan(new) & np.isnan(old))
    return differences


@cache
def _indexed_columns() -> frozenset[str]:
    """The profile's columns an index covers."""
    table = Base.metadata.tables["customer_profiles"]
    return frozenset(column.name for index in table.indexes for column in index.columns)


@cache
def _profile_upsert(columns: tuple[str, ...]) -> Upsert:
    """Every column of the profile written, whether it is there or not (edm.reactions: one customer)."""
    return Upsert("customer_profiles", ("customer_id",), columns, columns[1:], ())


@cache
def _profile_insert(columns: tuple[str, ...]) -> Upsert:
    """First profiles (one written meanwhile is left as it is)."""
    return Upsert("customer_profiles", ("customer_id",), columns, (), ())


def _write_transitions(session: Session, moves: pd.DataFrame, now: datetime) -> None:
    if moves.empty:
        return
    rows = [
        {"customer_id": int(c), "dimension": d, "old": None if pd.isna(o) else o, "new": n,
         "computed_at": now}
        for c, d, o, n in moves.itertuples(index=False, name=None)
    ]
    if not any(wanted(session, t) for t in TRANSITION_EVENTS.values()):
        session.execute(insert(ProfileTransition), rows)
        return
    returning = insert(ProfileTransition).returning(ProfileTransition.id, sort_by_parameter_order=True)
    ids = session.scalars(returning, rows).all()
    told = [(i, r) for i, r in zip(ids, rows, strict=True) if r["dimension"] in TRANSITION_EVENTS]
    _tell_webhooks(session, told, now)


def _tell_webhooks(session: Session, moves: list[tuple[int, dict[str, Any]]], now: datetime) -> None:
    """stage.changed / loyalty.changed per transition, its id the transition's (edm.webhooks), queued in
    this transaction in bulk."""
    if not moves:
        return
    people: dict[int, tuple[str, str]] = {}
    wanted_ids = sorted({int(r["customer_id"]) for _, r in moves})
    for start in range(0, len(wanted_ids), 10_000):
        part = wanted_ids[start:start + 10_000]
        people.update((i, (x, e)) for i, x, e in session.execute(
            select(Customer.id, Customer.external_id, Customer.email).where(Customer.id.in_(part))).tuples())
    emit(session, (transition(i, r["dimension"], r["old"], r["new"], now, *people[int(r["customer_id"])])
                   for i, r in moves), now)
