"""Each customer's own rhythm: their expected interval, their recent against their usual pace, their returns.

Pure numpy over distinct order days (an order day is a day with at least one order, so
three orders placed together are one purchase), sorted by customer and then day, with
customers given as positions 0..n-1. Days are whole UTC days, so the rules compare like
with like: a customer whose gaps are exactly 30 days is exactly on time at 30.

The only population figure is the peers' interval (the typical gap of customers in the
same industry), computed once here as the churn model is fitted once: classification
rules then judge each row on its own (edm.customers.classify).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from edm.classes import INDUSTRIES
from edm.config import ClassificationSettings

FloatArray = np.ndarray[Any, np.dtype[np.float64]]
IntArray = np.ndarray[Any, np.dtype[np.int64]]

DAYS_PER_YEAR = 365.0
MIN_RATE_SPAN_DAYS = 30.0  # a rate over a shorter span says more about chance than habit
PEER_MIN_ORDER_DAYS = 3  # two gaps: the least that says anything about a rhythm
CHUNK_GAPS = 1_000_000  # lapses are judged this many gaps at a time: a dozen temporaries stay small


@dataclass(frozen=True)
class Rhythm:
    """Per customer (NaN where it does not apply), plus the peers' intervals it leaned on."""

    expected_interval: FloatArray  # days; NaN without orders
    recent_rate: FloatArray  # order days per year over the recent window (or the tenure, if shorter)
    usual_rate: FloatArray  # order days per year before it; NaN with too few order days to tell
    return_day: FloatArray  # the first order day after their last lapse; NaN never lapsed
    orders_since_return: FloatArray  # order days from the return on, the return included
    peer_intervals: dict[str, float]  # by industry


def order_rhythm(
    who: IntArray, day: FloatArray, n: int, industry: IntArray, today: float, rules: ClassificationSettings,
    *, peers: dict[str, float] | None = None,
) -> Rhythm:
    """The rhythm of `n` customers from their distinct order days (`who`, `day`: sorted, whole days).

    `industry` indexes `edm.classes.INDUSTRIES` per customer; `today` is the current whole day.
    `peers`: the peers' intervals of an earlier run (else computed from these customers).
    """
    r = rules.rhythm
    order_days = np.bincount(who, minlength=n).astype(np.int64)
    start = np.r_[0, np.cumsum(order_days)[:-1]].astype(np.int64)
    same = who[1:] == who[:-1]
    gap = np.diff(day)[same]
    later = np.flatnonzero(same)
    later += 1  # index (in who/day) of the order day that ends each gap
    del same
    g_who = who[later]
    gap_count: FloatArray = np.bincount(g_who, minlength=n).astype(np.float64)
    gap_total: FloatArray = np.bincount(g_who, weights=gap, minlength=n).astype(np.float64)
    if len(day) < 2**31:  # the peak of a classification is below: positions in half the bytes from here
        later = later.astype(np.int32)
        g_who = g_who.astype(np.int32)

    if peers is None:
        peers = peer_intervals(gap_total, gap_count, industry, r.min_peers, r.default_interval_days)
    prior = np.asarray([peers[name] for name in INDUSTRIES])[industry]
    expected = np.where(order_days > 0, _expected(gap_total, gap_count, prior, r.prior_gaps), np.nan)

    lapse = np.empty(len(gap), dtype=bool)
    for at in range(0, len(gap), CHUNK_GAPS):
        part = slice(at, at + CHUNK_GAPS)
        lapse[part] = _lapses(gap[part], g_who[part], gap_total, gap_count, prior, rules)
    return_index = np.full(n, -1, dtype=np.int64)
    np.maximum.at(return_index, g_who[lapse], later[lapse])
    del gap, later, g_who, lapse  # one value per order day each: let go before the pace's own
    returned = return_index >= 0
    return_day = np.full(n, np.nan)
    return_day[returned] = day[return_index[returned]]
    since_return = np.where(returned, start + order_days - return_index, np.nan)

    recent_rate, usual_rate = _pace(who, day, n, start, order_days, return_index, today, rules)
    return Rhythm(expected, recent_rate, usual_rate, return_day, since_return.astype(float), peers)


