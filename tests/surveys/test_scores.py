"""What a score means: classes, the latest standing and its trend, NPS and CSAT figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edm.surveys.scores import (
    SATISFACTIONS,
    SCALES,
    SURVEYS,
    Answer,
    Standing,
    Survey,
    capped_loyalty,
    csat,
    is_score,
    nps,
    satisfaction_of,
    standing,
)

T0 = datetime(2026, 11, 1, tzinfo=UTC)
surveys = st.sampled_from(SURVEYS)


@st.composite
def answers(draw: st.DrawFn, survey: Survey | None = None) -> Answer:
    chosen = draw(surveys) if survey is None else survey
    score = draw(st.sampled_from(SCALES[chosen]))
    return Answer(chosen, score, T0 + timedelta(minutes=draw(st.integers(0, 100_000))))


@given(surveys, st.integers(-5, 15))
def test_every_score_on_a_scale_has_exactly_one_class(survey: Survey, score: int) -> None:
    if score in SCALES[survey]:
        assert is_score(survey, score)
        assert satisfaction_of(survey, score) in SATISFACTIONS
    else:
        assert not is_score(survey, score)
        with pytest.raises(ValueError, match="is not a"):
            satisfaction_of(survey, score)


@pytest.mark.parametrize(
    ("survey", "score", "expected"),
    [
        ("nps", 0, "detractor"), ("nps", 6, "detractor"), ("nps", 7, "passive"), ("nps", 8, "passive"),
        ("nps", 9, "promoter"), ("nps", 10, "promoter"),
        ("csat", 1, "detractor"), ("csat", 2, "detractor"), ("csat", 3, "passive"), ("csat", 4, "promoter"),
        ("csat", 5, "promoter"),
    ],
)
def test_class_boundaries(survey: Survey, score: int, expected: str) -> None:
    assert satisfaction_of(survey, score) == expected


@pytest.mark.parametrize("score", [True, False, 7.0, "7", None])
def test_only_plain_integers_are_scores(score: object) -> None:
    assert not is_score("nps", score)
    assert not is_score("bogus", 7)


@given(st.lists(st.sampled_from(SCALES["nps"]), max_size=60))
def test_nps_is_promoters_less_detractors_in_percent(scores: list[int]) -> None:
    result = nps(scores)
    if not scores:
        assert result is None
        return
    assert result is not None and -100.0 <= result <= 100.0
    promoters = len([s for s in scores if s in (9, 10)])
    detractors = len([s for s in scores if s <= 6])
    assert result == pytest.approx(100 * promoters / len(scores) - 100 * detractors / len(scores))


@given(st.lists(st.sampled_from(SCALES["csat"]), max_size=60))
def test_csat_is_the_share_of_fours_and_fives(scores: list[int]) -> None:
    result = csat(scores)
    if not scores:
        assert result is None
        return
    assert result is not None and 0.0 <= result <= 100.0
    assert result == pytest.approx(100 * len([s for s in scores if s >= 4]) / len(scores))


def test_no_answers_no_standing() -> None:
    assert standing([]) == Standing()


@given(st.lists(answers(), min_size=1, max_size=12, unique_by=lambda a: a.at))
def test_standing_follows_the_latest_answer_whatever_the_order_given(given_answers: list[Answer]) -> None:
    latest = max(given_answers, key=lambda a: a.at)
    result = standing(reversed(given_answers))
    assert result == standing(given_answers)
    assert result.satisfaction == satisfaction_of(latest.survey, latest.score)
    assert result.at == latest.at
    for survey, field in (("nps", result.nps), ("csat", result.csat)):
        same = [a for a in given_answers if a.survey == survey]
        assert field == (max(same, key=lambda a: a.at).score if same else None)


same_survey_pairs = surveys.flatmap(lambda s: st.tuples(answers(s), answers(s)))


@given(same_survey_pairs.filter(lambda pair: pair[0].at != pair[1].at))
def test_the_trend_has_the_sign_of_the_change(pair: tuple[Answer, Answer]) -> None:
    before, after = sorted(pair, key=lambda a: a.at)
    change = after.score - before.score
    expected = "improving" if change > 0 else "declining" if change < 0 else "steady"
    assert standing(pair).trend == expected


def test_the_trend_compares_within_the_latest_answers_survey() -> None:
    """An NPS of 3 after a CSAT of 5 is no trend: the scales do not compare."""
    mixed = [Answer("csat", 5, T0), Answer("nps", 3, T0 + timedelta(days=1))]
    assert standing(mixed) == Standing("detractor", None, 3, 5, T0 + timedelta(days=1))
    again = [*mixed, Answer("nps", 9, T0 + timedelta(days=2))]
    assert standing(again).trend == "improving"


@pytest.mark.parametrize(
    ("loyalty", "satisfaction", "expected"),
    [
        ("loyal", "detractor", "fairly_loyal"),
        ("loyal", "passive", "loyal"),
        ("loyal", "promoter", "loyal"),
        ("loyal", None, "loyal"),
        ("general", "detractor", "general"),
        ("fairly_loyal", "detractor", "fairly_loyal"),
    ],
)
def test_a_detractor_cannot_be_loyal(loyalty: str, satisfaction: str | None, expected: str) -> None:
    assert capped_loyalty(loyalty, satisfaction) == expected
