"""Acceptance: a holiday campaign under the daemon sends at 09:00 local for customers in Asia/Shanghai and
America/Los_Angeles (fake clock, real planner).

The shipped `spring_festival.yaml` (three days before the festival: 3 February 2027), customers
imported from a CSV by the real importer, the daemon's planning job (`plan_due`) and the real
sender against a real SMTP server (aiosmtpd), on SQLite and PostgreSQL. The fake clock moves
hour by hour from 1 to 4 February (UTC), and each hour the daemon plans and the workers send:
each customer's greeting must arrive in the hour of 09:00 on 3 February in their own zone,
never before, once; and never to a customer whose country does not keep the festival.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.loader import load_campaigns
from edm.clock import FixedClock
from edm.config import ClassificationSettings, PolicySettings, SendWindow, Settings, SmtpSettings
from edm.customers import import_customers
from edm.daemon.jobs import plan_due
from edm.resources import bundled_config_dir
from edm.runner import send_pending
from edm.store import ClassificationRun, Customer, CustomerProfile, OutboxMessage
from tests.conftest import SECRET_KEY, SmtpServer

START = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)
CUSTOMERS = """\
external_id,name,kind,email,locale,timezone,country
SH,王芳,person,wang@example.com,zh-CN,Asia/Shanghai,
LA,Lee Trading,company,lee@example.com,en-US,America/Los_Angeles,tw
AK,陈明,person,chen@example.com,zh-CN,Pacific/Auckland,
UT,Una Known,person,una@example.com,en,UTC,
NY,New York Supply,company,ny@example.com,en-US,America/New_York,
DE,Berlin Armaturen,company,de@example.com,de-DE,Europe/Berlin,
"""
# 09:00 on 3 February in each greeted customer's zone, in UTC
EXPECTED = {
    "wang@example.com": datetime(2027, 2, 3, 1, tzinfo=UTC),  # Beijing time, UTC+8
    "lee@example.com": datetime(2027, 2, 3, 17, tzinfo=UTC),  # Pacific standard time, UTC-8
    "chen@example.com": datetime(2027, 2, 2, 20, tzinfo=UTC),  # New Zealand summer time, UTC+13
    "una@example.com": datetime(2027, 2, 3, 9, tzinfo=UTC),  # country unknown: greeted
}


def _world(tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer,
           policy: PolicySettings) -> Settings:
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    shutil.copy(bundled_config_dir() / "campaigns" / "spring_festival.yaml", campaigns)
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    import_customers(sessions, tmp_path / "customers.csv", FixedClock(START - timedelta(days=400)))
    with sessions.begin() as session:
        for customer_id in session.scalars(select(Customer.id)):
            session.add(CustomerProfile(customer_id=customer_id, value_tier="high", lifecycle_stage="mature",
                                        order_count=12, revenue=Decimal("50000"), computed_at=START))
        session.add(ClassificationRun(computed_at=START, customers=6, moved=0, thresholds={},
                                      churn_model=None))
    return Settings(
        campaigns_dir=campaigns, secret_keys=(SecretStr(SECRET_KEY),), policy=policy,
        smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port, compose_processes=0),
        classification=ClassificationSettings(max_age_hours=24 * 365),  # the profiles above stay as set
    )


def _run_the_daemon_hour_by_hour(settings: Settings, sessions: sessionmaker[Session],
                                 smtp_server: SmtpServer, hours: int) -> dict[str, list[datetime]]:
    """Each hour: the daemon's plan job, then the workers send what is due. Returns arrivals by address."""
    clock = FixedClock(START)
    campaigns = {name: loaded.campaign for name, loaded in load_campaigns(settings.campaigns_dir).items()}
    arrived: dict[str, list[datetime]] = {}
    for _ in range(hours):
        plan_due(settings, sessions, clock)
        seen = len(smtp_server.handler.messages)
        asyncio.run(send_pending(settings, sessions, clock, campaigns))
        for message in smtp_server.handler.messages[seen:]:
            arrived.setdefault(str(message["To"]).rsplit("<", 1)[-1].strip(">"), []).append(clock.now())
        clock.advance(timedelta(hours=1))
    return arrived


def test_a_holiday_campaign_sends_at_9_local_in_shanghai_and_los_angeles(
    tmp_path: Path, any_sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    settings = _world(tmp_path, any_sessions, smtp_server, PolicySettings())
    arrived = _run_the_daemon_hour_by_hour(settings, any_sessions, smtp_server, hours=72)
    assert arrived == {address: [at] for address, at in EXPECTED.items()}  # once each, in that hour
    # New York (US) and Berlin (DE) do not keep the Spring Festival (only_where_observed, the default)
    with any_sessions() as session:
        rows = session.execute(select(OutboxMessage.to_address, OutboxMessage.occurrence,
                                      OutboxMessage.next_attempt_at, OutboxMessage.sent_at)).all()
    assert {row.to_address for row in rows} == set(EXPECTED)
    assert {row.occurrence.isoformat() for row in rows} == {"2027-02-03"}  # one occurrence: idempotent
    assert {row.to_address: _utc(row.sent_at) for row in rows} == EXPECTED
    greeting = next(m for m in smtp_server.handler.messages if "wang@example.com" in str(m["To"]))
    assert "新春快乐" in str(greeting["Subject"])


def test_the_send_window_and_one_mail_a_day_hold_for_the_day_it_goes_out(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    """A window opening at 10:00 moves each greeting to 10:00 local on the same day, not earlier."""
    window = PolicySettings(one_per_day=True, send_window=SendWindow.model_validate({"start": "10:00",
                                                                                       "end": "20:00"}))
    settings = _world(tmp_path, sessions, smtp_server, window)
    arrived = _run_the_daemon_hour_by_hour(settings, sessions, smtp_server, hours=72)
    assert arrived == {address: [at + timedelta(hours=1)] for address, at in EXPECTED.items()}


@pytest.mark.parametrize("late_hours", [3, 20])
def test_a_daemon_that_starts_late_sends_at_once_on_the_day_and_never_the_day_after(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer, late_hours: int
) -> None:
    """Down until 3 February 04:00 UTC: past 09:00 on the 3rd in Shanghai and Auckland (at once), not yet
    in UTC (09:00), not yet the 3rd in Los Angeles (planned when it is). Or until 21:00 UTC: the 3rd is
    over in Shanghai and Auckland (no late greeting), 13:00 in Los Angeles and 21:00 in UTC (at once)."""
    settings = _world(tmp_path, sessions, smtp_server, PolicySettings())
    clock = FixedClock(datetime(2027, 2, 3, 1, tzinfo=UTC) + timedelta(hours=late_hours))
    now = clock.now()
    plan_due(settings, sessions, clock)
    with sessions() as session:
        queued = dict(session.execute(select(OutboxMessage.to_address, OutboxMessage.next_attempt_at)).all())
    at = {address: _utc(moment) for address, moment in queued.items()}
    if late_hours == 3:
        assert at == {"wang@example.com": now, "chen@example.com": now,
                      "una@example.com": EXPECTED["una@example.com"]}
    else:
        assert at == {"lee@example.com": now, "una@example.com": now}


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
