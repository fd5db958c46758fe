"""The store read as the numpy columns classification works on (see `edm.store.columns`).

A large store is read by worker processes, orders in two id ranges at once, outside
the caller's transaction: orders imported while a recompute runs may or may not be in
it, as with any snapshot taken a moment earlier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import ColumnElement, Connection, Float, Select, cast, func, select
from sqlalchemy.types import TypeDecorator

from edm.classes import DIMENSIONS
from edm.customers.features import NO_LINE, CustomerColumns, IntArray, OrderColumns, by_customer_then_day
from edm.store import Customer, CustomerProfile, Event, Order, WalletEstimate
from edm.store.changes import order_changes
from edm.store.columns import Columns, read_columns_at_once, start_reading
from edm.store.snapshot import Snapshot, snapshot_columns, snapshot_header, write_snapshot
from edm.store.sql import epoch_days

ENGAGEMENT_KINDS = ("open", "click")
ORDER_READERS = 2  # concurrent id ranges; more than the machine's cores gains nothing
LARGE_FROM_ORDERS = 1_000_000  # below this, starting worker processes costs more than it saves
LARGE_FROM_PROFILES = 100_000  # likewise for the stored profiles' figures (thirty columns a row)
# the orders' columns as the snapshot keeps them (edm.store.snapshot)
SNAPSHOT_DTYPES: dict[str, np.dtype[Any]] = {"customer_id": np.dtype(np.int64), "day": np.dtype(np.float64),
                                             "amount": np.dtype(np.float64), "margin": np.dtype(np.float64),
                                             "line": np.dtype(np.int32)}


@dataclass(frozen=True)
class StoreColumns:
    customers: CustomerColumns
    stored_classes: dict[str, np.ndarray[Any, Any]]  # aligned with customers; None where no profile yet
    satisfaction: np.ndarray[Any, Any]  # the latest survey answer's class, aligned; None where none
    orders: OrderColumns
    profiled: np.ndarray[Any, np.dtype[np.bool_]]  # aligned: has a stored profile


def load_store_columns(
    connection: Connection, *, readers: int = ORDER_READERS, large: bool | None = None,
    snapshot: bool | None = None, rebuild: bool = False,
) -> StoreColumns:
    """Customers, their stored classes and all orders; `large=None` decides by the orders' id span.

    `snapshot`: read the orders from their snapshot (edm.store.snapshot) where it holds, and the orders
    added since from their table, then keep the whole as the next snapshot; None: when `large`. Only on
    SQLite, which counts the edits and deletions of orders (edm.store.changes): a snapshot holds while
    that count is the one it was taken at. `rebuild`: read every order from its table, and snapshot
    them afresh (`edm classify --full`).
    """
    # two subqueries, not min and max in one: SQLite looks up a lone min or max in the index, both it scans
    lowest, highest = (select(f(Order.id)).scalar_subquery() for f in (func.min, func.max))
    low, high = connection.execute(select(lowest, highest)).one()
    low, high = (low or 1) - 1, high or 0
    if large is None:
        large = high - low >= LARGE_FROM_ORDERS
    edits = order_changes(connection)  # first: an edit from here on shows in the next run
    keep = (large if snapshot is None else snapshot) and edits is not None
    header = snapshot_header(connection) if keep and not rebuild else None
    if header is not None and (header.order_changes != edits or header.through > high):
        header = None  # an order it holds was edited or deleted since
    after = header.through if header is not None else low
    orders = [_order_query(a, last) for a, last in _id_ranges(after, high, readers)] if after < high else []
    with start_reading(connection, [_customer_query(), _profile_query(), *orders], large=large) as reading:
        kept = snapshot_columns(connection, header, SNAPSHOT_DTYPES) if header is not None else None
        customers, stored, *parts = reading.collect()
    if header is not None and kept is None:  # a part missing: read them all after all
        return load_store_columns(connection, readers=readers, large=large, snapshot=snapshot, rebuild=True)
    store = _store_columns(customers, stored, parts)
    if header is not None and kept is not None:
        kept_orders = OrderColumns(**kept, line_names=header.line_names)
        store = replace(store, orders=_merged(kept_orders, store.orders))
    if keep and edits is not None and (header is None or orders):
        _save_snapshot(connection, Snapshot(high, edits, store.orders.line_names,
                                            {name: getattr(store.orders, name) for name in SNAPSHOT_DTYPES}))
    return store


def _merged(kept: OrderColumns, added: OrderColumns) -> OrderColumns:
    """The snapshot's orders and those added since, as one set sorted by customer and time, lines coded
    by the names of both."""
    if not len(added.day):
        return kept
    names = tuple(sorted({*kept.line_names, *added.line_names}))

    def recoded(orders: OrderColumns) -> np.ndarray[Any, Any]:
        codes = np.searchsorted(np.array(names, dtype=object), np.array(orders.line_names, dtype=object))
        recode: np.ndarray[Any, Any] = np.append(codes, NO_LINE).astype(np.int32)
        lines: np.ndarray[Any, Any] = recode[orders.line]  # NO_LINE (-1) picks the last
        return lines

    # each added order goes after its customer's kept ones, which keeps the order as long as it is newer
    # than those (new orders are): one copy of each column, not the sort of them all (which follows,
    # should an older order have come)
    at = np.searchsorted(kept.customer_id, added.customer_id, side="right")
    columns = {name: np.insert(getattr(kept, name), at, getattr(added, name))
               for name in ("customer_id", "day", "amount", "margin")}
    line = np.insert(recoded(kept), at, recoded(added))
    return by_customer_then_day(OrderColumns(**columns, line=line, line_names=names))


def _save_snapshot(connection: Connection, snapshot: Snapshot) -> None:
    """Store the snapshot in a short transaction of its own, not the caller's: the store's write lock is
    then held for the writing alone, not for the rest of a classification. Skipped when the caller's
    connection is already writing (its lock would make this one wait): the next run takes it."""
    if getattr(connection.connection.dbapi_connection, "in_transaction", True):
        return
    with connection.engine.begin() as own:
        write_snapshot(own, snapshot)


@contextmanager
def reading_stored_figures(
    connection: Connection, ids: IntArray, figures: Sequence[str], *, readers: int = ORDER_READERS,
    large: bool | None = None,
) -> Iterator[Callable[[], dict[str, np.ndarray[Any, Any]]]]:
    """The stored profiles' `figures` aligned to the customers `ids` (sorted): text as text (None),
    numbers as floats and timestamps as epoch days (NaN where NULL or no profile). Read meanwhile (by
    a child process when `large`; None decides by the number of customers), collected by calling
    what this yields.

    Classification needs them only to see what changed: it starts the read before it computes the
    figures, on the core that leaves idle, and collects it once the orders are let go, so the two never
    fill its memory at once."""
    low, high = (int(ids[0]) - 1, int(ids[-1])) if len(ids) else (0, 0)
    queries = [_figure_query(figures).where(CustomerProfile.customer_id > after,
                                            CustomerProfile.customer_id <= last)
               for after, last in _id_ranges(low, high, readers)]
    if large is None:
        large = len(ids) >= LARGE_FROM_PROFILES

    def collect() -> dict[str, np.ndarray[Any, Any]]:
        parts = reading.collect()
        stored = {name: _joined(parts, name) for name in ("customer_id", *figures)}
        aligned = _aligned(stored, ids)
        aligned.pop("customer_id")
        return aligned

    with start_reading(connection, queries, large=large) as reading:
        yield collect


def _id_ranges(low: int, high: int, readers: int) -> list[tuple[int, int]]:
    """(after, last] id ranges splitting (low, high] into `readers` parts read at once."""
    return list(pairwise(np.linspace(low, high, readers + 1).astype(np.int64).tolist()))


def _joined(parts: list[Columns], name: str) -> np.ndarray[Any, Any]:
    """One column of all parts, each part's copy let go as it is joined (ten million orders are big)."""
    return np.concatenate([part.pop(name) for part in parts])


def load_customer_columns(connection: Connection, customer_id: int) -> StoreColumns:
    """`load_store_columns` for one customer (edm.reactions: a refresh between full runs)."""
    customers, stored, orders = read_columns_at_once(
        connection,
        [_customer_query().where(Customer.id == customer_id),
         _profile_query().where(CustomerProfile.customer_id == customer_id),
         _order_query(-1, 2**62).where(Order.customer_id == customer_id)],
        large=False,
    )
    return _store_columns(customers, stored, [orders])


def _store_columns(customers: Columns, stored: Columns, order_parts: list[Columns]) -> StoreColumns:
    """The three reads put together: customers, their stored profiles aligned to them, their orders."""
    customer_columns = CustomerColumns(
        customer_id=customers["id"],
        industry_text=[text or "" for text in customers["industry"].tolist()],
        share=customers["share"],
        category_spend=customers["category_spend"],
        engaged_day=customers["day"],
    )
    aligned = _aligned(stored, customers["id"])
    profiled = aligned.pop("customer_id") == customers["id"]
    satisfaction = aligned.pop("satisfaction")
    classes = {name: aligned.pop(name) for name in DIMENSIONS}
    orders = _order_columns(order_parts)
    return StoreColumns(customer_columns, classes, satisfaction, orders, profiled)


