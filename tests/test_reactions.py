"""Reactions: a customer event or order plans that customer's mail at once (edm.reactions), through the real
planner and sender to a real SMTP server (aiosmtpd), with a fake clock for delays and `unless` windows;
`send_to_one` (edm.campaigns.direct) with per-call data; one customer's refresh against a full recompute."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.direct import send_to_one
from edm.campaigns.loader import load_campaigns
from edm.campaigns.schema import Campaign
from edm.clock import FixedClock
from edm.config import Settings, SmtpSettings
from edm.customers import import_customers
from edm.customers.profiles import recompute_profiles
from edm.reactions import Cursor, current_cursor, react, react_to_new, refresh_customer
from edm.runner import send_pending
from edm.store import Customer, CustomerEvent, CustomerProfile, Order, OutboxMessage
from tests.conftest import SECRET_KEY, SmtpServer

START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
CUSTOMERS = "external_id,name,kind,email,locale,timezone\n" + "".join(
    f"C{i},Customer {i},company,c{i}@example.com,en,UTC\n" for i in range(1, 13)
)
LINKS = "links: {reorder: 'https://shop.example.com/r', catalog: 'https://shop.example.com/c'}\n"
QUOTE = """\
name: quote_follow_up
template: reorder_reminder
subject: {en: "About your quote"}
respect_frequency: false
event: {name: quote_requested, where: {channel: web}, within_hours: 24, delay: {hours: 2},
        unless: {event: order_placed, within_hours: 72}}
