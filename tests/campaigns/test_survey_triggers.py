"""Campaigns on survey answers (once per answer, while it is still in the class), after an order
(once per order), bulk promotions that never reach key accounts, and the survey audience conditions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.audience import audience_filter
from edm.campaigns.planner import plan_campaign
from edm.campaigns.rules import Match
from edm.campaigns.schema import Campaign
from edm.config import EngagementSettings
from edm.store import Customer, CustomerProfile, OutboxMessage, SurveyAnswer

RULES = EngagementSettings()
NOW = datetime(2027, 5, 10, 9, tzinfo=UTC)


def _campaign(name: str, **trigger: object) -> Campaign:
    return Campaign.model_validate({"name": name, "template": "welcome", "kind": "transactional",
                                    "subject": {"en": "Hi"}, **trigger})


DETRACTORS = _campaign("sorry", answered={"survey": "any", "as": "detractor", "within_days": 3})
NPS_PROMOTERS = _campaign("refer", answered={"survey": "nps", "as": ["promoter"]})


def _customer(session: Session, name: str, **profile: object) -> int:
    customer = Customer(external_id=name, name=name, email=f"{name}@example.com", kind="company",
                        locale="en", timezone="UTC", created_at=NOW - timedelta(days=900))
    session.add(customer)
    session.flush()
    values: dict[str, object] = {"value_tier": "medium", "lifecycle_stage": "mature", "order_count": 4,
                                 "revenue": Decimal("400"), "computed_at": NOW, **profile}
    session.add(CustomerProfile(customer_id=customer.id, **values))
    return customer.id


def _survey_mail(session: Session, customer_id: int, at: datetime) -> int:
    mail = OutboxMessage(key=f"survey-{customer_id}-{at.isoformat()}", campaign="nps_key_accounts",
                         customer_id=customer_id, occurrence=at.date(), to_address="x@example.com",
                         state="sent", next_attempt_at=at, created_at=at, sent_at=at)
    session.add(mail)
    session.flush()
    return mail.id


def _answer(session: Session, customer_id: int, survey: str, score: int, at: datetime) -> int:
    answer = SurveyAnswer(customer_id=customer_id, outbox_id=_survey_mail(session, customer_id, at),
                          survey=survey, score=score, answered_at=at, updated_at=at)
    session.add(answer)
    session.flush()
    return answer.id


def _plan(sessions: sessionmaker[Session], campaign: Campaign, now: datetime) -> list[str]:
    """Plan, then every message of the campaign so far, by customer, in planning order."""
    plan_campaign(sessions, campaign, occurrence=now.date(), now=now, rules=RULES)
    with sessions() as session:
        query = (select(Customer.external_id).join(OutboxMessage, OutboxMessage.customer_id == Customer.id)
                 .where(OutboxMessage.campaign == campaign.name).order_by(OutboxMessage.id))
        return list(session.scalars(query))


@pytest.fixture
def answers(any_sessions: sessionmaker[Session]) -> tuple[sessionmaker[Session], dict[str, int]]:
    with any_sessions.begin() as session:
        names = ("angry", "unhappy_csat", "fan", "old_grudge", "meh")
        ids = {name: _customer(session, name) for name in names}
        _answer(session, ids["angry"], "nps", 3, NOW - timedelta(days=1))
        _answer(session, ids["unhappy_csat"], "csat", 2, NOW - timedelta(hours=5))
        _answer(session, ids["fan"], "nps", 10, NOW - timedelta(days=2))
        _answer(session, ids["old_grudge"], "nps", 0, NOW - timedelta(days=20))  # outside the window
        _answer(session, ids["meh"], "csat", 3, NOW - timedelta(days=1))  # passive
    return any_sessions, ids


def test_a_detractor_answer_starts_the_follow_up_once(
    answers: tuple[sessionmaker[Session], dict[str, int]],
) -> None:
    sessions, _ = answers
    assert _plan(sessions, DETRACTORS, NOW) == ["angry", "unhappy_csat"]
    assert _plan(sessions, DETRACTORS, NOW + timedelta(hours=6)) == ["angry", "unhappy_csat"]  # nothing new


def test_changing_a_detractor_answer_is_not_a_new_answer_but_a_new_survey_is(
    answers: tuple[sessionmaker[Session], dict[str, int]],
) -> None:
    sessions, ids = answers
    _plan(sessions, DETRACTORS, NOW)
    with sessions.begin() as session:  # re-clicked 1 instead of 3: the same answer
        session.execute(update(SurveyAnswer).where(SurveyAnswer.customer_id == ids["angry"])
                        .values(score=1, updated_at=NOW + timedelta(hours=1)))
    assert _plan(sessions, DETRACTORS, NOW + timedelta(hours=2)) == ["angry", "unhappy_csat"]
    with sessions.begin() as session:  # next quarter's survey, answered 2 again
        _answer(session, ids["angry"], "nps", 2, NOW + timedelta(days=90))
    later = _plan(sessions, DETRACTORS, NOW + timedelta(days=90, hours=1))
    assert later == ["angry", "unhappy_csat", "angry"]


def test_an_answer_changed_into_the_class_counts_from_then(
    answers: tuple[sessionmaker[Session], dict[str, int]],
) -> None:
    sessions, ids = answers
    with sessions.begin() as session:  # the fan first said 10, then (re-clicking) 4
        session.execute(update(SurveyAnswer).where(SurveyAnswer.customer_id == ids["fan"])
                        .values(score=4, updated_at=NOW))
    assert _plan(sessions, DETRACTORS, NOW) == ["angry", "unhappy_csat", "fan"]


def test_promoters_of_one_survey(answers: tuple[sessionmaker[Session], dict[str, int]]) -> None:
    sessions, _ = answers
    assert _plan(sessions, NPS_PROMOTERS, NOW) == ["fan"]


def test_after_order_once_per_order(any_sessions: sessionmaker[Session]) -> None:
    campaign = _campaign("how_was_it", after_order={"days": 3, "within_days": 7})
    with any_sessions.begin() as session:
        ids = {
            name: _customer(session, name, last_order_at=NOW - timedelta(days=days))
            for name, days in [("just_bought", 1), ("three_days", 3), ("nine_days", 9), ("long_ago", 40)]
        }
        _customer(session, "never_ordered")
    assert _plan(any_sessions, campaign, NOW) == ["three_days", "nine_days"]
    later = _plan(any_sessions, campaign, NOW + timedelta(days=2))
    assert later == ["three_days", "nine_days", "just_bought"]
    with any_sessions.begin() as session:  # a new order, and three days later its own survey
        session.execute(update(CustomerProfile).where(CustomerProfile.customer_id == ids["three_days"])
                        .values(last_order_at=NOW + timedelta(days=3)))
    assert _plan(any_sessions, campaign, NOW + timedelta(days=6))[-1] == "three_days"
    assert len(_plan(any_sessions, campaign, NOW + timedelta(days=7))) == 4


def test_bulk_promotions_never_reach_key_accounts(any_sessions: sessionmaker[Session]) -> None:
    sale = _campaign("spring_sale", bulk=True)
    greeting = _campaign("greeting")
    with any_sessions.begin() as session:
        _customer(session, "big", scale="large", value_tier="low")
        _customer(session, "valuable", scale="small", value_tier="high")
        _customer(session, "ordinary", scale="medium", value_tier="medium")
    assert _plan(any_sessions, sale, NOW) == ["ordinary"]
    assert _plan(any_sessions, greeting, NOW) == ["big", "valuable", "ordinary"]


def test_survey_audience_conditions(any_sessions: sessionmaker[Session]) -> None:
    with any_sessions.begin() as session:
        _customer(session, "detractor", satisfaction="detractor", satisfaction_trend="declining",
                  nps_score=4, surveyed_at=NOW - timedelta(days=10))
        _customer(session, "promoter", satisfaction="promoter", satisfaction_trend="improving", csat_score=5,
                  surveyed_at=NOW - timedelta(days=100), scale="large")
        _customer(session, "silent")

    def names(**conditions: object) -> list[str]:
        where = audience_filter(Match.model_validate(conditions), NOW)
        query = (select(Customer.external_id)
                 .join(CustomerProfile, CustomerProfile.customer_id == Customer.id)
                 .where(where).order_by(Customer.id))
        with any_sessions() as session:
            return list(session.scalars(query))

    assert names(satisfaction="detractor") == ["detractor"]
    assert names(satisfaction=["promoter", "passive"]) == ["promoter"]
    assert names(**{"not": {"satisfaction": "detractor"}}) == ["promoter", "silent"]  # never asked: not one
    assert names(satisfaction_trend="declining") == ["detractor"]
    assert names(nps_score={"at_most": 6}) == ["detractor"]
    assert names(csat_score=5) == ["promoter"]
    assert names(days_since_surveyed={"less_than": 60}) == ["detractor"]
    assert names(**{"not": {"days_since_surveyed": {"less_than": 60}}}) == ["promoter", "silent"]
    assert names(key_account=True) == ["promoter"]
    assert names(key_account=False) == ["detractor", "silent"]


@pytest.mark.parametrize(
    ("trigger", "complaint"),
    [
        ({"answered": {"as": "angry"}}, "as"),
        ({"answered": {"as": "detractor", "survey": "ces"}}, "survey"),
        ({"answered": {"survey": "nps"}}, "as"),
        ({"after_order": {"days": -1}}, "days"),
        ({"after_order": {"days": 3}, "answered": {"as": "promoter"}}, "one trigger"),
    ],
)
def test_bad_triggers_are_refused(trigger: dict[str, object], complaint: str) -> None:
    with pytest.raises(ValidationError, match=complaint):
        _campaign("bad", **trigger)
