from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from hypothesis import given

from edm.classes import DIMENSIONS
from edm.config import ClassificationSettings, LifecycleRules, RelationshipRules, ValueTierRules
from edm.customers.classify import assign_classes, classify
from edm.customers.explain import explain
from tests.customers.test_classify import BUYER, FIXED, PROSPECT, NaN, feature_frames, settings

RULES = ClassificationSettings()
EXTRA_ROWS = ("rhythm", "churn_risk", "next_order", "predicted_value")  # beside the nine dimensions


def _explained(base: dict[str, Any], rules: ClassificationSettings = RULES, **changes: Any) -> dict[str, Any]:
    return {name: (e.value, e.reason) for name, e in explain({**base, **changes}, FIXED, rules).items()}


@pytest.mark.parametrize(
    ("changes", "dimension", "value", "pieces"),
    [
        ({"annual_revenue": 1_250_000.0}, "scale", "large",
         ["sales over the last 365 days 1,250,000", "≥ large threshold 1,000"]),
        ({"annual_revenue": 500.0}, "scale", "medium", ["500", "medium threshold 100", "large 1,000"]),
        ({"annual_revenue": 40.5}, "scale", "small", ["40.5", "below medium threshold 100"]),
        ({"revenue": 1000.0}, "value_tier", "high", ["lifetime sales 1,000", "high threshold 100"]),
        ({"revenue": 75.0}, "value_tier", "medium", ["75", "> medium threshold 50", "high 100"]),
        ({"revenue": 50.0}, "value_tier", "low", ["50", "not above medium threshold 50"]),
        ({"industry_text": "机械制造"}, "industry", "manufacturing", ['"机械制造"', '"制造"']),
        ({"industry_text": "Farming"}, "industry", "other", ['"Farming"']),
        ({"industry_text": ""}, "industry", "other", ["no industry"]),
        ({"orders_per_year": 12.5}, "purchase_frequency", "high", ["12.5 orders a year", "365 days", "12"]),
        ({"orders_per_year": 2.0}, "purchase_frequency", "low", ["2 orders a year", "medium threshold 4"]),
        ({"days_since_first": 1100.0}, "loyalty", "loyal", ["3 years", "2"]),
        ({"days_since_first": 400.0}, "loyalty", "fairly_loyal", ["1.1 years", "1"]),
        ({"days_since_first": 200.0, "days_since_last": 5.0}, "loyalty", "general", ["0.5 years", "under 1"]),
        ({"probability_alive": 0.3, "days_since_last": 100.0}, "loyalty", "at_risk",
         ["chance still active 30%, below 50%", "1.1× their usual 90 days"]),
        ({"usual_orders_per_year": 10.0, "recent_orders_per_year": 1.7}, "loyalty", "at_risk",
         ["1.7 order days a year over the last 180 days, 10 before", "pace fell to 17%", "below 50%"]),
        ({"days_since_engaged": 250.0}, "loyalty", "at_risk", ["no open or click for 250 days", "after 180"]),
        ({"days_since_last": 400.0}, "loyalty", "churned",
         ["no order for 400 days", "4.4× their usual 90 days", "3× and 180 days or more"]),
        ({"days_since_first": 40.0, "days_since_last": 3.0}, "lifecycle_stage", "new",
         ["first order 40 days ago (new: within 90 days)"]),
        ({"expected_interval_days": 30.0, "days_since_last": 96.0}, "lifecycle_stage", "at_risk",
         ["no order for 96 days, 3.2× their usual 30 days (at_risk: 2× and 30 days or more)"]),
        ({"days_since_last": 200.0, "probability_alive": 0.1}, "lifecycle_stage", "churned",
         ["chance still active 10%, below 15%, 2.2× their usual 90 days"]),
        ({"expected_interval_days": 1000.0, "days_since_last": 1200.0, "days_since_first": 3000.0},
         "lifecycle_stage", "churned",
         ["no order for 1,200 days (churned after 1,095 days whatever the rhythm)"]),
        ({"days_since_first": 1000.0, "days_since_return": 40.0, "orders_since_return": 2.0},
         "lifecycle_stage", "reacquired",
         ["back after a lapse 40 days ago, 2 order days since", "until 3 order days or 365 days"]),
        ({"days_since_first": 1000.0, "days_since_return": 100.0, "orders_since_return": 3.0},
         "lifecycle_stage", "growing", ["back after a lapse 100 days ago", "growing: under 365"]),
        ({"days_since_first": 200.0}, "lifecycle_stage", "growing",
         ["first order 200 days ago", "under 365"]),
        ({"days_since_first": 800.0}, "lifecycle_stage", "mature", ["800 days", "365 days or more"]),
        ({"share_of_wallet": 0.4}, "relationship_stage", "initial", ["40%", "initial 30%", "middle 50%"]),
        ({"share_of_wallet": 0.96}, "relationship_stage", "partner", ["96%", "partner 95%"]),
        ({"share_of_wallet": 0.1}, "relationship_stage", "gestation", ["10%", "initial 30%"]),
        ({"share_of_wallet": NaN}, "relationship_stage", "unknown", ["no share-of-wallet estimate"]),
        ({"days_since_last": 190.0}, "relationship_stage", "interrupted",
         ["no order for 190 days, 2.1× their usual 90 days (interrupted: 2× and 60 days or more)"]),
        ({"dropped_lines": "ink, paper"}, "churn_kind", "partial", ["dropped product lines: ink, paper"]),
        ({"dropped_lines": "ink", "days_since_last": 200.0}, "churn_kind", "none", ["180 days"]),
        ({"days_since_last": 500.0}, "churn_kind", "full", ["no order for 500 days"]),
        ({"revenue": 60.0}, "profit_profile", "not_key", ["value tier medium"]),
        ({"margin_rate": 0.01}, "profit_profile", "black", ["margin rate 1%", "black 2%"]),
        ({"margin_rate": 0.08, "annual_revenue": 2_000_000.0}, "profit_profile", "white",
         ["8%", "white 12%", "2,000,000", "500"]),
        ({"margin_rate": 0.35, "gap_variation": 0.9}, "profit_profile", "red",
         ["35%", "red 30%", "gap variation 0.9", "0.75"]),
        ({"margin_rate": 0.08, "annual_revenue": 100.0}, "profit_profile", "balanced", ["8%", "100", "500"]),
        ({"margin_rate": 0.2}, "profit_profile", "balanced", ["20%", "12%", "30%"]),
        ({"margin_rate": None}, "profit_profile", "unknown", ["margin unknown"]),
    ],
)
def test_each_reason_names_the_deciding_figure_and_threshold(
    changes: dict[str, Any], dimension: str, value: str, pieces: list[str]
) -> None:
    decided, reason = _explained(BUYER, **changes)[dimension]
    assert decided == value
    for piece in pieces:
        assert piece in reason, (piece, reason)