def _customer_query() -> Select[Any]:
    """Every customer by id, with industry, share-of-wallet estimate and last human engagement."""
    engaged = (
        select(Event.customer_id, func.max(epoch_days(Event.occurred_at)).label("day"))
        .where(Event.kind.in_(ENGAGEMENT_KINDS), Event.machine.is_(False))  # people, not proxies
        .group_by(Event.customer_id)
        .subquery("engaged")
    )
    return (
        select(
            Customer.id,
            Customer.industry,
            WalletEstimate.share,
            cast(WalletEstimate.category_spend, Float).label("category_spend"),
            engaged.c.day,
        )
        .outerjoin(WalletEstimate, WalletEstimate.customer_id == Customer.id)
        .outerjoin(engaged, engaged.c.customer_id == Customer.id)
        .order_by(Customer.id)
    )


def _profile_query() -> Select[Any]:
    """Stored profiles: their classes and latest satisfaction."""
    table = CustomerProfile.__table__
    columns = [table.c[d] for d in DIMENSIONS]
    return select(CustomerProfile.customer_id, *columns, CustomerProfile.satisfaction)


def _figure_query(figures: Sequence[str]) -> Select[Any]:
    """Stored profiles: the `figures` asked for, as `_comparable` gives them."""
    table = CustomerProfile.__table__
    return select(CustomerProfile.customer_id, *(_comparable(table.c[name]) for name in figures))


def _comparable(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """A stored figure in the form classification computes it: text, epoch days or a float."""
    kind = column.type.impl_instance if isinstance(column.type, TypeDecorator) else column.type
    if kind.python_type is datetime:
        return epoch_days(column).label(column.key)
    if kind.python_type is str:
        return column
    return cast(column, Float).label(column.key)


def _order_query(after_id: int, last_id: int) -> Select[Any]:
    return select(
        Order.customer_id,
        epoch_days(Order.ordered_at).label("day"),
        cast(Order.amount, Float).label("amount"),
        cast(Order.margin, Float).label("margin"),
        Order.product_line,
    ).where(Order.id > after_id, Order.id <= last_id)


def _aligned(stored: Columns, ids: IntArray) -> dict[str, np.ndarray[Any, Any]]:
    """Each stored profile column placed at its customer's position in the sorted `ids`.

    Where a customer has no profile: None in text columns, NaN in numbers, -1 as the customer id.
    """
    if np.array_equal(stored["customer_id"], ids):  # everyone has a profile, read in id order
        return dict(stored)
    at = np.searchsorted(ids, stored["customer_id"])
    found = at < len(ids)
    found[found] = ids[at[found]] == stored["customer_id"][found]
    aligned = {}
    for name, values in stored.items():
        missing = None if values.dtype.kind == "O" else -1 if values.dtype.kind == "i" else np.nan
        column = np.full(len(ids), missing, dtype=values.dtype)
        column[at[found]] = values[found]
        aligned[name] = column
    return aligned


def _order_columns(parts: list[Columns]) -> OrderColumns:
    """The id ranges as one set of columns sorted by customer and time, lines coded by sorted name."""
    if not parts:
        empty = {name: np.empty(0, dtype) for name, dtype in SNAPSHOT_DTYPES.items()}
        return OrderColumns(**empty, line_names=())
    codes, names = pd.factorize(_joined(parts, "product_line"))  # None -> -1
    by_name = np.append(np.argsort(np.argsort(names.astype(str))), NO_LINE)  # -1 picks NO_LINE
    return by_customer_then_day(
        OrderColumns(
            customer_id=_joined(parts, "customer_id"),
            day=_joined(parts, "day"),
            amount=_joined(parts, "amount"),
            margin=_joined(parts, "margin"),
            line=by_name.astype(np.int32)[codes],  # a few dozen lines: 4 bytes an order, not 8
            line_names=tuple(sorted(names)),
        )
    )
