"""The later steps of sequences: day 3, 7, 15 after the first message, until the customer exits.

A customer is enrolled by the campaign's first message (step 0, however it was
triggered). On every run, each enrolment whose next step is due gets it, unless the
customer has left: ordered since enrolling, clicked one of the sequence's mails, no
longer matches the audience (each as the campaign's `exit_when` says), or unsubscribed
or bounced (always). Steps go in order, one per run at most, so a run after a pause
never sends two steps at once. The outbox key is (campaign, step, customer, the
enrolment's occurrence): planning twice queues nothing new.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from edm.campaigns.audience import audience_filter
from edm.campaigns.planner import PlanResult, outbox_key
from edm.campaigns.schema import Campaign
from edm.store import Customer, CustomerProfile, Event, Order, OutboxMessage, Suppression, upsert

ENROLLED_STATES = ("queued", "sending", "sent", "deferred")


def plan_follow_ups(
    sessions: sessionmaker[Session], campaign: Campaign, now: datetime, *, dry_run: bool = False
) -> list[PlanResult]:
    """Queue every due follow-up of `campaign`; one result per step."""
    results = []
    with sessions.begin() as session:
        # the last step first: a step queued in this run must not make the next one due in it too
        for step in range(len(campaign.follow_ups), 0, -1):
            enrolled_by = now - timedelta(days=campaign.follow_ups[step - 1].after_days)
            rows = session.execute(_due(campaign, step, enrolled_by, now)).all()
            if rows and not dry_run:
                messages = [_message(campaign, step, row, now) for row in rows]
                upsert(session, OutboxMessage, messages, key="key")
            name = f"{campaign.name} step {step}"
            result = PlanResult(name, now.date(), audience=len(rows), queued=len(rows))
            result.sample = [row.to_address for row in rows[:5]]
            results.append(result)
    return results[::-1]


def _due(campaign: Campaign, step: int, enrolled_by: datetime, now: datetime) -> Any:
    first = aliased(OutboxMessage, name="first")
    previous = aliased(OutboxMessage, name="previous")
    this = aliased(OutboxMessage, name="this")

    def same_enrolment(row: Any, step_number: int) -> Any:
        return and_(row.campaign == campaign.name, row.step == step_number,
                    row.customer_id == first.customer_id, row.occurrence == first.occurrence)

    query = (
        select(first.customer_id, first.occurrence, first.variant, first.to_address)
        .join(Customer, Customer.id == first.customer_id)
        .join(CustomerProfile, CustomerProfile.customer_id == first.customer_id)
        .where(
            first.campaign == campaign.name,
            first.step == 0,
            first.state.in_(ENROLLED_STATES),
            first.created_at <= enrolled_by,
            exists().where(same_enrolment(previous, step - 1), previous.state.in_(ENROLLED_STATES)),
            ~exists().where(same_enrolment(this, step)),
            ~exists().where(Suppression.address_key == Customer.email_key),  # the mailbox, any spelling
        )
    )
    if "ordered" in campaign.exit_when:
        query = query.where(~exists().where(Order.customer_id == first.customer_id,
                                            Order.ordered_at > first.created_at))
    if "clicked" in campaign.exit_when:
        clicked = aliased(OutboxMessage, name="clicked")
        query = query.where(~exists().where(
            Event.kind == "click", Event.customer_id == first.customer_id, Event.outbox_id == clicked.id,
            clicked.campaign == campaign.name, Event.occurred_at > first.created_at,
        ))
    if "left_audience" in campaign.exit_when:
        query = query.where(audience_filter(campaign.audience, now))
    return query.order_by(first.customer_id)


def _message(campaign: Campaign, step: int, row: Any, now: datetime) -> dict[str, Any]:
    return {
        "key": outbox_key(campaign.name, step, row.customer_id, row.occurrence),
        "campaign": campaign.name,
        "step": step,
        "customer_id": row.customer_id,
        "occurrence": row.occurrence,
        "to_address": row.to_address,
        "state": "queued",
        "variant": row.variant,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }
