"""Rows of Python values inserted at driver speed, inside the caller's transaction.

The planner queues hundreds of thousands of outbox rows, the tracking server a batch of events
every few milliseconds: SQLAlchemy's per-row parameter processing costs more than the insert. On
SQLite the values go to the driver's `executemany` in SQLAlchemy's storage form (the statement
compiled from the models); elsewhere one Core statement with the rows as parameter sets.
No numpy here (bulk.py's column arrays need it): the sender and the tracking server import this.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cache, lru_cache
from typing import Any, Literal

from sqlalchemy import JSON, Boolean, Connection, Date, Float, Integer, Numeric, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.types import TypeDecorator, TypeEngine

from edm.store.models import Base, UTCDateTime

Storage = Literal["money", "float", "int", "date", "timestamp", "text", "json"]


def insert_new(connection: Connection, table: str, key: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT `rows` (Python values, as the ORM takes them: aware datetimes, dates; every row names
    the same columns), leaving alone those whose `key` already exists."""
    _insert(connection, table, key, rows, _shared_sqlite_timestamp)


def append_rows(connection: Connection, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """INSERT `rows` as `insert_new` does, into a table without a natural key (events: each at its own
    moment, so their timestamps are not looked up in a cache first)."""
    _insert(connection, table, None, rows, _sqlite_timestamp)


def _insert(connection: Connection, table: str, key: str | None, rows: Sequence[Mapping[str, Any]],
            timestamp: Callable[[datetime | None], str | None]) -> None:
    if not rows:
        return
    statement = _insert_statement(table, key, tuple(rows[0]), connection.dialect.name)
    if connection.dialect.name != "sqlite":
        connection.execute(statement, list(rows))
        return
    sql, order = statement
    converts = [(at, convert) for at, name in enumerate(order)
                if (convert := _sqlite_value_of(storage_of(table, name), timestamp)) is not None]
    tuples = []
    for row in rows:
        bound = [row[name] for name in order]
        for at, convert in converts:
            bound[at] = convert(bound[at])
        tuples.append(tuple(bound))
    connection.exec_driver_sql(sql, tuples)  # a driver error comes as SQLAlchemy's, as elsewhere


@cache
def _insert_statement(table: str, key: str | None, names: tuple[str, ...], dialect: str) -> Any:
    """INSERT (.. ON CONFLICT (key) DO NOTHING): as SQLite text with the column of each `?`, else Core."""
    insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
    statement = insert(Base.metadata.tables[table]).values({name: bindparam(name) for name in names})
    if key is not None:
        statement = statement.on_conflict_do_nothing(index_elements=[key])
    if dialect != "sqlite":
        return statement
    compiled = statement.compile(dialect=sqlite.dialect())
    return compiled.string, tuple(compiled.positiontup or ())


def _sqlite_value_of(storage: Storage, timestamp: Callable[[datetime | None], str | None]
                     ) -> Callable[[Any], Any] | None:
    """How one Python value is bound on SQLite, as SQLAlchemy's dialect binds it (None: as it is)."""
    if storage == "timestamp":
        return timestamp
    if storage == "date":
        return lambda value: None if value is None else value.isoformat()
    if storage in ("money", "json"):
        raise NotImplementedError(f"insert_new and append_rows do not bind {storage} columns")
    return None


def _sqlite_timestamp(value: datetime | None) -> str | None:
    """An aware datetime as SQLAlchemy's SQLite storage text of its UTC moment: a moment already in UTC
    (the clock's, one per tracked event) written directly, any other by UTCDateTime's rule (naive refused)."""
    if value is None or value.tzinfo is not UTC:
        value = _UTC.process_bind_param(value, _SQLITE)
        if value is None:
            return None
    return value.isoformat(" ", "microseconds")[:-6]  # less "+00:00"


_UTC, _SQLITE = UTCDateTime(), sqlite.dialect()


# a plan's rows share a few moments (now, each zone's send time)
_shared_sqlite_timestamp = lru_cache(maxsize=4096)(_sqlite_timestamp)


@cache
def storage_of(table: str, name: str) -> Storage:
    """How a column's values are stored, from its SQLAlchemy type."""
    kind: TypeEngine[Any] = Base.metadata.tables[table].c[name].type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, Float):
        return "float"
    if isinstance(kind, Numeric):
        return "money"
    if isinstance(kind, Integer | Boolean):  # a bool binds as SQLite's 0/1, PostgreSQL's boolean
        return "int"
    if isinstance(kind, Date):
        return "date"
    if isinstance(kind, JSON):
        return "json"
    if kind.python_type is not str:
        return "timestamp"
    return "text"
