"""Engine and sessions; the only place that knows which SQL dialect is in use."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from edm.errors import ConfigError
from edm.resources import package_dirs
from edm.store.changes import install_change_triggers
from edm.store.faults import mask_url
from edm.store.models import Base

UPSERT_BATCH = 5000  # rows per execute call: bounds the driver's buffers
SQLITE_BUSY_SECONDS = 30  # how long a write waits for another process's lock before failing
CONNECT_TIMEOUT_SECONDS = 10  # an unreachable PostgreSQL fails in this long, not the system's minutes
# the write-ahead log is copied back into the file once it holds this many 4 KiB pages (SQLite: 1 000):
# a busy writer (tracking, dirtying the same index pages commit after commit) copies each back once
# per 40 MB, not per 4 MB
WAL_CHECKPOINT_PAGES = 10_000
PG_DRIVERS = ("psycopg", "psycopg2")  # they take connect_timeout
EXPECTED = "expected sqlite:///FILE or postgresql+psycopg://USER@HOST/DATABASE"


def make_engine(url: str) -> Engine:
    """An engine with sane per-dialect settings; SQLite gets WAL and foreign keys.

    A URL that is malformed, names a driver that is not installed, a database edm does not support,
    or a SQLite file inside the installed package raises `ConfigError` naming the URL (masked).
    """
    parsed = _parse(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            _outside_package(parsed, url)
            engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_SECONDS})
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        timeout = parsed.get_driver_name() in PG_DRIVERS and "connect_timeout" not in parsed.query
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_SECONDS} if timeout else {}
        engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except (NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"database {mask_url(url)}: its driver {parsed.drivername!r} is not installed or "
                          f"unknown; {EXPECTED} (pip install 'edm[postgres]' for psycopg)") from exc
    except ArgumentError as exc:
        raise ConfigError(f"database {mask_url(url)}: {exc}; {EXPECTED}") from exc
    if engine.dialect.name != "postgresql":
        raise ConfigError(f"database {mask_url(url)}: edm works with SQLite and PostgreSQL only; {EXPECTED}")
    return engine


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ConfigError(f"database {mask_url(url)}: not a database URL; {EXPECTED} "
                          "(check EDM_DATABASE_URL or database_url in edm.yaml)") from exc


def _outside_package(parsed: URL, url: str) -> None:
    """Refuse a SQLite file inside the installed package (its bundled defaults are read-only)."""
    name = parsed.database or ""
    if parsed.query.get("uri") == "true" or name.startswith("file:"):
        name = name.removeprefix("file:").split("?")[0]
    if not name or name == ":memory:":
        return
    path = Path(name).resolve()
    if any(path.is_relative_to(folder) for folder in package_dirs()):
        raise ConfigError(f"database {mask_url(url)} is inside the installed edm package: "
                          "run `edm init FOLDER` and work there (or pass --config)")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_PAGES}")
    cursor.close()


def create_schema(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with engine.begin() as connection:
        install_change_triggers(connection)


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
