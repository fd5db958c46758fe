"""Event triggers: which customers did the campaign's event, and whether an `unless` event undid it.

One mail per customer per event day (UTC): the outbox occurrence is the day of the customer's
latest matching event, so the key (edm.campaigns.keys) stays per day and the same event sent
twice (one `customer_events` row, unique by idempotency key) or several events on one day queue
one mail. The mail is timed `delay` after the first matching event of that day, and the `unless`
window runs from that event too. `order_placed` is an order in the store, or a customer event
of that name. The planner asks `triggered` and `undone`; the sender asks `cancelled` again just
before sending, since the order may come after the mail was planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from edm.campaigns.schema import ORDER_PLACED, Campaign, EventTrigger, Unless
from edm.store import CustomerEvent, Order


@dataclass(frozen=True, slots=True)
class Triggered:
    """A customer's event day: the day (the occurrence) and the first matching event's moment on it."""

    day: date
    at: datetime


def triggered(
    session: Session, trigger: EventTrigger, now: datetime, only_customer: int | None = None
) -> dict[int, Triggered]:
    """Each customer with a matching event within `within_hours` before `now`: their latest event day,
    timed by its first matching event, unless they did the `unless` event since (then left out)."""
    query = (
        select(CustomerEvent.customer_id, CustomerEvent.occurred_at, CustomerEvent.properties)
        .where(CustomerEvent.name == trigger.name,
               CustomerEvent.occurred_at >= now - timedelta(hours=trigger.within_hours),
               CustomerEvent.occurred_at <= now)
        .order_by(CustomerEvent.customer_id, CustomerEvent.occurred_at)
    )
    if only_customer is not None:
        query = query.where(CustomerEvent.customer_id == only_customer)
    found: dict[int, Triggered] = {}
    for customer_id, occurred_at, properties in session.execute(query):
        if not trigger.matches(properties):
            continue
        moment = _utc(occurred_at)
        day = moment.date()
        known = found.get(customer_id)
        if known is None or known.day != day:  # a later day replaces; the first event of a day times it
            found[customer_id] = Triggered(day, moment)
    if trigger.unless is not None:
        found = {c: t for c, t in found.items() if not undone(session, trigger.unless, c, t.at, now)}
    return found


def undone(session: Session, unless: Unless, customer_id: int, since: datetime, now: datetime) -> bool:
    """Whether the customer did the `unless` event after `since`, within its window, by `now`."""
    until = min(now, since + timedelta(hours=unless.within_hours))
    named = (
        select(CustomerEvent.id)
        .where(CustomerEvent.customer_id == customer_id, CustomerEvent.name == unless.event,
               CustomerEvent.occurred_at >= since, CustomerEvent.occurred_at <= until)
        .limit(1)
    )
    if session.scalar(named) is not None:
        return True
    if unless.event != ORDER_PLACED:
        return False
    ordered = (
        select(Order.id)
        .where(Order.customer_id == customer_id, Order.ordered_at >= since, Order.ordered_at <= until)
        .limit(1)
    )
    return session.scalar(ordered) is not None


def cancelled(
    session: Session, campaign: Campaign, customer_id: int, occurrence: date, now: datetime
) -> bool:
    """At send time: whether the `unless` event has happened since the row's triggering event."""
    trigger = campaign.event
    if trigger is None or trigger.unless is None:
        return False
    start = datetime.combine(occurrence, time(), UTC)
    events = session.execute(
        select(CustomerEvent.occurred_at, CustomerEvent.properties)
        .where(CustomerEvent.customer_id == customer_id, CustomerEvent.name == trigger.name,
               CustomerEvent.occurred_at >= start, CustomerEvent.occurred_at < start + timedelta(days=1))
        .order_by(CustomerEvent.occurred_at)
    )
    first = next((_utc(at) for at, properties in events if trigger.matches(properties)), None)
    return first is not None and undone(session, trigger.unless, customer_id, first, now)


def send_at(trigger: EventTrigger, event: Triggered) -> datetime:
    """When the mail for an event goes out at the earliest: the event plus its `delay`."""
    return event.at + (trigger.delay.span if trigger.delay is not None else timedelta())


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
