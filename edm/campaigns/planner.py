"""The planner: turn a due campaign into outbox rows, one per eligible customer.

The outbox key is derived from (campaign, step, customer, occurrence), so planning
the same occurrence twice queues nothing new and a restart never re-sends.
Policy, in order: the audience (`edm.campaigns.rules`), the suppression list, then the
customer's adaptive contact interval (marketing mail only).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.audience import audience_filter
from edm.campaigns.schema import Campaign, ClassEntry
from edm.campaigns.triggers import life_event_filter, local_day
from edm.campaigns.variants import HOLDOUT, assign
from edm.config import EngagementSettings
from edm.engagement import may_contact
from edm.store import Customer, CustomerProfile, OutboxMessage, ProfileTransition, Suppression, upsert

# States in which a mail counts as contact for the frequency policy.
CONTACT_STATES = ("queued", "sending", "sent", "deferred")
BATCH = 500


def outbox_key(campaign: str, step: int, customer_id: int, occurrence: date) -> str:
    raw = f"{campaign}|{step}|{customer_id}|{occurrence.isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class PlanResult:
    campaign: str
    occurrence: date
    audience: int = 0
    queued: int = 0
    already_planned: int = 0
    suppressed: int = 0
    too_soon: int = 0
    held_out: int = 0  # the control group: recorded, never sent
    sample: list[str] = field(default_factory=list)


def plan_campaign(
    sessions: sessionmaker[Session],
    campaign: Campaign,
    *,
    occurrence: date,
    now: datetime,
    rules: EngagementSettings,
    dry_run: bool = False,
) -> PlanResult:
    """Queue the campaign for every eligible customer; with `dry_run`, only count."""
    result = PlanResult(campaign.name, occurrence)
    pending: list[dict[str, Any]] = []
    with sessions.begin() as session:
        for row in _candidates(session, campaign, occurrence, now):
            result.audience += 1
            if row.planned:
                result.already_planned += 1
            elif row.suppressed:
                result.suppressed += 1
            elif campaign.respects_contact_interval and not may_contact(
                row.last_contact, _interval(row, rules), now
            ):
                result.too_soon += 1
            else:
                day = _occurrence(campaign, row, now, occurrence)
                message = _outbox_row(campaign, row.id, row.email, day, now)
                if message["state"] == "held_out":
                    result.held_out += 1
                else:
                    result.queued += 1
                    if len(result.sample) < 5:
                        result.sample.append(row.email)
                pending.append(message)
            if len(pending) >= BATCH:
                _queue(session, pending, dry_run)
        _queue(session, pending, dry_run)
    return result


def _occurrence(campaign: Campaign, row: Any, now: datetime, occurrence: date) -> date:
    """The day a message belongs to: the customer's own, the entry's, the last order's, or the campaign's."""
    if campaign.life_event is not None:
        return local_day(now, row.timezone)
    if campaign.entered is not None:
        return row.entered_at.astimezone(UTC).date()  # type: ignore[no-any-return]
    if campaign.inactive is not None:
        return row.last_order_at.astimezone(UTC).date()  # type: ignore[no-any-return]
    return occurrence


def _queue(session: Session, rows: list[dict[str, Any]], dry_run: bool) -> None:
    """Insert a batch of outbox rows (existing keys are left alone) and empty the batch."""
    if rows and not dry_run:
        upsert(session, OutboxMessage, rows, key="key")
    rows.clear()


def _interval(row: Any, rules: EngagementSettings) -> float:
    if row.interval is not None:
        return float(row.interval)
    return rules.base_interval(row.tier)


def _candidates(session: Session, campaign: Campaign, occurrence: date, now: datetime) -> Iterator[Any]:
    """The audience, streamed, with what policy needs to know about each customer."""
    this_occurrence = and_(OutboxMessage.campaign == campaign.name, OutboxMessage.occurrence == occurrence)
    last_contact = (
        select(
            OutboxMessage.customer_id,
            func.max(func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at)).label("at"),
        )
        .where(OutboxMessage.state.in_(CONTACT_STATES), ~this_occurrence)
        .group_by(OutboxMessage.customer_id)
        .subquery()
    )
    since = _planned_since(campaign, occurrence)
    this_run = and_(OutboxMessage.campaign == campaign.name, OutboxMessage.occurrence >= since)
    planned_query = select(OutboxMessage.customer_id).where(this_run, OutboxMessage.step == 0)
    if campaign.inactive is not None:  # a message since the last order covers this silence
        planned_query = (
            select(OutboxMessage.customer_id)
            .join(CustomerProfile, CustomerProfile.customer_id == OutboxMessage.customer_id)
            .where(OutboxMessage.campaign == campaign.name, OutboxMessage.step == 0,
                   OutboxMessage.created_at >= CustomerProfile.last_order_at)
        )
    planned = planned_query.distinct().subquery()
    query = (
        select(
            Customer.id,
            Customer.email,
            Customer.timezone,
            CustomerProfile.value_tier.label("tier"),
            CustomerProfile.contact_interval_days.label("interval"),
            last_contact.c.at.label("last_contact"),
            Suppression.email.is_not(None).label("suppressed"),
            planned.c.customer_id.is_not(None).label("planned"),
        )
        .join(CustomerProfile, CustomerProfile.customer_id == Customer.id)
        .outerjoin(last_contact, last_contact.c.customer_id == Customer.id)
        .outerjoin(Suppression, Suppression.email == Customer.email)
        .outerjoin(planned, planned.c.customer_id == Customer.id)
        .where(audience_filter(campaign.audience, now))
        .order_by(Customer.id)
    )
    if campaign.life_event is not None:
        timezones = session.scalars(select(Customer.timezone).distinct())
        query = query.where(life_event_filter(campaign.life_event, now, timezones))
    if campaign.entered is not None:
        entries = _entries(campaign.entered, now)
        query = (
            query.join(entries, entries.c.customer_id == Customer.id)
            .where(getattr(CustomerProfile, campaign.entered.dimension).in_(campaign.entered.into))
            .add_columns(entries.c.entered_at)
        )
    if campaign.inactive is not None:
        query = query.where(audience_filter(campaign.inactive.as_match(), now)).add_columns(
            CustomerProfile.last_order_at
        )
    yield from session.execute(query.execution_options(yield_per=2000))


def _planned_since(campaign: Campaign, occurrence: date) -> date:
    """From which occurrence on an outbox row means "this customer already has it".

    Per occurrence for scheduled campaigns; once a year for life events; once per entry
    (within the entry window) for class entries.
    """
    if campaign.life_event is not None:
        return occurrence - timedelta(days=300)
    if campaign.entered is not None:
        return occurrence - timedelta(days=campaign.entered.within_days + 1)
    return occurrence


def _entries(entry: ClassEntry, now: datetime) -> Any:
    """Each customer's latest entry into the classes, within the window."""
    return (
        select(ProfileTransition.customer_id, func.max(ProfileTransition.computed_at).label("entered_at"))
        .where(
            ProfileTransition.dimension == entry.dimension,
            ProfileTransition.new.in_(entry.into),
            ProfileTransition.computed_at >= now - timedelta(days=entry.within_days),
        )
        .group_by(ProfileTransition.customer_id)
        .subquery()
    )


def _outbox_row(
    campaign: Campaign, customer_id: int, email: str, occurrence: date, now: datetime
) -> dict[str, Any]:
    weights = [(v.name, v.weight) for v in campaign.variants]
    variant = assign(campaign.name, customer_id, weights, campaign.holdout_percent)
    return {
        "key": outbox_key(campaign.name, 0, customer_id, occurrence),
        "campaign": campaign.name,
        "step": 0,
        "customer_id": customer_id,
        "occurrence": occurrence,
        "to_address": email,
        "state": "held_out" if variant == HOLDOUT else "queued",
        "variant": None if variant == HOLDOUT else variant,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
