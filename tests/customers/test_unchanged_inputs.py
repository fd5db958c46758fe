"""A second classification the same day keeps the profiles when nothing it reads changed (SQLite), and
recomputes after any change to it, whoever writes it (edm.store.changes)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session, sessionmaker

from edm.cli import main
from edm.clock import FixedClock
from edm.config import ClassificationSettings
from edm.customers import recompute_profiles
from edm.customers.importer import import_file
from edm.store import ClassificationRun, CustomerProfile, create_schema, make_engine, session_factory
from edm.store.changes import ORDER_WATCHED, WATCHED, order_trigger_name, trigger_name
from tests.customers.cli import run_import
from tests.customers.test_profiles import NOW, RULES, _seed, _stored

LATE = "2026-02-28 09:00:00.000000"  # a moment after the seeded history, before NOW
# (what a writer does, in SQL, as any tool could): each changes what classification reads
CHANGES = {
    "a new order": "INSERT INTO orders (external_id, customer_id, ordered_at, amount) "
                   f"SELECT 'late', id, '{LATE}', 5 FROM customers WHERE external_id = 'new'",
    "an order removed": "DELETE FROM orders WHERE external_id = 'mature-5'",
    "a new customer": "INSERT INTO customers (external_id, name, email, email_key, kind, locale, timezone, "
                      "created_at) VALUES ('later', 'L', 'l@example.com', 'l@example.com', 'person', 'en', "
                      "'UTC', '2026-02-28 09:00:00.000000')",
    "a wallet estimate removed": "DELETE FROM wallet_estimates",
    "a new click": "INSERT INTO events (kind, customer_id, occurred_at, machine) "
                   f"SELECT 'click', id, '{LATE}', 0 FROM customers WHERE external_id = 'new'",
    "a click found a machine's": "UPDATE events SET machine = 1",
    "an event's moment": f"UPDATE events SET occurred_at = '{LATE}'",
    "an event removed": "DELETE FROM events",
    "a survey standing": "UPDATE customer_profiles SET satisfaction = 'detractor' WHERE customer_id = "
                         "(SELECT id FROM customers WHERE external_id = 'reacquired')",
    "a class edited by hand": "UPDATE customer_profiles SET value_tier = 'low' WHERE customer_id = "
                              "(SELECT id FROM customers WHERE external_id = 'mature')",
    "a profile removed": "DELETE FROM customer_profiles WHERE customer_id = "
                         "(SELECT id FROM customers WHERE external_id = 'prospect')",
}
# (kind, CSV) imported over the seeded store: each changes a row classification reads
IMPORTS = {
    "an order's amount": ("orders", "external_id,customer_external_id,ordered_at,amount\n"
                                    "mature-0,mature,2025-01-07 12:00,2001.00\n"),
    "an order's customer": ("orders", "external_id,customer_external_id,ordered_at,amount\n"
                                      "new-0,at_risk,2026-02-19 12:00,100.00\n"),
    "an industry": ("customers", "external_id,name,email,kind,industry\nnew,客户 new,new@example.com,company,"
                                 "零售\n"),
    "a new wallet estimate": ("wallet", "customer_external_id,share,estimated_on\nnew,0.2,2026-01-01\n"),
    "a wallet share": ("wallet", "customer_external_id,share,estimated_on\nmature,0.1,2026-01-01\n"),
}
# writes that leave what classification reads as it was: the profiles are kept
UNCHANGED = {
    # not seen until the next day's run (or --full; a large store's orders: --full): hand edits
    "an order edited by hand": "UPDATE orders SET amount = amount + 1",
    "a figure edited by hand": "UPDATE customer_profiles SET revenue = 1",
    "an engagement refresh": "UPDATE customer_profiles SET contact_interval_days = 12, best_hour = 9",
    "a customer's name": "UPDATE customers SET name = 'renamed'",
    "a mail's tracking detail": "UPDATE events SET url = NULL, user_agent = NULL",
}


def _classified(tmp_path: Path) -> sessionmaker[Session]:
    """A SQLite store with the seeded customers, classified at NOW."""
    engine = make_engine(f"sqlite:///{tmp_path / 'edm.db'}")
    create_schema(engine)
    sessions = session_factory(engine)
    _seed(sessions)
    recompute_profiles(sessions, RULES, FixedClock(NOW))
    return sessions


def _execute(sessions: sessionmaker[Session], statement: str) -> None:
    with sessions.begin() as session:
        assert session.execute(text(statement)).rowcount > 0  # type: ignore[attr-defined]


def test_a_second_run_the_same_day_keeps_the_profiles(any_sessions: sessionmaker[Session]) -> None:
    _seed(any_sessions)
    first = recompute_profiles(any_sessions, RULES, FixedClock(NOW))
    stored = _stored(any_sessions)
    later = FixedClock(NOW + timedelta(hours=6))  # the same UTC day
    again = recompute_profiles(any_sessions, RULES, later)
    with any_sessions() as session:
        runs = session.scalars(select(ClassificationRun).order_by(ClassificationRun.id)).all()
    assert [run.computed_at for run in runs] == [NOW, later.now()]
    if any_sessions.kw["bind"].dialect.name == "postgresql":  # no change count there: it recomputed
        assert again.kept_since is None and runs[-1].inputs is None
        return
    assert again.kept_since == NOW and _stored(any_sessions) == stored
    assert (again.counts, again.total, again.customers_moved) == (first.counts, first.total, 0)
    assert again.models == first.models
    assert runs[-1].inputs == runs[0].inputs and runs[-1].thresholds == runs[0].thresholds
    assert recompute_profiles(any_sessions, RULES, later).kept_since == NOW  # kept since the first


@pytest.mark.parametrize("change", CHANGES)
def test_any_change_to_what_classification_reads_recomputes(tmp_path: Path, change: str) -> None:
    """After the change, the run is the one a full recompute gives: same profiles, same summary."""
    sessions = _classified(tmp_path)
    _execute(sessions, CHANGES[change])
    clock = FixedClock(NOW + timedelta(hours=1))
    summary = recompute_profiles(sessions, RULES, clock)
    assert summary.kept_since is None
    profiles = _stored(sessions)
    forced = recompute_profiles(sessions, RULES, clock, full=True)
    assert _stored(sessions) == profiles
    assert (forced.counts, forced.total) == (summary.counts, summary.total)
    assert recompute_profiles(sessions, RULES, clock).kept_since == clock.now()  # and then it holds


@pytest.mark.parametrize("change", IMPORTS)
def test_an_import_that_changes_rows_recomputes(tmp_path: Path, change: str) -> None:
    sessions = _classified(tmp_path)
    kind, rows = IMPORTS[change]
    (tmp_path / "rows.csv").write_text(rows, encoding="utf-8")
    result = import_file(sessions, kind, tmp_path / "rows.csv", FixedClock(NOW))
    assert (result.updated or result.inserted) == 1
    clock = FixedClock(NOW + timedelta(hours=1))
    assert recompute_profiles(sessions, RULES, clock).kept_since is None
    assert recompute_profiles(sessions, RULES, clock).kept_since == clock.now()


@pytest.mark.parametrize("write", UNCHANGED)
def test_writes_that_change_nothing_read_keep_the_profiles(tmp_path: Path, write: str) -> None:
    sessions = _classified(tmp_path)
    _execute(sessions, UNCHANGED[write])
    assert recompute_profiles(sessions, RULES, FixedClock(NOW)).kept_since == NOW


def test_a_new_day_other_settings_or_full_recompute(tmp_path: Path) -> None:
    sessions = _classified(tmp_path)
    assert recompute_profiles(sessions, RULES, FixedClock(NOW), full=True).kept_since is None
    other = ClassificationSettings.model_validate({"value_tier": {"metric": "margin"}})
    hour_on = FixedClock(NOW + timedelta(hours=1))  # at NOW again, its own writes would look like an edit
    assert recompute_profiles(sessions, other, hour_on).kept_since is None
    assert recompute_profiles(sessions, other, hour_on).kept_since == hour_on.now()
    before = _stored(sessions)
    next_day = FixedClock(NOW + timedelta(days=1))
    assert recompute_profiles(sessions, other, next_day).kept_since is None
    assert _stored(sessions) != before  # P(alive) and the other figures that age were written


def test_the_classify_command_keeps_then_recomputes_after_an_import(folder: Path) -> None:
    config = ["--config", str(folder / "edm.yaml")]
    (folder / "customers.csv").write_text("external_id,name,email,kind\nC1,Ada,ada@example.com,person\n",
                                          encoding="utf-8")
    (folder / "orders.csv").write_text(
        "external_id,customer_external_id,ordered_at,amount\nO1,C1,2026-01-05,120.00\n", encoding="utf-8")
    assert run_import(folder, "customers", str(folder / "customers.csv"))[0] == 0
    assert run_import(folder, "orders", str(folder / "orders.csv"))[0] == 0

    def classify(*options: str) -> str:
        result = CliRunner().invoke(main, ["classify", *options, *config], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())  # the table's caption wraps

    assert "profiles kept" not in classify()
    assert "profiles kept (--full recomputes)" in classify()
    assert "profiles kept" not in classify("--full")
    (folder / "orders.csv").write_text(
        "external_id,customer_external_id,ordered_at,amount\nO2,C1,2026-02-05,80.00\n", encoding="utf-8")
    assert run_import(folder, "orders", str(folder / "orders.csv"))[0] == 0
    assert "profiles kept" not in classify()
    assert "profiles kept" in classify()
    # an order import that changes nothing keeps them: the same file again
    assert run_import(folder, "orders", str(folder / "orders.csv"))[0] == 0
    assert "profiles kept" in classify()


def test_the_triggers_are_those_listed_on_a_new_store_and_an_upgraded_one(tmp_path: Path) -> None:
    from edm.store.migrate import upgrade_schema

    listed = {trigger_name(table, operation) for table, operation, _, _ in WATCHED}
    listed |= {order_trigger_name(operation) for _, operation, _, _ in ORDER_WATCHED}
    made, upgraded = (make_engine(f"sqlite:///{tmp_path / name}") for name in ("made.db", "upgraded.db"))
    create_schema(made)
    upgrade_schema(upgraded, "0015")
    upgrade_schema(upgraded)
    for engine in (made, upgraded):
        assert _triggers(engine) == listed
        with session_factory(engine)() as session:
            assert session.scalar(select(CustomerProfile).limit(1)) is None
            counts = text("SELECT id, changes, order_changes FROM classification_inputs")
            assert session.execute(counts).all() == [(1, 0, 0)]


def _triggers(engine: Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
