"""The store read as numpy columns: what classification needs, without ORM rows.

Reading ten million orders is the largest cost of a recompute, so orders are fetched
through the raw DBAPI cursor, each batch turned into arrays by one `np.array` call on a
structured dtype, and product lines coded in the same pass. Large order tables are read
by several processes at once, each its own id range on its own connection (measured on
two cores: the read is bound by the driver turning rows into Python objects, which
threads cannot share). The workers read committed data: orders imported while a
recompute runs may or may not be in it, as with any snapshot taken a moment earlier.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain, pairwise
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Dialect, Float, Select, cast, func, select

from edm.classes import DIMENSIONS
from edm.customers.features import NO_LINE, CustomerColumns, IntArray, OrderColumns, by_customer_then_day
from edm.store import Customer, CustomerProfile, Event, Order, WalletEstimate
from edm.store.sql import epoch_days

FETCH_ROWS = 100_000
PARALLEL_FROM_ORDERS = 2_000_000  # below this, starting worker processes costs more than it saves
ENGAGEMENT_KINDS = ("open", "click")

_ORDER_ROW = np.dtype(
    [("customer_id", "i8"), ("day", "f8"), ("amount", "f8"), ("margin", "f8"), ("line", "O")]
)


def load_customer_columns(connection: Connection) -> CustomerColumns:
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
    fields = [("id", "i8"), ("industry", "O"), ("share", "f8"), ("spend", "f8"), ("engaged", "f8")]
    rows = read_records(connection, _sql(connection.dialect, query), np.dtype(fields))
    return CustomerColumns(
        customer_id=np.ascontiguousarray(rows["id"]),
        industry_text=[text or "" for text in rows["industry"].tolist()],
        share=np.ascontiguousarray(rows["share"]),
        category_spend=np.ascontiguousarray(rows["spend"]),
        engaged_day=np.ascontiguousarray(rows["engaged"]),
    )


def load_profile_classes(connection: Connection, ids: IntArray) -> dict[str, np.ndarray[Any, Any]]:
    """Each customer's stored class per dimension, aligned with the sorted `ids` (None: no profile yet)."""
    query = select(CustomerProfile.customer_id, *[CustomerProfile.__table__.c[d] for d in DIMENSIONS])
    fields = [("customer_id", "i8"), *((dimension, "O") for dimension in DIMENSIONS)]
    stored = read_records(connection, _sql(connection.dialect, query), np.dtype(fields))
    at = np.searchsorted(ids, stored["customer_id"])
    found = at < len(ids)
    found[found] = ids[at[found]] == stored["customer_id"][found]
    classes = {}
    for dimension in DIMENSIONS:
        column = np.full(len(ids), None, dtype=object)
        column[at[found]] = stored[dimension][found]
        classes[dimension] = column
    return classes


def load_order_columns(connection: Connection, *, workers: int | None = None) -> OrderColumns:
    """Every order as arrays; product lines as codes into their sorted names."""
    with reading_orders(connection, workers=workers) as orders:
        return orders()


@contextmanager
def reading_orders(
    connection: Connection, *, workers: int | None = None
) -> Iterator[Callable[[], OrderColumns]]:
    """Start reading every order; the yielded function waits for them.

    With worker processes the caller can read other things meanwhile. `workers=None`
    means one process per core when the table is large and the database is one other
    processes can open, else a plain read in this process when the function is called.
    """
    low, high, count = connection.execute(select(func.min(Order.id), func.max(Order.id), func.count())).one()
    url = connection.engine.url
    if workers is None:
        shareable = url.database not in (None, "", ":memory:")
        workers = (os.cpu_count() or 1) if shareable and count >= PARALLEL_FROM_ORDERS else 1
    if workers <= 1 or not count:
        sql = _order_query(connection.dialect, (low or 1) - 1, high or 0)
        yield lambda: _combine([_read_orders(connection, sql)])
        return
    bounds = np.linspace(low - 1, high, workers + 1).astype(np.int64).tolist()
    queries = [_order_query(connection.dialect, a, b) for a, b in pairwise(bounds)]
    context = multiprocessing.get_context("spawn")  # fork is unsafe with the daemon's threads
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        address = url.render_as_string(hide_password=False)
        parts = [pool.submit(_read_orders_in_worker, address, query) for query in queries]
        yield lambda: _combine([part.result() for part in parts])


