"""The engagement score and the likely hour of reading, as pure functions.

The score adds up what a person did, each signal weighted by kind (a click says more
than an open, an order most, an unsubscribe counts against) and halved every
`half_life_days`, so old habits fade. Opens by privacy proxies and scanners are never
given to these functions.

The send hour is the customer's most frequent local hour of opening and clicking,
with the population's hours mixed in as `prior` pseudo-signals: a customer with two
opens leans on everyone's habits, one with fifty on their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

HOURS = 24
REACTIONS = ("open", "click")  # what a person does on a mail that says they read it


def engagement_score(
    signals: Iterable[tuple[str, datetime]], now: datetime, weights: Mapping[str, float],
    half_life_days: float,
) -> float:
    """Sum of each (kind, moment)'s weight, decayed by its age; unknown kinds weigh nothing."""
    total = 0.0
    for kind, at in signals:
        age_days = max((now - at).total_seconds() / 86_400, 0.0)
        total += weights.get(kind, 0.0) * 0.5 ** (age_days / half_life_days)
    return round(total, 3)


def hour_counts(hours: Iterable[int]) -> list[float]:
    counts = [0.0] * HOURS
    for hour in hours:
        counts[hour % HOURS] += 1
    return counts


def best_send_hour(own: Sequence[float], population: Sequence[float], prior: float) -> int | None:
    """The hour (0-23) with the most engagement, own counts plus `prior` spread as the population's.

    Neighbouring hours count half (reading at 9:55 and 10:05 is one habit). None when
    neither the customer nor the population has any signal.
    """
    people = sum(population)
    mixed = [o + (prior * p / people if people else 0.0) for o, p in zip(own, population, strict=True)]
    if not any(mixed):
        return None
    smooth = [mixed[h] + 0.5 * (mixed[h - 1] + mixed[(h + 1) % HOURS]) for h in range(HOURS)]
    return max(range(HOURS), key=lambda h: (smooth[h], -h))
