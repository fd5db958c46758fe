"""Writing checked rows in bulk, in one transaction, in exactly the form SQLAlchemy stores them.

ORM or Core statements per row cost tens of microseconds, which is minutes at ten
million rows. So on SQLite the rows go, as tuples already in SQLAlchemy's storage
format (UTC 'YYYY-MM-DD HH:MM:SS.ffffff', dates 'YYYY-MM-DD', money as float), to the
driver's `executemany` of one upsert statement. On PostgreSQL a Core upsert is
executed with a list of parameter sets, which SQLAlchemy sends many rows per INSERT.

The upsert is compiled by SQLAlchemy from the models, so column names and the
"update only if something differs" clause come from one definition on both databases.

SQLite specifics, each for a reason:
- The transaction starts with BEGIN IMMEDIATE: the customer lookups and the writes
  happen under one write lock, so no customer can vanish between check and write.
- Foreign-key enforcement is switched off for this connection while importing (and
  restored afterwards): SQLite re-checks the parent on every upserted row, which
  halves the speed, and every customer id written was just looked up in this same
  transaction. The pragma can only change outside a transaction, hence the order.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC
from decimal import Decimal
from functools import cache
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from sqlalchemy import Connection, Date, Engine, Float, Integer, Numeric, bindparam, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.types import TypeDecorator, TypeEngine

from edm.customers.checks import Target
from edm.store import Base
from edm.store.bulk import BATCH_ROWS, sql_timestamps

Storage = Literal["money", "float", "int", "date", "timestamp", "text"]


class BulkStore(Protocol):
    """The store as the importer needs it, inside one open transaction."""

    def customer_ids(self, external_ids: NDArray[np.object_]) -> NDArray[np.int64]:
        """The store id of each customer external id; -1 where there is none."""
        ...

    def count(self, table: str) -> int: ...

    def upsert(self, target: Target, values: Mapping[str, NDArray[Any]], rows: NDArray[np.bool_]) -> int:
        """Write the selected rows; returns how many were inserted or changed."""
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
                yield _PostgresStore(connection)
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
            yield _SqliteStore(connection, raw)
    finally:
        raw.execute(f"PRAGMA foreign_keys={int(enforced)}")


class _SqliteStore:
    def __init__(self, connection: Connection, raw: Any) -> None:
        self.connection = connection
        self.raw = raw
        self.customers: _CustomerIds | None = None

    def customer_ids(self, external_ids: NDArray[np.object_]) -> NDArray[np.int64]:
        if self.customers is None:
            self.customers = _CustomerIds(self.raw.execute(_ALL_CUSTOMERS))
        return self.customers.find(external_ids)

    def count(self, table: str) -> int:
        return _count(self.connection, table)

    def upsert(self, target: Target, values: Mapping[str, NDArray[Any]], rows: NDArray[np.bool_]) -> int:
        sql, order = _sqlite_statement(target)
        at = _clustered(target, values, rows)
        columns = [_sqlite_values(values[name][at], _storage(target.table, name)) for name in order]
        tuples = list(zip(*columns, strict=True))
        written = 0
        for start in range(0, len(tuples), BATCH_ROWS):
            cursor = self.raw.executemany(sql, tuples[start : start + BATCH_ROWS])
            written += max(cursor.rowcount, 0)
        return written


class _PostgresStore:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.customers: _CustomerIds | None = None

    def customer_ids(self, external_ids: NDArray[np.object_]) -> NDArray[np.int64]:
        if self.customers is None:
            self.customers = _CustomerIds(self.connection.exec_driver_sql(_ALL_CUSTOMERS).cursor)
        return self.customers.find(external_ids)

    def count(self, table: str) -> int:
        return _count(self.connection, table)

    def upsert(self, target: Target, values: Mapping[str, NDArray[Any]], rows: NDArray[np.bool_]) -> int:
        # SQLAlchemy sends many rows per INSERT here (insertmanyvalues), which leaves no
        # usable rowcount; RETURNING one column gives a row per inserted or changed row.
        table = Base.metadata.tables[target.table]
        statement = _statement(target, postgresql.insert).returning(table.c[target.key[0]])
        names = list(target.insert)
        at = _clustered(target, values, rows)
        columns = [_postgres_values(values[name][at], _storage(target.table, name)) for name in names]
        records = [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]
        written = 0
        for start in range(0, len(records), BATCH_ROWS):
            written += len(self.connection.execute(statement, records[start : start + BATCH_ROWS]).all())
        return written


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


def _clustered(
    target: Target, values: Mapping[str, NDArray[Any]], rows: NDArray[np.bool_]
) -> NDArray[np.intp]:
    """Positions of the rows to write, in `target.cluster` order.

    Orders arrive in file order, which is random by customer, so every row would land
    on a random page of the customer index; written in customer order within a chunk,
    the index is updated page by page (measured: 1.5 times the rows per second).
    """
    positions = np.flatnonzero(rows)
    if target.cluster is None:
        return positions
    return positions[np.argsort(values[target.cluster][positions], kind="stable")]


def _count(connection: Connection, table: str) -> int:
    return int(connection.execute(select(func.count()).select_from(Base.metadata.tables[table])).scalar_one())


def _statement(target: Target, insert: Any) -> Any:
    """INSERT .. ON CONFLICT (key) DO UPDATE SET .. WHERE <a compared column differs>."""
    table = Base.metadata.tables[target.table]
    statement = insert(table).values({name: bindparam(name) for name in target.insert})
    if not target.update:
        return statement.on_conflict_do_nothing(index_elements=list(target.key))
    differs = or_(*(table.c[name].is_distinct_from(statement.excluded[name]) for name in target.compare))
    return statement.on_conflict_do_update(
        index_elements=list(target.key),
        set_={name: statement.excluded[name] for name in target.update},
        where=differs if target.compare else None,
    )


@cache
def _sqlite_statement(target: Target) -> tuple[str, tuple[str, ...]]:
    """The upsert as SQLite text with `?` markers, and the column each marker takes."""
    compiled = _statement(target, sqlite.insert).compile(dialect=sqlite.dialect())
    return compiled.string, tuple(compiled.positiontup or ())


@cache
def _storage(table: str, name: str) -> Storage:
    """How a column's values are stored, from its SQLAlchemy type."""
    kind: TypeEngine[Any] = Base.metadata.tables[table].c[name].type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, Float):
        return "float"
    if isinstance(kind, Numeric):
        return "money"
    if isinstance(kind, Integer):
        return "int"
    if isinstance(kind, Date):
        return "date"
    if kind.python_type is not str:
        return "timestamp"
    return "text"


