"""Campaigns on entering a class (once per entry, while still in it) and on inactivity (once per silence)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.planner import plan_campaign
from edm.campaigns.schema import Campaign
from edm.config import EngagementSettings
from edm.store import Customer, CustomerProfile, OutboxMessage, ProfileTransition

RULES = EngagementSettings()
NOW = datetime(2027, 5, 10, 9, tzinfo=UTC)
AT_RISK = Campaign.model_validate({
    "name": "we_miss_you", "template": "re_engagement", "kind": "transactional", "subject": {"en": "Hi"},
    "entered": {"dimension": "lifecycle_stage", "into": "at_risk", "within_days": 7},
})


def _customer(session: Session, name: str, stage: str) -> int:
    customer = Customer(external_id=name, name=name, email=f"{name}@example.com", kind="person",
                        locale="en", timezone="UTC", created_at=NOW - timedelta(days=900))
    session.add(customer)
    session.flush()
    session.add(CustomerProfile(customer_id=customer.id, value_tier="medium", lifecycle_stage=stage,
                                order_count=4, revenue=Decimal("400"), computed_at=NOW))
    return customer.id


def _move(session: Session, customer_id: int, old: str, new: str, at: datetime) -> None:
    session.add(ProfileTransition(customer_id=customer_id, dimension="lifecycle_stage", old=old, new=new,
                                  computed_at=at))
    session.execute(update(CustomerProfile).where(CustomerProfile.customer_id == customer_id)
                    .values(lifecycle_stage=new))


@pytest.fixture
def store(any_sessions: sessionmaker[Session]) -> tuple[sessionmaker[Session], dict[str, int]]:
    with any_sessions.begin() as session:
        ids = {name: _customer(session, name, stage) for name, stage in
               [("fresh", "mature"), ("old_news", "mature"), ("back_again", "mature"), ("never", "mature")]}
        _move(session, ids["fresh"], "mature", "at_risk", NOW - timedelta(days=2))
        _move(session, ids["old_news"], "mature", "at_risk", NOW - timedelta(days=30))  # outside the window
        _move(session, ids["back_again"], "mature", "at_risk", NOW - timedelta(days=3))
        _move(session, ids["back_again"], "at_risk", "growing", NOW - timedelta(days=1))  # no longer at risk
    return any_sessions, ids


def _plan(sessions: sessionmaker[Session], now: datetime) -> list[str]:
    plan_campaign(sessions, AT_RISK, occurrence=now.date(), now=now, rules=RULES)
    return _recipients(sessions)


def _recipients(sessions: sessionmaker[Session]) -> list[str]:
    """Every queued message's customer, in the order they were planned."""
    with sessions() as session:
        query = (select(Customer.external_id).join(OutboxMessage, OutboxMessage.customer_id == Customer.id)
                 .order_by(OutboxMessage.id))
        return list(session.scalars(query))


def test_an_entry_gets_one_message_and_a_later_entry_another(
    store: tuple[sessionmaker[Session], dict[str, int]],
) -> None:
    sessions, ids = store
    assert _plan(sessions, NOW) == ["fresh"]
    assert _plan(sessions, NOW + timedelta(days=1)) == ["fresh"]  # the same entry: nothing new
    assert _plan(sessions, NOW + timedelta(days=3)) == ["fresh"]
    with sessions.begin() as session:  # back to growing, then at risk again three weeks later
        _move(session, ids["fresh"], "at_risk", "growing", NOW + timedelta(days=5))
        _move(session, ids["fresh"], "growing", "at_risk", NOW + timedelta(days=21))
    assert _plan(sessions, NOW + timedelta(days=22)) == ["fresh", "fresh"]


def test_an_unknown_class_is_named_with_the_dimensions_classes() -> None:
    with pytest.raises(ValidationError, match="lifecycle_stage has no class 'at_rsik'; its classes: pros"):
        Campaign.model_validate({"name": "x", "template": "re_engagement", "subject": {"en": "Hi"},
                                 "entered": {"dimension": "lifecycle_stage", "into": ["at_rsik"]}})


QUIET = Campaign.model_validate({
    "name": "quiet", "template": "re_engagement", "kind": "transactional", "subject": {"en": "Hi"},
    "inactive": {"usual_intervals": 2},
})


def test_inactivity_fires_once_per_silence(any_sessions: sessionmaker[Session]) -> None:
    with any_sessions.begin() as session:
        quiet = _customer(session, "quiet", "mature")
        session.execute(update(CustomerProfile).where(CustomerProfile.customer_id == quiet)
                        .values(last_order_at=NOW - timedelta(days=61), expected_interval_days=30.0))
        busy = _customer(session, "busy", "mature")
        session.execute(update(CustomerProfile).where(CustomerProfile.customer_id == busy)
                        .values(last_order_at=NOW - timedelta(days=59), expected_interval_days=30.0))
        _customer(session, "never_ordered", "prospect")

    def plan(now: datetime) -> list[str]:
        plan_campaign(any_sessions, QUIET, occurrence=now.date(), now=now, rules=RULES)
        return _recipients(any_sessions)

    assert plan(NOW) == ["quiet"]  # 61 days, twice the usual 30; busy is at 59
    assert plan(NOW + timedelta(days=5)) == ["quiet", "busy"]  # the same silence: quiet gets nothing new
    with any_sessions.begin() as session:  # quiet orders again, then falls silent again
        session.execute(update(CustomerProfile).where(CustomerProfile.customer_id == quiet)
                        .values(last_order_at=NOW + timedelta(days=10)))
    assert plan(NOW + timedelta(days=40)) == ["quiet", "busy"]
    assert plan(NOW + timedelta(days=71)) == ["quiet", "busy", "quiet"]
