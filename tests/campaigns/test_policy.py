"""The policy across campaigns: one marketing mail per customer per local day, priorities, send window."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.timing import next_local_day, window_opening
from edm.clock import FixedClock
from edm.config import EngagementSettings, PolicySettings, SendWindow, Settings, SmtpSettings, TierCadence
from edm.runner import run_campaigns
from edm.store import Customer, CustomerProfile, OutboxMessage
from tests.conftest import SECRET_KEY, SmtpServer

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
WINDOW = SendWindow(start=time(9), end=time(20))


def test_the_send_window_is_the_customers_own() -> None:
    assert window_opening(NOW, "Asia/Shanghai", WINDOW) == NOW  # 10:00 there: open
    # 21:00 the evening before in New York: the window opens at 09:00 their time, 14:00 UTC
    assert window_opening(NOW, "America/New_York", WINDOW) == datetime(2026, 11, 24, 14, tzinfo=UTC)
    assert window_opening(datetime(2026, 11, 24, 0, 30, tzinfo=UTC), "UTC", WINDOW) == datetime(
        2026, 11, 24, 9, tzinfo=UTC
    )
    assert next_local_day(NOW, "Asia/Shanghai") == datetime(2026, 11, 24, 16, tzinfo=UTC)  # midnight there


CAMPAIGN = """name: {name}
priority: {priority}
when_busy: {when_busy}
template: re_engagement
subject: {{en: "{name}"}}
links: {{catalog: "https://www.example.com/c", feedback: "https://www.example.com/f"}}
params: {{discount: "10%"}}
"""


def test_three_overlapping_campaigns_send_one_mail_per_customer_per_day(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    folder = tmp_path / "campaigns"
    folder.mkdir()
    for name, priority, when_busy in [("low", 1, "wait"), ("top", 5, "drop"), ("middle", 3, "drop")]:
        text = CAMPAIGN.format(name=name, priority=priority, when_busy=when_busy)
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    with sessions.begin() as session:
        for n, zone in enumerate(["Asia/Shanghai", "America/New_York", "UTC"]):
            customer = Customer(external_id=f"c{n}", name=f"C{n}", email=f"c{n}@example.com", kind="person",
                                locale="en", timezone=zone, created_at=NOW)
            session.add(customer)
            session.flush()
            session.add(CustomerProfile(customer_id=customer.id, value_tier="high", lifecycle_stage="at_risk",
                                        order_count=2, revenue=Decimal("10"), computed_at=NOW))
    settings = Settings(
        campaigns_dir=folder, secret_keys=(SecretStr(SECRET_KEY),),
        smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port),
        # an interval shorter than the 3 hours until New York's next day: the policy alone decides
        engagement=EngagementSettings(cadence={tier: TierCadence(base_days=0.1, min_days=0.1, max_days=90)
                                               for tier in ("high", "medium", "low")}),
        policy=PolicySettings(one_per_day=True),
    )
    report = asyncio.run(run_campaigns(settings, sessions, FixedClock(NOW)))
    plans = {plan.campaign: plan for plan in report.plans}
    assert list(plans) == ["top", "middle", "low"]  # highest priority first
    assert plans["top"].queued == 3 and plans["middle"].busy == 3 and plans["low"].waiting == 3
    assert sorted(str(m["Subject"]) for m in smtp_server.handler.messages) == ["top", "top", "top"]
    o = OutboxMessage
    query = select(o.campaign, o.state, o.next_attempt_at, Customer.timezone)
    with sessions() as session:
        rows = session.execute(query.join(Customer, Customer.id == o.customer_id)).all()
    waiting = {zone: at for campaign, state, at, zone in rows if campaign == "low"}
    assert {state for campaign, state, _, _ in rows if campaign == "low"} == {"queued"}
    assert waiting == {zone: next_local_day(NOW, zone) for zone in waiting}  # each at their next midnight

    again = asyncio.run(run_campaigns(settings, sessions, FixedClock(NOW + timedelta(hours=1))))
    assert sum(plan.queued for plan in again.plans) == 0  # planning again the same day adds nothing