""" + LINKS
NOTICE = """\
name: order_notice
kind: service
api: true
template: reorder_reminder
subject: {en: "Order {{ data.order_no }} confirmed"}
""" + LINKS
PROMO = """\
name: spring_promo
template: reorder_reminder
subject: {en: "Spring offers"}
respect_frequency: false
""" + LINKS


def _world(
    tmp_path: Path, sessions: sessionmaker[Session], smtp: SmtpServer
) -> tuple[Settings, dict[str, Campaign]]:
    folder = tmp_path / "campaigns"
    folder.mkdir()
    for name, text in {"quote": QUOTE, "notice": NOTICE, "promo": PROMO}.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    import_customers(sessions, tmp_path / "customers.csv", FixedClock(START - timedelta(days=800)))
    with sessions.begin() as session:
        ids = list(session.scalars(select(Customer.id).order_by(Customer.id)))
        for n, customer_id in enumerate(ids):  # a population with rhythm: every one orders every 30-60 days
            for k in range(1 + n % 6):
                session.add(Order(external_id=f"O{customer_id}-{k}", customer_id=customer_id,
                                  ordered_at=START - timedelta(days=20 + k * (30 + 5 * n)),
                                  amount=Decimal(100 + 37 * n + 11 * k), margin=None, product_line="valves"))
    settings = Settings(
        campaigns_dir=folder, secret_keys=(SecretStr(SECRET_KEY),),
        smtp=SmtpSettings(host=smtp.host, port=smtp.port, compose_processes=0),
    )
    recompute_profiles(sessions, settings.classification, FixedClock(START))
    campaigns = {name: loaded.campaign for name, loaded in load_campaigns(folder).items()}
    return settings, campaigns


def _customer(sessions: sessionmaker[Session], email: str) -> int:
    with sessions() as session:
        found = session.scalar(select(Customer.id).where(Customer.email == email))
    assert found is not None
    return found


def _event(sessions: sessionmaker[Session], customer_id: int, at: datetime, key: str,
           name: str = "quote_requested", **properties: Any) -> None:
    with sessions.begin() as session:
        if session.scalar(select(CustomerEvent.id).where(CustomerEvent.idempotency_key == key)) is None:
            session.add(CustomerEvent(customer_id=customer_id, name=name, properties=properties or None,
                                      occurred_at=at, received_at=at, idempotency_key=key, source="api"))


def _order(sessions: sessionmaker[Session], customer_id: int, at: datetime, external_id: str) -> None:
    with sessions.begin() as session:
        session.add(Order(external_id=external_id, customer_id=customer_id, ordered_at=at,
                          amount=Decimal("250"), margin=None, product_line="valves"))


def _send(settings: Settings, sessions: sessionmaker[Session], clock: FixedClock,
          campaigns: dict[str, Campaign]) -> None:
    asyncio.run(send_pending(settings, sessions, clock, campaigns))


def test_a_quote_request_mails_after_its_delay_once_per_event(
    tmp_path: Path, any_sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings, campaigns = _world(tmp_path, any_sessions, smtp_server)
    clock = FixedClock(START)
    who = _customer(any_sessions, "c3@example.com")
    _event(any_sessions, who, START, "quote-1", channel="web")
    _event(any_sessions, who, START, "quote-1", channel="web")  # the same call again: one event
    plans = react(any_sessions, settings, clock, who, campaigns.values())
    assert [p.queued for p in plans if p.campaign == "quote_follow_up"] == [1]
    _send(settings, any_sessions, clock, campaigns)
    assert smtp_server.handler.messages == []  # not before the delay
    clock.advance(timedelta(hours=2))
    react(any_sessions, settings, clock, who, campaigns.values())  # reacting again queues nothing new
    _send(settings, any_sessions, clock, campaigns)
    mails = smtp_server.handler.to("c3@example.com")
    assert [str(m["Subject"]) for m in mails] == ["About your quote"]
    # a quote from another channel does not match `where`
    other = _customer(any_sessions, "c4@example.com")
    _event(any_sessions, other, clock.now(), "quote-2", channel="phone")
    assert sum(p.queued for p in react(any_sessions, settings, clock, other, campaigns.values())) == 0


@pytest.mark.parametrize("order_comes", ["before planning", "after planning"])
def test_an_order_within_the_unless_window_cancels_the_mail(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer, order_comes: str
) -> None:
    settings, campaigns = _world(tmp_path, sessions, smtp_server)
    clock = FixedClock(START)
    who = _customer(sessions, "c5@example.com")
    _event(sessions, who, START, "quote-5", channel="web")
    if order_comes == "before planning":
        clock.advance(timedelta(minutes=30))
        _order(sessions, who, clock.now(), "O-new")
        assert sum(p.queued for p in react(sessions, settings, clock, who, campaigns.values())) == 0
    else:
        assert sum(p.queued for p in react(sessions, settings, clock, who, campaigns.values())) == 1
        clock.advance(timedelta(hours=1))
        _order(sessions, who, clock.now(), "O-new")
    clock.advance(timedelta(hours=2))
    _send(settings, sessions, clock, campaigns)
    assert smtp_server.handler.to("c5@example.com") == []
    if order_comes == "after planning":
        with sessions() as session:
            assert session.scalar(select(OutboxMessage.state)) == "cancelled"


def test_react_to_new_finds_events_that_arrived_since_its_cursor(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings, campaigns = _world(tmp_path, sessions, smtp_server)
    clock = FixedClock(START)
    cursor = current_cursor(sessions)
    who = _customer(sessions, "c6@example.com")
    _event(sessions, who, START - timedelta(hours=3), "quote-6", channel="web")  # an import: 3 hours old
    cursor, queued = react_to_new(sessions, settings, clock, cursor, campaigns.values())
    assert queued == 1 and cursor.event_id > 0
    assert react_to_new(sessions, settings, clock, cursor, campaigns.values()) == (cursor, 0)
    for n in range(30):  # events no campaign waits for: the cursor passes them, nobody is planned
        _event(sessions, who, START, f"view-{n}", name="page_viewed")
    with sessions() as session:
        newest = session.scalar(select(func.max(CustomerEvent.id)))
    passed = react_to_new(sessions, settings, clock, cursor, campaigns.values())
    assert passed == (Cursor(newest, cursor.order_id), 0)
    _send(settings, sessions, clock, campaigns)  # the delay has passed already: it goes at once
    assert len(smtp_server.handler.to("c6@example.com")) == 1
    assert Cursor() == Cursor(0, 0)


def test_send_to_one_carries_its_data_and_goes_before_earlier_bulk_mail(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings, campaigns = _world(tmp_path, sessions, smtp_server)
    clock = FixedClock(START)
    promo = campaigns["spring_promo"]
    with sessions.begin() as session:
        ids = list(session.scalars(select(Customer.id)))
    for n in range(50):  # 50 marketing rows queued earlier
        queued_at = START - timedelta(minutes=5)
        send_to_one(sessions, promo, ids[n % len(ids)], {}, queued_at, idempotency_key=f"p{n}")
    who = _customer(sessions, "c7@example.com")
    first = send_to_one(sessions, campaigns["order_notice"], who, {"order_no": "SO-1042"}, START,
                        idempotency_key="order-1042")
    again = send_to_one(sessions, campaigns["order_notice"], who, {"order_no": "SO-9999"}, START,
                        idempotency_key="order-1042")
    assert again == first  # the same call twice: one message, the first call's data
    one_line = settings.model_copy(update={"smtp": settings.smtp.model_copy(update={"concurrency": 1})})
    _send(one_line, sessions, clock, campaigns)  # one connection: arrival order is claim order
    subjects = [str(m["Subject"]) for m in smtp_server.handler.messages]
    assert subjects[0] == "Order SO-1042 confirmed"
    assert subjects.count("Order SO-1042 confirmed") == 1 and len(subjects) == 51
    # a template naming data the call did not give fails the row, at send
    missing = send_to_one(sessions, campaigns["order_notice"], who, {}, START)
    _send(settings, sessions, clock, campaigns)
    with sessions() as session:
        row = session.get(OutboxMessage, missing)
        assert row is not None and row.state == "failed" and "order_no" in (row.last_reply or "")


def _profile(sessions: sessionmaker[Session], customer_id: int) -> dict[str, Any]:
    with sessions() as session:
        profile = session.get(CustomerProfile, customer_id)
        assert profile is not None
        values = {c.name: getattr(profile, c.name) for c in CustomerProfile.__table__.columns}
    return {k: v for k, v in values.items() if k != "computed_at"}


def _same(left: dict[str, Any], right: dict[str, Any]) -> None:
    assert left.keys() == right.keys()
    for key, value in left.items():
        other = right[key]
        if isinstance(value, float) and isinstance(other, float):
            both_nan = math.isnan(value) and math.isnan(other)
            assert both_nan or math.isclose(value, other, rel_tol=1e-9, abs_tol=1e-9), key
        else:
            assert value == other, key


def test_an_incremental_refresh_equals_a_full_recompute_for_the_customer(
    tmp_path: Path, any_sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings, _ = _world(tmp_path, any_sessions, smtp_server)
    who = _customer(any_sessions, "c8@example.com")
    later = FixedClock(START + timedelta(days=3))
    _order(any_sessions, who, START + timedelta(days=2), "O-8-new")
    recompute_profiles(any_sessions, settings.classification, later)  # the population with the order
    full = _profile(any_sessions, who)
    assert refresh_customer(any_sessions, who, settings.classification, later)
    _same(_profile(any_sessions, who), full)
    assert not refresh_customer(any_sessions, 10**9, settings.classification, later)


def test_a_refresh_sees_a_new_order_at_once_with_the_stored_population_figures(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings, _ = _world(tmp_path, sessions, smtp_server)
    who = _customer(sessions, "c1@example.com")
    before = _profile(sessions, who)
    _order(sessions, who, START + timedelta(hours=1), "O-1-new")
    assert refresh_customer(sessions, who, settings.classification, FixedClock(START + timedelta(hours=2)))
    after = _profile(sessions, who)
    assert after["order_count"] == before["order_count"] + 1
    assert after["last_order_at"] > before["last_order_at"]


def test_an_event_posted_over_http_is_mailed_and_an_order_posted_over_http_cancels_the_next(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    """The whole path as the shop meets it: `POST /v1/events` and `/v1/orders` to a live `edm serve`,
    the daemon's `react` step, the sender, the relay."""
    import httpx

    from edm.api import create_api_app
    from edm.api.auth import create_key
    from edm.tracking import serve_in_background

    settings, campaigns = _world(tmp_path, sessions, smtp_server)
    clock = FixedClock(START)
    key = create_key(sessions, "shop", ["events:write", "orders:write"], START)
    cursor = current_cursor(sessions)
    event = {"customer": "C3", "name": "quote_requested", "properties": {"channel": "web"},
             "occurred_at": START.isoformat()}
    with serve_in_background(create_api_app(sessions, settings, clock)) as url, httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as shop:
        for _ in range(2):  # a retry of the same call: one event
            assert shop.post("/v1/events", json=event, headers={"Idempotency-Key": "q-1"}).is_success
        cursor, _ = react_to_new(sessions, settings, clock, cursor, campaigns.values())
        clock.advance(timedelta(hours=2, minutes=1))  # the campaign's delay
        _send(settings, sessions, clock, campaigns)
        assert [m["To"].addresses[0].addr_spec for m in smtp_server.handler.messages] == ["c3@example.com"]

        later = {**event, "customer": "C4", "occurred_at": clock.now().isoformat()}
        assert shop.post("/v1/events", json=later, headers={"Idempotency-Key": "q-2"}).is_success
        cursor, _ = react_to_new(sessions, settings, clock, cursor, campaigns.values())
        order = {"external_id": "SO-77", "customer_external_id": "C4", "ordered_at": clock.now().isoformat(),
                 "amount": "250.00"}
        assert shop.post("/v1/orders", json=order).is_success, "the quote turned into an order"
        clock.advance(timedelta(hours=2, minutes=1))
        _send(settings, sessions, clock, campaigns)
    assert len(smtp_server.handler.messages) == 1  # C4 ordered within the unless window: no mail
