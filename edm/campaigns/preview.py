"""What a campaign would do on a date, without queueing or sending anything.

The planner runs as a dry run (the same audience, suppression, interval, policy and
variant rules as the real thing), and one message per template and locale among the
would-be recipients is rendered as it would be sent, with links signed by a throwaway
key: a preview must work before EDM_SECRET_KEY is set, and its links go nowhere.

A holiday or life-event campaign is previewed for the whole day, in every time zone: a
customer in Shanghai is in the preview of 3 February although their 3 February is over
by the time Los Angeles' begins.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.planner import PlanResult, plan_campaign
from edm.campaigns.schema import Campaign
from edm.campaigns.triggers import due_on, timing_for
from edm.config import Settings
from edm.delivery.compose import Composed, Composer
from edm.render import Renderer, resolve_language, template_languages
from edm.store import Customer, CustomerProfile, OutboxMessage
from edm.tracking import TrackingLinks


@dataclass(frozen=True)
class Preview:
    due: bool
    plan: PlanResult
    customers: list[tuple[str, str, str]]  # (external id, name, email) of a sample of recipients
    messages: list[tuple[str, str, Composed]]  # (variant or "", language, the rendered message)


def preview_campaign(
    settings: Settings, sessions: sessionmaker[Session], campaign: Campaign, now: datetime
) -> Preview:
    """Who would receive `campaign` at `now`, how they split, and one message per variant and language.

    The languages are those the recipients (the first `planner.SAMPLE`) would be sent: each
    customer's locale resolved over the template's languages, so a zh-TW customer shows zh-Hant.
    """
    day = now.date()
    due = due_on(campaign, day)
    timed = campaign.life_event is not None or (campaign.holiday is not None and due)
    plan = plan_campaign(
        sessions, campaign, occurrence=day, now=now, rules=settings.engagement,
        policy=settings.policy, dry_run=True, consent=settings.consent,
        timing=timing_for(campaign, now, due=due, whole_day=day if timed else None),
    )
    composer = Composer(
        Renderer(), TrackingLinks(settings.tracking.base_url, [secrets.token_bytes(32)]), settings.sender,
        compliance=settings.compliance, brand=settings.brand,
    )
    with sessions() as session:
        query = (
            select(Customer, CustomerProfile)
            .join(CustomerProfile, CustomerProfile.customer_id == Customer.id)
            .where(Customer.id.in_(plan.recipients))
            .order_by(Customer.id)
        )
        recipients = [(customer, profile) for customer, profile in session.execute(query)]
    arms = [variant.name for variant in campaign.variants] or [""]
    messages = []
    for arm in arms:
        available = template_languages(campaign.content(arm or None)[0])
        by_language: dict[str, tuple[Customer, CustomerProfile]] = {}
        for customer, profile in recipients:
            by_language.setdefault(resolve_language(customer.locale, available), (customer, profile))
        for language, (customer, profile) in sorted(by_language.items()):
            row = OutboxMessage(id=0, key=f"preview-{arm}-{language}", campaign=campaign.name, step=0,
                                customer_id=customer.id, occurrence=day, to_address=customer.email,
                                variant=arm or None)
            messages.append((arm, language, composer.compose(row, customer, profile, campaign, now)))
    return Preview(
        due=due,
        plan=plan,
        customers=[(c.external_id, c.name, c.email) for c, _ in recipients],
        messages=messages,
    )