def test_the_fixed_ceilings_are_named_as_such_when_set() -> None:
    rules = ClassificationSettings(lifecycle=LifecycleRules(at_risk_days=300),
                                   relationship=RelationshipRules(interrupted_days=300))
    slow = {"expected_interval_days": 1000.0, "days_since_last": 310.0, "days_since_first": 3000.0}
    explained = _explained(BUYER, rules, **slow)
    assert explained["lifecycle_stage"] == (
        "at_risk", "no order for 310 days (at_risk after 300 days whatever the rhythm)")
    assert explained["relationship_stage"] == (
        "interrupted", "no order for 310 days (interrupted after 300 days whatever the rhythm)")
    assert _explained(BUYER, **slow)["lifecycle_stage"][0] == "mature"  # both off by default


def test_churn_risk_names_the_silence_and_the_usual_rhythm() -> None:
    risk = explain({**BUYER, "probability_alive": 0.28, "days_since_last": 210.0, "mean_gap_days": 40.0,
                    "expected_interval_days": 45.0}, FIXED, RULES)["churn_risk"]
    assert risk.value == "72%"
    assert risk.reason == "no order for 210 days; usually orders every 45 days (MBG/NBD)"
    today = explain({**BUYER, "days_since_last": 0.2}, FIXED, RULES)["churn_risk"]
    assert (today.value, today.reason) == ("10%", "ordered today; usually orders every 90 days (MBG/NBD)")


def test_churn_risk_is_not_applicable_without_a_model_or_orders() -> None:
    once = explain({**BUYER, "order_days": 1, "mean_gap_days": NaN, "probability_alive": None}, FIXED,
                   RULES)["churn_risk"]
    assert once.value == "n/a"
    assert once.reason == ("no churn-model estimate (too few customers have bought twice); "
                           "no order for 10 days; one order day so far")
    assert _explained(PROSPECT)["churn_risk"] == ("n/a", "no orders yet")


def test_the_rhythm_names_the_expected_interval_how_late_and_the_pace() -> None:
    value, reason = _explained(BUYER, days_since_last=135.0)["rhythm"]
    assert value == "every 90 days"
    assert reason == ("usually orders every 90 days; last order 135 days ago, 1.5× the usual; "
                      "4 order days a year over the last 180 days, 5 before")
    few = _explained(BUYER, order_days=3, mean_gap_days=60.0, usual_orders_per_year=NaN)["rhythm"]
    assert few == ("every 90 days", "usually orders every 90 days (own 60 days, leaning on their industry's "
                   "with few orders); last order 10 days ago, 0.1× the usual")
    once = _explained(BUYER, order_days=1, mean_gap_days=NaN, usual_orders_per_year=NaN)["rhythm"][1]
    assert once.startswith(
        "usually orders every 90 days (ordered on one day only: their industry's usual gap)")
    assert _explained(PROSPECT)["rhythm"] == ("n/a", "no orders yet")


