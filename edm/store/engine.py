"""Engine and sessions; the only place that knows which SQL dialect is in use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from edm.store.models import Base

UPSERT_BATCH = 5000  # rows per execute call: bounds the driver's buffers


def make_engine(url: str) -> Engine:
    """An engine with sane per-dialect settings; SQLite gets WAL and foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_schema(engine: Engine) -> None:
    Base.metadata.create_all(engine)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def upsert(
    session: Session,
    model: type[Base],
    rows: Iterable[Mapping[str, Any]],
    *,
    key: str,
    update: Iterable[str] | None = None,
) -> None:
    """Insert rows, or update the listed columns where `key` already exists.

    With `update=None` existing rows are left untouched (insert-or-ignore). Every row
    must name the same columns: one statement is compiled (and cached) and executed with
    all rows as parameters, batched by the driver (executemany / insertmanyvalues).
    """
    values = [dict(row) for row in rows]
    if not values:
        return
    columns = list(update) if update is not None else []
    insert = dialect_insert(session)(model)
    statement = (
        insert.on_conflict_do_update(index_elements=[key], set_={c: insert.excluded[c] for c in columns})
        if columns
        else insert.on_conflict_do_nothing(index_elements=[key])
    )
    for start in range(0, len(values), UPSERT_BATCH):
        session.execute(statement, values[start : start + UPSERT_BATCH])


def dialect_insert(session: Session) -> Any:
    """The dialect's own `insert` (SQLite or PostgreSQL), which has `on_conflict_do_update`."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert
    if name == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"edm supports SQLite and PostgreSQL, not {name}")
