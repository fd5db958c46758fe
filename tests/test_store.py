from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session, sessionmaker

from edm.store import Customer, Order, OutboxMessage, upsert
from edm.store.engine import WAL_CHECKPOINT_PAGES
from edm.store.models import UTCDateTime
from edm.store.rows import _shared_sqlite_timestamp, _sqlite_timestamp, insert_new

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)


def _customer(external_id: str, name: str) -> dict[str, object]:
    return {
        "external_id": external_id, "name": name, "email": f"{external_id}@example.com",
        "kind": "person", "locale": "zh-CN", "timezone": "Asia/Shanghai", "created_at": NOW,
    }


def test_upsert_inserts_then_updates_by_key(any_sessions: sessionmaker[Session]) -> None:
    with any_sessions.begin() as session:
        upsert(session, Customer, [_customer("c1", "王芳")], key="external_id", update=["name"])
    with any_sessions.begin() as session:
        upsert(session, Customer, [_customer("c1", "王芳芳"), _customer("c2", "Bob")],
               key="external_id", update=["name"])
    with any_sessions() as session:
        names = session.scalars(select(Customer.name).order_by(Customer.external_id)).all()
    assert names == ["王芳芳", "Bob"]


def test_datetimes_come_back_utc_aware_and_money_exact(any_sessions: sessionmaker[Session]) -> None:
    with any_sessions.begin() as session:
        upsert(session, Customer, [_customer("c1", "Ann")], key="external_id")
        customer_id = session.scalars(select(Customer.id)).one()
        session.add(Order(external_id="o1", customer_id=customer_id, ordered_at=NOW,
                          amount=Decimal("1234.56"), product_line="valves"))
    with any_sessions() as session:
        order = session.scalars(select(Order)).one()
    assert order.ordered_at == NOW and order.ordered_at.tzinfo is not None
    assert order.amount == Decimal("1234.56")


def test_outbox_key_is_unique(any_sessions: sessionmaker[Session]) -> None:
    with any_sessions.begin() as session:
        upsert(session, Customer, [_customer("c1", "Ann")], key="external_id")
        customer_id = session.scalars(select(Customer.id)).one()
    row = {"key": "k1", "campaign": "win_back", "step": 0, "customer_id": customer_id,
           "occurrence": date(2026, 11, 24), "to_address": "c1@example.com", "state": "queued",
           "attempts": 0, "next_attempt_at": NOW, "created_at": NOW}
    for _ in range(2):
        with any_sessions.begin() as session:
            upsert(session, OutboxMessage, [row], key="key")
    with any_sessions() as session:
        assert len(session.scalars(select(OutboxMessage)).all()) == 1


def test_insert_new_stores_what_the_orm_stores_and_leaves_existing_keys(
    any_sessions: sessionmaker[Session],
) -> None:
    """The planner's fast insert: same stored text and values as the ORM's, a key planned twice kept."""
    with any_sessions.begin() as session:
        upsert(session, Customer, [_customer("c1", "Ann")], key="external_id")
        customer_id = session.scalars(select(Customer.id)).one()
    shanghai = timezone(timedelta(hours=8))

    def row(key: str, state: str) -> dict[str, object]:
        return {"key": key, "campaign": "greeting", "step": 0, "customer_id": customer_id,
                "occurrence": date(2026, 2, 17), "to_address": "c1@example.com", "state": state,
                "variant": None, "attempts": 0, "created_at": NOW,
                "next_attempt_at": datetime(2026, 2, 17, 9, 0, 0, 5, shanghai)}

    with any_sessions.begin() as session:
        upsert(session, OutboxMessage, [row("orm", "queued")], key="key")
        insert_new(session.connection(), "outbox", "key", [row("fast", "queued"), row("orm", "held_out")])
    with any_sessions.begin() as session:
        insert_new(session.connection(), "outbox", "key", [row("fast", "held_out")])
    with any_sessions() as session:
        stored = {m.key: m for m in session.scalars(select(OutboxMessage))}
        texts = dict(session.execute(text("SELECT key, next_attempt_at || '' FROM outbox")).tuples().all())
    assert set(stored) == {"orm", "fast"} and {m.state for m in stored.values()} == {"queued"}
    orm, fast = stored["orm"], stored["fast"]
    assert fast.next_attempt_at == orm.next_attempt_at == datetime(2026, 2, 17, 1, 0, 0, 5, UTC)
    assert (fast.occurrence, fast.created_at, fast.variant) == (orm.occurrence, orm.created_at, None)
    assert texts["fast"] == texts["orm"]  # the same storage text, so SQL comparisons agree


def test_sqlite_copies_the_write_ahead_log_back_in_large_steps(sessions: sessionmaker[Session]) -> None:
    """A busy tracking server commits every few milliseconds: each checkpoint copies 40 MB, not 4."""
    with sessions() as session:
        assert session.execute(text("PRAGMA wal_autocheckpoint")).scalar() == WAL_CHECKPOINT_PAGES == 10_000
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_naive_datetimes_are_refused(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(Exception, match="naive datetime"), sessions.begin() as session:
        session.add(Customer(**{**_customer("c1", "Ann"), "created_at": datetime(2026, 1, 1)}))


def test_upsert_takes_more_rows_than_one_statement_can_bind(any_sessions: sessionmaker[Session]) -> None:
    rows = [_customer(f"c{i}", f"name {i}") for i in range(2 * 500 + 7)]
    with any_sessions.begin() as session:
        upsert(session, Customer, rows, key="external_id", update=["name"])
    with any_sessions() as session:
        assert len(session.scalars(select(Customer.id)).all()) == len(rows)


@given(moment=st.datetimes(min_value=datetime(1900, 1, 2), max_value=datetime(9999, 12, 30),
                           timezones=st.sampled_from([UTC, timezone(timedelta(hours=8)),
                                                      timezone(timedelta(hours=-5, minutes=-30)),
                                                      ZoneInfo("Asia/Shanghai"), ZoneInfo("UTC")])))
def test_rows_bind_a_moment_as_sqlalchemy_stores_it(moment: datetime) -> None:
    """append_rows and insert_new write timestamps themselves: the very text SQLAlchemy's type writes on
    SQLite, so stored moments compare and sort as one, whoever wrote them."""
    stored = UTCDateTime().process_bind_param(moment, sqlite.dialect())
    assert stored is not None
    expected = sqlite.DATETIME().bind_processor(sqlite.dialect())(stored)  # type: ignore[misc]
    assert _sqlite_timestamp(moment) == _shared_sqlite_timestamp(moment) == expected
    with pytest.raises(ValueError, match="naive datetime"):
        _sqlite_timestamp(moment.replace(tzinfo=None))
