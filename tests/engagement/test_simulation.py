"""The adaptive contact frequency earns its keep on a simulated population (edm.engagement.simulate)."""

from __future__ import annotations

import dataclasses
from functools import cache

from edm.config import EngagementSettings
from edm.engagement.simulate import Outcome, World, simulate

PEOPLE = 600


@cache
def baseline(policy: str) -> Outcome:
    """The default world and settings, simulated once for all the tests here."""
    return simulate(policy, size=PEOPLE)


def test_adaptive_gets_at_least_the_clicks_of_weekly_with_fewer_sends_and_unsubscribes() -> None:
    weekly, adaptive = baseline("weekly"), baseline("adaptive")
    assert adaptive.clicks >= weekly.clicks
    assert adaptive.sends < 0.8 * weekly.sends
    assert adaptive.unsubscribes < 0.7 * weekly.unsubscribes
    assert adaptive.machine_opens < weekly.machine_opens  # proxies still fetch, but from fewer mails


def test_proxy_opens_do_not_sway_the_policy() -> None:
    """Machine opens are no reactions: a world where everyone reads through a proxy is mailed alike."""
    honest = baseline("adaptive")
    everyone_proxied = simulate("adaptive", size=PEOPLE, world=World(proxy_share=1.0))
    assert everyone_proxied.machine_opens == everyone_proxied.sends
    assert abs(everyone_proxied.sends - honest.sends) < 0.1 * honest.sends  # the proxy changes nothing


def test_a_harsher_stretch_sends_less_and_a_policy_that_never_adapts_sends_like_a_schedule() -> None:
    default = baseline("adaptive")
    harsh = simulate("adaptive", size=PEOPLE, rules=EngagementSettings(ignored_factor=2.0))
    never_adapts = EngagementSettings(engaged_factor=1.0, ignored_factor=1.0, sunset_after_days=None)
    frozen = simulate("adaptive", size=PEOPLE, rules=never_adapts)
    weekly = baseline("weekly")
    assert harsh.sends < default.sends
    assert abs(frozen.sends - weekly.sends) < 0.05 * weekly.sends  # a fixed 7-day gap is the weekly schedule
    assert dataclasses.astuple(simulate("adaptive", size=PEOPLE)) == dataclasses.astuple(default)  # seeded
