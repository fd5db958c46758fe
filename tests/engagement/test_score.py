from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from edm.config import EngagementSettings
from edm.engagement import best_send_hour, engagement_score
from edm.engagement.score import hour_counts

RULES = EngagementSettings()
NOW = datetime(2026, 11, 24, 12, tzinfo=UTC)


def score(*signals: tuple[str, float]) -> float:
    return engagement_score([(kind, NOW - timedelta(days=days)) for kind, days in signals], NOW,
                            RULES.score_weights, RULES.half_life_days)


def test_signals_weigh_by_kind_and_halve_every_half_life() -> None:
    assert score(("open", 0)) == 1
    assert score(("click", 0)) == 3
    assert score(("order", 0)) == 5
    assert score(("open", 30)) == 0.5 and score(("click", 60)) == 0.75
    assert score(("open", 0), ("unsubscribe", 0)) == -9
    assert score(("bounce", 0)) == 0 and score() == 0


@given(st.lists(st.tuples(st.sampled_from(["open", "click", "order"]), st.floats(0, 1000)), max_size=20),
       st.sampled_from(["open", "click", "order"]), st.floats(0, 1000))
def test_a_positive_signal_never_lowers_the_score_and_older_ones_count_less(
    signals: list[tuple[str, float]], kind: str, days: float
) -> None:
    assert score(*signals, (kind, days)) >= score(*signals)
    assert score((kind, days + 10)) <= score((kind, days))


def test_the_send_hour_is_the_customers_own_habit_once_they_have_one() -> None:
    population = hour_counts([10] * 100 + [20] * 10)
    assert best_send_hour(hour_counts([]), population, 5) == 10  # nothing of their own: everyone's hour
    assert best_send_hour(hour_counts([21]), population, 5) == 10  # one evening open is not a habit
    assert best_send_hour(hour_counts([21] * 8), population, 5) == 21
    assert best_send_hour(hour_counts([23, 0, 0, 1]), hour_counts([]), 5) == 0  # around midnight
    assert best_send_hour(hour_counts([]), hour_counts([]), 5) is None
