"""One customer's consent as shown to people (the card, the API), and consent set for one customer.

What is shown is what the planner judges: the mailbox's row (or the no-row default), the customer
record's creation and the last order as their profile has it (edm.campaigns.planner.consent_columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from edm.config import ConsentSettings
from edm.consent.policy import ConsentFacts, Standing, hold_reason, standing
from edm.consent.record import EXISTING_CUSTOMER, ConsentGiven, record
from edm.store import Consent, Customer, CustomerProfile

MARKETING = "marketing"


@dataclass(frozen=True)
class ConsentView:
    """A customer's consent: as recorded (`recorded` False: no row, the customer relationship
    alone), the basis that holds now, and whether marketing may be sent now (else why not)."""

    recorded: bool
    basis: str
    status: str | None
    source: str | None
    recorded_at: datetime | None
    wording_version: str | None
    standing: Standing
    marketing_held: str | None  # None: marketing may be sent now

    @property
    def marketing_allowed(self) -> bool:
        return self.marketing_held is None


def consent_view(session: Session, customer: Customer, now: datetime,
                 settings: ConsentSettings) -> ConsentView:
    """The customer's consent as the planner would judge it at `now`."""
    row = session.get(Consent, customer.email_key)
    last_order = session.scalar(select(CustomerProfile.last_order_at)
                                .where(CustomerProfile.customer_id == customer.id))
    facts = ConsentFacts(
        basis=row.basis if row else None, status=row.status if row else None,
        recorded_at=row.recorded_at if row else None, source=row.source if row else None,
        customer_since=customer.created_at, last_order_at=last_order,
    )
    return ConsentView(
        recorded=row is not None, basis=row.basis if row else EXISTING_CUSTOMER,
        status=row.status if row else None, source=row.source if row else None,
        recorded_at=row.recorded_at if row else None, wording_version=row.wording_version if row else None,
        standing=standing(facts, now, settings), marketing_held=hold_reason(facts, MARKETING, now, settings),
    )


def set_consent(session: Session, customer: Customer, basis: str, status: str, source: str, now: datetime,
                wording_version: str | None = None) -> None:
    """Record a consent for the customer's mailbox (edm.consent.record: the row and its history)."""
    record(session, [ConsentGiven(customer.email, basis, status, source, now, wording_version)])
