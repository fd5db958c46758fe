"""Outbox state changes. A row is `sent` only after the relay accepted it.

Claims are leases: a worker that dies leaves rows in `sending` whose lease runs
out, and the next claim picks them up again (at most the in-flight batch is
sent twice, none is skipped).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from edm.config import SmtpSettings
from edm.delivery.transport import Delivery
from edm.errors import PermanentDeliveryError
from edm.store import Event, OutboxMessage
from edm.suppression import HARD_BOUNCE, suppress

CLAIM_LEASE = timedelta(minutes=10)


def claim_batch(session: Session, now: datetime, limit: int) -> list[int]:
    """Atomically take up to `limit` due rows (SKIP LOCKED on PostgreSQL)."""
    due = (
        select(OutboxMessage.id)
        .where(
            or_(
                and_(OutboxMessage.state.in_(("queued", "deferred")), OutboxMessage.next_attempt_at <= now),
                and_(OutboxMessage.state == "sending", OutboxMessage.claimed_until < now),
            )
        )
        .order_by(OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(due.scalar_subquery()))
        .values(state="sending", claimed_until=now + CLAIM_LEASE, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed.scalars())


def record_results(
    session: Session, deliveries: Sequence[Delivery], now: datetime, settings: SmtpSettings
) -> None:
    for delivery in deliveries:
        row = session.get_one(OutboxMessage, delivery.outbox_id)
        row.last_reply = delivery.reply[:1000]
        row.claimed_until = None
        if delivery.error is None:
            row.state, row.sent_at = "sent", now
        elif isinstance(delivery.error, PermanentDeliveryError):
            row.state = "bounced"
            session.add(Event(kind="bounce", customer_id=row.customer_id, outbox_id=row.id, occurred_at=now))
            suppress(session, [row.to_address], HARD_BOUNCE, now)
        elif row.attempts >= settings.max_attempts:
            row.state = "failed"
        else:
            row.state = "deferred"
            backoff = settings.retry_after_seconds * 2 ** (row.attempts - 1)
            row.next_attempt_at = now + timedelta(seconds=backoff)


def settle(session: Session, outbox_id: int, state: str, reason: str) -> None:
    """Close a claimed row without sending it (suppressed, or failed before the relay)."""
    row = session.get_one(OutboxMessage, outbox_id)
    row.state, row.last_reply, row.claimed_until = state, reason[:1000], None
