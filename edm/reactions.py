"""Reactions in seconds: an order or event refreshes that customer's profile and plans their mail at once.

`refresh_customer` recomputes one customer's figures and classes against the population figures of
the last full classification (`ClassificationRun`: thresholds, peer intervals, fitted MBG/NBD and
Gamma-Gamma parameters; nothing is refitted), writes the profile and records transitions, so
`entered` campaigns see the move. With an unchanged population it gives what a full recompute
gives; after the customer's new order the population's quantiles and fits would shift a little,
and the refresh deliberately keeps the stored ones until the next full run.
`react` = refresh + plan the reactive campaigns (event, after_order, entered) for that customer only;
`react_to_new` does it for every customer with events or orders newer than a cursor (the daemon's
`react` job, every `daemon.react_seconds`, so imported events are reacted to as well).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.planner import PlanResult, plan_campaign
from edm.campaigns.schema import Campaign
from edm.campaigns.triggers import occurrence_of, timing_for
from edm.clock import Clock, epoch_day
from edm.config import ClassificationSettings, Settings
from edm.customers.classify import ResolvedThresholds, assign_classes
from edm.customers.columns import load_customer_columns
from edm.customers.features import FittedModels, customer_features
from edm.customers.profiles import (
    _cap_loyalty,
    _transitions,
    _write_profiles,
    _write_transitions,
    recompute_profiles,
)
from edm.store import ClassificationRun, CustomerEvent, Order


def refresh_customer(
    sessions: sessionmaker[Session], customer_id: int, rules: ClassificationSettings, clock: Clock
) -> bool:
    """Recompute one customer's profile now; False when there is no such customer.

    Without any classification run yet there are no population figures: everyone is classified.
    """
    now = clock.now()
    with sessions.begin() as session:
        run = session.scalars(
            select(ClassificationRun).order_by(ClassificationRun.computed_at.desc()).limit(1)
        ).first()
        if run is not None:
            connection = session.connection()
            store = load_customer_columns(connection, customer_id)
            if len(store.customers.customer_id) == 0:
                return False
            fitted = FittedModels.from_dict(run.churn_model or {})
            day = epoch_day(now)
            features, _ = customer_features(store.customers, store.orders, day, rules, fitted=fitted)
            classes = assign_classes(features, rules, ResolvedThresholds.from_dict(run.thresholds))
            classes["loyalty"] = _cap_loyalty(classes["loyalty"].to_numpy(dtype=object), store.satisfaction)
            moves = _transitions(store.customers.customer_id, store.stored_classes, classes)
            _write_profiles(connection, features, classes, store.customers.engaged_day, now)
            _write_transitions(session, moves, now)
            return True
    recompute_profiles(sessions, rules, clock)
    return True


def reactive(campaigns: Iterable[Campaign]) -> list[Campaign]:
    """The campaigns an order or event may trigger at once: event, after_order and entered ones."""
    return [c for c in campaigns if c.event is not None or c.after_order is not None or c.entered is not None]


def react(
    sessions: sessionmaker[Session], settings: Settings, clock: Clock, customer_id: int,
    campaigns: Iterable[Campaign], *, refresh: bool = True,
) -> list[PlanResult]:
    """Refresh the customer's profile (`refresh`: after an order; an event changes no class) and plan
    the reactive campaigns for them alone (the outbox rows are due at once, or after an event's
    `delay`); the sender workers send them."""
    if refresh and not refresh_customer(sessions, customer_id, settings.classification, clock):
        return []
    now = clock.now()
    plans = []
    for campaign in sorted(reactive(campaigns), key=lambda c: -c.priority):
        plans.append(plan_campaign(
            sessions, campaign, occurrence=occurrence_of(campaign, now), now=now, rules=settings.engagement,
            policy=settings.policy, timing=timing_for(campaign, now, due=True), only_customer=customer_id,
            consent=settings.consent,
        ))
    return plans


@dataclass(frozen=True)
class Cursor:
    """The last customer event and order reacted to (by id)."""

    event_id: int = 0
    order_id: int = 0


def current_cursor(sessions: sessionmaker[Session]) -> Cursor:
    """Everything stored so far counts as seen (the plan job covers what came before a daemon started)."""
    with sessions() as session:
        events = session.scalar(select(func.max(CustomerEvent.id))) or 0
        orders = session.scalar(select(func.max(Order.id))) or 0
    return Cursor(int(events), int(orders))


def react_to_new(
    sessions: sessionmaker[Session], settings: Settings, clock: Clock, cursor: Cursor,
    campaigns: Iterable[Campaign],
) -> tuple[Cursor, int]:
    """`react` for each customer with an order, or an event a campaign waits for, after `cursor`; the
    new cursor and the mail queued. Other events (page views, ...) cost nothing: only their ids move
    the cursor, so a stream of them never delays the ones that matter."""
    chosen = reactive(campaigns)
    awaited = sorted({c.event.name for c in chosen if c.event is not None})
    with sessions() as session:
        last_event = session.scalar(select(func.max(CustomerEvent.id))) or cursor.event_id
        events = session.execute(
            select(CustomerEvent.customer_id).where(CustomerEvent.id > cursor.event_id,
                                                    CustomerEvent.id <= last_event,
                                                    CustomerEvent.name.in_(awaited))
        ).scalars().all() if awaited else []
        orders = session.execute(select(Order.id, Order.customer_id).where(Order.id > cursor.order_id)).all()
    after = Cursor(max(cursor.event_id, int(last_event)), max([cursor.order_id, *(i for i, _ in orders)]))
    ordered = set(pd.unique(pd.Series([c for _, c in orders], dtype="int64")).tolist())
    told = [c for c in pd.unique(pd.Series(events, dtype="int64")).tolist() if c not in ordered]
    queued = 0
    for customer_id in [*ordered, *told]:
        plans = react(sessions, settings, clock, int(customer_id), chosen, refresh=customer_id in ordered)
        queued += sum(plan.queued for plan in plans)
    return after, queued
