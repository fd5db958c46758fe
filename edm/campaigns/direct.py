"""One message of a campaign to one customer, with the call's own data: `POST /v1/campaigns/{name}/send`.

For transactional and one-off mail (an order confirmation: `{{ data.order_no }}`). The outbox has
no column for data, so the call's data is kept as a `customer_events` row (name `send:<campaign>`,
source `api`) whose idempotency key is the outbox row's key; composing reads it back
(`call_data`). The key comes from the caller's idempotency key when given (the same call twice
queues one message; the data of the first call wins), else from a fresh random one. Service
campaigns are claimed before any bulk mail (edm.delivery.outbox.claim_batch); a marketing
campaign's message waits its turn and its pauses like any other. Suppressed addresses are
settled by the sender as usual; a template naming a `data.x` the call did not give fails the row.
A customer without a lawful basis the campaign's kind may use (edm.consent.policy, `consent.kinds`)
gets nothing: `NoConsent`, and nothing is written.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.planner import consent_columns, consent_facts
from edm.campaigns.schema import Campaign
from edm.config import ConsentSettings
from edm.consent.policy import hold_reason
from edm.errors import CampaignError
from edm.store import Consent, Customer, CustomerEvent, CustomerProfile, OutboxMessage

SOURCE = "api"
DIRECT_PREFIX = "send:"  # the data rows' event name: send:<campaign> (not a customer's own event)


class NoConsent(CampaignError):
    """The customer's mailbox has no basis the campaign's kind may use; the message is not queued."""


class SampleData(dict[str, Any]):
    """What a campaign check renders `data` as: any key reads as a placeholder, since the real data
    comes with each call."""

    def __missing__(self, key: str) -> str:
        return f"[{key}]"


def send_key(campaign: str, customer_id: int, idempotency_key: str | None) -> str:
    """The outbox key of one call: the same (campaign, customer, idempotency key) gives the same row."""
    call = idempotency_key if idempotency_key is not None else uuid.uuid4().hex
    return hashlib.sha256(f"{campaign}|api|{customer_id}|{call}".encode()).hexdigest()


def send_to_one(
    sessions: sessionmaker[Session], campaign: Campaign, customer_id: int, data: Mapping[str, Any],
    now: datetime, *, idempotency_key: str | None = None, consent: ConsentSettings | None = None,
) -> int:
    """Queue the campaign's message for the customer, due now; the outbox row's id.

    Raises CampaignError when there is no such customer, NoConsent when `consent` (default:
    `ConsentSettings()`) allows the campaign's kind no basis the customer's mailbox has.
    """
    key = send_key(campaign.name, customer_id, idempotency_key)
    try:
        with sessions.begin() as session:
            known = _queued(session, key)
            if known is not None:
                return known
            found = session.execute(
                select(Customer.email, *consent_columns())
                .outerjoin(Consent, Consent.address_key == Customer.email_key)
                .outerjoin(CustomerProfile, CustomerProfile.customer_id == Customer.id)
                .where(Customer.id == customer_id)
            ).first()
            if found is None:
                raise CampaignError(f"no customer with id {customer_id}: import or create them first")
            lacking = hold_reason(consent_facts(found), campaign.kind, now, consent or ConsentSettings())
            if lacking is not None:
                raise NoConsent(f"customer {customer_id}: {lacking}")
            email = found.email
            session.add(CustomerEvent(
                customer_id=customer_id, name=f"{DIRECT_PREFIX}{campaign.name}"[:64], properties=dict(data),
                occurred_at=now, received_at=now, idempotency_key=key, source=SOURCE,
            ))
            message = OutboxMessage(
                key=key, campaign=campaign.name, step=0, customer_id=customer_id, occurrence=now.date(),
                to_address=email, state="queued", attempts=0, next_attempt_at=now, created_at=now,
            )
            session.add(message)
            session.flush()
            return message.id
    except IntegrityError:  # the same call at the same moment from elsewhere: theirs stands
        with sessions() as session:
            known = _queued(session, key)
        if known is None:
            raise
        return known


def call_data(session: Session, key: str) -> dict[str, Any]:
    """The data of the call that queued the outbox row `key` (empty when it gave none)."""
    properties = session.scalar(select(CustomerEvent.properties).where(CustomerEvent.idempotency_key == key))
    return dict(properties or {})


def _queued(session: Session, key: str) -> int | None:
    return session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key))
