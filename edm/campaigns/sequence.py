"""The later steps of sequences: day 3, 7, 15 after the first message, until the customer exits.

A customer is enrolled by the campaign's first message (step 0, however it was triggered). On every
run, each enrolment whose next step is due gets it, unless the customer has left: ordered since
enrolling, clicked one of the sequence's mails, no longer matches the audience (each as the
campaign's `exit_when` says), turned off the campaign's topic, or unsubscribed or bounced, or
without a lawful basis for the campaign's kind (always: edm.consent.policy). Steps go in order, one
per run at most, so a run after a pause never sends two steps at once. The outbox key is (campaign,
step, customer, the enrolment's occurrence): planning twice queues nothing new.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, false, not_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from edm.campaigns.audience import audience_filter
from edm.campaigns.decisions import Judged, Watcher, decide_follow_up
from edm.campaigns.keys import OutboxKeys, outbox_keys
from edm.campaigns.planner import BATCH, PlanResult, consent_columns, consent_facts, plan_title
from edm.campaigns.schema import Campaign
from edm.config import ConsentSettings
from edm.consent.policy import hold_reason
from edm.consent.topics import topics_in
from edm.store import Consent, Customer, CustomerProfile, Event, Order, OutboxMessage, Suppression, upsert

ENROLLED_STATES = ("queued", "sending", "sent", "deferred")


def plan_follow_ups(
    sessions: sessionmaker[Session], campaign: Campaign, now: datetime, *, dry_run: bool = False,
    watch: Watcher | None = None, consent: ConsentSettings | None = None,
) -> list[PlanResult]:
    """Queue every due follow-up of `campaign`; one result per step.

    Each enrolment whose step is due gets a `decisions.decide_follow_up` decision: the `send`
    ones are queued; `watch`, when given, sees every one. `consent`: which bases each kind may use.
    """
    consent = consent or ConsentSettings()
    results = []
    with sessions.begin() as session:
        keys = outbox_keys(session)
        # the last step first: a step queued in this run must not make the next one due in it too
        for step in range(len(campaign.follow_ups), 0, -1):
            enrolled_by = now - timedelta(days=campaign.follow_ups[step - 1].after_days)
            result = PlanResult(plan_title(campaign.name, step), now.date())
            template = campaign.content(None, step)[0]
            messages: list[dict[str, Any]] = []
            due = _due(campaign, step, enrolled_by, now).execution_options(yield_per=2000)
            for row in session.execute(due):
                exits: list[str] = [reason for reason in campaign.exit_when if getattr(row, reason)]
                if campaign.topic is not None and campaign.topic in topics_in(row.topics_off):
                    exits.append(f"turned off the topic {campaign.topic!r}")
                lacking = hold_reason(consent_facts(row), campaign.kind, now, consent)
                decision = decide_follow_up(row.customer_id, row.suppression, exits, lacking)
                result.audience += 1
                result.count(decision, row.to_address)
                if watch is not None:
                    watch(Judged(campaign.name, step, row.to_address, row.name, row.locale, template,
                                 replace(decision, variant=row.variant if decision.send else None)))
                if decision.send and not dry_run:
                    messages.append(_message(keys, campaign, step, row, now))
                    if len(messages) >= BATCH:
                        upsert(session, OutboxMessage, messages, key="key")
                        messages.clear()
            if messages and not dry_run:
                upsert(session, OutboxMessage, messages, key="key")
            results.append(result)
    return results[::-1]


def _due(campaign: Campaign, step: int, enrolled_by: datetime, now: datetime) -> Any:
    """The enrolments whose `step` is due, with whether each has left (one column per exit reason)."""
    first = aliased(OutboxMessage, name="first")
    previous = aliased(OutboxMessage, name="previous")
    this = aliased(OutboxMessage, name="this")

    def same_enrolment(row: Any, step_number: int) -> Any:
        return and_(row.campaign == campaign.name, row.step == step_number,
                    row.customer_id == first.customer_id, row.occurrence == first.occurrence)

    clicked = aliased(OutboxMessage, name="clicked")
    ordered = exists().where(Order.customer_id == first.customer_id, Order.ordered_at > first.created_at)
    clicked_one = exists().where(
        Event.kind == "click", Event.customer_id == first.customer_id, Event.outbox_id == clicked.id,
        clicked.campaign == campaign.name, Event.occurred_at > first.created_at,
    )
    left = not_(audience_filter(campaign.audience, now))
    query = (
        select(
            first.customer_id, first.occurrence, first.variant, first.to_address, Customer.name,
            Customer.locale, Customer.topics_off, Suppression.reason.label("suppression"),
            (ordered if "ordered" in campaign.exit_when else false()).label("ordered"),
            (clicked_one if "clicked" in campaign.exit_when else false()).label("clicked"),
            (left if "left_audience" in campaign.exit_when else false()).label("left_audience"),
            *consent_columns(),
        )
        .join(Customer, Customer.id == first.customer_id)
        .join(CustomerProfile, CustomerProfile.customer_id == first.customer_id)
        .outerjoin(Suppression, Suppression.address_key == Customer.email_key)  # the mailbox, any spelling
        .outerjoin(Consent, Consent.address_key == Customer.email_key)
        .where(
            first.campaign == campaign.name,
            first.step == 0,
            first.state.in_(ENROLLED_STATES),
            first.created_at <= enrolled_by,
            exists().where(same_enrolment(previous, step - 1), previous.state.in_(ENROLLED_STATES)),
            ~exists().where(same_enrolment(this, step)),
        )
    )
    return query.order_by(first.customer_id)


def _message(keys: OutboxKeys, campaign: Campaign, step: int, row: Any, now: datetime) -> dict[str, Any]:
    return {
        "key": keys(campaign.name, step, row.customer_id, row.occurrence),
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
