"""Uplift against the holdout on the hand-made histories (per campaign; per campaign × tier, × stage,
× variant), the "too few" threshold, and the two intervals against published and independently
computed values."""

from __future__ import annotations

import math

import pytest
from scipy import stats
from sqlalchemy.orm import Session, sessionmaker

from edm.errors import EdmError
from edm.reports import newcombe_interval, uplift_table, uplift_tables
from edm.reports.uplift import FEWER, MORE, TOO_FEW, UNCLEAR, Group, figures, welch_interval, wilson_interval
from tests.reports import holdouts
from tests.reports.history import MARCH, seed

# spring, mailed (sent, any order within 30 days of sent_at): #1 c1 o1+o2 = 150, #2 c2 o3 = 80,
# #3 c3 o7 = 10, #14 c1 o1+o2 = 150, #15 c2 o3 = 80 (accepted, bounced later: still mailed).
MAILED = [150.0, 80.0, 10.0, 150.0, 80.0]
# holdout, from the planned moment 03-10: c5 o8 = 60 (5 days), c6 o9 = 0 (41 days: outside)
HOLDOUT = [60.0, 0.0]


@pytest.mark.parametrize(("counts", "published"), [
    # Newcombe (1998), Statistics in Medicine 17:873-890, table II, method 10 (the hybrid score interval);
    # example (a): 56/70 - 48/80 = 0.2000, 95% CI 0.0524 to 0.3339 (as the paper prints it; the R package
    # propint tests against the same first two rows)
    ((56, 70, 48, 80), (0.0524, 0.3339)),
    ((9, 10, 3, 10), (0.1705, 0.8090)),
    ((5, 56, 0, 29), (-0.0381, 0.1926)),
    ((0, 10, 0, 20), (-0.1611, 0.2775)),
])
def test_newcombe_interval_matches_the_published_examples(
    counts: tuple[int, int, int, int], published: tuple[float, float]
) -> None:
    low, high = newcombe_interval(*counts)
    assert (round(low, 4), round(high, 4)) == published


def test_newcombe_interval_is_asymmetric_around_the_difference() -> None:
    low, high = newcombe_interval(56, 70, 48, 80)  # 0.8 - 0.6 = 0.2
    assert low < 0.2 < high and high - 0.2 < 0.2 - low  # narrower towards the bound of 1


def test_wilson_interval_by_hand() -> None:
    # 1 of 2 at 95%: centre (0.5 + z²/4) / (1 + z²/2) = 0.5; half z/(1+z²/2) * sqrt(1/8 + z²/16)
    z = 1.959963984540054
    half = z / (1 + z * z / 2) * math.sqrt(0.125 + z * z / 16)
    assert wilson_interval(1, 2) == pytest.approx((0.5 - half, 0.5 + half))


def test_welch_interval_agrees_with_scipy() -> None:
    mailed = Group(len(MAILED), 5, sum(MAILED), sum(v * v for v in MAILED))
    held = Group(len(HOLDOUT), 1, sum(HOLDOUT), sum(v * v for v in HOLDOUT))
    expected = stats.ttest_ind(MAILED, HOLDOUT, equal_var=False).confidence_interval(0.95)
    assert welch_interval(mailed, held) == pytest.approx((expected.low, expected.high))
    assert math.isnan(welch_interval(mailed, Group(1, 1, 60.0, 3600.0))[0])  # one member: no variance


