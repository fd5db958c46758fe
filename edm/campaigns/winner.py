"""A/B winners, as pure functions: who is in the test share, and which variant (if any) won.

The test share is a hash of (campaign, customer) like `variants.assign`, but of another string,
so it is independent of the arm: each variant gets the same share of testers, and re-planning
never moves anyone between the test and the rest.

The decision: each arm is (delivered test messages, of them converted: clicked or ordered). The
leader is the arm with the highest rate (the first in the campaign's order on a tie). It is
compared with every other arm by a two-sided test of two proportions: Fisher's exact test when
any cell of the 2×2 table expects fewer than `FISHER_BELOW` (5, the usual rule for the normal
approximation), else the pooled two-proportion z-test. With three or more arms the p-values are
Holm-adjusted (family-wise error at 1 − confidence); the decision's p-value is the largest
adjusted one. The leader wins iff that p-value < 1 − confidence; otherwise the default does.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

AWAITING_WINNER = "awaiting_winner"  # an outbox state: the rest, never claimed until the winner is known
FISHER_BELOW = 5.0  # expected count under which a 2×2 table gets the exact test
Method = Literal["z-test", "Fisher exact"]


def split_position(campaign: str, customer_id: int) -> float:
    """The customer's fixed point in [0, 1) for the campaign's test split (not the arm's)."""
    digest = hashlib.sha256(f"{campaign}|ab-test|{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_test_share(campaign: str, customer_id: int, test_share: float) -> bool:
    """Whether the customer is a tester (gets their variant now) rather than one of the rest."""
    return split_position(campaign, customer_id) < test_share


@dataclass(frozen=True, slots=True)
class Arm:
    """One variant's test result: delivered messages and how many of them converted."""

    name: str
    sent: int
    converted: int

    @property
    def rate(self) -> float:
        return self.converted / self.sent if self.sent else 0.0


@dataclass(frozen=True, slots=True)
class Comparison:
    """The leader against one other arm."""

    other: str
    test: Method
    p_value: float  # raw, two-sided
    adjusted: float  # Holm-adjusted (the raw value with two arms)


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the test decided: the variant the rest gets, and why."""

    winner: str
    significant: bool
    leader: str  # the best arm by rate, significant or not
    p_value: float  # the largest adjusted p-value of the leader's comparisons (1.0: nothing to compare)
    confidence: float
    arms: tuple[Arm, ...]
    comparisons: tuple[Comparison, ...]

    @property
    def tests(self) -> str:
        """The tests used, for the report: "z-test", "Fisher exact" or both."""
        used = dict.fromkeys(c.test for c in self.comparisons)
        return " + ".join(used) or "none"

    @property
    def summary(self) -> str:
        """One line for people: who won and at what p, or that the default was sent."""
        if self.significant:
            return f"{self.winner} wins (p = {self.p_value:.2g} < {1 - self.confidence:.2g})"
        return f"no significant difference; default {self.winner} (p = {self.p_value:.2g})"


def two_proportion_p(a: Arm, b: Arm) -> tuple[Method, float]:
    """The two-sided p-value that the arms convert at the same rate, and the test that gave it."""
    if a.sent == 0 or b.sent == 0:
        return "z-test", 1.0
    total = a.sent + b.sent
    converted = a.converted + b.converted
    expected = (
        a.sent * converted / total, a.sent * (total - converted) / total,
        b.sent * converted / total, b.sent * (total - converted) / total,
    )
    if min(expected) < FISHER_BELOW:
        from scipy.stats import fisher_exact  # here: the planner imports this module; scipy loads slowly

        table = [[a.converted, a.sent - a.converted], [b.converted, b.sent - b.converted]]
        return "Fisher exact", _unit(float(fisher_exact(table, alternative="two-sided").pvalue))
    pooled = converted / total
    error = math.sqrt(pooled * (1 - pooled) * (1 / a.sent + 1 / b.sent))
    if error == 0:
        return "z-test", 1.0
    z = (a.rate - b.rate) / error
    return "z-test", _unit(math.erfc(abs(z) / math.sqrt(2)))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the given order (each in [0, 1])."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def decide_winner(arms: Sequence[Arm], *, confidence: float, default: str) -> Verdict:
    """The variant the rest gets: the leader if it beats every other arm at `confidence`, else `default`."""
    if len(arms) < 2:
        raise ValueError("a winner is picked between at least two arms")
    leader = max(arms, key=lambda arm: arm.rate)  # max keeps the first of equals
    others = [arm for arm in arms if arm is not leader]
    raw = [two_proportion_p(leader, other) for other in others]
    adjusted = holm([p for _, p in raw])
    comparisons = tuple(
        Comparison(other.name, test, p, adj)
        for other, (test, p), adj in zip(others, raw, adjusted, strict=True)
    )
    p_value = max(adjusted)
    significant = p_value < 1 - confidence
    return Verdict(
        winner=leader.name if significant else default, significant=significant, leader=leader.name,
        p_value=p_value, confidence=confidence, arms=tuple(arms), comparisons=comparisons,
    )


def _unit(p: float) -> float:
    """A p-value clipped into [0, 1] (floating-point sums can stray just past 1)."""
    return min(1.0, max(0.0, p))
