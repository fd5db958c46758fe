"""Why a customer is written to as often as they are: the score, the interval, the next date.

A pure function over facts gathered by the customer card (`edm.customers.card`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from edm.config import EngagementSettings
from edm.engagement.interval import LESS_MAIL
from edm.wording import count, day_range, days, number

Line = tuple[str, str, str]  # what, value, why


@dataclass(frozen=True)
class EngagementFacts:
    """What the customer did (people only, never proxies) and what the last refresh stored."""

    tier: str
    timezone: str
    score: float | None
    interval_days: float | None
    best_hour: int | None
    sunset: bool
    paused_until: datetime | None
    preference: str | None
    opens: int  # within the score's history (a year)
    clicks: int
    orders: int
    mails_read: int  # sent mails a person opened or clicked
    mails_ignored: int
    last_contact: datetime | None  # the last marketing mail queued or sent


def explain_engagement(facts: EngagementFacts, rules: EngagementSettings, now: datetime) -> list[Line]:
    cadence = rules.tier_cadence(facts.tier)
    interval = facts.interval_days if facts.interval_days is not None else cadence.base_days
    lines: list[Line] = [_score(facts, rules)]
    why = (f"{facts.tier} tier starts at {days(cadence.base_days)} "
           f"(bounds {day_range(cadence.min_days, cadence.max_days)}); ")
    if rules.target_read_rate is None:
        why += (f"{count(facts.mails_read, 'mail')} read (x{rules.engaged_factor:g} each), "
                f"{number(facts.mails_ignored)} ignored (x{rules.ignored_factor:g} each)")
    else:
        why += (f"{count(facts.mails_read, 'mail')} read, {number(facts.mails_ignored)} ignored: the base "
                f"at a read rate of {rules.target_read_rate:g}, shorter as they read more, longer as they "
                "read less (clicks stand for opens a privacy proxy hides)")
    if facts.preference == LESS_MAIL:
        why += f"; asked for less mail (x{rules.less_mail_factor:g})"
    lines.append(("contact interval", days(interval), why))
    lines.append(_next_date(facts, interval, rules, now))
    hour = "-" if facts.best_hour is None else f"{facts.best_hour:02d}:00 {facts.timezone}"
    lines.append(("send hour", hour, f"{rules.send_ahead_hours:g} h before their usual reading hour: their "
                  "own opens and clicks, leaning on everyone's when few (send_time: optimal)"))
    return lines


def _score(facts: EngagementFacts, rules: EngagementSettings) -> Line:
    """The score and what went into it; without a score, why there is none yet."""
    signals = (f"{count(facts.opens, 'open')}, {count(facts.clicks, 'click')}, "
               f"{count(facts.orders, 'order')} in the last year")
    if facts.score is None:  # refresh_engagement scores every profile, with or without mail
        return ("engagement score", "not scored yet",
                "scored when campaigns are next planned (edm campaign run, or the daemon); "
                f"it will count {signals}")
    weights = ", ".join(f"{kind} {weight:g}" for kind, weight in rules.score_weights.items())
    return ("engagement score", number(facts.score),
            f"{signals}, weighted {weights}, halved every {days(rules.half_life_days)}")


def _next_date(facts: EngagementFacts, interval: float, rules: EngagementSettings, now: datetime) -> Line:
    if facts.sunset:
        return ("next marketing mail", "sunset",
                f"no open, click or order in {days(rules.sunset_after_days)} of mail: only campaigns with "
                "reaches_sunset (win-back, re-permission) write")
    if facts.paused_until is not None and facts.paused_until > now:
        return ("next marketing mail", f"{facts.paused_until:%Y-%m-%d}", "paused by the customer until then")
    if facts.last_contact is None:
        return ("next marketing mail", "now", "never mailed")
    eligible = facts.last_contact + timedelta(days=interval)
    when = "now" if eligible <= now else f"{eligible:%Y-%m-%d %H:%M} UTC"
    return ("next marketing mail", when,
            f"last marketing mail {facts.last_contact:%Y-%m-%d %H:%M} UTC + {days(interval)}")
