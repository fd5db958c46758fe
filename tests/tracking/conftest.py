"""The tracking tests' world: a customer with a mail sent an hour ago, and the server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.store import Customer, Event, OutboxMessage, Suppression
from edm.tracking import TrackingLinks, create_tracking_app, serve_in_background
from tests.conftest import OLD_SECRET_KEY, SECRET_KEY

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
SENT = NOW - timedelta(hours=1)  # long enough ago that an open now is a person's, not a scanner's
KEY, OLD_KEY = SECRET_KEY.encode(), OLD_SECRET_KEY.encode()
SHOP = "https://shop.example.com/spring?utm_source=edm&x=1#top"


@dataclass(frozen=True)
class Mail:
    customer_id: int
    outbox_id: int


def add_mail(
    sessions: sessionmaker[Session],
    email: str = "wang@example.com",
    *,
    locale: str = "en",
    sent_at: datetime | None = SENT,
) -> Mail:
    with sessions.begin() as session:
        customer = Customer(external_id=email, name="王芳", email=email, kind="person", locale=locale,
                            created_at=NOW)
        session.add(customer)
        session.flush()
        outbox = OutboxMessage(
            key=f"win_back:0:{customer.id}", campaign="win_back", step=0,
            customer_id=customer.id, occurrence=date(2026, 11, 24), to_address=email,
            state="sent", attempts=1, next_attempt_at=SENT, created_at=SENT, sent_at=sent_at,
        )
        session.add(outbox)
        session.flush()
        return Mail(customer.id, outbox.id)


def stored_events(sessions: sessionmaker[Session]) -> list[Event]:
    with sessions() as session:
        return list(session.scalars(select(Event).order_by(Event.id)))


def suppressions(sessions: sessionmaker[Session]) -> list[Suppression]:
    with sessions() as session:
        return list(session.scalars(select(Suppression)))


def customer(sessions: sessionmaker[Session], customer_id: int) -> Customer:
    with sessions() as session:
        found = session.get(Customer, customer_id)
        assert found is not None
        return found


@pytest.fixture
def mail(sessions: sessionmaker[Session]) -> Mail:
    return add_mail(sessions)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def base_url(sessions: sessionmaker[Session], clock: FixedClock) -> Iterator[str]:
    app = create_tracking_app(sessions, [KEY, OLD_KEY], clock)
    with serve_in_background(app) as url:
        yield url


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(follow_redirects=False, timeout=30) as client:
        yield client


@pytest.fixture
def links(base_url: str) -> TrackingLinks:
    return TrackingLinks(base_url, [KEY, OLD_KEY])
