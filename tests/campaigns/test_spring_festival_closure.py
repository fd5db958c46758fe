"""The shipped Spring Festival closure notice: it validates, fires 25 days before the festival at 09:00 in
each customer's zone to everyone who ordered in the last year, and says the right dates in every language,
every year, without editing (the festival of 2027 is on Saturday 6 February)."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.loader import load_campaign
from edm.campaigns.planner import plan_campaign
from edm.campaigns.schema import Campaign
from edm.campaigns.triggers import due_on, next_due, occasion, timing_for
from edm.cli import main
from edm.clock import FixedClock
from edm.config import EngagementSettings, SenderSettings, Settings, SmtpSettings
from edm.delivery.compose import Composer
from edm.render import Renderer
from edm.resources import bundled_config_dir
from edm.runner import send_pending
from edm.store import Customer, CustomerProfile, OutboxMessage
from edm.tracking import TrackingLinks
from tests.conftest import SECRET_KEY, SmtpServer

FILE = bundled_config_dir() / "campaigns" / "spring_festival_closure.yaml"
SENT_ON = date(2027, 1, 12)  # 25 days before 6 February 2027
# (subject, lines of the text part) with the 2027 dates, by the customer's locale
EXPECTED = {
    "en-GB": ("Spring Festival 2027: last shipment 27 January 2027, "
              "closed 4 February 2027 to 13 February 2027",
              ["falls on Saturday, 6 February 2027",
               "Last shipment before the holiday: Wednesday, 27 January 2027",
               "Office closed: Thursday, 4 February 2027 to Saturday, 13 February 2027",
               "Back at work: Sunday, 14 February 2027"]),
    "zh-CN": ("2027年春节放假通知：节前最后发货日2027年1月27日",
              ["今年春节是2027年2月6日（星期六）",
               "节前最后发货日：2027年1月27日（星期三）",
               "放假时间：2027年2月4日（星期四）至2027年2月13日（星期六）",
               "恢复上班：2027年2月14日（星期日）"]),
    "zh-TW": ("2027年春節放假通知：節前最後出貨日2027年1月27日",
              ["今年春節是2027年2月6日（星期六）",
               "節前最後出貨日：2027年1月27日（星期三）",
               "放假時間：2027年2月4日（星期四）至2027年2月13日（星期六）",
               "恢復上班：2027年2月14日（星期日）"]),
}


@pytest.fixture(scope="module")
def closure() -> Campaign:
    return load_campaign(FILE).campaign


def test_the_file_validates(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["campaign", "validate", str(FILE)], catch_exceptions=False)
    assert result.exit_code == 0 and f"{FILE}: ok (spring_festival_closure)" in result.output


def test_it_is_service_mail_for_everyone_who_ordered_in_the_last_year(closure: Campaign) -> None:
    assert closure.kind == "service" and not closure.bulk
    assert closure.audience.days_since_last_order is not None
    assert closure.audience.days_since_last_order.at_most == 365
    assert closure.holiday is not None and not closure.holiday.only_where_observed
    around = (SENT_ON + timedelta(days=n) for n in range(-40, 40))
    assert [day for day in around if due_on(closure, day)] == [SENT_ON]
    assert next_due(closure, SENT_ON) == date(2028, 1, 1)  # the festival of 26 January 2028, 25 days ahead


def _message(closure: Campaign, locale: str, occurrence: date = SENT_ON) -> tuple[str, str, str]:
    composer = Composer(Renderer(), TrackingLinks("https://t.example", [b"k" * 32]),
                        SenderSettings(from_address="Acme <care@acme.example>"))
    row = OutboxMessage(id=1, key="k" * 64, campaign=closure.name, step=0, customer_id=7,
                        occurrence=occurrence, to_address="buyer@example.com", variant=None)
    customer = Customer(id=7, external_id="C7", name="Acme Trading", contact_name="Alice Wang",
                        email="buyer@example.com", kind="company", locale=locale, timezone="Asia/Shanghai")
    profile = CustomerProfile(customer_id=7, value_tier="medium", lifecycle_stage="mature", order_count=5,
                              last_order_at=datetime(2026, 11, 1, tzinfo=UTC))
    composed = composer.compose(row, customer, profile, closure, datetime(2027, 1, 12, 1, tzinfo=UTC))
    message = message_from_bytes(composed.data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    text, html = (message.get_body((kind,)) for kind in ("plain", "html"))
    assert text is not None and html is not None
    return composed.subject, text.get_content(), html.get_content()


@pytest.mark.parametrize("locale", sorted(EXPECTED))
def test_it_renders_the_2027_dates_in_each_language(closure: Campaign, locale: str) -> None:
    subject, text, html = _message(closure, locale)
    expected_subject, lines = EXPECTED[locale]
    assert subject == expected_subject
    for line in lines:
        assert line in text, (line, text)
    assert "Acme Trading" in text  # regards to the company
    assert "2027" in html and "{{" not in html


def test_the_dates_follow_the_festival_every_year(closure: Campaign) -> None:
    """1 January 2028 is 25 days before the festival of 2028 (26 January): no file was edited. A run by
    hand a week early, or late, still names the coming festival."""
    subject, text, _ = _message(closure, "en-GB", date(2028, 1, 1))
    assert subject.startswith("Spring Festival 2028: last shipment 16 January 2028, closed 24 January 2028")
    assert "falls on Wednesday, 26 January 2028" in text
    for by_hand in (date(2027, 1, 5), date(2027, 1, 20)):
        assert "falls on Saturday, 6 February 2027" in _message(closure, "en-GB", by_hand)[1]


def _customer(session: Session, name: str, timezone: str, locale: str, last_order_days: int) -> None:
    customer = Customer(external_id=name, name=name, email=f"{name}@example.com", kind="company",
                        locale=locale, timezone=timezone, created_at=datetime(2020, 1, 1, tzinfo=UTC))
    session.add(customer)
    session.flush()
    session.add(CustomerProfile(
        customer_id=customer.id, value_tier="low", lifecycle_stage="mature", order_count=3,
        revenue=Decimal("10"), computed_at=datetime(2027, 1, 1, tzinfo=UTC), contact_interval_days=30,
        last_order_at=datetime(2027, 1, 11, tzinfo=UTC) - timedelta(days=last_order_days)))


def test_it_goes_at_9_local_to_recent_buyers_anywhere_over_smtp(
    tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer, closure: Campaign
) -> None:
    with sessions.begin() as session:
        _customer(session, "shanghai", "Asia/Shanghai", "zh-CN", 20)
        _customer(session, "berlin", "Europe/Berlin", "de-DE", 300)  # Germany keeps no Spring Festival: told
        _customer(session, "lapsed", "Asia/Shanghai", "zh-CN", 400)  # no order in the last year
    now = datetime(2027, 1, 11, 16, 30, tzinfo=UTC)  # 00:30 on the 12th in Shanghai
    due = occasion(closure, now)
    assert due == SENT_ON
    result = plan_campaign(sessions, closure, occurrence=due, now=now, rules=EngagementSettings(),
                           timing=timing_for(closure, now, due=True))
    assert (result.audience, result.queued) == (1, 1)  # Berlin's 12th has not begun
    later = now + timedelta(hours=8)  # 01:30 in Berlin on the 12th
    plan_campaign(sessions, closure, occurrence=due, now=later, rules=EngagementSettings(),
                  timing=timing_for(closure, later, due=True))
    with sessions() as session:
        queued = dict(session.execute(select(OutboxMessage.to_address, OutboxMessage.next_attempt_at)).all())
    assert {a: t.replace(tzinfo=UTC) if t.tzinfo is None else t for a, t in queued.items()} == {
        "shanghai@example.com": datetime(2027, 1, 12, 1, tzinfo=UTC),
        "berlin@example.com": datetime(2027, 1, 12, 8, tzinfo=UTC),
    }
    campaigns_dir = tmp_path / "campaigns"
    campaigns_dir.mkdir()
    shutil.copy(FILE, campaigns_dir)
    settings = Settings(campaigns_dir=campaigns_dir, secret_keys=(SecretStr(SECRET_KEY),),
                        smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port, compose_processes=0))
    clock = FixedClock(datetime(2027, 1, 12, 1, tzinfo=UTC))
    asyncio.run(send_pending(settings, sessions, clock, {closure.name: closure}))
    [message] = smtp_server.handler.messages  # Shanghai's 09:00; Berlin's is still to come
    assert "shanghai@example.com" in str(message["To"])
    body = message.get_body(("plain",))
    assert body is not None and "节前最后发货日：2027年1月27日（星期三）" in body.get_content()
