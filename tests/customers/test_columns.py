"""The store read as columns: read large (worker processes, ADBC on SQLite) or small, the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.customers.columns import load_store_columns, reading_stored_figures
from edm.store import Customer, CustomerProfile, Order

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LINES = ["valves", None, "pumps", "valves", "seals", None, "pumps", "acids"]


def _seed(sessions: sessionmaker[Session]) -> list[int]:
    """Three customers; product lines chosen so each half of the id range knows different ones."""
    with sessions.begin() as session:
        for n in range(3):
            session.add(Customer(external_id=f"c{n}", name=f"c{n}", email=f"c{n}@example.com",
                                 kind="person", locale="en", timezone="UTC", created_at=NOW))
        session.flush()
        ids = list(session.scalars(select(Customer.id).order_by(Customer.id)))
        for n, line in enumerate(LINES):
            session.add(Order(external_id=f"o{n}", customer_id=ids[n % 3],
                              ordered_at=NOW - timedelta(days=n * 1.5),
                              amount=Decimal(f"{n}.25"), margin=Decimal("1.10") if n % 2 else None,
                              product_line=line))
    return ids


def test_a_large_read_in_ranges_equals_a_small_read(any_sessions: sessionmaker[Session]) -> None:
    ids = _seed(any_sessions)
    with any_sessions() as session:
        single = load_store_columns(session.connection(), readers=1, large=False).orders
        parallel = load_store_columns(session.connection(), readers=3, large=True).orders
    assert single.line_names == parallel.line_names == ("acids", "pumps", "seals", "valves")
    names = [None if code < 0 else single.line_names[code] for code in single.line.tolist()]
    margins = [None if np.isnan(m) else round(m, 2) for m in single.margin.tolist()]
    read = list(zip(single.customer_id.tolist(), single.amount.tolist(), margins, names, strict=True))
    # sorted by customer, then time: orders further back (higher n) come first
    expected = sorted(((ids[n % 3], n + 0.25, 1.10 if n % 2 else None, line) for n, line in enumerate(LINES)),
                      key=lambda row: (row[0], -row[1]))
    assert read == expected
    for field in ("customer_id", "day", "amount", "margin", "line"):
        assert np.array_equal(getattr(single, field), getattr(parallel, field), equal_nan=True), field


def test_stored_classes_align_with_the_customer_ids(any_sessions: sessionmaker[Session]) -> None:
    ids = _seed(any_sessions)
    with any_sessions.begin() as session:
        session.add(CustomerProfile(customer_id=ids[1], value_tier="vip", lifecycle_stage="mature",
                                    order_count=3, revenue=Decimal("9.00"), computed_at=NOW))
    with any_sessions() as session:
        classes = load_store_columns(session.connection()).stored_classes
    assert classes["value_tier"].tolist() == [None, "vip", None]
    assert classes["scale"].tolist() == [None, "small", None]  # the column default


def test_stored_figures_align_with_the_customer_ids_read_large_or_small(
    any_sessions: sessionmaker[Session],
) -> None:
    ids = _seed(any_sessions)
    with any_sessions.begin() as session:
        for at, revenue in ((0, "9.50"), (2, "1.25")):
            session.add(CustomerProfile(customer_id=ids[at], value_tier="vip", lifecycle_stage="mature",
                                        order_count=3, revenue=Decimal(revenue),
                                        dropped_lines="pumps" if at else None, last_order_at=NOW,
                                        computed_at=NOW))
    figures = ("revenue", "dropped_lines", "last_order_at", "probability_alive")
    with any_sessions() as session:
        ids_array = np.asarray(ids, dtype=np.int64)
        reads = []
        for readers, large in ((1, False), (3, True)):
            with reading_stored_figures(session.connection(), ids_array, figures, readers=readers,
                                        large=large) as collect:
                reads.append(collect())
    for read in reads:
        assert set(read) == set(figures)
        assert read["revenue"].tolist()[::2] == [9.5, 1.25] and np.isnan(read["revenue"][1])
        assert read["dropped_lines"].tolist() == [None, None, "pumps"]
        assert read["last_order_at"][[0, 2]].tolist() == [NOW.timestamp() / 86_400] * 2  # epoch days
        assert np.isnan(read["probability_alive"]).all()