def _sqlite_values(values: NDArray[Any], storage: Storage) -> list[Any]:
    """Values exactly as SQLAlchemy's SQLite dialect binds them; NaN and NaT become NULL."""
    if storage in ("money", "float"):
        numbers = values / 100 if storage == "money" else values
        return _nulls(numbers.tolist(), np.isnan(numbers))
    if storage == "timestamp":
        return sql_timestamps(values, "sqlite")
    if storage == "date":
        days: NDArray[np.datetime64] = values.astype("datetime64[D]")
        return _nulls(np.datetime_as_string(days, unit="D").tolist(), np.isnat(days))
    return values.tolist()  # type: ignore[no-any-return]


def _nulls(values: list[Any], missing: NDArray[np.bool_]) -> list[Any]:
    if not missing.any():
        return values
    return [None if gone else value for value, gone in zip(values, missing.tolist(), strict=True)]


def _postgres_values(values: NDArray[Any], storage: Storage) -> list[Any]:
    """Python values for Core to bind (aware datetimes, dates, Decimals); NaN and NaT become None."""
    if storage == "money":
        return [None if np.isnan(c) else Decimal(int(c)).scaleb(-2) for c in values.tolist()]
    if storage == "float":
        return [None if np.isnan(v) else v for v in values.tolist()]
    if storage == "date":
        return values.astype("datetime64[D]").astype(object).tolist()  # type: ignore[no-any-return]
    if storage == "timestamp":
        stamps = values.astype("datetime64[us]").astype(object).tolist()
        return [None if s is None else s.replace(tzinfo=UTC) for s in stamps]
    return values.tolist()  # type: ignore[no-any-return]
