"""The incremental engagement refresh against a real store: it recomputes only the customers with
something new or something that came of age, and what gates sending (interval, sunset) is then
exactly what a full refresh of the same store would say."""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.config import EngagementSettings
from edm.engagement import refresh_engagement
from edm.store import (
    ClassificationRun,
    Customer,
    CustomerProfile,
    EngagementRefresh,
    Event,
    Order,
    OutboxMessage,
    create_schema,
    make_engine,
    session_factory,
)
from edm.tracking.events import ask_for_less

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
# full refreshes only when forced; no population prior, so a customer's hour is their own
RULES = EngagementSettings(full_refresh_hours=24 * 365, send_hour_prior=0, veiled_by_clicks=False)
Figures = tuple[Any, ...]


@contextmanager
def _store() -> Iterator[tuple[Path, sessionmaker[Session]]]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "edm.db"
        engine = make_engine(f"sqlite:///{path}")
        create_schema(engine)
        try:
            yield path, session_factory(engine)
        finally:
            engine.dispose()


def _customer(session: Session, name: str, *, profiled: bool = True) -> int:
    customer = Customer(external_id=name, name=name, email=f"{name}@example.com", kind="person", locale="en",
                        timezone="Asia/Shanghai", created_at=NOW - timedelta(days=600))
    session.add(customer)
    session.flush()
    if profiled:
        session.add(CustomerProfile(customer_id=customer.id, value_tier="medium", lifecycle_stage="mature",
                                    order_count=3, revenue=Decimal("100"), computed_at=NOW))
    return customer.id


def _mail(session: Session, customer_id: int, at: datetime, *, key: str = "") -> int:
    row = OutboxMessage(key=key or f"{customer_id}-{at.isoformat()}", campaign="news",
                        customer_id=customer_id, occurrence=at.date(), to_address="x@example.com",
                        state="sent", next_attempt_at=at, created_at=at, sent_at=at)
    session.add(row)
    session.flush()
    return row.id


def _event(session: Session, customer_id: int, kind: str, at: datetime, *, machine: bool = False) -> None:
    outbox = session.scalar(select(OutboxMessage.id).where(OutboxMessage.customer_id == customer_id)
                            .order_by(OutboxMessage.sent_at.desc()))
    session.add(Event(kind=kind, customer_id=customer_id, outbox_id=outbox, machine=machine, occurred_at=at))


def _seed(sessions: sessionmaker[Session]) -> list[int]:
    """Customers near every edge: mail just sent (its window about to close), a first mail and a
    last read about to be as old as sunset, an order about to be, a reader, a silent one, a new one."""
    with sessions.begin() as session:
        fresh, first_mail, last_read, last_order, reader, silent = (
            _customer(session, name)
            for name in ("fresh", "first_mail", "last_read", "last_order", "reader", "silent"))
        new = _customer(session, "new", profiled=False)
        _mail(session, fresh, NOW - timedelta(days=2, hours=20))
        _mail(session, first_mail, NOW - timedelta(days=119, hours=22))
        _mail(session, last_read, NOW - timedelta(days=200))
        _event(session, last_read, "open", NOW - timedelta(days=119, hours=21))
        _mail(session, last_order, NOW - timedelta(days=200))
        session.get_one(CustomerProfile, last_order).last_order_at = NOW - timedelta(days=119, hours=23)
        for days in (30, 20, 10):
            _mail(session, reader, NOW - timedelta(days=days))
            _event(session, reader, "open", NOW - timedelta(days=days) + timedelta(hours=3))
            _mail(session, silent, NOW - timedelta(days=days))
    refresh_engagement(sessions, RULES, FixedClock(NOW))
    with sessions.begin() as session:
        session.add(CustomerProfile(customer_id=new, value_tier="medium", lifecycle_stage="new",
                                    order_count=0, revenue=Decimal("0"), computed_at=NOW))
    return [fresh, first_mail, last_read, last_order, reader, silent, new]


def _figures(sessions: sessionmaker[Session]) -> dict[int, Figures]:
    with sessions() as session:
        rows = session.execute(select(CustomerProfile.customer_id, CustomerProfile.contact_interval_days,
                                      CustomerProfile.sunset, CustomerProfile.engagement_score,
                                      CustomerProfile.best_hour))
        return {row[0]: tuple(row[1:]) for row in rows}


