"""What a score means: the two surveys, their scales, and the classes answers put customers in.

Pure functions over plain values: the tracking server, classification, the planner and the
reports all read answers through these, so a detractor means the same thing everywhere.

- NPS ("how likely are you to recommend us", 0..10): 9-10 promoter, 7-8 passive, 0-6 detractor.
- CSAT ("how satisfied were you", 1..5): 4-5 promoter (satisfied), 3 passive, 1-2 detractor.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

Survey = Literal["csat", "nps"]
Satisfaction = Literal["promoter", "passive", "detractor"]
Trend = Literal["improving", "steady", "declining"]

SURVEYS: tuple[Survey, ...] = get_args(Survey)
SATISFACTIONS: tuple[Satisfaction, ...] = get_args(Satisfaction)
TRENDS: tuple[Trend, ...] = get_args(Trend)
SCALES: dict[Survey, range] = {"csat": range(1, 6), "nps": range(0, 11)}
PROMOTER_FROM: dict[Survey, int] = {"csat": 4, "nps": 9}  # the lowest promoter score
PASSIVE_FROM: dict[Survey, int] = {"csat": 3, "nps": 7}  # the lowest passive score (below: detractor)


def is_score(survey: str, score: object) -> bool:
    """Whether `score` is a possible answer to `survey` (an int on its scale, not a bool)."""
    return survey in SCALES and type(score) is int and score in SCALES[survey]


def satisfaction_of(survey: Survey, score: int) -> Satisfaction:
    """The class one answer puts its customer in."""
    if not is_score(survey, score):
        raise ValueError(f"{score!r} is not a {survey} score ({SCALES[survey][0]}..{SCALES[survey][-1]})")
    if score >= PROMOTER_FROM[survey]:
        return "promoter"
    if score >= PASSIVE_FROM[survey]:
        return "passive"
    return "detractor"


@dataclass(frozen=True, slots=True)
class Answer:
    survey: Survey
    score: int
    at: datetime  # when it was (last) given


@dataclass(frozen=True, slots=True)
class Standing:
    """A customer's profile fields from all their answers."""

    satisfaction: Satisfaction | None = None  # of the latest answer, whichever survey
    trend: Trend | None = None  # the latest answer against the one before it in the same survey
    nps: int | None = None  # the latest NPS score
    csat: int | None = None  # the latest CSAT score
    at: datetime | None = None  # the latest answer


def standing(answers: Iterable[Answer]) -> Standing:
    """The latest score per survey, the class of the latest answer and whether it is rising or falling."""
    ordered = sorted(answers, key=lambda a: a.at)
    if not ordered:
        return Standing()
    latest = ordered[-1]
    same = [a for a in ordered if a.survey == latest.survey]
    trend: Trend | None = None
    if len(same) > 1:
        change = latest.score - same[-2].score
        trend = "improving" if change > 0 else "declining" if change < 0 else "steady"
    nps = next((a.score for a in reversed(ordered) if a.survey == "nps"), None)
    csat = next((a.score for a in reversed(ordered) if a.survey == "csat"), None)
    return Standing(satisfaction_of(latest.survey, latest.score), trend, nps, csat, latest.at)


def capped_loyalty(loyalty: str, satisfaction: str | None) -> str:
    """A detractor cannot be loyal: whatever their orders say, they are at most fairly loyal."""
    return "fairly_loyal" if loyalty == "loyal" and satisfaction == "detractor" else loyalty


def nps(scores: Iterable[int]) -> float | None:
    """The Net Promoter Score of NPS answers: % promoters - % detractors (-100..100); None for none."""
    values = list(scores)
    if not values:
        return None
    promoters = sum(score >= PROMOTER_FROM["nps"] for score in values)
    detractors = sum(score < PASSIVE_FROM["nps"] for score in values)
    return 100.0 * (promoters - detractors) / len(values)


def csat(scores: Iterable[int]) -> float | None:
    """The CSAT of CSAT answers: the % that are 4 or 5; None for none."""
    values = list(scores)
    if not values:
        return None
    return 100.0 * sum(score >= PROMOTER_FROM["csat"] for score in values) / len(values)
