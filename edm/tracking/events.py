"""Recording what recipients did: append an event, and for unsubscribes suppress the address.

Kept apart from the HTTP routes so that writes can later be batched without touching them.
Nothing is written for a customer that does not exist; the result says so.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from edm.store import Customer, Event, OutboxMessage
from edm.suppression import UNSUBSCRIBED, suppress

USER_AGENT_MAX = 500  # the width of events.user_agent


def record_event(
    session: Session,
    *,
    kind: str,
    customer_id: int,
    outbox_id: int | None,
    occurred_at: datetime,
    url: str | None = None,
    user_agent: str | None = None,
) -> bool:
    """Append one event. An outbox id whose row is gone is recorded as None, not refused:
    the customer's action still counts even if the mail's row was pruned."""
    if session.get(Customer, customer_id) is None:
        return False
    if outbox_id is not None and session.get(OutboxMessage, outbox_id) is None:
        outbox_id = None
    session.add(
        Event(
            kind=kind,
            customer_id=customer_id,
            outbox_id=outbox_id,
            occurred_at=occurred_at,
            url=url,
            user_agent=user_agent[:USER_AGENT_MAX] if user_agent else None,
        )
    )
    return True


def customer_email(session: Session, customer_id: int) -> str | None:
    """The customer's address, or None when there is no such customer."""
    customer = session.get(Customer, customer_id)
    return None if customer is None else customer.email


def unsubscribe(
    session: Session,
    *,
    customer_id: int,
    outbox_id: int | None,
    occurred_at: datetime,
    user_agent: str | None = None,
) -> str | None:
    """Record the unsubscribe and suppress the customer's address (and the address the mail
    went to, if that differs); the customer's address, or None when there is no such customer.
    Idempotent: an address already suppressed stays as it was."""
    email = customer_email(session, customer_id)
    if email is None:
        return None
    addresses = {email}
    outbox = session.get(OutboxMessage, outbox_id) if outbox_id is not None else None
    if outbox is not None and outbox.customer_id == customer_id:
        addresses.add(outbox.to_address)
    record_event(
        session,
        kind="unsubscribe",
        customer_id=customer_id,
        outbox_id=outbox_id,
        occurred_at=occurred_at,
        user_agent=user_agent,
    )
    suppress(session, addresses, UNSUBSCRIBED, occurred_at)
    return email