def _full_figures(path: Path, now: datetime) -> dict[int, Figures]:
    """What a full refresh at `now` says, on a copy of the store."""
    copy = path.with_name("copy.db")
    copy.unlink(missing_ok=True)
    with closing(sqlite3.connect(path)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)  # the store is in WAL mode: copying its file would miss the log
    engine = make_engine(f"sqlite:///{copy}")
    try:
        sessions = session_factory(engine)
        assert refresh_engagement(sessions, RULES, FixedClock(now), full=True).full
        return _figures(sessions)
    finally:
        engine.dispose()


Step = tuple[str, int, int]  # what, which customer (index), hours later
STEPS = st.lists(st.tuples(st.sampled_from(["open", "click", "machine_open", "order", "mail", "less",
                                            "unsubscribe", "later"]),
                           st.integers(0, 6), st.integers(1, 60)), min_size=1, max_size=6)


@settings(max_examples=12)
@given(steps=STEPS)
def test_an_incremental_refresh_gates_sending_exactly_as_a_full_one(steps: list[Step]) -> None:
    with _store() as (path, sessions):
        customers = _seed(sessions)
        now = NOW
        for number, (what, index, hours) in enumerate(steps):
            customer = customers[index]
            touched: set[int] = set()
            with sessions.begin() as session:
                if what == "later":
                    now += timedelta(hours=hours)
                elif what == "order":
                    session.add(Order(external_id=f"o{number}", customer_id=customer,
                                      ordered_at=now, amount=Decimal("10")))
                elif what == "mail":
                    _mail(session, customer, now, key=f"m{number}")
                elif what == "less":
                    ask_for_less(session, customer_id=customer)
                else:
                    kind = what.removeprefix("machine_")
                    _event(session, customer, kind, now, machine=what != kind)
                touched = set() if what == "later" else {customer}
            summary = refresh_engagement(sessions, RULES, FixedClock(now))
            assert not summary.full
            mine, full = _figures(sessions), _full_figures(path, now)
            gating = {c: f[:2] for c, f in mine.items()}  # interval and sunset
            assert gating == {c: f[:2] for c, f in full.items()}
            for customer in touched:  # score and reading hour too, for whom something happened
                assert mine[customer] == full[customer]


def test_nothing_new_recomputes_no_one_and_keeps_the_totals(any_sessions: sessionmaker[Session]) -> None:
    sessions = any_sessions
    _seed(sessions)
    first = refresh_engagement(sessions, RULES, FixedClock(NOW))  # the new profile was marked
    again = refresh_engagement(sessions, RULES, FixedClock(NOW + timedelta(minutes=5)))
    assert (first.full, first.recomputed) == (False, 1)
    assert (again.full, again.recomputed) == (False, 0)
    assert (again.customers, again.shortened, again.lengthened, again.sunset) == (
        first.customers, first.shortened, first.lengthened, first.sunset)
    with sessions() as session:
        counted = session.scalar(select(EngagementRefresh.customers).where(EngagementRefresh.full))
    assert (counted, first.customers) == (6, 7)  # the full one before the new profile, then it


def test_a_full_refresh_comes_after_its_hours_a_classification_run_or_new_settings(
    any_sessions: sessionmaker[Session],
) -> None:
    sessions = any_sessions
    _seed(sessions)
    daily = RULES.model_copy(update={"full_refresh_hours": 24})
    assert not refresh_engagement(sessions, daily, FixedClock(NOW + timedelta(hours=23))).full
    assert refresh_engagement(sessions, daily, FixedClock(NOW + timedelta(hours=24))).full
    assert not refresh_engagement(sessions, daily, FixedClock(NOW + timedelta(hours=25))).full
    with sessions.begin() as session:
        session.add(ClassificationRun(computed_at=NOW, customers=7, moved=0, thresholds={}, churn_model=None))
    assert refresh_engagement(sessions, daily, FixedClock(NOW + timedelta(hours=26))).full
    halved = daily.model_copy(update={"half_life_days": 15.0})
    assert refresh_engagement(sessions, halved, FixedClock(NOW + timedelta(hours=27))).full
    assert not refresh_engagement(sessions, halved, FixedClock(NOW + timedelta(hours=28))).full
    assert refresh_engagement(sessions, halved, FixedClock(NOW + timedelta(hours=27))).full  # clock went back
    with sessions() as session:  # a full refresh leaves only itself: nothing reads the rows before it
        kept = session.execute(select(EngagementRefresh.full, EngagementRefresh.refreshed_at)).all()
    assert kept == [(True, NOW + timedelta(hours=27))]
