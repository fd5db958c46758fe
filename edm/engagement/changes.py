"""Whom an incremental engagement refresh recomputes: the customers whose figures may have moved
since the last refresh, found through indexed ranges, never by reading every customer.

- something new: events and orders past the last ids it read, mail recorded sent since it ran;
- something that came of age: a mail whose response window closed (now judged ignored), a first
  mail, read or order as old as `sunset_after_days` (sunset may start), a signal leaving the
  history window;
- profiles marked for it (`interval_updated_at` None): new ones, and those that asked for less mail.

What only time moves otherwise (the score's decay, the population's reading hours) waits for the
next full refresh.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from edm.config import EngagementSettings
from edm.engagement.score import REACTIONS
from edm.store import CustomerProfile, EngagementRefresh, Event, Order, OutboxMessage

SENT_MARGIN = timedelta(minutes=15)  # a mail stamped sent before the last refresh may commit after it read


def changed_customers(
    session: Session, last: EngagementRefresh, now: datetime, rules: EngagementSettings, history: timedelta
) -> set[int]:
    """The ids of the customers an incremental refresh at `now` recomputes, after the `last` one;
    `history`: how far back the refresh reads signals."""
    then = last.refreshed_at
    sent = OutboxMessage.state == "sent"
    window = timedelta(days=rules.response_window_days)
    queries: list[Any] = [
        select(Event.customer_id).where(Event.id > (last.last_event_id or 0)),
        select(Order.customer_id).where(Order.id > (last.last_order_id or 0)),
        select(OutboxMessage.customer_id).where(sent, OutboxMessage.sent_at >= then - SENT_MARGIN),
        select(OutboxMessage.customer_id).where(sent, *_aged(OutboxMessage.sent_at, then, now, window)),
        select(Event.customer_id).where(*_aged(Event.occurred_at, then, now, history)),
        select(CustomerProfile.customer_id).where(CustomerProfile.interval_updated_at.is_(None)),
    ]
    if rules.sunset_after_days is not None:
        silence = timedelta(days=rules.sunset_after_days)
        queries += [
            select(OutboxMessage.customer_id).where(sent, *_aged(OutboxMessage.sent_at, then, now, silence)),
            select(Event.customer_id).where(Event.kind.in_(REACTIONS), Event.machine.is_(False),
                                            *_aged(Event.occurred_at, then, now, silence)),
            select(CustomerProfile.customer_id)
            .where(*_aged(CustomerProfile.last_order_at, then, now, silence)),
        ]
    return set(session.scalars(union(*queries)))


def _aged(column: Any, then: datetime, now: datetime, age: timedelta) -> tuple[Any, Any]:
    """`column` reached `age` between the last refresh and now (both ends included: a superset)."""
    return column >= then - age, column <= now - age
