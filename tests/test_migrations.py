"""Migrations: an old database with data upgrades to exactly the models' schema, and keeps the data."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from sqlalchemy import Engine, func, select, text

from edm.campaigns.keys import outbox_key, outbox_keys
from edm.cli import main
from edm.store import (
    SCHEMA_VERSION,
    Base,
    Customer,
    Event,
    OutboxMessage,
    Suppression,
    create_schema,
    make_engine,
    session_factory,
)
from edm.store.migrate import HEAD, downgrade_schema, head_version, schema_version, upgrade_schema
from edm.store.rows import insert_new
from edm.suppression import HARD_BOUNCE, suppress

NOW = "2026-01-02 03:04:05.000000"


@pytest.fixture
def empty_engine(any_db_url: str) -> Iterator[Engine]:
    engine = make_engine(any_db_url)
    _drop_everything(engine)
    yield engine
    _drop_everything(engine)
    engine.dispose()


def _drop_everything(engine: Engine) -> None:
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:  # and what the daemon's job store may have left (not ours)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        connection.execute(text("DROP TABLE IF EXISTS edm_scheduler_jobs"))


def _old_data(engine: Engine) -> None:
    """Rows as edm wrote them at schema version 3 (before tags, preferences, machine events...)."""
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO customers (id, external_id, name, email, kind, locale, timezone, created_at) "
            f"VALUES (1, 'C1', '王芳', 'wang@example.com', 'person', 'zh-CN', 'Asia/Shanghai', '{NOW}')"))
        connection.execute(text(
            "INSERT INTO outbox (id, key, campaign, step, customer_id, occurrence, to_address, state, "
            "attempts, next_attempt_at, created_at) VALUES (1, 'k', 'win_back', 0, 1, '2026-01-02', "
            f"'wang@example.com', 'sent', 1, '{NOW}', '{NOW}')"))
        connection.execute(text(
            "INSERT INTO events (id, kind, customer_id, outbox_id, occurred_at) "
            f"VALUES (1, 'open', 1, 1, '{NOW}')"))


EXPRESSION_INDEXES = {"ix_customers_manager_key"}  # alembic cannot reflect these: checked by name below


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as connection, warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based index")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression-based index")
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        found = [diff for diff in compare_metadata(context, Base.metadata)
                 if not (diff[0] == "remove_table" and diff[1].name == "alembic_version")
                 and not (diff[0] in ("add_index", "remove_index") and diff[1].name in EXPRESSION_INDEXES)]
    return found + sorted(EXPRESSION_INDEXES - _index_names(engine))


def _index_names(engine: Engine) -> set[str]:
    """Every index's name as the database lists it (expression indexes included)."""
    query = ("SELECT name FROM sqlite_master WHERE type = 'index'" if engine.dialect.name == "sqlite"
             else "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
    with engine.connect() as connection:
        return set(connection.scalars(text(query)))


def test_an_old_database_upgrades_to_the_models_schema_and_keeps_its_data(empty_engine: Engine) -> None:
    assert upgrade_schema(empty_engine, "0001") == "0001"
    _old_data(empty_engine)
    assert upgrade_schema(empty_engine) == head_version()
    assert _differences(empty_engine) == []
    sessions = session_factory(empty_engine)
    with sessions() as session:
        customer = session.get_one(Customer, 1)
        assert (customer.name, customer.tags, customer.paused_until) == ("王芳", None, None)
        event = session.get_one(Event, 1)
        assert (event.kind, event.machine) == ("open", False)  # earlier opens counted as people's
        assert event.occurred_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert upgrade_schema(empty_engine) == head_version()  # again: nothing to do


@pytest.mark.parametrize("made_at", ["0001", "0002"])
def test_a_database_from_before_migrations_is_recognised_and_upgraded(
    empty_engine: Engine, made_at: str
) -> None:
    upgrade_schema(empty_engine, made_at)
    _old_data(empty_engine)
    with empty_engine.begin() as connection:  # what an edm without migrations left behind
        connection.execute(text("DROP TABLE alembic_version"))
    assert schema_version(empty_engine) is None
    assert upgrade_schema(empty_engine) == head_version()
    assert _differences(empty_engine) == []
    with empty_engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Event)) == 1


def test_the_models_schema_version_is_the_newest_migration() -> None:
    """`upgrade_schema` tells a current store by it, without loading Alembic."""
    assert HEAD == f"{SCHEMA_VERSION:04d}" == head_version()