def peer_intervals(
    gap_total: FloatArray, gap_count: FloatArray, industry: IntArray, min_peers: int, default: float
) -> dict[str, float]:
    """The median mean gap per industry among customers with two gaps or more.

    An industry with fewer than `min_peers` such customers takes everyone's median, and
    with nobody at all, `default`.
    """
    rhythmic = gap_count >= PEER_MIN_ORDER_DAYS - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_gap = gap_total / gap_count
    overall = float(np.median(mean_gap[rhythmic])) if rhythmic.any() else default
    peers: dict[str, float] = {}
    for code, name in enumerate(INDUSTRIES):
        mine = mean_gap[rhythmic & (industry == code)]
        peers[name] = float(np.median(mine)) if len(mine) >= min_peers else overall
    return peers


def _lapses(
    gap: FloatArray, g_who: IntArray, gap_total: FloatArray, gap_count: FloatArray, prior: FloatArray,
    rules: ClassificationSettings,
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which gaps are lapses: long enough that, by the rhythm of the customer's other gaps, they had
    churned. (A customer's only gap has no others to be judged against: long or short, it is their rhythm.)"""
    others = _expected(gap_total[g_who] - gap, gap_count[g_who] - 1, prior[g_who], rules.rhythm.prior_gaps)
    life = rules.lifecycle
    lapse = (gap > life.churned_min_days) & (gap >= life.churned_overdue * others) & (gap_count[g_who] >= 2)
    if life.churned_days is not None:
        lapse |= gap > life.churned_days
    return lapse


def _expected(total: FloatArray, count: FloatArray, prior: FloatArray, weight: float) -> FloatArray:
    """Own mean gap shrunk toward `prior` with the weight of `weight` gaps, never below the own mean."""
    with np.errstate(invalid="ignore", divide="ignore"):
        shrunk = (weight * prior + total) / (weight + count)
        own = np.where(count > 0, total / count, -np.inf)
    expected: FloatArray = np.where(count > 0, np.maximum(own, shrunk), prior)
    return expected


def _pace(
    who: IntArray, day: FloatArray, n: int, start: IntArray, order_days: IntArray, return_index: IntArray,
    today: float, rules: ClassificationSettings,
) -> tuple[FloatArray, FloatArray]:
    """Order days per year within the last `recent_days` (from their cut-off day on), and before it.

    The usual pace is the gaps' pace before the window, (order days - 1) / (last - first),
    so a customer who kept exactly to it is exactly on it. It counts from the customer's
    return when they lapsed (the pace before a lapse is another relationship's), and is
    NaN with fewer than `usual_min_orders` order days.
    """
    window = float(rules.rhythm.recent_days)
    cut = today - window
    recent = np.bincount(who, weights=(day >= cut).astype(float), minlength=n)
    bought = order_days > 0
    first = np.full(n, np.nan)
    first[bought] = day[start[bought]]
    span = np.clip(np.nan_to_num(today - first, nan=window), MIN_RATE_SPAN_DAYS, window)
    recent_rate = recent / span * DAYS_PER_YEAR

    period_start = np.where(return_index >= 0, return_index, start)
    before = (start + order_days - recent - period_start).astype(np.int64)  # order days in the period, before
    some = before > 0
    since, last_before = np.full(n, np.nan), np.full(n, np.nan)
    since[some] = day[period_start[some]]
    last_before[some] = day[(period_start + before - 1)[some]]
    enough = before >= rules.rhythm.usual_min_orders
    with np.errstate(invalid="ignore", divide="ignore"):
        usual = (before - 1) / (last_before - since) * DAYS_PER_YEAR
    usual_rate: FloatArray = np.where(enough & (last_before > since), usual, np.nan)
    return recent_rate, usual_rate
