"""Sequences with a fake clock: steps on the right days, in order, and an exit when the customer orders."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.config import Settings, SmtpSettings
from edm.runner import run_campaigns
from edm.store import Customer, Order, OutboxMessage
from tests.conftest import SECRET_KEY, SmtpServer

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
WELCOME = """name: welcome
kind: transactional
audience: {stages: [new]}
template: re_engagement
subject: {en: "Welcome"}
links: {catalog: "https://www.example.com/c", feedback: "https://www.example.com/f"}
params: {discount: "5%"}
follow_ups:
  - {after_days: 3, subject: {en: "Day 3"}}
  - {after_days: 7, subject: {en: "Day 7"}}
  - {after_days: 15, subject: {en: "Day 15"}}
"""


def _welcome_store(
    tmp_path: Path, sessions: sessionmaker[Session], smtp: SmtpServer, *names: str
) -> Settings:
    """The welcome sequence in a campaigns folder, and new customers (first order ten days ago:
    classification, which each run refreshes, makes them new)."""
    folder = tmp_path / "campaigns"
    folder.mkdir()
    (folder / "welcome.yaml").write_text(WELCOME, encoding="utf-8")
    with sessions.begin() as session:
        for name in names:
            customer = Customer(external_id=name, name=name, email=f"{name}@example.com", kind="person",
                                locale="en", timezone="UTC", created_at=NOW)
            session.add(customer)
            session.flush()
            session.add(Order(external_id=f"first-{customer.id}", customer_id=customer.id,
                              ordered_at=NOW - timedelta(days=10), amount=Decimal("10")))
    return Settings(campaigns_dir=folder, secret_keys=(SecretStr(SECRET_KEY),),
                    smtp=SmtpSettings(host=smtp.host, port=smtp.port))


def test_a_sequence_sends_its_steps_on_their_days_and_stops_when_the_customer_orders(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings = _welcome_store(tmp_path, sessions, smtp_server, "stays", "buys")
    clock = FixedClock(NOW)

    def day(number: int) -> dict[str, list[str]]:
        """Run every day up to `number`; what each customer has received so far, in order."""
        clock.advance(NOW + timedelta(days=number) - clock.now())
        asyncio.run(run_campaigns(settings, sessions, clock, ["welcome"]))
        received: dict[str, list[str]] = {"stays@example.com": [], "buys@example.com": []}
        for message in smtp_server.handler.messages:
            received[message["To"].addresses[0].addr_spec].append(str(message["Subject"]))
        return received

    assert day(0) == {"stays@example.com": ["Welcome"], "buys@example.com": ["Welcome"]}
    assert day(2)["stays@example.com"] == ["Welcome"]  # not yet
    assert day(3)["stays@example.com"] == ["Welcome", "Day 3"]
    assert day(3)["stays@example.com"] == ["Welcome", "Day 3"]  # planned twice: nothing new
    with sessions.begin() as session:  # "buys" orders on day 5
        buyer = session.scalars(select(Customer.id).where(Customer.external_id == "buys")).one()
        session.add(Order(external_id="o1", customer_id=buyer, ordered_at=NOW + timedelta(days=5),
                          amount=Decimal("99")))
    assert day(7) == {"stays@example.com": ["Welcome", "Day 3", "Day 7"],
                      "buys@example.com": ["Welcome", "Day 3"]}
    assert day(15) == {"stays@example.com": ["Welcome", "Day 3", "Day 7", "Day 15"],
                       "buys@example.com": ["Welcome", "Day 3"]}
    with sessions() as session:
        query = select(OutboxMessage.step).where(OutboxMessage.to_address == "stays@example.com")
        assert sorted(session.scalars(query)) == [0, 1, 2, 3]  # never enrolled twice
    clock.advance(timedelta(days=1))  # "buys" left before step 2: a real run need not say so every day
    real = asyncio.run(run_campaigns(settings, sessions, clock, ["welcome"]))
    dry = asyncio.run(run_campaigns(settings, sessions, clock, ["welcome"], dry_run=True))
    assert [plan.campaign for plan in real.plans] == ["welcome"]
    assert [(plan.campaign, plan.exited) for plan in dry.plans if plan.exited] == [("welcome step 2", 1)]


def test_a_late_run_sends_one_step_at_a_time(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings = _welcome_store(tmp_path, sessions, smtp_server, "c")
    asyncio.run(run_campaigns(settings, sessions, FixedClock(NOW), ["welcome"]))
    asyncio.run(run_campaigns(settings, sessions, FixedClock(NOW + timedelta(days=12)), ["welcome"]))
    assert [str(m["Subject"]) for m in smtp_server.handler.messages] == ["Welcome", "Day 3"]
