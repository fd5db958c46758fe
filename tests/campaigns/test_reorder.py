"""The reorder trigger: days before each customer's expected next order, once per expected order;
and the shipped reorder reminder in three languages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.keys import outbox_key
from edm.campaigns.loader import load_campaign
from edm.campaigns.planner import plan_campaign
from edm.campaigns.schema import Campaign
from edm.config import EngagementSettings
from edm.delivery.compose import ProfileView
from edm.render import Renderer
from edm.resources import bundled_config_dir
from edm.store import Customer, CustomerProfile, OutboxMessage
from tests.test_render import make_context

RULES = EngagementSettings()
NOW = datetime(2027, 5, 10, 9, tzinfo=UTC)
REMINDER = Campaign.model_validate({
    "name": "restock", "template": "reorder_reminder", "subject": {"en": "Restock?"},
    "respect_frequency": False, "reorder": {"days_before": 3},
})
# customer -> (days from NOW to their expected next order, their interval)
EXPECTED = {"in_2_days": 2.5, "today": 0.2, "in_3_days": 3.0, "in_5_days": 5.0, "late": -4.0}


@pytest.fixture
def sessions(any_sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with any_sessions.begin() as session:
        for name, days in EXPECTED.items():
            customer = Customer(external_id=name, name=name, email=f"{name}@example.com", kind="person",
                                locale="en", timezone="UTC", created_at=NOW - timedelta(days=900))
            session.add(customer)
            session.flush()
            last = NOW + timedelta(days=days) - timedelta(days=30)
            session.add(CustomerProfile(
                customer_id=customer.id, value_tier="medium", lifecycle_stage="mature", order_count=20,
                revenue=Decimal("2000"), computed_at=NOW, last_order_at=last, expected_interval_days=30.0,
                next_order_expected_at=NOW + timedelta(days=days)))
        never = Customer(external_id="never", name="never", email="never@example.com", kind="person",
                         locale="en", timezone="UTC", created_at=NOW)
        session.add(never)
        session.flush()
        session.add(CustomerProfile(customer_id=never.id, value_tier="low", lifecycle_stage="prospect",
                                    order_count=0, revenue=Decimal("0"), computed_at=NOW))
    return any_sessions


def _plan(sessions: sessionmaker[Session], now: datetime) -> list[tuple[str, date]]:
    plan_campaign(sessions, REMINDER, occurrence=now.date(), now=now, rules=RULES)
    with sessions() as session:
        query = (select(Customer.external_id, OutboxMessage.occurrence)
                 .join(OutboxMessage, OutboxMessage.customer_id == Customer.id).order_by(OutboxMessage.id))
        return [tuple(row) for row in session.execute(query)]  # type: ignore[misc]


def test_customers_within_the_days_before_their_expected_order_get_one_reminder(
    sessions: sessionmaker[Session],
) -> None:
    planned = _plan(sessions, NOW)
    assert [name for name, _ in planned] == ["in_2_days", "today", "in_3_days"]
    # each belongs to the expected order it reminds of
    assert dict(planned)["in_2_days"] == (NOW + timedelta(days=2.5)).date()
    assert _plan(sessions, NOW + timedelta(days=1)) == planned  # once per expected order
    assert [name for name, _ in _plan(sessions, NOW + timedelta(days=2))] == [
        "in_2_days", "today", "in_3_days", "in_5_days"]  # its day came closer


def test_an_order_brings_a_new_expected_date_and_a_new_reminder(sessions: sessionmaker[Session]) -> None:
    _plan(sessions, NOW)
    later = NOW + timedelta(days=28)
    with sessions.begin() as session:  # they ordered on their day; the next is expected 30 days on
        session.execute(update(CustomerProfile)
                        .where(CustomerProfile.customer_id == select(Customer.id)
                               .where(Customer.external_id == "in_2_days").scalar_subquery())
                        .values(last_order_at=NOW + timedelta(days=2.5),
                                next_order_expected_at=NOW + timedelta(days=30)))
    again = [(name, day) for name, day in _plan(sessions, later) if name == "in_2_days"]
    expected_days = [(NOW + timedelta(days=2.5)).date(), (NOW + timedelta(days=30)).date()]
    assert [day for _, day in again] == expected_days
    with sessions() as session:
        keys = set(session.scalars(select(OutboxMessage.key)))
    assert outbox_key("restock", 0, 1, (NOW + timedelta(days=30)).date()) in keys


def test_reorder_is_one_trigger_among_the_others() -> None:
    with pytest.raises(ValidationError, match="give one trigger"):
        Campaign.model_validate({**REMINDER.model_dump(exclude_defaults=True),
                                 "after_order": {"days": 3}})
    with pytest.raises(ValidationError, match="days_before"):
        Campaign.model_validate({**REMINDER.model_dump(exclude_defaults=True),
                                 "reorder": {"days_before": -1}})


@pytest.mark.parametrize(("locale", "phrases", "button"), [
    ("en-US", ["about every 28 days", "Friday, 14 May 2027"], "Reorder now"),
    ("zh-CN", ["每 28 天左右", "2027年5月14日（星期五）"], "一键再次订购"),
    ("zh-TW", ["每 28 天左右", "2027年5月14日（星期五）"], "一鍵再次訂購"),
])
def test_the_shipped_reminder_says_their_rhythm_and_date_in_their_language(
    locale: str, phrases: list[str], button: str
) -> None:
    campaign = load_campaign(bundled_config_dir() / "campaigns" / "reorder_reminder.yaml").campaign
    assert campaign.reorder is not None and campaign.reorder.days_before == 3
    assert campaign.audience.purchase_frequency == ["high", "medium"]
    renderer = Renderer()
    profile = ProfileView("medium", "mature", 12, 25, usual_interval_days=28,
                          next_order_expected_on=date(2027, 5, 14))
    context = make_context(profile=profile, link=lambda name: f"https://t.example/{name}")
    rendered = renderer.render("reorder_reminder", locale, context)
    for phrase in phrases:
        assert phrase in rendered.html and phrase in rendered.text, (locale, phrase)
    assert button in rendered.html
    assert "https://t.example/reorder" in rendered.html and "https://t.example/catalog" in rendered.text
