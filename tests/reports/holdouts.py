"""A hand-made campaign with variants and a holdout, for uplift by tier, stage and variant (30 days).

Campaign `promo`: everyone planned for 03-10 12:00 (mailed: sent then; holdout: planned then).
Tier and stage count as they were at that moment, from the profile transitions:

    customer  tier@send  stage@send  (now)            arm      variant  orders within 30 days
    m1        high       mature                       mailed   A        03-12 100
    m2        high       mature                       mailed   B        -
    m3        low        new                          mailed   A        03-15 20 + 03-25 30 (one buyer: 50)
    m4        low        new                          mailed   B        -
    m5        low        new         (high, growing   mailed   A        03-18 200
                                     from 03-20)
    m6        medium     at_risk     (no transitions: mailed   B        04-20 90 (41 days: outside)
                                     current profile)
    h1        high       mature                       holdout  -        03-11 80
    h2        high       mature                       holdout  -        -
    h3        low        new                          holdout  -        -
    h4        low        new                          holdout  -        03-30 40
    h5        unknown    unknown     (no profile)     holdout  -        -

Campaign `quiet` mails m1 with no holdout: never in the uplift tables. A `promo` message queued but not
sent (m2) is in neither arm.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from edm.store import Customer, CustomerProfile, Order, OutboxMessage, ProfileTransition
from tests.reports.history import at

Classes = list[tuple[str, str | None, str, tuple[int, int]]]  # (dimension, old, new, (month, day))


def _classes(tier: str, stage: str) -> Classes:
    return [("value_tier", None, tier, (1, 2)), ("lifecycle_stage", None, stage, (1, 2))]


# name: (arm, variant, class transitions, current profile (tier, stage) or None)
PEOPLE: dict[str, tuple[str, str | None, Classes, tuple[str, str] | None]] = {
    "m1": ("mailed", "A", _classes("high", "mature"), ("high", "mature")),
    "m2": ("mailed", "B", _classes("high", "mature"), ("high", "mature")),
    "m3": ("mailed", "A", _classes("low", "new"), ("low", "new")),
    "m4": ("mailed", "B", _classes("low", "new"), ("low", "new")),
    "m5": ("mailed", "A", [*_classes("low", "new"), ("value_tier", "low", "high", (3, 20)),
                           ("lifecycle_stage", "new", "growing", (3, 20))], ("high", "growing")),
    "m6": ("mailed", "B", [], ("medium", "at_risk")),
    "h1": ("holdout", None, _classes("high", "mature"), ("high", "mature")),
    "h2": ("holdout", None, _classes("high", "mature"), ("high", "mature")),
    "h3": ("holdout", None, _classes("low", "new"), ("low", "new")),
    "h4": ("holdout", None, _classes("low", "new"), ("low", "new")),
    "h5": ("holdout", None, [], None),
}
ORDERS = [("m1", (3, 12), "100"), ("m3", (3, 15), "20"), ("m3", (3, 25), "30"), ("m5", (3, 18), "200"),
          ("m6", (4, 20), "90"), ("h1", (3, 11), "80"), ("h4", (3, 30), "40")]

# Revenue per recipient, by hand, for the Welch intervals.
MAILED_A = [100.0, 50.0, 200.0]  # m1 m3 m5
MAILED_B = [0.0, 0.0, 0.0]  # m2 m4 m6
HOLDOUT = [80.0, 0.0, 0.0, 40.0, 0.0]  # h1..h5
HIGH = ([100.0, 0.0], [80.0, 0.0])  # mailed m1 m2, holdout h1 h2
LOW = ([50.0, 0.0, 200.0], [0.0, 40.0])  # mailed m3 m4 m5, holdout h3 h4


def seed_holdouts(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for name, (arm, variant, classes, profile) in PEOPLE.items():
            customer = Customer(external_id=name, name=name, email=f"{name}@example.com", kind="person",
                                locale="en", created_at=at(1, 1))
            session.add(customer)
            session.flush()
            if profile is not None:
                session.add(CustomerProfile(customer_id=customer.id, value_tier=profile[0],
                                            lifecycle_stage=profile[1], order_count=1,
                                            revenue=Decimal("10"), computed_at=at(3, 20)))
            session.add_all(ProfileTransition(customer_id=customer.id, dimension=dimension, old=old, new=new,
                                              computed_at=at(*when)) for dimension, old, new, when in classes)
            held = arm == "holdout"
            session.add(OutboxMessage(
                key=f"promo-{name}", campaign="promo", variant=variant, customer_id=customer.id,
                occurrence=date(2024, 3, 10), to_address=customer.email, state="held_out" if held else "sent",
                next_attempt_at=at(3, 10), created_at=at(3, 9), sent_at=None if held else at(3, 10)))
            for external_id, who, when, amount in ((f"o{i}", *o) for i, o in enumerate(ORDERS)):
                if who == name:
                    session.add(Order(external_id=external_id, customer_id=customer.id, ordered_at=at(*when),
                                      amount=Decimal(amount)))
            if name == "m1":
                session.add(OutboxMessage(
                    key="quiet-m1", campaign="quiet", customer_id=customer.id, occurrence=date(2024, 3, 5),
                    to_address=customer.email, state="sent", next_attempt_at=at(3, 5), created_at=at(3, 5),
                    sent_at=at(3, 5)))
            if name == "m2":
                session.add(OutboxMessage(
                    key=f"promo-{name}-later", campaign="promo", variant="A", customer_id=customer.id,
                    occurrence=date(2024, 3, 11), to_address=customer.email, state="queued",
                    next_attempt_at=at(3, 11), created_at=at(3, 10)))
