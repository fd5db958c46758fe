"""A small hand-made history the report tests count by hand (attribution window: 30 days).

Customers (tier/stage/industry, locale): c1 high/mature/manufacturing zh, c2 medium/at_risk/trade en,
c3 low/new/services en, c4 no profile zh, c5 low/new/services en, c6 no profile en.

    #   campaign variant customer state             moment  events (h: person, m: machine)
    1   spring   A       c1       sent              03-10   h-open, h-click, m-open
    2   spring   B       c2       sent              03-10   h-click, m-open
    3   spring   A       c3       sent              03-12   h-open, unsubscribe
    4   spring   A       c4       bounced (at once) 03-10   h-open (ignored: never delivered)
    5   spring   -       c2       queued            03-10
    6   winback  -       c2       sent              02-20   h-open on 03-02
    7   winback  -       c1       sent              03-15   m-open only
    8   winback  -       c3       sent              04-05   h-click
    9   winback  -       c4       sent              03-20   h-open, h-open, h-click
    10  winback  -       c1       failed            03-15
    11  winback  -       c3       bounced (at once) 02-25
    12  spring   -       c1       suppressed        03-10
    13  spring   -       c1       deferred          03-10
    14  spring   B       c1       sent              03-05
    15  spring   A       c2       sent, then a DSN  03-18   h-open (ignored: bounced afterwards)
    16  spring   -       c5       held_out          03-10   (the holdout group: planned, never sent)
    17  spring   -       c6       held_out          03-10
    plus an open by c1 that names no message (ignored).

Orders, and the delivered mail each one's last touch is (30 days before it at most):
    o1 c1 03-12 100.00 -> #1     o2 c1 03-20 50.00 -> #7      o3 c2 03-25 80.00 -> #2 (#15 bounced)
    o4 c2 03-01 30.00 -> #6      o5 c3 05-20 40.00 -> none    o6 c4 03-21 200.00 -> #9
    o7 c3 03-14 10.00 -> #3      o8 c5 03-15 60.00 -> none (holdout: bought within 30 days)
    o9 c6 04-20 25.00 -> none    o10 c4 04-19 12:00 15.00 -> none (exactly 30 days after #9: outside)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from edm.store import Customer, CustomerProfile, Event, Order, OutboxMessage


def at(month: int, day: int) -> datetime:
    return datetime(2024, month, day, 12, 0, tzinfo=UTC)


MARCH = {"since": datetime(2024, 3, 1, tzinfo=UTC), "until": datetime(2024, 4, 1, tzinfo=UTC)}
PROFILES = {
    "c1": ("high", "mature", "manufacturing"), "c2": ("medium", "at_risk", "trade"),
    "c3": ("low", "new", "services"), "c5": ("low", "new", "services"),
}
LOCALES = {"c1": "zh", "c2": "en", "c3": "en", "c4": "zh", "c5": "en", "c6": "en"}
Events = list[tuple[str, datetime, bool]]
HISTORY: list[tuple[str, str | None, str, str, datetime, Events]] = [
    ("spring", "A", "c1", "sent", at(3, 10),
     [("open", at(3, 10), False), ("click", at(3, 11), False), ("open", at(3, 10), True)]),
    ("spring", "B", "c2", "sent", at(3, 10), [("click", at(3, 11), False), ("open", at(3, 10), True)]),
    ("spring", "A", "c3", "sent", at(3, 12), [("open", at(3, 12), False), ("unsubscribe", at(3, 13), False)]),
    ("spring", "A", "c4", "bounced", at(3, 10), [("open", at(3, 10), False), ("bounce", at(3, 10), False)]),
    ("spring", None, "c2", "queued", at(3, 10), []),
    ("winback", None, "c2", "sent", at(2, 20), [("open", at(3, 2), False)]),
    ("winback", None, "c1", "sent", at(3, 15), [("open", at(3, 15), True)]),
    ("winback", None, "c3", "sent", at(4, 5), [("click", at(4, 6), False)]),
    ("winback", None, "c4", "sent", at(3, 20),
     [("open", at(3, 20), False), ("open", at(3, 21), False), ("click", at(3, 21), False)]),
    ("winback", None, "c1", "failed", at(3, 15), []),
    ("winback", None, "c3", "bounced", at(2, 25), []),
    ("spring", None, "c1", "suppressed", at(3, 10), []),
    ("spring", None, "c1", "deferred", at(3, 10), []),
    ("spring", "B", "c1", "sent", at(3, 5), []),
    ("spring", "A", "c2", "async_bounce", at(3, 18),
     [("open", at(3, 18), False), ("bounce", at(3, 19), False)]),
    ("spring", None, "c5", "held_out", at(3, 10), []),
    ("spring", None, "c6", "held_out", at(3, 10), []),
]
ORDERS = [
    ("o1", "c1", at(3, 12), "100.00"), ("o2", "c1", at(3, 20), "50.00"), ("o3", "c2", at(3, 25), "80.00"),
    ("o4", "c2", at(3, 1), "30.00"), ("o5", "c3", at(5, 20), "40.00"), ("o6", "c4", at(3, 21), "200.00"),
    ("o7", "c3", at(3, 14), "10.00"), ("o8", "c5", at(3, 15), "60.00"), ("o9", "c6", at(4, 20), "25.00"),
    ("o10", "c4", at(4, 19), "15.00"),
]


def seed(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Writes the history; returns the customers' ids."""
    with sessions.begin() as session:
        customers = {
            name: Customer(external_id=name, name=name, email=f"{name}@example.com", kind="person",
                           locale=locale, created_at=at(1, 1))
            for name, locale in LOCALES.items()
        }
        session.add_all(customers.values())
        session.flush()
        for name, (tier, stage, industry) in PROFILES.items():
            session.add(CustomerProfile(
                customer_id=customers[name].id, value_tier=tier, lifecycle_stage=stage, industry=industry,
                order_count=1, revenue=Decimal("100.00"), computed_at=at(1, 2),
            ))
        for number, (campaign, variant, name, state, when, events) in enumerate(HISTORY, start=1):
            customer = customers[name]
            was_sent = state in ("sent", "async_bounce")
            message = OutboxMessage(
                key=f"m{number}", campaign=campaign, variant=variant, customer_id=customer.id,
                occurrence=date(2024, 1, 1), to_address=customer.email,
                state="bounced" if state == "async_bounce" else state,
                next_attempt_at=when, created_at=at(1, 1) if was_sent else when,
                sent_at=when if was_sent else None,
            )
            session.add(message)
            session.flush()
            for kind, occurred_at, machine in events:
                session.add(Event(kind=kind, customer_id=customer.id, outbox_id=message.id,
                                  occurred_at=occurred_at, machine=machine))
        session.add(Event(kind="open", customer_id=customers["c1"].id, outbox_id=None, occurred_at=at(3, 10)))
        for external_id, name, when, amount in ORDERS:
            session.add(Order(external_id=external_id, customer_id=customers[name].id, ordered_at=when,
                              amount=Decimal(amount)))
        return {name: customer.id for name, customer in customers.items()}
