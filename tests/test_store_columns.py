"""Query results as columns: ADBC (in worker processes) and the DBAPI cursor give the same arrays."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Float, Integer, cast, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from edm.errors import StoreReadError
from edm.store import Customer, WalletEstimate, make_engine
from edm.store.columns import read_columns, read_columns_at_once, start_reading

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CUSTOMERS = 3000  # more than one ADBC batch would hold by default (1024 rows)


def _seed(sessions: sessionmaker[Session]) -> None:
    """Industry and wallet share are NULL for the first 2000 customers, then set."""
    with sessions.begin() as session:
        for n in range(CUSTOMERS):
            session.add(Customer(external_id=f"c{n}", name=f"客户 {n}", email=f"c{n}@example.com",
                                 kind="company", locale="zh-CN", timezone="UTC", created_at=NOW,
                                 industry="制造业" if n >= 2000 else None))
        session.flush()
        for customer_id, external_id in session.execute(select(Customer.id, Customer.external_id)):
            if int(external_id[1:]) >= 2000:
                session.add(WalletEstimate(customer_id=customer_id, share=0.25,
                                           category_spend=Decimal("10.50"), estimated_on=NOW.date()))


def _query():  # type: ignore[no-untyped-def]
    return (
        select(
            Customer.id,
            Customer.name,
            Customer.industry,
            WalletEstimate.share,
            cast(WalletEstimate.category_spend, Float).label("spend"),
            cast(func.length(Customer.external_id), Integer).label("length"),
        )
        .outerjoin(WalletEstimate, WalletEstimate.customer_id == Customer.id)
        .order_by(Customer.id)
    )


def test_a_column_that_starts_with_nulls_keeps_its_type(sessions: sessionmaker[Session]) -> None:
    _seed(sessions)
    with sessions() as session:
        (columns,) = read_columns_at_once(session.connection(), [_query()], large=True)
    assert columns["id"].dtype == np.int64 and len(columns["id"]) == CUSTOMERS
    assert columns["industry"][:2000].tolist() == [None] * 2000
    assert set(columns["industry"][2000:].tolist()) == {"制造业"}
    assert np.isnan(columns["share"][:2000]).all() and (columns["share"][2000:] == 0.25).all()
    assert (columns["spend"][2000:] == 10.5).all()
    assert columns["name"][5] == "客户 5"


def test_adbc_and_the_cursor_read_the_same(sessions: sessionmaker[Session]) -> None:
    _seed(sessions)
    with sessions() as session:
        connection = session.connection()
        (through_adbc,) = read_columns_at_once(connection, [_query()], large=True)
        through_cursor = read_columns(connection, _query())
    assert through_adbc.keys() == through_cursor.keys()
    for name, values in through_adbc.items():
        assert values.dtype == through_cursor[name].dtype, name
        assert np.array_equal(values, through_cursor[name], equal_nan=values.dtype.kind == "f"), name


def test_several_queries_at_once_on_any_database(any_sessions: sessionmaker[Session]) -> None:
    _seed(any_sessions)
    halves = [_query().where(Customer.id <= 1500), _query().where(Customer.id > 1500)]
    with any_sessions() as session:
        first, second = read_columns_at_once(session.connection(), halves, large=True)
        whole = read_columns(session.connection(), _query())
    assert np.array_equal(np.r_[first["id"], second["id"]], whole["id"])
    assert np.r_[first["industry"], second["industry"]].tolist() == whole["industry"].tolist()


def test_writes_after_a_large_read_are_kept(sessions: sessionmaker[Session], sqlite_url: str) -> None:
    """ADBC's own SQLite must never run in this process.

    Two copies of SQLite in one process see each other's locks as their own: when
    ADBC's copy closed, it took itself for the last connection and deleted the
    write-ahead log, so later commits through our connection went to a deleted file.
    """
    _seed(sessions)
    with sessions() as session:
        (columns,) = read_columns_at_once(session.connection(), [_query()], large=True)
    assert len(columns["id"]) == CUSTOMERS
    with sessions.begin() as session:
        session.add(Customer(external_id="after", name="after", email="after@example.com", kind="person",
                             locale="en", timezone="UTC", created_at=NOW))
    fresh = make_engine(sqlite_url)
    with fresh.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Customer)) == CUSTOMERS + 1
        assert connection.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    fresh.dispose()


def test_a_reading_left_uncollected_stops_its_child_and_leaves_no_files(
    sessions: sessionmaker[Session],
) -> None:
    """Classification starts a read and works on: an error on the way must not leave a child or files."""
    _seed(sessions)
    with sessions() as session, start_reading(session.connection(), [_query()], large=True) as reading:
        child, folder = reading._child, reading._folder
        assert child is not None and folder is not None and Path(folder).is_dir()
    assert child.poll() is not None and not Path(folder).exists()
    with sessions() as session, start_reading(session.connection(), [_query()], large=True) as reading:
        (columns,) = reading.collect()
        assert reading.collect()[0] is columns  # read once
    assert len(columns["id"]) == CUSTOMERS


def test_a_failed_read_names_the_database_and_the_error(sessions: sessionmaker[Session]) -> None:
    _seed(sessions)
    broken = select(Customer.id).where(text("no_such_column = 1"))
    with (sessions() as session, start_reading(session.connection(), [broken], large=True) as reading,
          pytest.raises(StoreReadError, match=r"(?s)edm\.db through ADBC failed: .*no such column")):
        reading.collect()
