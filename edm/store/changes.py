"""What classification reads, summed up in a few numbers that move whenever any of it changes.

New rows show in the largest ids of orders, customers and events (SQLite numbers a new row after
the largest, one writer at a time). The rest is counted in `classification_inputs.changes`:
- by the importer (and the API, which writes through it): every import that wrote a customer,
  order or wallet estimate row (`count_change`);
- by SQLite triggers, whatever code or tool writes: deletions of customers, orders, wallet
  estimates, events and profiles, edits of events, survey standings on the profiles, and any
  edit of a profile's classes but classification's own.
A customer or wallet estimate, or a profile's figure, edited in the database by hand (not imported)
is not seen: the next day's run, or `edm classify --full`, reads it. UPDATE triggers on
those made imports a fifth slower (bench/import_speed.py), and the daily rewrite of the profiles'
aging figures too.

PostgreSQL has no such count: its writers commit in any order (a smaller id may commit after a
larger one was read) and one counter row would make every writer wait for the others. There the
inputs are unknown and every classification recomputes.

Edits and deletions of orders are counted apart as well, in `classification_inputs.order_changes`:
classification keeps a copy of the orders as columns (edm.store.snapshot), which holds as long as that
count has not moved; new orders, with larger ids, are read on top of it. Deletions are counted by a
trigger (`ORDER_WATCHED`), edits by the importer's writer, which the API's calls go through too
(`count_order_edit`): an UPDATE trigger on orders, even one that never fires, made every import's
upsert a fifth slower. An order edited in the database by hand is therefore not seen by a large
store's classification until `edm classify --full` reads the orders afresh.

A future migration that rebuilds one of the watched tables on SQLite (Alembic's batch mode copies,
drops and renames) drops its triggers with it: `install_change_triggers` again afterwards
(tests/customers/test_unchanged_inputs.py checks that an upgraded store has them all).
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from edm.classes import DIMENSIONS
from edm.store.models import ClassificationInputs, Customer, Event, Order

COUNTER_ID = 1  # the one row of classification_inputs
SEED = "INSERT OR IGNORE INTO classification_inputs (id, changes) VALUES (1, 0)"
COUNT = "UPDATE classification_inputs SET changes = changes + 1 WHERE id = 1"

# a profile's classes, which classification reads back (to tell who moved), and the survey standing; its
# figures are not watched: a trigger on them made the daily rewrite of a million aging figures half as slow
# again (it reads each old row for the trigger)
PROFILE_COLUMNS = (*DIMENSIONS, "satisfaction")

# (table, operation, columns, condition): the writes to what classification reads that neither a new id nor
# the importer shows. An UPDATE counts when it changes one of the columns; on a profile, when it is not
# classification's own (which moves `computed_at` to its moment).
WATCHED: tuple[tuple[str, str, tuple[str, ...], str | None], ...] = (
    ("orders", "DELETE", (), None),
    ("customers", "DELETE", (), None),
    ("wallet_estimates", "DELETE", (), None),
    ("events", "UPDATE", ("kind", "customer_id", "occurred_at", "machine"), None),
    ("events", "DELETE", (), None),
    ("customer_profiles", "UPDATE", PROFILE_COLUMNS, "NEW.computed_at IS OLD.computed_at"),
    ("customer_profiles", "DELETE", (), None),
)


# a deleted order moves `order_changes` (an edited one: `count_order_edit`)
ORDER_WATCHED: tuple[tuple[str, str, tuple[str, ...], str | None], ...] = (("orders", "DELETE", (), None),)
COUNT_ORDER = "UPDATE classification_inputs SET order_changes = order_changes + 1 WHERE id = 1"


def trigger_name(table: str, operation: str) -> str:
    return f"edm_counts_{table}_{operation.lower()}"


def order_trigger_name(operation: str) -> str:
    return f"edm_order_changes_{operation.lower()}"


def trigger_statements() -> list[str]:
    """SQLite's statements making the counter row and the triggers, each a no-op where it exists."""
    return [
        SEED,
        *(_trigger(trigger_name(table, operation), table, operation, columns, condition, COUNT)
          for table, operation, columns, condition in WATCHED),
        *(_trigger(order_trigger_name(operation), table, operation, columns, condition, COUNT_ORDER)
          for table, operation, columns, condition in ORDER_WATCHED),
    ]


def _trigger(name: str, table: str, operation: str, columns: tuple[str, ...], condition: str | None,
             action: str) -> str:
    event = f"{operation} OF {', '.join(columns)}" if columns else operation
    if condition is None and columns:
        condition = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in columns)
    when = f" WHEN {condition}" if condition else ""
    return f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {event} ON {table}{when} BEGIN {action}; END"


def count_change(connection: Connection) -> None:
    """Count a change the triggers do not see: the importer's (and the API's) upserts of customers, orders
    and wallet estimates. An UPDATE trigger on those tables measured a fifth slower imports."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(COUNT)


def count_order_edit(connection: Connection) -> None:
    """Count an edit of orders already stored (an import or API call that changed one: edm.customers.writer):
    the orders' snapshot no longer holds."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(COUNT_ORDER)


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
    counts = connection.execute(select(ClassificationInputs.changes, ClassificationInputs.order_changes)
                                .where(ClassificationInputs.id == COUNTER_ID)).first()
    if counts is None:
        return None
    # one subquery each: SQLite looks a lone max up in the index
    largest = [select(func.max(column)).scalar_subquery() for column in (Order.id, Customer.id, Event.id)]
    orders, customers, events = connection.execute(select(*largest)).one()
    return (f"changes {counts.changes}.{counts.order_changes}, ids to orders {orders or 0}, "
            f"customers {customers or 0}, events {events or 0}")


def order_changes(connection: Connection) -> int | None:
    """The count of edits and deletions of orders so far; None where it is not kept (PostgreSQL)."""
    if connection.dialect.name != "sqlite":
        return None
    counter = select(ClassificationInputs.order_changes).where(ClassificationInputs.id == COUNTER_ID)
    return connection.scalar(counter)
