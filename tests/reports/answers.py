"""A small hand-made history of survey answers the satisfaction report tests count by hand.

Customers (tier, industry, manager): a1 high/manufacturing/Alice, a2 low/trade/Alice,
b1 high/services/Bob, b2 low/trade/Bob, n1 low/services/no manager, u1 no profile/Bob.
The window is 2024-03-01 – 2024-05-01 (WINDOW); #14 and #15 fall outside it.

    #   survey customer score answered  class      comment
    1   nps    a1       10    03-02     promoter
    2   nps    a2       9     03-05     promoter   Great service
    3   nps    b1       6     03-10     detractor  <script>x</script>
    4   nps    b2       8     03-12     passive    (re-clicked on 04-03: still March)
    5   nps    n1       9     03-20     promoter   Fine 还行
    6   csat   a1       5     03-03     promoter
    7   csat   b1       2     03-15     detractor
    8   csat   n1       4     03-25     promoter
    9   nps    a1       7     04-02     passive
    10  nps    b2       10    04-08     promoter   =HYPERLINK("http://evil.example","x")
    11  nps    u1       0     04-09     detractor
    12  csat   a2       3     04-11     passive
    13  csat   b2       5     04-20     promoter
    14  nps    a1       0     02-27     (before the window)  old
    15  csat   b1       1     05-01     (the window's end is excluded)
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from edm.store import Customer, CustomerProfile, OutboxMessage, SurveyAnswer

WINDOW = {"since": datetime(2024, 3, 1, tzinfo=UTC), "until": datetime(2024, 5, 1, tzinfo=UTC)}
SCRIPT = "<script>x</script>"
FORMULA = '=HYPERLINK("http://evil.example","x")'
CUSTOMERS: dict[str, tuple[tuple[str, str] | None, str | None]] = {
    "a1": (("high", "manufacturing"), "Alice"), "a2": (("low", "trade"), "Alice"),
    "b1": (("high", "services"), "Bob"), "b2": (("low", "trade"), "Bob"),
    "n1": (("low", "services"), None), "u1": (None, "Bob"),
}
ANSWERS: list[tuple[str, str, int, datetime, str | None]] = [
    ("nps", "a1", 10, datetime(2024, 3, 2, 9, tzinfo=UTC), None),
    ("nps", "a2", 9, datetime(2024, 3, 5, 9, tzinfo=UTC), "Great service"),
    ("nps", "b1", 6, datetime(2024, 3, 10, 9, tzinfo=UTC), SCRIPT),
    ("nps", "b2", 8, datetime(2024, 3, 12, 9, tzinfo=UTC), None),
    ("nps", "n1", 9, datetime(2024, 3, 20, 9, tzinfo=UTC), "Fine 还行"),
    ("csat", "a1", 5, datetime(2024, 3, 3, 9, tzinfo=UTC), None),
    ("csat", "b1", 2, datetime(2024, 3, 15, 9, tzinfo=UTC), None),
    ("csat", "n1", 4, datetime(2024, 3, 25, 9, tzinfo=UTC), None),
    ("nps", "a1", 7, datetime(2024, 4, 2, 9, tzinfo=UTC), None),
    ("nps", "b2", 10, datetime(2024, 4, 8, 9, tzinfo=UTC), FORMULA),
    ("nps", "u1", 0, datetime(2024, 4, 9, 9, tzinfo=UTC), None),
    ("csat", "a2", 3, datetime(2024, 4, 11, 9, tzinfo=UTC), None),
    ("csat", "b2", 5, datetime(2024, 4, 20, 9, tzinfo=UTC), None),
    ("nps", "a1", 0, datetime(2024, 2, 27, 9, tzinfo=UTC), "old"),
    ("csat", "b1", 1, datetime(2024, 5, 1, 0, tzinfo=UTC), None),
]
RECLICKED = {4: datetime(2024, 4, 3, 9, tzinfo=UTC)}  # answer number -> its last change


def seed_answers(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Writes the customers, one mail per answer and the answers; returns the customers' ids."""
    with sessions.begin() as session:
        created = datetime(2024, 1, 1, tzinfo=UTC)
        customers = {
            name: Customer(external_id=f"survey-{name}", name=name, email=f"{name}@survey.example",
                           kind="company", account_manager=manager, created_at=created)
            for name, (_, manager) in CUSTOMERS.items()
        }
        session.add_all(customers.values())
        session.flush()
        for name, (profile, _) in CUSTOMERS.items():
            if profile is not None:
                tier, industry = profile
                session.add(CustomerProfile(
                    customer_id=customers[name].id, value_tier=tier, lifecycle_stage="mature",
                    industry=industry, order_count=1, revenue=Decimal("100.00"),
                    computed_at=datetime(2024, 1, 2, tzinfo=UTC),
                ))
        for number, (survey, name, score, when, comment) in enumerate(ANSWERS, start=1):
            customer = customers[name]
            mail = OutboxMessage(
                key=f"survey-{number}", campaign="survey", customer_id=customer.id,
                occurrence=date(2024, 1, 1), to_address=customer.email, state="sent",
                next_attempt_at=when, created_at=when, sent_at=when,
            )
            session.add(mail)
            session.flush()
            session.add(SurveyAnswer(customer_id=customer.id, outbox_id=mail.id, survey=survey, score=score,
                                     comment=comment, answered_at=when,
                                     updated_at=RECLICKED.get(number, when)))
        return {name: customer.id for name, customer in customers.items()}