def _order_query(dialect: Dialect, after_id: int, last_id: int) -> str:
    query = select(
        Order.customer_id,
        epoch_days(Order.ordered_at),
        cast(Order.amount, Float),
        cast(Order.margin, Float),
        Order.product_line,
    ).where(Order.id > after_id, Order.id <= last_id)
    return _sql(dialect, query)


@dataclass(frozen=True)
class _OrderPart:
    """One id range of orders: columns, and line codes into this part's own `names`."""

    columns: dict[str, np.ndarray[Any, Any]]
    names: list[str]


def _read_orders_in_worker(url: str, sql: str) -> _OrderPart:
    from edm.store import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return _read_orders(connection, sql)
    finally:
        engine.dispose()


def _read_orders(connection: Connection, sql: str) -> _OrderPart:
    names: dict[str, int] = {}
    batches: list[np.ndarray[Any, Any]] = []
    codes: list[np.ndarray[Any, Any]] = []
    for batch in record_batches(connection, sql, _ORDER_ROW):
        local, uniques = pd.factorize(batch["line"])  # None -> -1
        known = np.array([names.setdefault(u, len(names)) for u in uniques] + [NO_LINE], dtype=np.int64)
        codes.append(known[local])  # -1 picks the NO_LINE appended last
        batches.append(batch[["customer_id", "day", "amount", "margin"]])
    whole = np.concatenate(batches) if batches else np.empty(0, _ORDER_ROW)
    columns = {name: np.ascontiguousarray(whole[name]) for name in ("customer_id", "day", "amount", "margin")}
    columns["line"] = np.concatenate(codes) if codes else np.empty(0, np.int64)
    return _OrderPart(columns, list(names))


def _combine(parts: Sequence[_OrderPart]) -> OrderColumns:
    """One set of columns sorted by customer and time, lines coded by the sorted names of all parts."""
    names = sorted(set(chain.from_iterable(part.names for part in parts)))
    position = {name: code for code, name in enumerate(names)}
    lines = []
    for part in parts:
        recode = np.array([position[name] for name in part.names] + [NO_LINE], dtype=np.int64)
        lines.append(recode[part.columns["line"]])

    def column(name: str) -> np.ndarray[Any, Any]:
        return np.concatenate([part.columns[name] for part in parts])

    return by_customer_then_day(
        OrderColumns(
            customer_id=column("customer_id"),
            day=column("day"),
            amount=column("amount"),
            margin=column("margin"),
            line=np.concatenate(lines),
            line_names=tuple(names),
        )
    )


def read_records(connection: Connection, sql: str, dtype: np.dtype[Any]) -> np.ndarray[Any, Any]:
    """The query's rows as one structured array (NULL reads as NaN in float fields)."""
    batches = list(record_batches(connection, sql, dtype))
    return np.concatenate(batches) if batches else np.empty(0, dtype)


def record_batches(connection: Connection, sql: str, dtype: np.dtype[Any]) -> Iterator[np.ndarray[Any, Any]]:
    """The rows in structured arrays of up to FETCH_ROWS, through the raw DBAPI cursor.

    One `np.array` call per batch turns the driver's tuples into columns; transposing
    them in Python (zip) costs as much again as fetching them.
    """
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(FETCH_ROWS):
            yield np.array(rows, dtype=dtype)
    finally:
        cursor.close()


def _sql(dialect: Dialect, query: Select[Any]) -> str:
    return str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
