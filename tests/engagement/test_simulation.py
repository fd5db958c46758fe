"""The simulated year (edm.engagement.simulate): the policy sees only the store, and earns its keep."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from decimal import Decimal
from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.config import EngagementSettings
from edm.engagement import refresh_engagement
from edm.engagement.simulate import DAYS, GOAL, START, TIER, Outcome, Simulation, World, ratios, simulate
from edm.store import Customer, CustomerProfile, Event, OutboxMessage

PEOPLE = 400


@cache
def baseline(policy: str) -> Outcome:
    """The default world and settings, simulated once for all the tests here."""
    return simulate(policy, size=PEOPLE)


def _write_store(simulation: Simulation, sessions: sessionmaker[Session]) -> dict[int, int]:
    """Every outbox row and recorded event of the simulation into a real store; person -> customer id."""
    ids = {}
    with sessions.begin() as session:
        for index, person in enumerate(simulation.people):
            customer = Customer(external_id=str(index), name=str(index), email=f"p{index}@example.com",
                                kind="person", locale="en", timezone="UTC", created_at=START)
            session.add(customer)
            session.flush()
            ids[index] = customer.id
            session.add(CustomerProfile(customer_id=customer.id, value_tier=TIER, lifecycle_stage="mature",
                                        order_count=1, revenue=Decimal("10"), computed_at=START))
            for outbox_id, sent_at in person.mails:
                session.add(OutboxMessage(id=outbox_id, key=str(outbox_id), campaign="news",
                                          customer_id=customer.id, occurrence=sent_at.date(),
                                          to_address=customer.email, state="sent", next_attempt_at=sent_at,
                                          created_at=sent_at, sent_at=sent_at))
            session.flush()
            for kind, at, machine, outbox_id in person.events:
                session.add(Event(kind=kind, customer_id=customer.id, outbox_id=outbox_id, machine=machine,
                                  occurred_at=at))
    return ids


def test_the_policy_sees_only_what_the_store_holds(sessions: sessionmaker[Session]) -> None:
    """The simulation's policy inputs are what the real refresh derives from the rows it wrote."""
    rules = EngagementSettings()
    simulation = Simulation("adaptive", 150, 3, World(), rules)
    simulation.run()
    now = START + timedelta(days=DAYS)
    used = {index: simulation.inputs(person, now) for index, person in enumerate(simulation.people)}
    proxied = [index for index, person in enumerate(simulation.people) if person.proxied]
    for person in simulation.people:  # what no sender can see changes nothing the policy reads
        person.interest, person.habit, person.proxied, person.gateway = 0.0, 0.0, False, False
    assert {i: simulation.inputs(p, now) for i, p in enumerate(simulation.people)} == used

    ids = _write_store(simulation, sessions)
    refresh_engagement(sessions, rules, FixedClock(now))
    with sessions() as session:
        stored = {p.customer_id: (p.contact_interval_days, p.engagement_score, p.sunset, p.best_hour)
                  for p in session.scalars(select(CustomerProfile))}
        proxied_opens = session.scalars(select(Event.machine).where(
            Event.kind == "open", Event.customer_id.in_([ids[index] for index in proxied]))).all()
    assert {index: stored[ids[index]] for index in used} == used
    assert proxied and proxied_opens
    assert all(proxied_opens)  # a proxied reader's real opens are never recorded
    assert len({derived[0] for derived in used.values()}) > 3  # and the figures differ from person to person


def test_on_a_small_population_adaptive_meets_the_goal() -> None:
    """The issue's goal, which the bench judges on 2000 people x 5 seeds, holds here too (400, one seed)."""
    weekly, adaptive = baseline("weekly"), baseline("adaptive")
    result = ratios(weekly, adaptive)
    assert result.clicks >= 1.0
    assert result.sends <= 0.60
    assert result.unsubscribes <= 0.50
    assert result.meets(GOAL)
    assert adaptive.machine_opens < weekly.machine_opens  # proxies still fetch, but from fewer mails


def test_readers_behind_a_proxy_are_judged_by_their_clicks_not_taken_for_silent() -> None:
    mostly_proxied = World(proxy_share=0.6)
    by_clicks = simulate("adaptive", size=PEOPLE, world=mostly_proxied)
    blind = simulate("adaptive", size=PEOPLE, world=mostly_proxied,
                     rules=EngagementSettings(veiled_by_clicks=False))
    assert by_clicks.clicks > 1.05 * blind.clicks
    assert by_clicks.sends > blind.sends  # they are written to, not stretched away as silent


def test_a_policy_that_never_adapts_sends_like_a_schedule_and_runs_are_seeded() -> None:
    never_adapts = EngagementSettings(target_read_rate=None, engaged_factor=1.0, ignored_factor=1.0,
                                      sunset_after_days=None)
    frozen = simulate("adaptive", size=PEOPLE, rules=never_adapts)
    weekly = baseline("weekly")
    assert abs(frozen.sends - weekly.sends) < 0.05 * weekly.sends  # a fixed 7-day gap is the weekly schedule
    assert dataclasses.astuple(simulate("adaptive", size=PEOPLE)) == dataclasses.astuple(baseline("adaptive"))
