"""One customer's card: who they are, their consent, every class with the reason for it, and recent moves.

The reasons are rebuilt from the figures stored with the profile and the thresholds of
the run that computed it, so they explain what was decided then, not what today's
settings would decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.planner import CONTACT_STATES
from edm.config import ClassificationSettings, ConsentSettings, EngagementSettings
from edm.consent.status import ConsentView, consent_view
from edm.customers.classify import ResolvedThresholds
from edm.customers.explain import Explanation, explain
from edm.customers.profiles import FIGURES
from edm.engagement.explain import EngagementFacts, Line, explain_engagement
from edm.engagement.refresh import HISTORY_DAYS
from edm.engagement.score import REACTIONS
from edm.errors import EdmError
from edm.store import (
    ClassificationRun,
    Customer,
    CustomerProfile,
    Event,
    Order,
    OutboxMessage,
    ProfileTransition,
)

RECENT_TRANSITIONS = 10


class CustomerNotFound(EdmError):
    """No customer has the given id."""


@dataclass(frozen=True)
class CustomerCard:
    customer: Customer
    profile: CustomerProfile | None
    explanations: dict[str, Explanation]  # empty until the customer has been classified
    transitions: list[ProfileTransition]
    engagement: list[Line] = field(default_factory=list)  # score, interval, next date, hour: and why
    consent: ConsentView | None = None  # as the planner judges it at the card's time
    classified_at: datetime | None = None  # the moment the classes hold at (the last run that saw them)


def customer_card(
    sessions: sessionmaker[Session], key: str, rules: ClassificationSettings,
    engagement: EngagementSettings | None = None, now: datetime | None = None,
    consent: ConsentSettings | None = None,
) -> CustomerCard:
    """The card for the customer whose external id (or, failing that, internal id) is `key`."""
    engagement = engagement or EngagementSettings()
    now = now or datetime.now(UTC)
    with sessions() as session:
        customer = _find(session, key)
        profile = session.get(CustomerProfile, customer.id)
        transitions = list(
            session.scalars(
                select(ProfileTransition)
                .where(ProfileTransition.customer_id == customer.id)
                .order_by(ProfileTransition.computed_at.desc(), ProfileTransition.id.desc())
                .limit(RECENT_TRANSITIONS)
            )
        )
        explanations: dict[str, Explanation] = {}
        classified_at = None
        if profile is not None:
            # every run compares every profile and rewrites only those that moved: one left as it
            # was holds as of the last run (a reaction's newer profile, as of its own moment)
            latest = select(ClassificationRun).order_by(ClassificationRun.computed_at.desc())
            run = session.scalars(latest).first()
            classified_at = profile.computed_at if run is None else max(profile.computed_at, run.computed_at)
            if run is not None:
                thresholds = ResolvedThresholds.from_dict(run.thresholds)
                explanations = explain(profile_features(customer, profile, classified_at), thresholds, rules)
        lines = []
        if profile is not None:
            lines = explain_engagement(_engagement_facts(session, customer, profile, now), engagement, now)
        permission = consent_view(session, customer, now, consent or ConsentSettings())
        return CustomerCard(customer, profile, explanations, transitions, lines, permission, classified_at)


def _engagement_facts(session: Session, customer: Customer, profile: CustomerProfile,
                      now: datetime) -> EngagementFacts:
    since = now - timedelta(days=HISTORY_DAYS)
    person = and_(Event.customer_id == customer.id, Event.machine.is_(False), Event.occurred_at >= since)
    kinds = {kind: count for kind, count in session.execute(
        select(Event.kind, func.count()).where(person).group_by(Event.kind))}
    orders = session.scalar(select(func.count()).where(Order.customer_id == customer.id,
                                                       Order.ordered_at >= since)) or 0
    read = exists().where(Event.outbox_id == OutboxMessage.id, Event.kind.in_(REACTIONS),
                          Event.machine.is_(False))
    mails = {bool(hit): count for hit, count in session.execute(
        select(read, func.count()).where(OutboxMessage.customer_id == customer.id,
                                         OutboxMessage.state == "sent").group_by(read))}
    last_contact = session.scalar(
        select(func.max(func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at)))
        .where(OutboxMessage.customer_id == customer.id, OutboxMessage.state.in_(CONTACT_STATES)))
    return EngagementFacts(
        tier=profile.value_tier, timezone=customer.timezone, score=profile.engagement_score,
        interval_days=profile.contact_interval_days, best_hour=profile.best_hour, sunset=profile.sunset,
        paused_until=customer.paused_until, preference=customer.frequency_preference,
        opens=kinds.get("open", 0), clicks=kinds.get("click", 0), orders=orders,
        mails_read=mails.get(True, 0), mails_ignored=mails.get(False, 0), last_contact=last_contact,
    )


def _find(session: Session, key: str) -> Customer:
    condition = Customer.external_id == key
    if key.isdigit():
        condition = or_(condition, Customer.id == int(key))
    found = session.scalars(select(Customer).where(condition).order_by(Customer.external_id != key)).first()
    if found is None:
        raise CustomerNotFound(f"no customer with id {key!r}")
    return found


def profile_features(customer: Customer, profile: CustomerProfile, at: datetime) -> dict[str, Any]:
    """A stored profile as the one-row features `explain` reads, ages taken at `at`."""
    row: dict[str, Any] = {name: _plain(getattr(profile, name)) for name in FIGURES}
    row.update(
        customer_id=customer.id,
        industry_text=customer.industry or "",
        dropped_lines=profile.dropped_lines or "",
        days_since_first=_days(at, profile.first_order_at),
        days_since_last=_days(at, profile.last_order_at),
        days_since_engaged=_days(at, profile.last_engaged_at),
        days_since_return=_days(at, profile.returned_at),
    )
    return row


def _plain(value: Any) -> Any:
    """Decimals as floats and NULL as NaN, as in the features frame."""
    if value is None:
        return float("nan")
    return value if isinstance(value, str | int) else float(value)


def _days(now: datetime, then: datetime | None) -> float:
    return float("nan") if then is None else (now - then).total_seconds() / 86_400.0
