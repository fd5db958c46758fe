"""The planner on SQLite and PostgreSQL: audience, suppression, contact interval, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns import planner
from edm.campaigns.decisions import Judged, Reason
from edm.campaigns.keys import outbox_key
from edm.campaigns.planner import plan_campaign
from edm.campaigns.rules import Match
from edm.campaigns.schema import Campaign
from edm.config import EngagementSettings
from edm.store import Customer, CustomerProfile, OutboxMessage, Suppression

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)
RULES = EngagementSettings()
WIN_BACK = Campaign(name="win_back", template="win_back", subject={"en": "We miss you"},
                    audience=Match(tiers=["high", "medium"], stages=["churned"]))


def _customer(session: Session, name: str, tier: str, stage: str, interval: float | None = None) -> int:
    customer = Customer(external_id=name, name=name, email=f"{name}@example.com", kind="person",
                        locale="en", timezone="UTC", created_at=NOW)
    session.add(customer)
    session.flush()
    session.add(CustomerProfile(customer_id=customer.id, value_tier=tier, lifecycle_stage=stage,
                                order_count=3, revenue=Decimal("100"), computed_at=NOW,
                                contact_interval_days=interval))
    return customer.id


@pytest.fixture
def population(any_sessions: sessionmaker[Session]) -> dict[str, int]:
    with any_sessions.begin() as session:
        ids = {name: _customer(session, name, tier, stage) for name, tier, stage in [
            ("ann", "high", "churned"), ("bob", "medium", "churned"), ("cat", "medium", "churned"),
            ("dan", "high", "churned"), ("eve", "high", "churned"),
            ("low", "low", "churned"), ("active", "high", "mature"),
        ]}
        session.add(Suppression(email="cat@example.com", reason="unsubscribed", created_at=NOW))
        # Dan heard from us 5 days ago (interval 21 for high); Eve 30 days ago.
        for name, days_ago in [("dan", 5), ("eve", 30)]:
            session.add(OutboxMessage(
                key=f"old-{name}", campaign="holiday_greeting", step=0, customer_id=ids[name],
                occurrence=(NOW - timedelta(days=days_ago)).date(), to_address=f"{name}@example.com",
                state="sent", attempts=1, next_attempt_at=NOW, created_at=NOW - timedelta(days=days_ago),
                sent_at=NOW - timedelta(days=days_ago),
            ))
    return ids


def _queued(sessions: sessionmaker[Session]) -> set[str]:
    with sessions() as session:
        query = select(OutboxMessage.to_address).where(OutboxMessage.campaign == "win_back")
        return set(session.scalars(query))


def test_plan_applies_audience_suppression_and_interval_then_is_idempotent(
    any_sessions: sessionmaker[Session], population: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(planner, "BATCH", 1)  # flush while the audience is still streaming
    result = plan_campaign(any_sessions, WIN_BACK, occurrence=NOW.date(), now=NOW, rules=RULES)
    assert (result.audience, result.queued, result.suppressed, result.too_soon) == (5, 3, 1, 1)
    assert _queued(any_sessions) == {"ann@example.com", "bob@example.com", "eve@example.com"}
    with any_sessions() as session:
        keys = set(session.scalars(select(OutboxMessage.key).where(OutboxMessage.campaign == "win_back")))
    assert outbox_key("win_back", 0, population["ann"], NOW.date()) in keys

    again = plan_campaign(any_sessions, WIN_BACK, occurrence=NOW.date(), now=NOW + timedelta(hours=1),
                          rules=RULES)
    assert (again.queued, again.already_planned) == (0, 3)
    assert len(_queued(any_sessions)) == 3


def test_a_plan_again_judges_everyone_once_in_customer_order_the_planned_ones_apart(
    any_sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Those already planned come from a light query merged with the others: each member is judged
    once, in customer order, even while the plan's own new rows appear to a cursor still reading."""
    monkeypatch.setattr(planner, "BATCH", 1)
    monkeypatch.setattr(planner, "STREAM", 2)  # the cursors read on after each insert
    with any_sessions.begin() as session:
        first_ids = [_customer(session, f"c{n}", "high", "churned") for n in range(12)]
    first = plan_campaign(any_sessions, WIN_BACK, occurrence=NOW.date(), now=NOW, rules=RULES)
    assert (first.audience, first.queued, first.already_planned) == (12, 12, 0)
    with any_sessions.begin() as session:  # a third unplanned again, and newcomers after them
        again_ids = first_ids[::3]
        for row in session.scalars(select(OutboxMessage).where(OutboxMessage.customer_id.in_(again_ids))):
            session.delete(row)
        new_ids = [_customer(session, f"n{n}", "high", "churned") for n in range(3)]
    judged: list[Judged] = []
    again = plan_campaign(any_sessions, WIN_BACK, occurrence=NOW.date(), now=NOW + timedelta(minutes=5),
                          rules=RULES, watch=judged.append)
    assert [j.decision.customer_id for j in judged] == [*first_ids, *new_ids]
    fresh = {*again_ids, *new_ids}
    assert {j.decision.customer_id for j in judged if j.decision.reason == Reason.ALREADY_PLANNED} == \
        set(first_ids) - fresh
    assert {j.decision.customer_id for j in judged if j.decision.send} == fresh
    assert (again.audience, again.queued, again.already_planned) == (15, len(fresh), 15 - len(fresh))
    assert [j.email for j in judged[:2]] == ["c0@example.com", "c1@example.com"]


def test_dry_run_counts_but_queues_nothing(
    any_sessions: sessionmaker[Session], population: dict[str, int]
) -> None:
    result = plan_campaign(any_sessions, WIN_BACK, occurrence=NOW.date(), now=NOW, rules=RULES, dry_run=True)
    assert result.queued == 3 and _queued(any_sessions) == set()


def test_service_mail_ignores_the_contact_interval_but_not_suppression(
    any_sessions: sessionmaker[Session], population: dict[str, int]
) -> None:
    receipt = WIN_BACK.model_copy(update={"kind": "service"})  # model_copy does not validate
    result = plan_campaign(any_sessions, receipt, occurrence=NOW.date(), now=NOW, rules=RULES)
    assert (result.queued, result.suppressed, result.too_soon) == (4, 1, 0)
    assert "cat@example.com" not in _queued(any_sessions)


def test_a_customers_own_interval_overrides_the_tier_base(
    any_sessions: sessionmaker[Session], population: dict[str, int]
) -> None:
    with any_sessions.begin() as session:
        profile = session.get_one(CustomerProfile, population["dan"])
        profile.contact_interval_days = 4.0  # Dan engages: 5 days since the last mail is enough
    result = plan_campaign(any_sessions, WIN_BACK, occurrence=NOW.date(), now=NOW, rules=RULES)
    assert result.too_soon == 0 and "dan@example.com" in _queued(any_sessions)
