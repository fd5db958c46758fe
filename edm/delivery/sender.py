"""The send loop: claim a batch, compose, hand it to the transport, record the answers.

Suppression is checked again at send time, so an unsubscribe or a hard bounce that
arrives after planning still stops the mail.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.utils import parseaddr

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.schema import Campaign
from edm.clock import Clock
from edm.config import SmtpSettings
from edm.delivery.compose import Composer
from edm.delivery.outbox import claim_batch, record_results, settle
from edm.delivery.transport import Delivery, Outgoing, Transport
from edm.errors import PermanentDeliveryError, TemplateError
from edm.store import Customer, CustomerProfile, OutboxMessage, Suppression

log = logging.getLogger(__name__)


@dataclass
class SendSummary:
    sent: int = 0
    deferred: int = 0
    bounced: int = 0
    suppressed: int = 0
    failed: int = 0

    def count(self, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            if delivery.error is None:
                self.sent += 1
            elif isinstance(delivery.error, PermanentDeliveryError):
                self.bounced += 1
            else:
                self.deferred += 1


async def send_due(
    sessions: sessionmaker[Session],
    *,
    campaigns: Mapping[str, Campaign],
    composer: Composer,
    transport: Transport,
    settings: SmtpSettings,
    clock: Clock,
) -> SendSummary:
    """Send every due outbox row until none is left to claim."""
    summary = SendSummary()
    while True:
        now = clock.now()
        with sessions.begin() as session:
            ids = claim_batch(session, now, settings.batch_size)
        if not ids:
            return summary
        with sessions.begin() as session:
            outgoing = _compose_batch(session, ids, campaigns, composer, summary, now)
        deliveries = await transport.send(outgoing) if outgoing else []
        with sessions.begin() as session:
            record_results(session, deliveries, clock.now(), settings)
        summary.count(deliveries)
        log.info("batch=%d sent=%d deferred=%d bounced=%d", len(ids), summary.sent, summary.deferred,
                 summary.bounced)


def _compose_batch(
    session: Session,
    ids: list[int],
    campaigns: Mapping[str, Campaign],
    composer: Composer,
    summary: SendSummary,
    now: datetime,
) -> list[Outgoing]:
    rows = session.execute(
        select(OutboxMessage, Customer, CustomerProfile, Suppression.email)
        .join(Customer, Customer.id == OutboxMessage.customer_id)
        .outerjoin(CustomerProfile, CustomerProfile.customer_id == Customer.id)
        .outerjoin(Suppression, Suppression.email == OutboxMessage.to_address)
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.id)
    )
    outgoing: list[Outgoing] = []
    for row, customer, profile, suppressed in rows:
        campaign = campaigns.get(row.campaign)
        if suppressed:
            settle(session, row.id, "suppressed", "address is on the suppression list")
            summary.suppressed += 1
        elif campaign is None:
            settle(session, row.id, "failed", f"campaign {row.campaign!r} is no longer defined")
            summary.failed += 1
        else:
            try:
                message = composer.compose(row, customer, profile, campaign, now)
            except TemplateError as exc:
                settle(session, row.id, "failed", str(exc))
                summary.failed += 1
                log.warning("outbox=%d render failed: %s", row.id, exc)
                continue
            sender = parseaddr(str(message["From"]))[1]
            outgoing.append(Outgoing(row.id, sender, row.to_address, message.as_bytes()))
    return outgoing
