"""What classification reads, summed up in a few numbers that move whenever any of it changes.

New rows show in the largest ids of orders, customers and events (SQLite numbers a new row after
the largest, one writer at a time). Updates and deletions do not: SQLite triggers count them in
`classification_inputs.changes`, whichever code or tool writes, and so do new, changed or removed
wallet estimates (keyed by customer, not numbered), survey standings and any edit of a profile's
classes or figures but classification's own.

PostgreSQL has no such count: its writers commit in any order (a smaller id may commit after a
larger one was read) and one counter row would make every writer wait for the others. There the
inputs are unknown and every classification recomputes.

A future migration that rebuilds one of the watched tables on SQLite (Alembic's batch mode copies,
drops and renames) drops its triggers with it: `install_change_triggers` again afterwards
(tests/test_migrations.py checks that the head schema has them all).
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from edm.store.models import ClassificationInputs, Customer, CustomerProfile, Event, Order

COUNTER_ID = 1  # the one row of classification_inputs
SEED = "INSERT OR IGNORE INTO classification_inputs (id, changes) VALUES (1, 0)"
COUNT = "UPDATE classification_inputs SET changes = changes + 1 WHERE id = 1"

# what engagement and surveys keep on a profile, which classification neither reads nor writes
NOT_CLASSIFICATION = frozenset({"contact_interval_days", "interval_updated_at", "engagement_score", "sunset",
                                "best_hour", "satisfaction_trend", "nps_score", "csat_score", "surveyed_at"})
# classification reads its own columns back (to tell what moved) and the survey standing
PROFILE_COLUMNS = tuple(c.name for c in CustomerProfile.__table__.columns if c.name not in NOT_CLASSIFICATION)

# (table, operation, columns, condition): every write to what classification reads that a new id does not
# show. An UPDATE counts when it changes one of the columns (a re-import of the same rows does not count);
# on a profile, when it is not classification's own (which moves `computed_at` to its moment).
WATCHED: tuple[tuple[str, str, tuple[str, ...], str | None], ...] = (
    ("orders", "UPDATE", ("customer_id", "ordered_at", "amount", "margin", "product_line"), None),
    ("orders", "DELETE", (), None),
    ("customers", "UPDATE", ("industry",), None),
    ("customers", "DELETE", (), None),
    ("wallet_estimates", "INSERT", (), None),
    ("wallet_estimates", "UPDATE", ("customer_id", "share", "category_spend"), None),
    ("wallet_estimates", "DELETE", (), None),
    ("events", "UPDATE", ("kind", "customer_id", "occurred_at", "machine"), None),
    ("events", "DELETE", (), None),
    ("customer_profiles", "INSERT", (), "NEW.satisfaction IS NOT NULL"),
    ("customer_profiles", "UPDATE", PROFILE_COLUMNS, "NEW.computed_at IS OLD.computed_at"),
    ("customer_profiles", "DELETE", (), None),
)


def trigger_name(table: str, operation: str) -> str:
    return f"edm_counts_{table}_{operation.lower()}"


def trigger_statements() -> list[str]:
    """SQLite's statements making the counter row and the triggers, each a no-op where it exists."""
    statements = [SEED]
    for table, operation, columns, condition in WATCHED:
        event = f"{operation} OF {', '.join(columns)}" if columns else operation
        if condition is None and columns:
            condition = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
        when = f" WHEN {condition}" if condition else ""
        statements.append(f"CREATE TRIGGER IF NOT EXISTS {trigger_name(table, operation)} "
                          f"AFTER {event} ON {table}{when} BEGIN {COUNT}; END")
    return statements


def install_change_triggers(connection: Connection) -> None:
    """The counter and its triggers, on SQLite (elsewhere nothing: see the module docstring)."""
    if connection.dialect.name != "sqlite":
        return
    for statement in trigger_statements():
        connection.exec_driver_sql(statement)


def input_state(connection: Connection) -> str | None:
    """The classification inputs' state, equal from one read to the next only if none of them changed
    in between; None where it cannot be told (PostgreSQL, or a store without the counter)."""
    if connection.dialect.name != "sqlite":
        return None
    counter = select(ClassificationInputs.changes).where(ClassificationInputs.id == COUNTER_ID)
    changes = connection.scalar(counter)
    if changes is None:
        return None
    # one subquery each: SQLite looks a lone max up in the index
    largest = [select(func.max(column)).scalar_subquery() for column in (Order.id, Customer.id, Event.id)]
    orders, customers, events = connection.execute(select(*largest)).one()
    return f"changes {changes}, ids to orders {orders or 0}, customers {customers or 0}, events {events or 0}"
