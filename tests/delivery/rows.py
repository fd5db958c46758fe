"""Queued outbox rows (with their customers) for sender tests, inserted in bulk."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.keys import outbox_key
from edm.campaigns.loader import load_campaigns
from edm.campaigns.schema import Campaign
from edm.resources import bundled_config_dir
from edm.store import Customer, CustomerProfile, OutboxMessage

CAMPAIGN = "win_back"


def shipped_campaigns() -> dict[str, Campaign]:
    return {n: f.campaign for n, f in load_campaigns(bundled_config_dir() / "campaigns").items()}


def queue(sessions: sessionmaker[Session], emails: Iterable[str], now: datetime) -> None:
    """One customer and one due `win_back` row per address."""
    emails = list(emails)
    with sessions.begin() as session:
        session.execute(insert(Customer), [
            {"external_id": e, "name": e.split("@")[0], "email": e, "kind": "person", "locale": "en",
             "timezone": "UTC", "created_at": now} for e in emails
        ])
        wanted = set(emails)
        ids = {e: i for e, i in session.execute(select(Customer.email, Customer.id)) if e in wanted}
        session.execute(insert(CustomerProfile), [
            {"customer_id": ids[e], "value_tier": "low", "lifecycle_stage": "churned", "order_count": 1,
             "revenue": Decimal("10"), "computed_at": now} for e in emails
        ])
        session.execute(insert(OutboxMessage), [
            {"key": outbox_key(CAMPAIGN, 0, ids[e], now.date()), "campaign": CAMPAIGN, "step": 0,
             "customer_id": ids[e], "occurrence": now.date(), "to_address": e, "state": "queued",
             "attempts": 0, "next_attempt_at": now, "created_at": now} for e in emails
        ])


def states(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        return dict(session.execute(select(OutboxMessage.to_address, OutboxMessage.state)).all())
