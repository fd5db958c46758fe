"""A/B/n variants and the holdout group: deterministic, in proportion, recorded, and never sent."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal

import hypothesis.strategies as st
from hypothesis import given
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.planner import plan_campaign
from edm.campaigns.schema import Campaign
from edm.campaigns.variants import HOLDOUT, assign
from edm.clock import FixedClock
from edm.config import EngagementSettings, Settings, SmtpSettings
from edm.runner import send_pending
from edm.store import Customer, CustomerProfile, OutboxMessage
from tests.conftest import SECRET_KEY, SmtpServer

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)
WEIGHTS = [("a", 1.0), ("b", 3.0)]


def test_assignment_follows_the_weights_and_the_holdout_share() -> None:
    counts = Counter(assign("spring", customer, WEIGHTS, 20.0) for customer in range(40_000))
    assert abs(counts[HOLDOUT] / 40_000 - 0.20) < 0.01
    assert abs(counts["a"] / 40_000 - 0.20) < 0.01  # a quarter of the 80% sent
    assert abs(counts["b"] / 40_000 - 0.60) < 0.01


@given(st.text(min_size=1, max_size=20), st.integers(1, 10**9), st.floats(0, 50))
def test_assignment_is_deterministic_and_always_a_known_arm(
    campaign: str, customer: int, holdout: float
) -> None:
    first = assign(campaign, customer, WEIGHTS, holdout)
    assert first == assign(campaign, customer, WEIGHTS, holdout)
    assert first in {"a", "b", HOLDOUT}
    assert assign(campaign, customer, [], 0.0) is None


CAMPAIGN = Campaign.model_validate({
    "name": "win_back", "template": "win_back",
    "subject": {"en": "Subject A"}, "params": {"discount": "15%", "offer_code": "X"},
    "links": {"offer": "https://www.example.com/offer"},
    "holdout_percent": 25,
    "variants": [{"name": "a"}, {"name": "b", "subject": {"en": "Subject B for {{ greeting_name }}"}}],
})


def test_the_holdout_is_recorded_never_sent_and_variants_get_their_subjects(
    any_sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    with any_sessions.begin() as session:
        for n in range(40):
            customer = Customer(external_id=f"c{n}", name=f"C{n}", email=f"c{n}@example.com", kind="person",
                                locale="en", timezone="UTC", created_at=NOW)
            session.add(customer)
            session.flush()
            session.add(CustomerProfile(customer_id=customer.id, value_tier="low", lifecycle_stage="churned",
                                        order_count=1, revenue=Decimal("10"), computed_at=NOW))
    result = plan_campaign(any_sessions, CAMPAIGN, occurrence=NOW.date(), now=NOW, rules=EngagementSettings())
    again = plan_campaign(any_sessions, CAMPAIGN, occurrence=NOW.date(), now=NOW, rules=EngagementSettings())
    assert result.held_out + result.queued == 40 and result.held_out > 0
    assert again.already_planned == 40 and again.queued == again.held_out == 0

    settings = Settings(smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port),
                        secret_keys=(SecretStr(SECRET_KEY),))
    asyncio.run(send_pending(settings, any_sessions, FixedClock(NOW), {"win_back": CAMPAIGN}))
    query = select(OutboxMessage.to_address, OutboxMessage.state, OutboxMessage.variant)
    with any_sessions() as session:
        rows = session.execute(query).all()
    held = {address for address, state, variant in rows if state == "held_out" and variant is None}
    assert len(held) == result.held_out
    delivered = {m["To"].addresses[0].addr_spec: str(m["Subject"]) for m in smtp_server.handler.messages}
    assert not held & set(delivered)  # the control group receives nothing
    expected = {address: "Subject A" if variant == "a" else f"Subject B for C{address[1:].split('@')[0]}"
                for address, state, variant in rows if state == "sent"}
    assert delivered == expected and set(expected.values()) > {"Subject A"}
