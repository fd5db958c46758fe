"""Recompute every contacted customer's interval from the outbox and the event log."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from sqlalchemy import exists, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import Clock
from edm.config import EngagementSettings
from edm.engagement.interval import contact_interval, judged_reaction
from edm.store import CustomerProfile, Event, OutboxMessage

REACTIONS = ("open", "click")


@dataclass(frozen=True)
class IntervalSummary:
    customers: int
    shortened: int
    lengthened: int


def refresh_intervals(
    sessions: sessionmaker[Session], rules: EngagementSettings, clock: Clock
) -> IntervalSummary:
    """Derive each customer's contact interval from what they did with our mails.

    Streams sent mails ordered by customer, so memory stays flat however large the outbox.
    """
    now = clock.now()
    reacted = exists().where(Event.outbox_id == OutboxMessage.id, Event.kind.in_(REACTIONS))
    sent_at = func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at)
    query = (
        select(OutboxMessage.customer_id, sent_at, reacted, CustomerProfile.value_tier,
               CustomerProfile.contact_interval_days)
        .join(CustomerProfile, CustomerProfile.customer_id == OutboxMessage.customer_id)
        .where(OutboxMessage.state == "sent")
        .order_by(OutboxMessage.customer_id, sent_at)
    )
    customers = shortened = lengthened = 0
    with sessions.begin() as session:
        rows = session.execute(query.execution_options(yield_per=2000))
        updates: list[dict[str, object]] = []
        for customer_id, mails in groupby(rows, key=lambda row: row[0]):
            history = list(mails)
            tier, previous = history[0][3], history[0][4]
            reactions = [judged_reaction(sent, bool(hit), now, rules) for _, sent, hit, _, _ in history]
            base = rules.base_interval(tier)
            interval = contact_interval(base, [r for r in reactions if r is not None], rules)
            customers += 1
            shortened += interval < base
            lengthened += interval > base
            if interval != previous:
                updates.append(
                    {"customer_id": customer_id, "contact_interval_days": interval,
                     "interval_updated_at": now}
                )
        if updates:
            session.execute(update(CustomerProfile), updates)
    return IntervalSummary(customers, shortened, lengthened)
