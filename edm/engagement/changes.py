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

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from edm.config import EngagementSettings
from edm.store import CustomerProfile, Event, Order, OutboxMessage

READS = ("open", "click")
SENT_MARGIN = timedelta(minutes=15)  # a mail stamped sent before the last refresh may commit after it read


@dataclass(frozen=True)
class Since:
    """What the last refresh had read: when it ran, the newest event and order."""

    refreshed_at: datetime
    last_event_id: int
    last_order_id: int


def changed_customers(
    session: Session, since: Since, now: datetime, rules: EngagementSettings, history_days: int
) -> set[int]:
    """The ids of the customers an incremental refresh at `now` recomputes."""
    then = since.refreshed_at
    sent = OutboxMessage.state == "sent"
    window = timedelta(days=rules.response_window_days)
    history = timedelta(days=max(history_days, rules.sunset_after_days or 0))
    queries: list[Any] = [
        select(Event.customer_id).where(Event.id > since.last_event_id),
        select(Order.customer_id).where(Order.id > since.last_order_id),
        select(OutboxMessage.customer_id).where(sent, OutboxMessage.sent_at >= then - SENT_MARGIN),
        select(OutboxMessage.customer_id).where(sent, *_aged(OutboxMessage.sent_at, then, now, window)),
        select(Event.customer_id).where(*_aged(Event.occurred_at, then, now, history)),
        select(CustomerProfile.customer_id).where(CustomerProfile.interval_updated_at.is_(None)),
    ]
    if rules.sunset_after_days is not None:
        silence = timedelta(days=rules.sunset_after_days)
        queries += [
            select(OutboxMessage.customer_id).where(sent, *_aged(OutboxMessage.sent_at, then, now, silence)),
            select(Event.customer_id).where(Event.kind.in_(READS), Event.machine.is_(False),
                                            *_aged(Event.occurred_at, then, now, silence)),
            select(CustomerProfile.customer_id)
            .where(*_aged(CustomerProfile.last_order_at, then, now, silence)),
        ]
    return set(session.scalars(union(*queries)))


def _aged(column: Any, then: datetime, now: datetime, age: timedelta) -> tuple[Any, Any]:
    """`column` reached `age` between the last refresh and now (both ends included: a superset)."""
    return column >= then - age, column <= now - age
