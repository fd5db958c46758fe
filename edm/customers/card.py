"""One customer's card: who they are, every class with the reason for it, and recent moves.

The reasons are rebuilt from the figures stored with the profile and the thresholds of
the run that computed it, so they explain what was decided then, not what today's
settings would decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from edm.config import ClassificationSettings
from edm.customers.classify import ResolvedThresholds
from edm.customers.explain import Explanation, explain
from edm.customers.profiles import FIGURES
from edm.errors import EdmError
from edm.store import ClassificationRun, Customer, CustomerProfile, ProfileTransition

RECENT_TRANSITIONS = 10


class CustomerNotFound(EdmError):
    """No customer has the given id."""


@dataclass(frozen=True)
class CustomerCard:
    customer: Customer
    profile: CustomerProfile | None
    explanations: dict[str, Explanation]  # empty until the customer has been classified
    transitions: list[ProfileTransition]


def customer_card(
    sessions: sessionmaker[Session], key: str, rules: ClassificationSettings
) -> CustomerCard:
    """The card for the customer whose external id (or, failing that, internal id) is `key`."""
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
        if profile is not None:
            run = session.scalar(
                select(ClassificationRun).where(ClassificationRun.computed_at == profile.computed_at)
            )
            if run is not None:
                thresholds = ResolvedThresholds.from_dict(run.thresholds)
                explanations = explain(profile_features(customer, profile), thresholds, rules)
        return CustomerCard(customer, profile, explanations, transitions)


def _find(session: Session, key: str) -> Customer:
    condition = Customer.external_id == key
    if key.isdigit():
        condition = or_(condition, Customer.id == int(key))
    found = session.scalars(select(Customer).where(condition).order_by(Customer.external_id != key)).first()
    if found is None:
        raise CustomerNotFound(f"no customer with id {key!r}")
    return found


def profile_features(customer: Customer, profile: CustomerProfile) -> dict[str, Any]:
    """A stored profile as the one-row features `explain` reads, ages taken at `computed_at`."""
    row: dict[str, Any] = {name: _plain(getattr(profile, name)) for name in FIGURES}
    row.update(
        customer_id=customer.id,
        industry_text=customer.industry or "",
        dropped_lines=profile.dropped_lines or "",
        days_since_first=_days(profile.computed_at, profile.first_order_at),
        days_since_last=_days(profile.computed_at, profile.last_order_at),
        days_since_engaged=_days(profile.computed_at, profile.last_engaged_at),
    )
    return row


def _plain(value: Any) -> Any:
    """Decimals as floats and NULL as NaN, as in the features frame."""
    if value is None:
        return float("nan")
    return value if isinstance(value, str | int) else float(value)


def _days(now: datetime, then: datetime | None) -> float:
    return float("nan") if then is None else (now - then).total_seconds() / 86_400.0
