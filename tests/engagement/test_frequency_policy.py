"""Engagement against a real store: what refresh derives from mails, events and orders, and how the
planner honours it (interval, pause, sunset, send time)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.planner import PlanResult, plan_campaign
from edm.campaigns.schema import Campaign
from edm.clock import FixedClock
from edm.config import EngagementSettings
from edm.engagement import refresh_engagement
from edm.store import Customer, CustomerProfile, Event, Order, OutboxMessage

NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
RULES = EngagementSettings()


def _customer(session: Session, name: str, *, tier: str = "medium", zone: str = "Asia/Shanghai",
              **fields: Any) -> int:
    # a customer for 600 days (no order recorded): within the 24-month soft opt-in (edm.consent)
    customer = Customer(external_id=name, name=name, email=f"{name}@example.com", kind="person", locale="en",
                        timezone=zone, created_at=NOW - timedelta(days=600), **fields)
    session.add(customer)
    session.flush()
    session.add(CustomerProfile(customer_id=customer.id, value_tier=tier, lifecycle_stage="mature",
                                order_count=3, revenue=Decimal("100"), computed_at=NOW))
    return customer.id


def _mail(session: Session, customer_id: int, days_ago: float, *reactions: tuple[str, bool, float]) -> None:
    """A sent mail, and (kind, by a machine, minutes after sending) events on it."""
    sent = NOW - timedelta(days=days_ago)
    row = OutboxMessage(key=f"{customer_id}-{days_ago}", campaign="news", customer_id=customer_id,
                        occurrence=sent.date(), to_address="x@example.com", state="sent",
                        next_attempt_at=sent, created_at=sent, sent_at=sent)
    session.add(row)
    session.flush()
    for kind, machine, minutes in reactions:
        session.add(Event(kind=kind, customer_id=customer_id, outbox_id=row.id, machine=machine,
                          occurred_at=sent + timedelta(minutes=minutes)))


def _profiles(sessions: sessionmaker[Session]) -> dict[str, CustomerProfile]:
    with sessions() as session:
        rows = session.execute(select(Customer.external_id, CustomerProfile)
                               .join(CustomerProfile, CustomerProfile.customer_id == Customer.id))
        return {name: profile for name, profile in rows}


def _figures(profiles: dict[str, CustomerProfile]) -> dict[str, tuple[Any, ...]]:
    return {name: (p.contact_interval_days, p.engagement_score, p.sunset, p.best_hour, p.interval_updated_at)
            for name, p in profiles.items()}


def test_refresh_scores_people_not_proxies_and_finds_their_hour_and_sunset(
    any_sessions: sessionmaker[Session],
) -> None:
    with any_sessions.begin() as session:
        reader = _customer(session, "reader")
        for days in (40, 30, 20, 10):  # opened and clicked around 21:00 Shanghai (13:00 UTC)
            _mail(session, reader, days + 13 / 24, ("open", False, 0), ("click", False, 2))
        proxied = _customer(session, "proxied")
        for days in (40, 30, 20, 10):  # Apple's proxy fetched every pixel within seconds: no person
            _mail(session, proxied, days, ("open", True, 0.1))
        silent = _customer(session, "silent")
        for days in (400, 300, 200, 100, 10):
            _mail(session, silent, days)
        buyer = _customer(session, "buyer")
        for days in (400, 300, 200, 100, 10):
            _mail(session, buyer, days)
        session.add(Order(external_id="o1", customer_id=buyer, ordered_at=NOW - timedelta(days=5),
                          amount=Decimal("50")))
        _customer(session, "new")
    summary = refresh_engagement(any_sessions, RULES, FixedClock(NOW))
    profiles = _profiles(any_sessions)
    reader_, proxied_, silent_, buyer_ = (profiles[n] for n in ("reader", "proxied", "silent", "buyer"))

    assert reader_.contact_interval_days == 7  # read 4 of 4: (4 + 4 x 0.22) / 8 = 0.61, floored at 7 days
    # veiled (the proxy's opens only): no click in 4 mails reads as (0 + 4 x 0.22) / 8, so 14 x 0.22 / 0.11
    assert proxied_.contact_interval_days == 28 and proxied_.engagement_score == 0
    opened_and_clicked = sum(4 * 0.5 ** ((d + 13 / 24) / 30) for d in (40, 30, 20, 10))  # 1 + 3, decayed
    assert reader_.engagement_score == pytest.approx(opened_and_clicked, rel=0.001)
    assert reader_.best_hour == 20  # an hour before their own habit (21:00), in their own time zone
    assert (silent_.sunset, buyer_.sunset, reader_.sunset, proxied_.sunset) == (True, False, False, False)
    assert buyer_.engagement_score == pytest.approx(5 * 0.5 ** (5 / 30), rel=0.01)
    assert profiles["new"].contact_interval_days == 14 and profiles["new"].best_hour == 20  # everyone's hour
    assert (summary.customers, summary.sunset) == (5, 1)
    again = refresh_engagement(any_sessions, RULES, FixedClock(NOW))  # nothing new: incremental, none redone
    assert (again.customers, again.shortened, again.lengthened, again.sunset) == (
        summary.customers, summary.shortened, summary.lengthened, summary.sunset)
    assert (summary.full, summary.recomputed, again.full, again.recomputed) == (True, 5, False, 0)
    assert _figures(_profiles(any_sessions)) == _figures(profiles)


def _plan(sessions: sessionmaker[Session], **campaign: Any) -> PlanResult:
    definition = {"name": "news", "template": "re_engagement", "subject": {"en": "hi"}, **campaign}
    return plan_campaign(sessions, Campaign.model_validate(definition), occurrence=date(2026, 11, 24),
                         now=NOW, rules=RULES)


def test_the_planner_honours_pause_sunset_interval_and_reading_hour(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        _customer(session, "paused", paused_until=NOW + timedelta(days=30))
        _customer(session, "paused_before", paused_until=NOW - timedelta(days=1))
        sunset = _customer(session, "sunset")
        evening = _customer(session, "evening")
        recent = _customer(session, "recent")
        _mail(session, recent, 2)  # mailed two days ago: within the 14-day interval
        for customer_id, hour in ((sunset, None), (evening, 21)):
            profile = session.get_one(CustomerProfile, customer_id)
            profile.sunset, profile.best_hour = customer_id == sunset, hour

    plan = _plan(sessions, name="dry", send_time="optimal")
    assert (plan.queued, plan.paused, plan.sunset, plan.too_soon) == (2, 1, 1, 1)
    with sessions() as session:
        rows = session.execute(select(Customer.external_id, OutboxMessage.next_attempt_at)
                               .join(OutboxMessage, OutboxMessage.customer_id == Customer.id)
                               .where(OutboxMessage.campaign == "dry"))
        when = {name: at for name, at in rows}
    assert when == {"paused_before": NOW, "evening": datetime(2026, 11, 24, 13, tzinfo=UTC)}  # 21:00 there

    win_back = _plan(sessions, name="win_back", reaches_sunset=True)
    assert win_back.queued == 1 and win_back.sunset == 0  # only `sunset` is left who may get it
    override = _plan(sessions, name="notice", respect_frequency=False)  # `recent` is no longer too soon;
    assert (override.queued, override.too_soon, override.paused, override.sunset) == (1, 0, 1, 1)
    assert override.busy == 2  # but one marketing mail a day still holds
    receipt = _plan(sessions, name="receipt", kind="transactional")
    assert (receipt.queued, receipt.paused, receipt.sunset) == (5, 0, 0)  # not marketing: no policy
