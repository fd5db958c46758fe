"""The orders' snapshot (edm.store.snapshot): classification reads from it exactly the orders the table
holds, whatever was added, edited or deleted in between, and it is used only while it holds."""

from __future__ import annotations

import math
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Connection, Engine, select, text, update

from edm.api.rows import store_items
from edm.clock import FixedClock
from edm.config import ImportSettings
from edm.customers import columns
from edm.customers.columns import load_store_columns
from edm.customers.features import NO_LINE, OrderColumns
from edm.customers.importer import import_file
from edm.store import OrderSnapshot, OrderSnapshotPart, create_schema, make_engine, session_factory
from edm.store.snapshot import snapshot_header
from tests.customers.test_profiles import NOW

CUSTOMERS = 5
NEW_CUSTOMER = ("INSERT INTO customers (external_id, name, email, email_key, kind, locale, timezone, "
                "created_at) VALUES (:x, :x, :e, :e, 'company', 'zh-CN', 'UTC', :at)")
LINES = (None, "valves", "pumps", "阀门")
Row = tuple[int, float, float, float | None, str | None]


def _store(folder: Path) -> Engine:
    engine = make_engine(f"sqlite:///{folder / 'edm.db'}")
    create_schema(engine)
    with engine.begin() as connection:
        for n in range(CUSTOMERS):
            connection.execute(text(NEW_CUSTOMER), {"x": f"c{n}", "e": f"c{n}@example.com", "at": NOW})
    return engine


def _add(connection: Connection, customer: int, day: int, amount: int, line: str | None,
         margin: int | None) -> None:
    at = (NOW - timedelta(days=day, hours=customer)).strftime("%Y-%m-%d %H:%M:%S.000000")
    connection.execute(text(
        "INSERT INTO orders (external_id, customer_id, ordered_at, amount, margin, product_line) "
        "VALUES (:x, :c, :at, :a, :m, :l)"),
        {"x": secrets.token_hex(8), "c": customer + 1, "at": at, "a": amount, "m": margin, "l": line})


def _rows(orders: OrderColumns) -> list[Row]:
    """The orders as plain rows, lines by name (their codes depend on which names were read), sorted."""
    names = (*orders.line_names, None)
    columns = zip(orders.customer_id, orders.day, orders.amount, orders.margin, orders.line, strict=True)
    rows = [(int(c), float(d), float(a), None if math.isnan(m) else float(m), names[int(n)])
            for c, d, a, m, n in columns]
    return sorted(rows, key=lambda r: (*r[:3], r[3] is None, r[3] or 0.0, r[4] is None, r[4] or ""))


def _loaded(engine: Engine, **options: Any) -> OrderColumns:
    with engine.connect() as connection:
        return load_store_columns(connection, large=False, **options).orders


def _read_as_the_table_holds(engine: Engine) -> None:
    """A load through the snapshot gives the orders a read of the table alone gives, in order."""
    kept = _loaded(engine, snapshot=True)
    assert _rows(kept) == _rows(_loaded(engine, snapshot=False))
    order = np.lexsort((kept.day, kept.customer_id))
    assert (order == np.arange(len(order))).all()  # sorted by customer, then time, as features expect
    assert ((kept.line >= 0) | (kept.line == NO_LINE)).all()


