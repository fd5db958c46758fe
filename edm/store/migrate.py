"""The schema's versions: Alembic migrations in `edm/store/migrations`, applied by `edm db upgrade`.

`upgrade_schema` brings any database to the newest version: a new one is built by the
migrations from nothing; one made by an edm from before migrations (tables but no
`alembic_version`) is first stamped with the version its tables show, then upgraded.
Data is kept throughout.

Every command opens the store through `upgrade_schema`, so a store already at the newest version
(`SCHEMA_VERSION`, the last migration's number) is told by one query, without loading Alembic:
its eleven megabytes are not the sender's to carry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from edm.store.models import SCHEMA_VERSION

if TYPE_CHECKING:
    from alembic.config import Config

BASELINE = "0001"  # the schema as edm created it before migrations existed
HEAD = f"{SCHEMA_VERSION:04d}"  # the newest revision (tests/test_migrations.py checks it is Alembic's head)


def upgrade_schema(engine: Engine, revision: str = "head") -> str:
    """Upgrade the database to `revision`; returns the version it is at afterwards."""
    if revision in ("head", HEAD) and schema_version(engine) == HEAD:
        return HEAD
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with _migrating(engine) as connection:
        config = _config(connection)
        current = MigrationContext.configure(connection).get_current_revision()  # under the lock
        if current is None and inspect(connection).has_table("customers"):
            command.stamp(config, _version_of_unversioned(connection))
        command.upgrade(config, revision)
        return MigrationContext.configure(connection).get_current_revision() or "base"


def downgrade_schema(engine: Engine, revision: str) -> str:
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with _migrating(engine) as connection:
        command.downgrade(_config(connection), revision)
        return MigrationContext.configure(connection).get_current_revision() or "base"


@contextmanager
def _migrating(engine: Engine) -> Iterator[Connection]:
    """A connection in one transaction; on SQLite with foreign keys off while tables are rebuilt
    (copy, drop, rename would trip them; the pragma only takes effect outside a transaction)."""
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                _lock(connection)
                yield connection
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def schema_version(engine: Engine) -> str | None:
    """The database's migration version (None: not under migrations yet), read without Alembic."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        version = connection.scalar(text("SELECT version_num FROM alembic_version"))
        return None if version is None else str(version)


def head_version() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config(None)).get_current_head()
    assert head is not None
    return head


def _lock(connection: Connection) -> None:
    """One migrating process at a time (two `edm` commands started together both open the
    store): SQLite's write lock, or a PostgreSQL advisory lock, held to the end of the transaction."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '/edm.migrate'))"))


def _config(connection: Connection | None) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "edm.store:migrations")
    config.attributes["connection"] = connection
    return config


# (revision, table, a column that revision added, or of a table it created): newest first
_MARKERS = (
    ("0018", "order_snapshot_parts", "data"),
    ("0017", "outbox_keying", "hashed_through"),
    ("0016", "classification_inputs", "changes"),
    ("0014", "engagement_refreshes", "settings_digest"),
    ("0012", "console_users", "password_hash"),
    ("0011", "event_totals", "events"),
    ("0010", "customers", "personalised"),
    ("0009", "webhook_deliveries", "event_id"),
    ("0008", "ab_decisions", "winner"),
    ("0007", "events", "source"),
    ("0006", "suppressions", "address_key"),
    ("0005", "customer_profiles", "expected_interval_days"),
    ("0004", "customer_profiles", "satisfaction"),
    ("0003", "outbox", "relay"),
    ("0002", "customers", "paused_until"),
)


def _version_of_unversioned(connection: Connection) -> str:
    """Tables made by `create_all` before migrations: the newest revision whose columns they have."""
    tables = set(inspect(connection).get_table_names())
    for revision, table, column in _MARKERS:
        if table in tables and column in {c["name"] for c in inspect(connection).get_columns(table)}:
            return revision
    return BASELINE