def test_uplift_of_the_campaign_with_a_holdout(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    with any_sessions() as session:
        table = uplift_table(session, attribution_days=30, confidence=0.95, min_group=2)
        march = uplift_table(session, attribution_days=30, min_group=2, **MARCH)
    assert table["campaign"].tolist() == ["spring"]  # winback had no holdout
    row = table.iloc[0]
    assert (row["mailed"], row["mailed_buyers"], row["holdout"], row["holdout_buyers"]) == (5, 5, 2, 1)
    assert row["mailed_order_rate"] == 1.0 and row["holdout_order_rate"] == 0.5
    assert row["order_rate_uplift"] == pytest.approx(0.5)
    assert (row["order_rate_low"], row["order_rate_high"]) == pytest.approx(newcombe_interval(5, 5, 1, 2))
    assert row["mailed_revenue_per_recipient"] == pytest.approx(94.0)  # 470 / 5
    assert row["holdout_revenue_per_recipient"] == pytest.approx(30.0)  # 60 / 2
    assert row["revenue_uplift"] == pytest.approx(64.0)
    welch = stats.ttest_ind(MAILED, HOLDOUT, equal_var=False).confidence_interval(0.95)
    assert (row["revenue_low"], row["revenue_high"]) == pytest.approx((welch.low, welch.high))
    assert row["reading"] == UNCLEAR  # 5/5 against 1/2: the interval still reaches below 0
    assert march.equals(table)  # every spring message was planned in March


def test_no_holdout_in_the_period_gives_an_empty_table(any_sessions: sessionmaker[Session]) -> None:
    seed(any_sessions)
    with any_sessions() as session:
        table = uplift_table(session, since=MARCH["until"])
    assert table.empty


def _check(row: dict[str, object], mailed: list[float], held: list[float]) -> None:
    """A row against its hand-counted arms (revenue per recipient, 0: no order)."""
    buyers = sum(1 for value in mailed if value), sum(1 for value in held if value)
    assert (row["mailed"], row["mailed_buyers"], row["holdout"], row["holdout_buyers"]) == (
        len(mailed), buyers[0], len(held), buyers[1])
    assert row["order_rate_uplift"] == pytest.approx(buyers[0] / len(mailed) - buyers[1] / len(held))
    assert (row["order_rate_low"], row["order_rate_high"]) == pytest.approx(
        newcombe_interval(buyers[0], len(mailed), buyers[1], len(held)))
    assert row["revenue_uplift"] == pytest.approx(sum(mailed) / len(mailed) - sum(held) / len(held))
    welch = stats.ttest_ind(mailed, held, equal_var=False).confidence_interval(0.95)
    assert (row["revenue_low"], row["revenue_high"]) == pytest.approx((welch.low, welch.high))


def _tables(sessions: sessionmaker[Session], min_group: int) -> dict[str, list[dict[str, object]]]:
    with sessions() as session:
        found = uplift_tables(session, attribution_days=30, min_group=min_group)
    return {name: table.to_dict("records") for name, table in zip(("campaign", "tier", "stage", "variant"),
                                                                    found, strict=True)}


def test_uplift_by_tier_and_stage_counts_the_class_at_send_time(any_sessions: sessionmaker[Session]) -> None:
    holdouts.seed_holdouts(any_sessions)
    tables = _tables(any_sessions, min_group=1)
    assert [row["campaign"] for row in tables["campaign"]] == ["promo"]  # quiet had no holdout
    _check(tables["campaign"][0], holdouts.MAILED_A + holdouts.MAILED_B, holdouts.HOLDOUT)

    # m5 was low and new when mailed (high and growing since): counted there; m6 has no transitions (its
    # current profile, medium); h5 has no profile at all (unknown)
    by_tier = {row["tier"]: row for row in tables["tier"]}
    assert [row["tier"] for row in tables["tier"]] == ["high", "medium", "low", "unknown"]
    _check(by_tier["high"], *holdouts.HIGH)
    _check(by_tier["low"], *holdouts.LOW)
    for tier, arms in (("medium", (1, 0)), ("unknown", (0, 1))):  # one arm empty: nothing to compare
        row = by_tier[tier]
        assert (row["mailed"], row["holdout"], row["reading"]) == (*arms, TOO_FEW)
        assert math.isnan(row["order_rate_uplift"]) and math.isnan(row["revenue_low"])
    assert by_tier["medium"]["mailed_order_rate"] == 0.0  # the order 41 days later is outside

    by_stage = {row["stage"]: row for row in tables["stage"]}
    assert [row["stage"] for row in tables["stage"]] == ["new", "mature", "at_risk", "unknown"]
    _check(by_stage["mature"], *holdouts.HIGH)
    _check(by_stage["new"], *holdouts.LOW)
    assert (by_stage["at_risk"]["mailed"], by_stage["at_risk"]["holdout"]) == (1, 0)

    # each variant against the campaign's whole holdout
    assert [row["variant"] for row in tables["variant"]] == ["A", "B"]
    _check(tables["variant"][0], holdouts.MAILED_A, holdouts.HOLDOUT)
    _check(tables["variant"][1], holdouts.MAILED_B, holdouts.HOLDOUT)
    assert tables["variant"][0]["reading"] == UNCLEAR  # 3/3 vs 2/5: the interval still crosses 0
    assert tables["variant"][1]["reading"] == UNCLEAR


def test_groups_under_min_group_read_too_few(any_sessions: sessionmaker[Session]) -> None:
    holdouts.seed_holdouts(any_sessions)
    tables = _tables(any_sessions, min_group=3)
    by_tier = {row["tier"]: row for row in tables["tier"]}
    assert by_tier["low"]["reading"] == TOO_FEW  # 3 mailed, 2 held out
    assert by_tier["low"]["mailed_order_rate"] == pytest.approx(2 / 3)  # the rates are still shown
    assert math.isnan(by_tier["low"]["order_rate_low"]) and math.isnan(by_tier["low"]["revenue_uplift"])
    assert tables["campaign"][0]["reading"] == UNCLEAR  # 6 and 5: enough
    assert [row["reading"] for row in tables["variant"]] == [UNCLEAR, UNCLEAR]  # 3 and 5
    assert _tables(any_sessions, min_group=6)["campaign"][0]["reading"] == TOO_FEW  # 5 held out


@pytest.mark.parametrize(("mailed", "held", "reading"), [
    (Group(100, 60, 0.0, 0.0), Group(100, 20, 0.0, 0.0), MORE),
    (Group(100, 20, 0.0, 0.0), Group(100, 60, 0.0, 0.0), FEWER),
    (Group(100, 30, 0.0, 0.0), Group(100, 28, 0.0, 0.0), UNCLEAR),
    (Group(29, 29, 0.0, 0.0), Group(100, 0, 0.0, 0.0), TOO_FEW),
])
def test_reading_follows_the_interval_and_the_threshold(mailed: Group, held: Group, reading: str) -> None:
    assert figures(mailed, held, 0.95, 30)["reading"] == reading


def test_uplift_groupings_start_with_the_campaign(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, pytest.raises(EdmError, match="grouped by campaign"):
        uplift_table(session, ["tier"])