def _import(engine: Engine, folder: Path, rows: list[tuple[str, str, str, float, str, str]]) -> None:
    """Orders through `edm import orders`'s library function, as edm itself edits stored orders."""
    lines = ["external_id,customer_external_id,ordered_at,amount,margin,product_line"]
    lines += [",".join(map(str, row)) for row in rows]
    (folder / "orders.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    import_file(session_factory(engine), "orders", folder / "orders.csv", FixedClock(NOW))


def _edit(engine: Engine, folder: Path, nth: int, change: str) -> None:
    """Re-import the `nth` order with one field changed."""
    with engine.connect() as connection:
        row = connection.execute(text(
            "SELECT o.external_id, c.external_id, o.ordered_at, o.amount, o.margin, o.product_line "
            "FROM orders o JOIN customers c ON c.id = o.customer_id ORDER BY o.id "
            "LIMIT 1 OFFSET :n % MAX(1, (SELECT COUNT(*) FROM orders))"), {"n": nth}).first()
    if row is None:
        return
    order, customer, at, amount, margin, line = row
    fields = {"customer": customer, "at": at[:19], "amount": amount,
              "margin": "" if margin is None else margin, "line": line or ""}
    fields.update({"amount": {"amount": amount + 1}, "margin": {"margin": (margin or 0) + 3},
                   "line": {"line": "pumps" if line != "pumps" else "阀门"},
                   "customer": {"customer": "c4" if customer != "c4" else "c0"},
                   "moment": {"at": "2025-06-01 08:00:00"}}[change])
    _import(engine, folder, [(order, *fields.values())])


operations = st.one_of(
    st.tuples(st.just("add"), st.integers(0, CUSTOMERS - 1), st.integers(0, 900), st.integers(1, 10_000),
              st.sampled_from(LINES), st.none() | st.integers(-50, 500)),
    st.tuples(st.just("edit"), st.integers(0, 3), st.sampled_from(["amount", "margin", "line", "customer",
                                                                   "moment"])),
    st.tuples(st.just("delete"), st.integers(0, 3)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operations, min_size=1, max_size=16))
def test_the_snapshot_gives_what_the_table_holds_after_any_writes(steps: list[tuple[Any, ...]]) -> None:
    """Orders added (new ids), edited by an import, deleted: after each, a load through the snapshot (which
    keeps it) gives what a read of the table gives."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        engine = _store(folder)
        try:
            for step in steps:
                if step[0] == "add":
                    with engine.begin() as connection:
                        _add(connection, *step[1:])
                elif step[0] == "edit":
                    _edit(engine, folder, step[1], step[2])
                elif step[0] == "delete":
                    nth = "(SELECT id FROM orders ORDER BY id LIMIT 1 OFFSET :n)"
                    with engine.begin() as connection:
                        connection.execute(text(f"DELETE FROM orders WHERE id = {nth}"), {"n": step[1]})
                _read_as_the_table_holds(engine)
        finally:
            engine.dispose()


def test_it_is_read_while_it_holds_and_not_once_an_order_is_edited(tmp_path: Path) -> None:
    engine = _store(tmp_path)
    with engine.begin() as connection:
        for day in range(4):
            _add(connection, day % CUSTOMERS, day * 30, 100, "valves", None)
    assert _rows(_loaded(engine, snapshot=True))[0][2] == 100.0
    with engine.begin() as connection:  # what only the snapshot says: a load that shows it read the snapshot
        header = snapshot_header(connection)
        assert header is not None and header.orders == 4
        doubled = np.full(4, 200.0).tobytes()
        connection.execute(update(OrderSnapshotPart).where(OrderSnapshotPart.column == "amount")
                           .values(data=doubled))
    assert {row[2] for row in _rows(_loaded(engine, snapshot=True))} == {200.0}
    assert {row[2] for row in _rows(_loaded(engine, snapshot=False))} == {100.0}
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT o.external_id, c.external_id, o.ordered_at, o.amount "
                                         "FROM orders o JOIN customers c ON c.id = o.customer_id")).all()
    rows = [(order, customer, at[:19], amount, "", "valves") for order, customer, at, amount in stored]
    _import(engine, tmp_path, rows)  # the same orders again: nothing edited, the snapshot holds
    assert {row[2] for row in _rows(_loaded(engine, snapshot=True))} == {200.0}
    _import(engine, tmp_path, [(*rows[1][:4], "5", "valves")])  # one order's margin edited
    assert {row[2] for row in _rows(_loaded(engine, snapshot=True))} == {100.0}  # read afresh, and kept
    assert {row[2] for row in _rows(_loaded(engine, snapshot=True))} == {100.0}
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM orders WHERE id = 1"))
    assert len(_rows(_loaded(engine, snapshot=True))) == 3


def test_an_order_edited_through_the_api_is_read_afresh(tmp_path: Path) -> None:
    engine = _store(tmp_path)
    order = {"external_id": "o1", "customer_external_id": "c1", "ordered_at": "2026-02-01T10:00:00Z",
             "amount": 100}
    store_items(session_factory(engine), "orders", [order], NOW, ImportSettings())
    assert [row[2] for row in _rows(_loaded(engine, snapshot=True))] == [100.0]
    store_items(session_factory(engine), "orders", [order], NOW, ImportSettings())  # unchanged: it holds
    with engine.connect() as connection:
        assert connection.scalar(text("SELECT order_changes FROM classification_inputs")) == 0
    store_items(session_factory(engine), "orders", [{**order, "amount": 150}], NOW, ImportSettings())
    assert [row[2] for row in _rows(_loaded(engine, snapshot=True))] == [150.0]


def test_new_orders_are_read_on_top_and_a_rebuild_reads_them_all(tmp_path: Path) -> None:
    engine = _store(tmp_path)
    with engine.begin() as connection:
        _add(connection, 0, 10, 100, "valves", 10)
    _loaded(engine, snapshot=True)
    with engine.begin() as connection:
        _add(connection, 0, 5, 50, "阀门", None)
        _add(connection, 3, 1, 70, None, None)
    assert [row[2] for row in _rows(_loaded(engine, snapshot=True))] == [100.0, 50.0, 70.0]
    with engine.connect() as connection:
        header = snapshot_header(connection)
        assert header is not None and (header.through, header.orders) == (3, 3)
        assert header.line_names == ("valves", "阀门")
    with engine.begin() as connection:  # a snapshot missing a part is not used: the table is read
        connection.execute(text("DELETE FROM order_snapshot_parts WHERE \"column\" = 'day'"))
    assert len(_rows(_loaded(engine, snapshot=True))) == 3
    with engine.begin() as connection:
        connection.execute(update(OrderSnapshotPart).values(data=b""))
    assert len(_rows(_loaded(engine, snapshot=True, rebuild=True))) == 3
    with engine.connect() as connection:
        assert connection.scalar(select(OrderSnapshot.orders)) == 3
        stored = connection.scalar(select(OrderSnapshotPart.data).where(OrderSnapshotPart.column == "amount"))
        assert np.frombuffer(stored, "<f8").tolist() == [100.0, 50.0, 70.0]


def test_a_large_store_keeps_one_by_default_and_postgres_none(any_engine: Engine,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(columns, "LARGE_FROM_ORDERS", 1)  # read as a large store is: through ADBC, kept
    with any_engine.begin() as connection:
        connection.execute(text(NEW_CUSTOMER), {"x": "c0", "e": "c0@example.com", "at": NOW})
        customer = connection.scalar(text("SELECT id FROM customers"))
        for n in range(3):
            connection.execute(text(
                "INSERT INTO orders (external_id, customer_id, ordered_at, amount) VALUES (:x, :c, :at, 10)"),
                {"x": f"o{n}", "c": customer, "at": NOW - timedelta(days=n)})
    for _ in range(2):
        with any_engine.connect() as connection:
            assert len(load_store_columns(connection).orders.day) == 3
    with any_engine.connect() as connection:
        header = snapshot_header(connection)
    if any_engine.dialect.name == "sqlite":
        assert header is not None and header.orders == 3
    else:  # nothing counts the edits of orders there: a snapshot could not tell it no longer holds
        assert header is None