def test_opening_a_current_store_loads_no_alembic(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'edm.db'}"
    upgrade_schema(make_engine(url))
    opened = ("import sys; from edm.store import make_engine; from edm.store.migrate import upgrade_schema; "
              f"print(upgrade_schema(make_engine({url!r})), 'alembic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", opened], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [head_version(), "False"]
    downgrade_schema(make_engine(url), "0017")  # one behind: migrated, through Alembic
    done = subprocess.run([sys.executable, "-c", opened], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [head_version(), "True"]
    assert _differences(make_engine(url)) == []


def test_a_current_schema_made_without_migrations_is_only_stamped(empty_engine: Engine) -> None:
    create_schema(empty_engine)
    assert upgrade_schema(empty_engine) == head_version()
    assert _differences(empty_engine) == []


def test_downgrade_to_the_baseline_and_back(empty_engine: Engine) -> None:
    upgrade_schema(empty_engine, "0005")
    _old_data(empty_engine)  # rows without the canonical keys 0006 computes
    upgrade_schema(empty_engine)
    assert downgrade_schema(empty_engine, "0001") == "0001"
    assert schema_version(empty_engine) == "0001"
    assert upgrade_schema(empty_engine) == head_version()
    assert _differences(empty_engine) == []


def test_edm_db_upgrade_reports_the_version(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'edm.db'}"
    (tmp_path / "edm.yaml").write_text("{}\n", encoding="utf-8")  # the working folder
    result = CliRunner().invoke(main, ["db", "upgrade"],
                                env={"EDM_DATABASE_URL": url, "EDM_CONFIG": str(tmp_path / "edm.yaml")},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"database: {url}" in result.output
    assert f"at version {head_version()}" in result.output
    assert schema_version(make_engine(url)) == head_version()


def test_processes_opening_one_store_together_migrate_it_once(tmp_path: Path) -> None:
    """Two `edm` commands started together both upgrade the store: one migrates, the other waits."""
    url = f"sqlite:///{tmp_path / 'edm.db'}"
    create_schema(make_engine(url))  # made before migrations: both would stamp it
    with ThreadPoolExecutor(max_workers=4) as pool:
        versions = list(pool.map(lambda _: upgrade_schema(make_engine(url)), range(4)))
    assert versions == [head_version()] * 4
    with make_engine(url).connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM alembic_version")) == 1


def test_0006_keys_existing_customers_and_suppressions_by_mailbox(empty_engine: Engine) -> None:
    """Rows stored before canonical keys: every spelling of one mailbox ends up suppressed as one."""
    upgrade_schema(empty_engine, "0005")
    with empty_engine.begin() as connection:
        for id_, email in [(1, "Alice@Example.COM"), (2, "ALICE@example.com"), (3, "bob@example.com"),
                           (4, "Wang@例子.中国")]:
            connection.execute(text(
                "INSERT INTO customers (id, external_id, name, email, kind, locale, timezone, created_at) "
                f"VALUES ({id_}, 'C{id_}', 'n', '{email}', 'person', 'en', 'UTC', '{NOW}')"))
        for email, reason, at in [("alice@example.com", "hard_bounce", "2026-01-03 00:00:00.000000"),
                                  ("Alice@Example.com", "unsubscribed", "2026-01-01 00:00:00.000000"),
                                  ("wang@xn--fsqu00a.xn--fiqs8s", "unsubscribed", NOW)]:
            connection.execute(text("INSERT INTO suppressions (email, reason, created_at) "
                                    f"VALUES ('{email}', '{reason}', '{at}')"))
    assert upgrade_schema(empty_engine) == head_version()
    assert _differences(empty_engine) == []
    with empty_engine.connect() as connection:
        keys = {c: k for c, k in connection.execute(select(Customer.external_id, Customer.email_key))}
        assert keys == {"C1": "alice@example.com", "C2": "alice@example.com", "C3": "bob@example.com",
                        "C4": "wang@xn--fsqu00a.xn--fiqs8s"}
        listed = [tuple(row) for row in connection.execute(
            select(Suppression.address_key, Suppression.email, Suppression.reason)
            .order_by(Suppression.address_key))]
        assert listed == [("alice@example.com", "Alice@Example.com", "unsubscribed"),  # the earliest kept
                          ("wang@xn--fsqu00a.xn--fiqs8s", "wang@xn--fsqu00a.xn--fiqs8s", "unsubscribed")]
        held = connection.scalars(select(Customer.external_id).join(
            Suppression, Suppression.address_key == Customer.email_key).order_by(Customer.external_id)).all()
        assert held == ["C1", "C2", "C4"]
    sessions = session_factory(empty_engine)
    with sessions.begin() as session:  # a later bounce of another spelling adds no second row
        suppress(session, ["ALICE@EXAMPLE.COM"], HARD_BOUNCE, datetime(2026, 2, 1, tzinfo=UTC))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Suppression)) == 2


def test_0017_keeps_the_plain_hash_keys_of_occurrences_the_store_holds(empty_engine: Engine) -> None:
    """Mail planned before keys were made plan by plan keeps its key (its Message-ID carries it), and a
    key made again for one of those occurrences is that key: the row is found, not planned twice."""
    upgrade_schema(empty_engine, "0005")
    _old_data(empty_engine)  # win_back's mail to customer 1 for 2026-01-02
    old_key = hashlib.sha256(b"win_back|0|1|2026-01-02").hexdigest()
    with empty_engine.begin() as connection:
        connection.execute(text(f"UPDATE outbox SET key = '{old_key}'"))
    assert upgrade_schema(empty_engine) == head_version()
    sessions = session_factory(empty_engine)
    with sessions.begin() as session:
        keys = outbox_keys(session)
        assert keys.hashed_through == date(2026, 1, 2)
        assert keys("win_back", 0, 1, date(2026, 1, 2)) == old_key
        assert keys("win_back", 0, 1, date(2026, 1, 3)) == outbox_key("win_back", 0, 1, date(2026, 1, 3))
        again = {"key": keys("win_back", 0, 1, date(2026, 1, 2)), "campaign": "win_back", "step": 0,
                 "customer_id": 1, "occurrence": date(2026, 1, 2), "to_address": "wang@example.com",
                 "state": "queued", "attempts": 0, "next_attempt_at": datetime(2026, 1, 2, tzinfo=UTC),
                 "created_at": datetime(2026, 1, 2, tzinfo=UTC)}
        insert_new(session.connection(), OutboxMessage.__tablename__, "key", [again])
    with sessions() as session:
        assert session.scalars(select(OutboxMessage.state)).all() == ["sent"]


def test_a_store_made_now_keys_every_occurrence_plan_by_plan(empty_engine: Engine) -> None:
    assert upgrade_schema(empty_engine) == head_version()
    with session_factory(empty_engine)() as session:
        assert outbox_keys(session).hashed_through is None
