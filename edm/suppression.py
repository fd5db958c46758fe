"""The suppression list: mailboxes every later send must skip. The one place that adds to it.

A mailbox is listed once, by its canonical address (edm.addresses): `Alice@Example.COM`
unsubscribing suppresses `alice@example.com` and every other spelling of it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from edm.addresses import canonical_address
from edm.store import Customer, Suppression, upsert

UNSUBSCRIBED = "unsubscribed"
HARD_BOUNCE = "hard_bounce"
COMPLAINT = "complaint"  # marked as spam: a feedback-loop report or a provider webhook
ERASED = "erased"  # the placeholder address an erased customer keeps (edm.privacy.erase)


def suppress(session: Session, emails: Iterable[str], reason: str, now: datetime) -> None:
    """Add the mailboxes; one already listed (in any spelling) keeps its first reason and time."""
    by_key: dict[str, str] = {}
    for email in sorted(set(emails)):
        by_key.setdefault(canonical_address(email), email)
    rows = [{"email": email, "address_key": key, "reason": reason, "created_at": now}
            for key, email in sorted(by_key.items())]
    upsert(session, Suppression, rows, key="address_key")
    _tell_webhooks(session, by_key, reason, now)


_EVENTS = {UNSUBSCRIBED: "customer.unsubscribed", HARD_BOUNCE: "customer.bounced",
           COMPLAINT: "customer.complained"}


def _tell_webhooks(session: Session, by_key: dict[str, str], reason: str, now: datetime) -> None:
    """One event per mailbox and reason (its id is the mailbox's key: an address suppressed again
    is not announced again), in this transaction (edm.webhooks.emit)."""
    from edm.webhooks import events
    from edm.webhooks.emit import emit, wanted

    event_type = _EVENTS.get(reason)
    if event_type is None or not by_key or not wanted(session, event_type):
        return
    customers = {key: external for key, external in session.execute(
        select(Customer.email_key, Customer.external_id).where(Customer.email_key.in_(sorted(by_key))))}
    emit(session, [events.suppressed(event_type, key, email, customers.get(key), now, reason)
                   for key, email in sorted(by_key.items())], now)


def suppressed_keys(session: Session, emails: Iterable[str]) -> set[str]:
    """The canonical keys of those of `emails` whose mailbox is suppressed (one indexed query)."""
    keys = {canonical_address(email) for email in emails}
    if not keys:
        return set()
    return set(session.scalars(select(Suppression.address_key).where(Suppression.address_key.in_(keys))))


def unsuppress(session: Session, email: str) -> str | None:
    """Lift the mailbox's suppression if the person asked for it (`unsubscribed`), so they may ask to
    come back; a hard bounce or a complaint stays (the address is dead, or the person said spam).

    Returns the reason that stays listed, or None when the mailbox is no longer suppressed.
    """
    row = session.scalar(select(Suppression).where(Suppression.address_key == canonical_address(email)))
    if row is None:
        return None
    if row.reason != UNSUBSCRIBED:
        return row.reason
    session.delete(row)
    return None
