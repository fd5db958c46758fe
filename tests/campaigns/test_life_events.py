"""Birthdays and anniversaries fire on the customer's own day, in the customer's time zone, once a year."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.planner import plan_campaign
from edm.campaigns.schema import Campaign
from edm.config import EngagementSettings
from edm.store import Customer, CustomerProfile, OutboxMessage

RULES = EngagementSettings()
# 17:00 UTC on 10 March 2027: already 11 March in Shanghai, still 10 March in New York
NOW = datetime(2027, 3, 10, 17, 0, tzinfo=UTC)
BIRTHDAY = Campaign.model_validate({
    "name": "birthday", "template": "holiday_greeting", "kind": "transactional",
    "subject": {"en": "Happy birthday"}, "life_event": {"name": "birthday"},
})

PEOPLE = {  # name: (time zone, birthday, founded on, first order)
    "shanghai_11": ("Asia/Shanghai", date(1980, 3, 11), None, None),
    "new_york_11": ("America/New_York", date(1975, 3, 11), None, None),
    "new_york_10": ("America/New_York", date(1990, 3, 10), None, None),
    "leap_day": ("UTC", date(1996, 2, 29), None, None),
    "founded": ("Asia/Shanghai", None, date(2015, 3, 11), datetime(2020, 3, 11, 3, tzinfo=UTC)),
    "founded_this_year": ("Asia/Shanghai", None, date(2027, 3, 11), datetime(2027, 3, 11, 1, tzinfo=UTC)),
}


@pytest.fixture
def people(any_sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with any_sessions.begin() as session:
        for name, (timezone, birthday, founded, first_order) in PEOPLE.items():
            customer = Customer(external_id=name, name=name, email=f"{name}@example.com", kind="person",
                                locale="en", timezone=timezone, birthday=birthday, founded_on=founded,
                                created_at=NOW - timedelta(days=4000))
            session.add(customer)
            session.flush()
            session.add(CustomerProfile(customer_id=customer.id, value_tier="high", lifecycle_stage="mature",
                                        order_count=1, revenue=Decimal("1"), computed_at=NOW,
                                        first_order_at=first_order))
    return any_sessions


def _plan(sessions: sessionmaker[Session], campaign: Campaign, now: datetime) -> set[str]:
    """Who this planning queued a new message for."""
    before = _queued(sessions, campaign)
    plan_campaign(sessions, campaign, occurrence=now.date(), now=now, rules=RULES)
    return {name for name, key in _queued(sessions, campaign) - before}


def _queued(sessions: sessionmaker[Session], campaign: Campaign) -> set[tuple[str, str]]:
    with sessions() as session:
        query = select(Customer.external_id, OutboxMessage.key).join(
            OutboxMessage, OutboxMessage.customer_id == Customer.id
        )
        rows = session.execute(query.where(OutboxMessage.campaign == campaign.name))
        return {(name, key) for name, key in rows}


def test_a_birthday_fires_on_the_day_in_the_customers_time_zone_once(people: sessionmaker[Session]) -> None:
    assert _plan(people, BIRTHDAY, NOW) == {"shanghai_11", "new_york_10"}
    assert _plan(people, BIRTHDAY, NOW + timedelta(minutes=30)) == set()  # planned again: nothing new
    assert _plan(people, BIRTHDAY, NOW + timedelta(hours=12)) == {"new_york_11"}  # New York's 11 March
    assert _plan(people, BIRTHDAY, NOW + timedelta(days=1)) == set()  # Shanghai's 12 March: no one
    with people() as session:
        days = dict(session.execute(select(Customer.external_id, OutboxMessage.occurrence)
                                    .join(OutboxMessage, OutboxMessage.customer_id == Customer.id)).all())
    assert days == {"shanghai_11": date(2027, 3, 11), "new_york_10": date(2027, 3, 10),
                    "new_york_11": date(2027, 3, 11)}  # each on their own local day


def test_a_29_february_birthday_is_kept_on_the_28th_in_other_years(people: sessionmaker[Session]) -> None:
    assert "leap_day" in _plan(people, BIRTHDAY, datetime(2027, 2, 28, 12, tzinfo=UTC))
    assert "leap_day" in _plan(people, BIRTHDAY, datetime(2028, 2, 29, 12, tzinfo=UTC))  # leap year: the 29th
    assert "leap_day" not in _plan(people, BIRTHDAY, datetime(2028, 2, 28, 12, tzinfo=UTC))


@pytest.mark.parametrize("event", ["founding_anniversary", "first_order_anniversary"])
def test_anniversaries_start_with_the_first_full_year(people: sessionmaker[Session], event: str) -> None:
    campaign = Campaign.model_validate({**BIRTHDAY.model_dump(by_alias=True, exclude_none=True),
                                        "name": event, "life_event": {"name": event}})
    assert _plan(people, campaign, NOW) == {"founded"}  # 11 March in Shanghai; not the one founded today


def test_days_before_sends_ahead(people: sessionmaker[Session]) -> None:
    early = Campaign.model_validate({**BIRTHDAY.model_dump(by_alias=True, exclude_none=True), "name": "early",
                                     "life_event": {"name": "birthday", "days_before": 1}})
    assert _plan(people, early, NOW) == {"new_york_11"}  # 10 March in New York: the 11th is tomorrow
