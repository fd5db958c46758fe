"""The whole product path against real parts: CSV import, classification, the bundled
campaigns, a real SMTP server (aiosmtpd), the tracking app served by uvicorn over HTTP."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.config import EngagementSettings, Settings, SmtpSettings, TierCadence, TrackingSettings
from edm.customers import import_customers, import_orders, recompute_profiles
from edm.resources import bundled_config_dir
from edm.runner import RunReport, run_campaigns
from edm.store import CampaignRecord, Customer, CustomerProfile, Event, Order, OutboxMessage, Suppression
from edm.tracking import create_tracking_app, serve_in_background
from tests.conftest import SECRET_KEY, SmtpServer

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Tuesday
ALL = ["holiday_greeting", "re_engagement", "win_back"]

CUSTOMERS = """\
external_id,name,kind,contact_name,email,locale,timezone,industry,birthday,founded_on
A,Alpha Valves Ltd,company,Alice Archer,alice@alpha.example.com,en-GB,Europe/London,manufacturing,,1998-03-01
B,王芳,person,,wang.fang@example.com,zh-CN,Asia/Shanghai,,1985-06-01,
C,Carol Small,person,,carol@example.net,en-US,America/New_York,,1990-01-01,
D,Delta Trading Co,company,David Dunn,david@delta.example.com,en-US,America/Chicago,trade,,2005-01-01
E,Eve Quiet,person,,eve@example.org,en-AU,Australia/Sydney,,1979-02-02,
F,Foxtrot Pumps,company,Frank Fox,frank@foxtrot.example.com,en-GB,Europe/London,manufacturing,,1990-05-05
G,宁波恒达阀门有限公司,company,郭强,guo.qiang@example.com,zh-CN,Asia/Shanghai,manufacturing,,2001-08-08
H,Henry Prospect,person,,henry@example.com,en-US,America/New_York,,1995-09-09,
"""


def _orders() -> str:
    """Monthly orders for the active customers; old ones for the at-risk and churned."""
    lines = ["external_id,customer_external_id,ordered_at,amount,product_line"]
    plan = {  # customer: (first order days ago, last order days ago, amount)
        "A": (720, 10, "9000.00"), "B": (700, 20, "3000.00"), "C": (600, 15, "12.00"),
        "D": (800, 80, "8000.00"), "E": (500, 75, "40.00"),  # monthly buyers, 2.5x late: at risk
        "F": (1000, 500, "7000.00"), "G": (900, 420, "5000.00"),
    }
    number = 0
    for customer, (first, last, amount) in plan.items():
        for days_ago in range(first, last - 1, -30):
            number += 1
            lines.append(f"O{number:05d},{customer},{TODAY - timedelta(days=days_ago)},{amount},valves")
    return "\n".join(lines) + "\n"


@dataclass
class World:
    settings: Settings
    sessions: sessionmaker[Session]
    clock: FixedClock
    smtp: SmtpServer
    base_url: str

    def run(self, *names: str) -> RunReport:
        """Run the named campaigns, or all of them (due or not) when none is named."""
        return asyncio.run(run_campaigns(self.settings, self.sessions, self.clock, list(names) or ALL))

    def inbox(self, email: str) -> list[EmailMessage]:
        return self.smtp.handler.to(email)

    def events(self, kind: str) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).where(Event.kind == kind)) or 0


@pytest.fixture
def world(tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer) -> Iterator[World]:
    clock = FixedClock(NOW)
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "orders.csv").write_text(_orders(), encoding="utf-8")
    import_customers(sessions, tmp_path / "customers.csv", clock)
    import_orders(sessions, tmp_path / "orders.csv")
    base = Settings(campaigns_dir=bundled_config_dir() / "campaigns", secret_keys=(SecretStr(SECRET_KEY),))
    recompute_profiles(sessions, base.classification, clock)
    app = create_tracking_app(sessions, base.signing_keys(), clock)
    with serve_in_background(app) as base_url:
        settings = base.model_copy(update={
            "smtp": SmtpSettings(host=smtp_server.host, port=smtp_server.port),
            "tracking": TrackingSettings(base_url=base_url),
        })
        yield World(settings, sessions, clock, smtp_server, base_url)


def _profiles(sessions: sessionmaker[Session]) -> dict[str, tuple[str, str]]:
    with sessions() as session:
        rows = session.execute(
            select(Customer.external_id, CustomerProfile.value_tier, CustomerProfile.lifecycle_stage)
            .join(CustomerProfile, CustomerProfile.customer_id == Customer.id)
        )
        return {external_id: (tier, stage) for external_id, tier, stage in rows}


def _html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_the_right_customers_get_one_personal_multipart_message_each(world: World) -> None:
    profiles = _profiles(world.sessions)
    assert profiles["D"][1] == "at_risk" and profiles["E"][1] == "at_risk"
    assert profiles["F"][1] == "churned" and profiles["G"][1] == "churned"
    assert profiles["C"] == ("low", "mature") and profiles["H"][1] == "prospect"
    assert profiles["A"][0] == "high"

    report = world.run()
    assert report.delivery is not None and report.delivery.sent == len(world.smtp.handler.messages)
    with world.sessions() as session:
        recorded = dict(session.execute(select(CampaignRecord.name, CampaignRecord.definition)).all())
    assert set(recorded) == {"holiday_greeting", "re_engagement", "win_back"}
    assert recorded["win_back"]["audience"]["stages"] == ["churned"]

    expected = {
        "re_engagement": {"david@delta.example.com": "David Dunn", "eve@example.org": "Eve Quiet"},
        "win_back": {"frank@foxtrot.example.com": "Frank Fox", "guo.qiang@example.com": "郭强"},
    }
    for recipients in expected.values():
        for email, greeting_name in recipients.items():
            [message] = world.inbox(email)
            assert message.get_content_type() == "multipart/alternative"
            assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
            assert greeting_name in _text(message) and greeting_name in str(message["Subject"])
    assert "我们想念您" in str(world.inbox("guo.qiang@example.com")[0]["Subject"])

    # Holiday greeting: high and medium value, active stages only; the low-value and the prospect get nothing.
    greeted = {email for email, (tier, stage) in
               {e: profiles[x] for x, e in [("A", "alice@alpha.example.com"), ("B", "wang.fang@example.com")]}
               .items() if tier in ("high", "medium")}
    assert "alice@alpha.example.com" in greeted
    for email in greeted:
        assert len(world.inbox(email)) == 1
    assert world.inbox("carol@example.net") == []
    assert world.inbox("henry@example.com") == []
    total_expected = 4 + len(greeted)
    assert len(world.smtp.handler.messages) == total_expected


def test_second_run_the_same_day_sends_nothing(world: World) -> None:
    world.run()
    first = len(world.smtp.handler.messages)
    again = world.run()
    assert len(world.smtp.handler.messages) == first
    assert sum(plan.queued for plan in again.plans) == 0
    assert sum(plan.already_planned for plan in again.plans) == first


def test_pixel_records_an_open_and_clicks_go_only_to_the_sealed_url(world: World) -> None:
    world.run("win_back")
    html = _html(world.inbox("frank@foxtrot.example.com")[0])
    pixel = re.search(r'src="([^"]+/o/[^"]+)"', html)
    click = re.search(r'href="([^"]+/c/[^"]+)"', html)
    assert pixel and click
    with httpx.Client(follow_redirects=False) as client:
        opened = client.get(pixel.group(1))
        assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
        assert world.events("open") == 1

        clicked = client.get(click.group(1) + "?url=https://evil.example.net/")
        assert clicked.status_code == 302
        assert clicked.headers["location"] == "https://www.example.com/offers/welcome-back"
        assert world.events("click") == 1

        token_at = click.group(1).rindex("/") + 1
        token = click.group(1)[token_at:]
        flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
        forged = client.get(click.group(1)[:token_at] + flipped)
        assert forged.status_code == 404
        assert world.events("click") == 1 and world.events("open") == 1


def test_after_an_unsubscribe_no_later_run_sends_to_that_customer(world: World) -> None:
    world.run("re_engagement")
    [message] = world.inbox("eve@example.org")
    unsubscribe_url = str(message["List-Unsubscribe"]).strip("<>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    response = httpx.post(unsubscribe_url, content=b"List-Unsubscribe=One-Click",
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 200
    with world.sessions() as session:
        assert session.get(Suppression, "eve@example.org") is not None

    world.clock.advance(timedelta(days=60))
    report = world.run()
    assert len(world.inbox("eve@example.org")) == 1
    assert len(world.inbox("david@delta.example.com")) == 2  # the run did send to the others
    assert sum(plan.suppressed for plan in report.plans) >= 1


def test_unsubscribe_between_planning_and_sending_still_stops_the_mail(world: World) -> None:
    asyncio.run(run_campaigns(world.settings, world.sessions, world.clock, ["win_back"], dry_run=True))
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    world.run("win_back")
    [message] = world.inbox("frank@foxtrot.example.com")
    httpx.post(str(message["List-Unsubscribe"]).strip("<>"), content=b"List-Unsubscribe=One-Click",
               headers={"content-type": "application/x-www-form-urlencoded"})
    with world.sessions.begin() as session:  # a row planned before the unsubscribe arrived
        frank = session.scalars(select(Customer).where(Customer.external_id == "F")).one()
        row = session.scalars(select(OutboxMessage).where(OutboxMessage.customer_id == frank.id)).one()
        session.add(OutboxMessage(
            key="planned-earlier", campaign="win_back", step=0, customer_id=frank.id,
            occurrence=TODAY + timedelta(days=1), to_address=row.to_address, state="queued", attempts=0,
            next_attempt_at=NOW, created_at=NOW,
        ))
    report = world.run("win_back")
    assert len(world.inbox("frank@foxtrot.example.com")) == 1
    assert report.delivery is not None and report.delivery.suppressed == 1


def test_engaged_customers_hear_from_us_sooner_than_silent_ones(world: World) -> None:
    same_base = EngagementSettings(cadence={tier: TierCadence(base_days=14, min_days=3, max_days=90)
                                            for tier in ("high", "medium", "low")})
    world.settings = world.settings.model_copy(update={"engagement": same_base})
    world.run("re_engagement")
    html = _html(world.inbox("david@delta.example.com")[0])
    pixel = re.search(r'src="([^"]+/o/[^"]+)"', html)
    assert pixel
    world.clock.advance(timedelta(hours=2))  # a person reads later (an open within seconds is a scanner's)
    assert httpx.get(pixel.group(1)).status_code == 200  # David opens; Eve stays silent

    world.clock.advance(timedelta(days=9) - timedelta(hours=2))
    report = world.run("re_engagement")
    [plan] = report.plans
    with world.sessions() as session:
        intervals = dict(session.execute(
            select(Customer.external_id, CustomerProfile.contact_interval_days)
            .join(CustomerProfile, CustomerProfile.customer_id == Customer.id)
            .where(Customer.external_id.in_(["D", "E"]))
        ).all())
    assert intervals == {"D": 8.19, "E": 17.5}  # read 1 of 1 / 0 of 1, and 4 pseudo-mails read at 0.22
    assert len(world.inbox("david@delta.example.com")) == 2
    assert len(world.inbox("eve@example.org")) == 1
    assert plan.too_soon == 1


def test_unnamed_runs_plan_only_what_is_due_today(world: World) -> None:
    """Tuesday 24 November 2026 in Shanghai: re_engagement (Tuesdays) is due, and the
    customer-triggered campaigns (the survey follow-ups, birthday, anniversary, welcome, the post-purchase
    survey, the reorder reminder, partial_churn, win_back) every day, by priority."""
    daily = ["detractor_follow_up", "birthday", "anniversary", "welcome", "csat_post_purchase",
             "promoter_referral", "reorder_reminder", "partial_churn", "win_back"]
    report = asyncio.run(run_campaigns(world.settings, world.sessions, world.clock))
    planned = [plan.campaign for plan in report.plans]  # then the sequences' steps
    assert planned[:len(daily) + 1] == [*daily, "re_engagement"]
    world.clock.advance(timedelta(days=9))  # Thursday 3 December: no re_engagement
    report = asyncio.run(run_campaigns(world.settings, world.sessions, world.clock))
    planned = [plan.campaign for plan in report.plans]
    assert planned[:len(daily)] == daily and "re_engagement" not in planned


def test_the_win_back_sequence_reminds_twice_and_stops_for_a_customer_who_orders(world: World) -> None:
    """The shipped win_back: the note, a reminder 14 days later, a last word at 30; once per silence."""
    frank, guo = "frank@foxtrot.example.com", "guo.qiang@example.com"  # both churned
    world.run("win_back")
    assert [len(world.inbox(a)) for a in (frank, guo)] == [1, 1]
    assert "15%" in str(world.inbox(guo)[0]["Subject"])
    with world.sessions.begin() as session:
        guo_id = session.scalar(select(Customer.id).where(Customer.email == guo))
        session.add(Order(external_id="G-back", customer_id=guo_id, ordered_at=NOW + timedelta(days=3),
                          amount=Decimal("5000.00"), product_line="valves"))

    for days, frank_has in ((13, 1), (14, 2), (29, 2), (30, 3), (60, 3)):
        world.clock.advance(NOW + timedelta(days=days) - world.clock.now())
        world.run("win_back")
        assert [len(world.inbox(a)) for a in (frank, guo)] == [frank_has, 1], days
    reminder, last = world.inbox(frank)[1:]
    assert "still waiting" in str(reminder["Subject"]) and "COMEBACK15" in _text(reminder)
    assert "last note" in str(last["Subject"]) and "door stays open" in _text(last)
