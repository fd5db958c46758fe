"""A year of mail to a simulated population: the adaptive policy against a fixed weekly schedule.

The population has what a marketer cannot see: each person's interest (how likely they
open a mail that reaches them at a good moment), the hour they read, and fatigue: the
more interested take more mail, but each mail in the last week beyond what a person
tolerates makes the next one less likely to be opened and more likely the last straw.
A share of them read through a privacy proxy that fetches every pixel at delivery, as
Apple Mail does: those opens are machine opens, which the adaptive policy ignores, as
the tracking server flags them.

The adaptive policy is the product's own: `contact_interval` over each person's judged
reactions, `in_sunset` after a long silence, and `best_send_hour` for the send time.
Run by `bench/simulate_frequency.py` (a table) and by a test on a smaller population.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from edm.config import EngagementSettings, TierCadence
from edm.engagement.interval import contact_interval, in_sunset
from edm.engagement.score import best_send_hour, hour_counts

DAYS = 364
START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
WEEKLY_HOUR = 10  # the fixed schedule's send time, everyone's local 10:00
CADENCE = TierCadence(base_days=7, min_days=3, max_days=45)  # the weekly schedule's own starting point


@dataclass(frozen=True)
class World:
    """How people behave; the policies never see these numbers."""

    good_hour_window: int = 2  # hours around a person's reading hour that count as a good moment
    off_hour_factor: float = 0.6  # open chance away from it
    fatigue_factor: float = 0.75  # open chance x this for each mail in the previous 7 days beyond tolerance
    tolerance_per_interest: float = 5.0  # mails a week a person takes without tiring: interest x this
    click_given_open: float = 0.35  # times interest
    base_unsubscribe: float = 0.001  # per mail received
    fatigue_unsubscribe: float = 0.015  # per mail in the previous 7 days beyond tolerance
    bored_unsubscribe: float = 0.01  # per mail, for people with little interest
    proxy_share: float = 0.25  # read through a pixel-fetching privacy proxy


@dataclass
class Person:
    interest: float
    hour: int
    proxied: bool
    subscribed: bool = True
    received: deque[float] = field(default_factory=deque)  # days of recent mails
    # what the sender knows: per mail (day sent, a person reacted), and their reading hours
    history: list[tuple[float, bool]] = field(default_factory=list)
    read_hours: list[int] = field(default_factory=list)
    last_mail_day: int | None = None


@dataclass
class Outcome:
    sends: int = 0
    opens: int = 0  # by people
    machine_opens: int = 0
    clicks: int = 0
    unsubscribes: int = 0


def population(size: int, seed: int, world: World) -> list[Person]:
    rng = random.Random(seed)  # noqa: S311 - a simulation, not security
    people = []
    for _ in range(size):
        interest = rng.betavariate(1.2, 4.0)
        hour = round(rng.gauss(20, 1.5) if rng.random() < 0.35 else rng.gauss(10, 1.5)) % 24
        people.append(Person(interest, hour, rng.random() < world.proxy_share))
    return people


def simulate(policy: str, size: int = 2000, seed: int = 7, world: World | None = None,
             rules: EngagementSettings | None = None) -> Outcome:
    """One year of `policy` ("weekly" or "adaptive") over the same population and the same luck."""
    world = world or World()
    rules = rules or EngagementSettings()
    people = population(size, seed, world)
    luck = random.Random(seed + 1)  # noqa: S311 - a simulation, not security
    outcome = Outcome()
    everyone = [0.0] * 24
    for day in range(DAYS):
        for person in people:
            if not person.subscribed:
                continue
            hour = _send_hour(policy, person, day, everyone, rules)
            if hour is None:
                continue
            _deliver(person, day + hour / 24, hour, world, luck, outcome, everyone)
    return outcome


def _send_hour(policy: str, person: Person, day: int, everyone: list[float],
               rules: EngagementSettings) -> int | None:
    """The hour to mail `person` today, or None for no mail today."""
    if policy == "weekly":
        return WEEKLY_HOUR if day % 7 == 0 else None
    now = START + timedelta(days=day)
    judged = [reacted for sent, reacted in person.history if day - sent >= rules.response_window_days
              or reacted]
    interval = contact_interval(CADENCE, judged, rules)
    if person.last_mail_day is not None and day - person.last_mail_day < interval:  # the planner's daily tick
        return None
    first = START + timedelta(days=person.history[0][0]) if person.history else None
    last_read = max((sent for sent, reacted in person.history if reacted), default=None)
    last_signal = START + timedelta(days=last_read) if last_read is not None else None
    if in_sunset(first, last_signal, now, rules.sunset_after_days):
        return None
    best = best_send_hour(hour_counts(person.read_hours), everyone, rules.send_hour_prior)
    return WEEKLY_HOUR if best is None else best


def _deliver(person: Person, moment: float, hour: int, world: World, luck: random.Random,
             outcome: Outcome, everyone: list[float]) -> None:
    while person.received and moment - person.received[0] >= 7:
        person.received.popleft()
    tired = max(0, len(person.received) - int(person.interest * world.tolerance_per_interest))
    person.received.append(moment)
    person.last_mail_day = int(moment)
    outcome.sends += 1
    if person.proxied:
        outcome.machine_opens += 1  # the proxy fetches the pixel: no sign of a person
    near = min(abs(hour - person.hour), 24 - abs(hour - person.hour)) <= world.good_hour_window
    chance = person.interest * (1.0 if near else world.off_hour_factor) * world.fatigue_factor ** tired
    opened = luck.random() < chance
    clicked = opened and luck.random() < world.click_given_open * person.interest
    person.history.append((moment, opened))
    if opened:
        outcome.opens += 1
        person.read_hours.append(person.hour)
        everyone[person.hour] += 1
    outcome.clicks += clicked
    leave = world.base_unsubscribe + world.fatigue_unsubscribe * tired
    if person.interest < 0.1:
        leave += world.bored_unsubscribe
    if luck.random() < leave:
        person.subscribed = False
        outcome.unsubscribes += 1
