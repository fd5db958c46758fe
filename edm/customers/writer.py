"""The store as the importer writes it: one transaction, customer ids looked up in it.

SQLite specifics, each for a reason:
- The transaction starts with BEGIN IMMEDIATE: the customer lookups and the writes
  happen under one write lock, so no customer can vanish between check and write.
- Foreign-key enforcement is switched off for this connection while importing (and
  restored afterwards): SQLite re-checks the parent on every upserted row, which
  halves the speed, and every customer id written was just looked up in this same
  transaction. The pragma can only change outside a transaction, hence the order.

The rows themselves go through `edm.store.bulk.write_columns`; a write that changed any row counts as a
change to what classification reads (`edm.store.changes.count_change`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy import Connection, Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.store import Base
from edm.store.bulk import Upsert, write_columns
from edm.store.changes import count_change, count_order_edit


class BulkStore(Protocol):
    """The store as the importer needs it, inside one open transaction."""

    connection: Connection  # the transaction's, for what is written beside the rows (consent)

    def customer_ids(self, external_ids: NDArray[np.object_]) -> NDArray[np.int64]:
        """The store id of each customer external id; -1 where there is none."""
        ...

    def count(self, table: str) -> int: ...

    def upsert(self, target: Upsert, values: Mapping[str, NDArray[Any]], rows: NDArray[np.bool_]) -> int:
        """Write the selected rows; returns how many were inserted or changed."""
        ...

    def inserted_since(self, table: str, before: int, written: int) -> int:
        """How many of the `written` rows were new (`before`: the table's count before writing); the
        others were stored rows changed, which for orders the orders' snapshot must hear of."""
        ...


@contextmanager
def bulk_store(sessions: sessionmaker[Session]) -> Iterator[BulkStore]:
    """One transaction on the sessions' database: committed on exit, rolled back on an exception."""
    with sessions() as session:
        bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            with _sqlite_transaction(connection) as store:
                yield store
        elif engine.dialect.name == "postgresql":
            with connection.begin():
                yield _Store(connection)
        else:
            raise NotImplementedError(f"edm supports SQLite and PostgreSQL, not {engine.dialect.name}")


@contextmanager
def _sqlite_transaction(connection: Connection) -> Iterator[BulkStore]:
    raw = connection.connection.driver_connection
    assert raw is not None
    (enforced,) = raw.execute("PRAGMA foreign_keys").fetchone()
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        with connection.begin():
            raw.execute("BEGIN IMMEDIATE")
            yield _Store(connection)
    finally:
        raw.execute(f"PRAGMA foreign_keys={int(enforced)}")


class _Store:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.customers: _CustomerIds | None = None

    def customer_ids(self, external_ids: NDArray[np.object_]) -> NDArray[np.int64]:
        if self.customers is None:
            self.customers = _CustomerIds(self.connection.exec_driver_sql(_ALL_CUSTOMERS).cursor)
        return self.customers.find(external_ids)

    def count(self, table: str) -> int:
        table_ = Base.metadata.tables[table]
        return int(self.connection.execute(select(func.count()).select_from(table_)).scalar_one())

    def upsert(self, target: Upsert, values: Mapping[str, NDArray[Any]], rows: NDArray[np.bool_]) -> int:
        written = write_columns(self.connection, target, values, rows)
        if written:  # classification reads these rows: the next one must not keep its profiles
            count_change(self.connection)
        return written

    def inserted_since(self, table: str, before: int, written: int) -> int:
        inserted = self.count(table) - before
        if table == "orders" and written > inserted:
            count_order_edit(self.connection)
        return inserted


_ALL_CUSTOMERS = "SELECT external_id, id FROM customers"


class _CustomerIds:
    """Every customer's store id by external id, read once per import in one query.

    Looking ids up chunk by chunk (one query per chunk's distinct ids) was measured at
    about 1.5 µs per id, a tenth of a large import; a pandas Index of all external ids
    answers a chunk in milliseconds and costs about 100 MB per million customers.
    """

    FETCH = 100_000

    def __init__(self, cursor: Any) -> None:
        names: list[str] = []
        ids: list[int] = []
        while batch := cursor.fetchmany(self.FETCH):
            for name, id_ in batch:
                names.append(name)
                ids.append(id_)
        self.index = pd.Index(np.array(names, dtype=object))
        self.ids = np.array(ids, dtype=np.int64)

    def find(self, external_ids: NDArray[np.object_]) -> NDArray[np.int64]:
        at = self.index.get_indexer(external_ids)
        return np.where(at >= 0, self.ids[at] if len(self.ids) else -1, -1)