@pytest.mark.parametrize(
    ("silent", "value"),
    [(10.0, "in 80 days"), (87.5, "in 3 days"), (90.9, "today"), (100.0, "10 days overdue")],
)
def test_the_next_order_is_the_last_one_plus_the_usual_interval(silent: float, value: str) -> None:
    next_order = _explained(BUYER, days_since_last=silent)["next_order"]
    assert next_order[0] == value
    assert f"last order {round(silent)} days ago + usual 90 days" in next_order[1]
    assert "expected orders 0.9 in 90 days, 3.8 in 365 (MBG/NBD)" in next_order[1]
    unknown = _explained(BUYER, expected_orders_90d=NaN, expected_orders_365d=NaN)["next_order"]
    assert unknown == ("in 80 days", "last order 10 days ago + usual 90 days")
    assert _explained(PROSPECT)["next_order"] == ("n/a", "no orders yet")


def test_the_predicted_value_is_expected_orders_times_value_per_order() -> None:
    value, reason = _explained(BUYER, predicted_value=1_140.0, expected_orders_365d=3.8)["predicted_value"]
    assert value == "1,140"
    assert reason == ("expected spend over the next 365 days: MBG/NBD orders × Gamma-Gamma value per order "
                      "(3.8 × 300)")
    assert _explained(BUYER, predicted_value=NaN)["predicted_value"] == (
        "n/a", "no model estimate (too few customers have bought twice)")
    assert _explained(PROSPECT)["predicted_value"] == ("n/a", "no orders yet")


def test_a_prospect_is_explained_as_not_yet_trading() -> None:
    explained = _explained(PROSPECT, days_since_engaged=12.0)
    assert explained["churn_risk"] == ("n/a", "no orders yet")
    assert explained["lifecycle_stage"][0] == "lead"
    assert "12 days ago" in explained["lifecycle_stage"][1] and "90" in explained["lifecycle_stage"][1]
    assert explained["value_tier"] == ("low", "no orders yet")
    never = ("prospect", "no orders yet; never opened or clicked a mail")
    assert _explained(PROSPECT)["lifecycle_stage"] == never


def test_explain_reads_rows_as_a_stored_profile_gives_them() -> None:
    row = {**BUYER, "revenue": Decimal("1000.00"), "annual_revenue": Decimal("1250000.00"),
           "share_of_wallet": None, "dropped_lines": None, "gap_variation": None, "industry_text": pd.NA}
    explained = _explained(row)
    assert explained["scale"][0] == "large" and "1,250,000" in explained["scale"][1]
    assert explained["relationship_stage"][0] == "unknown"
    assert explained["churn_kind"][0] == "none"
    assert explained["industry"] == ("other", "no industry given")


def test_explain_follows_the_metric_setting() -> None:
    rules = ClassificationSettings(value_tier=ValueTierRules(metric="margin", high=100.0, medium=50.0))
    value, reason = _explained(BUYER, rules, margin=150.0, revenue=1.0)["value_tier"]
    assert value == "high" and "lifetime margin 150" in reason


def test_explain_names_missing_features() -> None:
    row = {k: v for k, v in BUYER.items() if k != "days_since_last"}
    with pytest.raises(ValueError, match="days_since_last"):
        explain(row, FIXED, RULES)


@given(feature_frames(min_size=1), settings())
def test_explain_agrees_with_classify_on_every_row(
    frame: pd.DataFrame, rules: ClassificationSettings
) -> None:
    classes, resolved = classify(frame, rules)
    assert assign_classes(frame, rules, resolved).equals(classes)
    for position in range(len(frame)):
        row = {str(name): value for name, value in frame.iloc[position].items()}
        explained = explain(row, resolved, rules)
        assert set(explained) == {*DIMENSIONS, *EXTRA_ROWS}
        assert {d: explained[d].value for d in DIMENSIONS} == classes.iloc[position].to_dict()
        assert all(e.reason.strip() for e in explained.values())
        assert explained["churn_risk"].value == "n/a" or explained["churn_risk"].value.endswith("%")


@pytest.mark.parametrize(("changes", "dimension", "piece"), [
    ({"orders_per_year": 1.0}, "purchase_frequency", "1 order a year over the last 365 days"),
    ({"orders_per_year": 2.5}, "purchase_frequency", "2.5 orders a year"),
    ({"days_since_first": 365.25, "days_since_last": 5.0}, "loyalty",
     "customer for 1 year (fairly loyal: 1 year or more"),
    ({"days_since_first": 1.2, "days_since_last": 1.2}, "lifecycle_stage", "first order 1 day ago"),
    ({"days_since_first": 1000.0, "days_since_return": 40.0, "orders_since_return": 1.0}, "lifecycle_stage",
     "40 days ago, 1 order day since"),
    ({"days_since_last": 1.0, "expected_interval_days": 45.04}, "rhythm", "usually orders every 45 days"),
    ({"days_since_last": 1.0, "expected_interval_days": 32.81}, "rhythm", "usually orders every 32.8 days"),
])
def test_counts_read_as_english_one_order_one_year_one_day(
    changes: dict[str, Any], dimension: str, piece: str
) -> None:
    """Issue 25: "1 orders a year" and "1.0 years" read as a person writes them; days with one decimal."""
    explained = _explained(BUYER, **changes)[dimension]
    assert piece in " ".join(explained), explained
    assert not re.search(r"\b1 (orders|years|days|order days)\b", " ".join(explained)), explained
