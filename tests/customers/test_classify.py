from __future__ import annotations

import json
import math
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from edm.classes import DIMENSIONS, VALUE_TIERS
from edm.config import (
    ClassificationSettings,
    IndustryRules,
    LifecycleRules,
    LoyaltyRules,
    ProfitProfileRules,
    PurchaseFrequencyRules,
    Quantile,
    RelationshipRules,
    RhythmRules,
    ScaleRules,
    Threshold,
    ValueTierRules,
)
from edm.customers.classify import (
    FEATURE_COLUMNS,
    ResolvedThresholds,
    assign_churn_kind,
    assign_classes,
    assign_industry,
    assign_lifecycle_stage,
    assign_loyalty,
    assign_profit_profile,
    assign_purchase_frequency,
    assign_relationship_stage,
    assign_scale,
    assign_value_tier,
    at_risk_signals,
    churned_signals,
    classify,
    falling_pace,
    industry_of,
    interrupted,
    overdue,
    resolve_thresholds,
)

NaN = float("nan")
RULES = ClassificationSettings()
FIXED = ResolvedThresholds(
    scale_large=1000.0,
    scale_medium=100.0,
    tier_high=100.0,
    tier_medium=50.0,
    frequency_high=12.0,
    frequency_medium=4.0,
    white_min_volume=500.0,
)
# a fairly loyal, growing-into-mature customer who bought 10 days ago and usually orders every
# 90 days (never lapsed); every rule has room both ways
BUYER: dict[str, Any] = {
    "customer_id": 1,
    "industry_text": "",
    "order_count": 6,
    "order_days": 6,
    "revenue": 1000.0,
    "margin": 200.0,
    "margin_rate": 0.2,
    "annual_revenue": 500.0,
    "days_since_first": 460.0,
    "days_since_last": 10.0,
    "longest_gap_days": 120.0,
    "mean_gap_days": 90.0,
    "gap_variation": 0.3,
    "orders_per_year": 5.0,
    "recent_orders_per_year": 4.0,
    "usual_orders_per_year": 5.0,
    "expected_interval_days": 90.0,
    "days_since_return": NaN,
    "orders_since_return": NaN,
    "probability_alive": 0.9,
    "expected_orders_90d": 0.9,
    "expected_orders_365d": 3.8,
    "predicted_value": 800.0,
    "share_of_wallet": 0.4,
    "dropped_lines": "",
    "days_since_engaged": 5.0,
}
PROSPECT: dict[str, Any] = {
    **BUYER,
    "order_count": 0,
    "order_days": 0,
    "revenue": 0.0,
    "margin": NaN,
    "margin_rate": NaN,
    "annual_revenue": 0.0,
    "days_since_first": NaN,
    "days_since_last": NaN,
    "longest_gap_days": NaN,
    "mean_gap_days": NaN,
    "gap_variation": NaN,
    "orders_per_year": 0.0,
    "recent_orders_per_year": 0.0,
    "usual_orders_per_year": NaN,
    "expected_interval_days": NaN,
    "days_since_return": NaN,
    "orders_since_return": NaN,
    "probability_alive": NaN,
    "expected_orders_90d": NaN,
    "expected_orders_365d": NaN,
    "predicted_value": NaN,
    "share_of_wallet": NaN,
    "days_since_engaged": NaN,
}


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    for row in rows:  # a feature the fixtures forgot would silently be NaN
        assert set(FEATURE_COLUMNS) <= set(row), set(FEATURE_COLUMNS) - set(row)
    frame = pd.DataFrame(rows, columns=list(FEATURE_COLUMNS))
    for column in FEATURE_COLUMNS:
        if column not in ("customer_id", "order_count", "order_days", "industry_text", "dropped_lines"):
            frame[column] = frame[column].astype("float64")
    return frame


def _one(base: dict[str, Any], **changes: Any) -> pd.DataFrame:
    return _frame([{**base, **changes}])


def _first(series: pd.Series) -> str:
    return str(series.iloc[0])


# --- scale ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annual", "scale"),
    [
        (1000.01, "large"), (1000.0, "large"), (999.99, "medium"),
        (100.01, "medium"), (100.0, "medium"), (99.99, "small"), (0.0, "small"),
    ],
)
def test_scale_at_each_threshold(annual: float, scale: str) -> None:
    assert _first(assign_scale(_one(BUYER, annual_revenue=annual), FIXED)) == scale


def test_scale_above_small_needs_some_sales_even_when_the_threshold_resolves_to_zero() -> None:
    zero = replace(FIXED, scale_medium=0.0, scale_large=0.0)
    assert _first(assign_scale(_one(BUYER, annual_revenue=0.0), zero)) == "small"
    assert _first(assign_scale(_one(BUYER, annual_revenue=0.01), zero)) == "large"
    assert _first(assign_scale(_one(PROSPECT), zero)) == "small"


# --- value tier -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("revenue", "tier"),
    [
        (100.01, "high"), (100.0, "high"), (99.99, "medium"),
        (50.01, "medium"), (50.0, "low"), (49.99, "low"), (0.0, "low"),
    ],
)
def test_value_tier_at_each_threshold(revenue: float, tier: str) -> None:
    assert _first(assign_value_tier(_one(BUYER, revenue=revenue), RULES.value_tier, FIXED)) == tier


def test_customers_without_orders_are_low_whatever_their_revenue() -> None:
    frame = _one(PROSPECT, revenue=1e9)
    assert _first(assign_value_tier(frame, RULES.value_tier, FIXED)) == "low"


def test_value_tier_on_margin_ignores_revenue_and_puts_unknown_margin_low() -> None:
    rules = ValueTierRules(metric="margin", high=100.0, medium=50.0)
    assert _first(assign_value_tier(_one(BUYER, revenue=1.0, margin=100.0), rules, FIXED)) == "high"
    assert _first(assign_value_tier(_one(BUYER, revenue=1e9, margin=50.0), rules, FIXED)) == "low"
    assert _first(assign_value_tier(_one(BUYER, revenue=1e9, margin=NaN), rules, FIXED)) == "low"


@pytest.mark.parametrize(("revenue", "tier"), [(120.0, "low"), (150.0, "low"), (150.01, "high")])
def test_high_tier_needs_both_thresholds_when_they_resolve_out_of_order(revenue: float, tier: str) -> None:
    crossed = replace(FIXED, tier_high=100.0, tier_medium=150.0)
    assert _first(assign_value_tier(_one(BUYER, revenue=revenue), RULES.value_tier, crossed)) == tier


def test_mixed_absolute_and_quantile_thresholds_resolve_and_apply_in_order() -> None:
    rules = ClassificationSettings(value_tier=ValueTierRules(high=100.0, medium=Quantile(quantile=0.5)))
    frame = _frame([{**BUYER, "customer_id": i, "revenue": 100.0 * i} for i in range(1, 11)])
    classes, resolved = classify(frame, rules)
    assert (resolved.tier_high, resolved.tier_medium) == (100.0, 550.0)
    assert classes["value_tier"].tolist() == ["low"] * 5 + ["high"] * 5


# --- industry -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "industry"),
    [
        ("Manufacturing", "manufacturing"),
        ("MANUFACTURER of pumps", "manufacturing"),
        ("机械制造", "manufacturing"),
        ("软件服务", "services"),
        ("IT Consulting", "services"),
        ("批发零售", "trade"),
        ("Ｒｅｔａｉｌ", "trade"),  # full-width letters, as typed in a Chinese IME
        ("Farming", "other"),
        ("", "other"),
        (None, "other"),
        ("Retail software", "services"),  # two classes named: vocabulary order decides
        ("industrial trading", "manufacturing"),
    ],
)
def test_industry_from_free_text(text: str | None, industry: str) -> None:
    assert _first(assign_industry(_one(BUYER, industry_text=text), RULES.industry)) == industry


def test_industry_words_come_from_the_settings() -> None:
    rules = IndustryRules(synonyms={"trade": ["import/export"]})
    texts = ["Import/Export Ltd", "Manufacturing", "Import/Export Ltd"]
    frame = _frame([{**BUYER, "industry_text": t} for t in texts])
    assert assign_industry(frame, rules).tolist() == ["trade", "other", "trade"]
    assert industry_of("Import/Export Ltd", rules) == ("trade", "import/export")
    assert industry_of("Farming", rules) == ("other", None)


# --- purchase frequency ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "frequency"),
    [
        (12.01, "high"), (12.0, "high"), (11.99, "medium"),
        (4.01, "medium"), (4.0, "medium"), (3.99, "low"), (0.0, "low"),
    ],
)
def test_purchase_frequency_at_each_threshold(rate: float, frequency: str) -> None:
    assert _first(assign_purchase_frequency(_one(BUYER, orders_per_year=rate), FIXED)) == frequency


def test_purchase_frequency_is_none_without_orders_and_low_without_recent_ones() -> None:
    zero = replace(FIXED, frequency_medium=0.0)
    assert _first(assign_purchase_frequency(_one(PROSPECT), zero)) == "none"
    assert _first(assign_purchase_frequency(_one(BUYER, orders_per_year=0.0), zero)) == "low"
    assert _first(assign_purchase_frequency(_one(BUYER, orders_per_year=0.5), zero)) == "medium"


# --- loyalty --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "loyalty"),
    [
        ({"days_since_first": 730.0}, "loyal"),  # 2 years of 365 days
        ({"days_since_first": 729.9}, "fairly_loyal"),
        ({"days_since_first": 365.0}, "fairly_loyal"),
        ({"days_since_first": 364.9}, "general"),
        # lifecycle at risk is loyalty at risk: pace falling ...
        ({"usual_orders_per_year": 12.0, "recent_orders_per_year": 6.0}, "fairly_loyal"),  # exactly half
        ({"usual_orders_per_year": 12.0, "recent_orders_per_year": 5.99}, "at_risk"),
        ({"usual_orders_per_year": 1.0, "recent_orders_per_year": 0.0}, "fairly_loyal"),  # yearly buyer
        ({"usual_orders_per_year": 4.0, "recent_orders_per_year": 0.0}, "fairly_loyal"),  # 1.97 missed
        ({"usual_orders_per_year": 5.0, "recent_orders_per_year": 0.0}, "at_risk"),  # 2.47 missed
        ({"usual_orders_per_year": NaN, "recent_orders_per_year": 0.0}, "fairly_loyal"),
        # ... unlikely still active once past their usual 90 days ...
        ({"probability_alive": 0.4999}, "fairly_loyal"),  # bought 10 days ago: not yet due
        ({"probability_alive": 0.4999, "days_since_last": 91.0}, "at_risk"),
        ({"probability_alive": 0.5, "days_since_last": 91.0}, "fairly_loyal"),
        ({"probability_alive": NaN, "days_since_last": 91.0}, "fairly_loyal"),
        # ... or twice their usual interval overdue
        ({"days_since_last": 179.99, "days_since_first": 900.0}, "loyal"),
        ({"days_since_last": 180.0, "days_since_first": 900.0}, "at_risk"),
        ({"days_since_last": 269.99, "probability_alive": 0.99}, "at_risk"),
        ({"days_since_last": 270.0, "probability_alive": 0.99}, "churned"),  # lifecycle churned
        ({"days_since_engaged": 180.0}, "fairly_loyal"),  # communication: silent after 180 days
        ({"days_since_engaged": 180.01}, "at_risk"),
        ({"days_since_engaged": NaN}, "fairly_loyal"),  # never opened or clicked: no signal
    ],
)
def test_loyalty_rules_and_edges(changes: dict[str, Any], loyalty: str) -> None:
    assert _first(assign_loyalty(_one(BUYER, **changes), RULES)) == loyalty


def test_engagement_can_be_left_out_of_loyalty() -> None:
    quiet = RULES.model_copy(update={"loyalty": LoyaltyRules(silent_days=None)})
    assert _first(assign_loyalty(_one(BUYER, days_since_engaged=5000.0), quiet)) == "fairly_loyal"


@pytest.mark.parametrize(
    ("min_missed", "usual", "falling"),
    [(None, 10.0, True), (None, 9.99, False), (1.0, 5.0, True), (1.0, 4.99, False)],
)
def test_a_falling_pace_needs_enough_missed_order_days(
    min_missed: float | None, usual: float, falling: bool
) -> None:
    # a window of a fifth of a year: at 5 a year the usual pace predicts one order day in it, at
    # 10 two, the default least number missed (one or two missing may be chance)
    lifecycle = LifecycleRules() if min_missed is None else LifecycleRules(falling_min_missed=min_missed)
    rules = ClassificationSettings(rhythm=RhythmRules(recent_days=73), lifecycle=lifecycle)
    frame = _one(BUYER, usual_orders_per_year=usual, recent_orders_per_year=0.0)
    assert bool(falling_pace(frame, rules).iloc[0]) is falling


@pytest.mark.parametrize(("recent", "falling"), [(3.0, False), (2.99, True), (NaN, False)])
def test_a_falling_pace_is_judged_by_the_lifecycle_ratio(recent: float, falling: bool) -> None:
    rules = ClassificationSettings(lifecycle=LifecycleRules(falling_ratio=0.25))
    frame = _one(BUYER, usual_orders_per_year=12.0, recent_orders_per_year=recent)
    assert bool(falling_pace(frame, rules).iloc[0]) is falling
    unknown = _one(BUYER, usual_orders_per_year=NaN, recent_orders_per_year=0.0)
    assert not falling_pace(unknown, rules).iloc[0]  # too few order days before the window


def test_pace_settings_written_under_loyalty_still_apply_where_they_moved() -> None:
    rules = ClassificationSettings.model_validate(
        {"loyalty": {"recent_days": 73, "falling_ratio": 0.25, "at_risk_probability": 0.4, "loyal_years": 3}}
    )
    assert rules.rhythm.recent_days == 73
    assert (rules.lifecycle.falling_ratio, rules.lifecycle.at_risk_probability) == (0.25, 0.4)
    assert rules.loyalty.loyal_years == 3
    both = ClassificationSettings.model_validate({"loyalty": {"recent_days": 73},
                                                  "rhythm": {"recent_days": 90}})
    assert both.rhythm.recent_days == 90  # the setting in its new place wins


def test_customers_without_orders_are_general() -> None:
    assert _first(assign_loyalty(_one(PROSPECT, probability_alive=0.0), RULES)) == "general"


# --- lifecycle ------------------------------------------------------------------------------------


# BUYER usually orders every 90 days, so 180 days silent is twice that; P(alive) 0.9
LAPSED = {"days_since_first": 1000.0, "days_since_last": 30.0, "longest_gap_days": 500.0}


@pytest.mark.parametrize(
    ("changes", "stage"),
    [
        # by tenure
        ({"days_since_first": 30.0, "days_since_last": 30.0, "order_days": 1, "mean_gap_days": NaN}, "new"),
        ({"days_since_first": 90.0, "days_since_last": 10.0}, "new"),
        ({"days_since_first": 90.01, "days_since_last": 10.0}, "growing"),
        ({"days_since_first": 364.9, "days_since_last": 5.0}, "growing"),
        ({"days_since_first": 365.0, "days_since_last": 5.0}, "mature"),
        ({"days_since_first": 60.0, "days_since_last": 5.0, "days_since_engaged": 1.0}, "new"),
        # overdue: whole days since the last order over the expected interval, at risk from 2.0
        ({"days_since_first": 900.0, "days_since_last": 179.99}, "mature"),
        ({"days_since_first": 900.0, "days_since_last": 180.0}, "at_risk"),  # exactly 2.0x
        ({"expected_interval_days": 45.2, "days_since_last": 90.9}, "mature"),  # 90 whole days: 1.99x
        ({"expected_interval_days": 45.0, "days_since_last": 90.0}, "at_risk"),
        ({"expected_interval_days": 400.0, "days_since_last": 800.0, "days_since_first": 3000.0},
         "at_risk"),  # a slow rhythm is late later ...
        ({"expected_interval_days": 400.0, "days_since_last": 799.99, "days_since_first": 3000.0},
         "mature"),  # ... and not before
        # ... and at least 30 days silent
        ({"expected_interval_days": 10.0, "days_since_last": 29.99}, "mature"),  # 2.9x, but 29 days
        ({"expected_interval_days": 10.0, "days_since_last": 30.0}, "at_risk"),
        # pace fell below half the usual, missing at least two order days in the 180-day window
        ({"usual_orders_per_year": 12.0, "recent_orders_per_year": 6.0}, "mature"),
        ({"usual_orders_per_year": 12.0, "recent_orders_per_year": 5.99}, "at_risk"),
        ({"usual_orders_per_year": 4.05, "recent_orders_per_year": 0.0}, "mature"),  # 1.997 missed
        ({"usual_orders_per_year": 4.06, "recent_orders_per_year": 0.0}, "at_risk"),  # 2.002 missed
        ({"usual_orders_per_year": NaN, "recent_orders_per_year": 0.0}, "mature"),
        # unlikely still active, once past their expected interval
        ({"probability_alive": 0.4999, "days_since_last": 91.0}, "at_risk"),
        ({"probability_alive": 0.5, "days_since_last": 91.0}, "mature"),
        ({"probability_alive": 0.01, "days_since_last": 90.99}, "mature"),  # due today: 1.0x is not past
        ({"probability_alive": NaN, "days_since_last": 170.0}, "mature"),
        # churned: 180 days silent and 3x the interval ...
        ({"days_since_last": 269.99}, "at_risk"),
        ({"days_since_last": 270.0}, "churned"),  # exactly 3.0x
        ({"expected_interval_days": 50.0, "days_since_last": 179.99}, "at_risk"),  # 3.58x, 179 days
        ({"expected_interval_days": 50.0, "days_since_last": 180.0}, "churned"),
        # ... or past the interval and very unlikely still active
        ({"expected_interval_days": 150.0, "days_since_last": 200.0, "probability_alive": 0.1499}, "churned"),
        ({"expected_interval_days": 150.0, "days_since_last": 200.0, "probability_alive": 0.15}, "at_risk"),
        ({"expected_interval_days": 150.0, "days_since_last": 179.99, "probability_alive": 0.01}, "at_risk"),
        ({"expected_interval_days": 200.0, "days_since_last": 200.0, "probability_alive": 0.01}, "mature"),
        # ... or silent beyond churned_days (1095) whatever the rhythm
        ({"expected_interval_days": 1000.0, "days_since_last": 1095.0, "days_since_first": 3000.0},
         "mature"),
        ({"expected_interval_days": 1000.0, "days_since_last": 1095.01, "days_since_first": 3000.0},
         "churned"),
        # reacquired: back after a lapse, until the 3rd order day or 365 days since the return
        ({**LAPSED, "days_since_return": 30.0, "orders_since_return": 1.0}, "reacquired"),
        ({**LAPSED, "days_since_return": 364.9, "orders_since_return": 2.0}, "reacquired"),
        ({**LAPSED, "days_since_return": 60.0, "orders_since_return": 3.0}, "growing"),  # from the return
        ({**LAPSED, "days_since_return": 364.9, "orders_since_return": 3.0}, "growing"),
        ({**LAPSED, "days_since_return": 365.0, "orders_since_return": 2.0}, "mature"),
        ({**LAPSED, "days_since_return": 500.0, "orders_since_return": 5.0}, "mature"),
        ({**LAPSED, "days_since_return": NaN, "orders_since_return": NaN}, "mature"),  # a long gap, no lapse
        ({**LAPSED, "days_since_return": 200.0, "orders_since_return": 1.0, "days_since_last": 200.0},
         "at_risk"),  # back once, then overdue again
    ],
)
def test_lifecycle_stage_on_each_rule_and_boundary(changes: dict[str, Any], stage: str) -> None:
    assert _first(assign_lifecycle_stage(_one(BUYER, **changes), RULES)) == stage


@pytest.mark.parametrize(
    ("at_risk_days", "silent", "stage"),
    [(None, 500.0, "mature"), (400, 400.0, "mature"), (400, 400.01, "at_risk")],
)
def test_a_fixed_at_risk_ceiling_applies_whatever_the_rhythm_when_set(
    at_risk_days: int | None, silent: float, stage: str
) -> None:
    rules = ClassificationSettings(lifecycle=LifecycleRules(at_risk_days=at_risk_days))
    frame = _one(BUYER, expected_interval_days=1000.0, days_since_last=silent, days_since_first=3000.0)
    assert _first(assign_lifecycle_stage(frame, rules)) == stage


def test_the_churned_ceiling_can_be_turned_off() -> None:
    frame = _one(BUYER, expected_interval_days=2000.0, days_since_last=1500.0, days_since_first=5000.0)
    assert _first(assign_lifecycle_stage(frame, RULES)) == "churned"
    rules = ClassificationSettings(lifecycle=LifecycleRules(churned_days=None))
    assert _first(assign_lifecycle_stage(frame, rules)) == "mature"  # 0.75x their own slow rhythm


def test_each_at_risk_and_churned_signal_can_be_told_apart() -> None:
    frame = _frame([
        {**BUYER, "customer_id": 1, "days_since_last": 180.0},
        {**BUYER, "customer_id": 2, "usual_orders_per_year": 12.0, "recent_orders_per_year": 2.0},
        {**BUYER, "customer_id": 3, "days_since_last": 100.0, "probability_alive": 0.3},
        {**BUYER, "customer_id": 4, "days_since_last": 300.0},
        {**BUYER, "customer_id": 5, "days_since_last": 200.0, "probability_alive": 0.1},
        {**BUYER, "customer_id": 6, "days_since_last": 1100.0, "expected_interval_days": 1000.0},
    ])
    at_risk = {name: mask.tolist() for name, mask in at_risk_signals(frame, RULES).items()}
    churned = {name: mask.tolist() for name, mask in churned_signals(frame, RULES).items()}
    assert at_risk == {
        "overdue": [True, False, False, True, True, False],
        "falling_pace": [False, True, False, False, False, False],
        "unlikely_active": [False, False, True, False, True, False],
    }  # no "silent_days": at_risk_days is off by default
    assert churned == {
        "overdue": [False, False, False, True, False, False],
        "unlikely_active": [False, False, False, False, True, False],
        "silent_days": [False, False, False, False, False, True],
    }
    assert overdue(frame)[:4] == pytest.approx([2.0, 10 / 90, 100 / 90, 300 / 90])


@pytest.mark.parametrize(
    ("engaged", "stage"), [(0.0, "lead"), (90.0, "lead"), (90.01, "prospect"), (NaN, "prospect")]
)
def test_a_lead_is_a_prospect_who_opened_or_clicked_lately(engaged: float, stage: str) -> None:
    frame = _one(PROSPECT, days_since_engaged=engaged)
    assert _first(assign_lifecycle_stage(frame, RULES)) == stage


def test_an_order_count_without_a_last_order_date_is_not_trading() -> None:
    frame = _one(PROSPECT, order_count=3, revenue=1e6)
    classes = assign_classes(frame, RULES, FIXED).iloc[0].to_dict()
    assert classes["lifecycle_stage"] == "prospect"
    assert classes["value_tier"] == "low"


# --- relationship stage ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "stage"),
    [
        ({"share_of_wallet": 0.2999}, "gestation"),
        ({"share_of_wallet": 0.30}, "initial"),
        ({"share_of_wallet": 0.4999}, "initial"),
        ({"share_of_wallet": 0.50}, "middle"),
        ({"share_of_wallet": 0.9499}, "middle"),
        ({"share_of_wallet": 0.95}, "partner"),
        ({"share_of_wallet": 1.0}, "partner"),
        ({"share_of_wallet": NaN}, "unknown"),
        # trading stopped: twice the usual 90 days without an order, and at least 60 days
        ({"days_since_last": 179.99}, "initial"),
        ({"days_since_last": 180.0}, "interrupted"),
        ({"days_since_last": 180.0, "share_of_wallet": 1.0}, "interrupted"),
        ({"days_since_last": 400.0, "share_of_wallet": NaN}, "interrupted"),
        ({"expected_interval_days": 45.2, "days_since_last": 90.9}, "initial"),  # 90 whole days: 1.99x
        ({"expected_interval_days": 20.0, "days_since_last": 59.99}, "initial"),  # 2.95x, but 59 days
        ({"expected_interval_days": 20.0, "days_since_last": 60.0}, "interrupted"),
        ({"expected_interval_days": 400.0, "days_since_last": 700.0}, "initial"),  # a slow rhythm
        ({"expected_interval_days": NaN, "days_since_last": 700.0}, "initial"),  # no rhythm, no fixed ceiling
    ],
)
def test_relationship_stage_by_share_of_wallet(changes: dict[str, Any], stage: str) -> None:
    assert _first(assign_relationship_stage(_one(BUYER, **changes), RULES.relationship)) == stage


@pytest.mark.parametrize(("silent", "stopped"), [(99.99, False), (100.0, True)])
def test_a_fixed_interruption_ceiling_applies_whatever_the_rhythm_when_set(
    silent: float, stopped: bool
) -> None:
    rules = RelationshipRules(interrupted_days=100)
    frame = _one(BUYER, expected_interval_days=400.0, days_since_last=silent)
    assert bool(interrupted(frame, rules)[0]) is stopped
    assert not interrupted(frame, RULES.relationship)[0]  # off by default: 0.25x their rhythm
    assert _first(assign_relationship_stage(frame, rules)) == ("interrupted" if stopped else "initial")


def test_customers_without_orders_are_in_gestation_whatever_their_share() -> None:
    assert _first(assign_relationship_stage(_one(PROSPECT, share_of_wallet=0.99), RULES.relationship)) == (
        "gestation"
    )


# --- churn kind -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "kind"),
    [
        ({}, "none"),
        ({"dropped_lines": "ink"}, "partial"),
        ({"dropped_lines": "ink,paper"}, "partial"),
        ({"dropped_lines": "  "}, "none"),
        ({"dropped_lines": None}, "none"),
        ({"dropped_lines": "ink", "days_since_last": 180.0}, "partial"),  # at risk (2.0x), not churned
        ({"dropped_lines": "ink", "days_since_last": 180.01}, "none"),  # silent, every line stopped
        ({"dropped_lines": "ink", "days_since_last": 269.99}, "none"),
        ({"dropped_lines": "ink", "days_since_last": 270.0}, "full"),  # churned: 3.0x their 90 days
        ({"dropped_lines": "", "days_since_last": 400.0}, "full"),
        ({"dropped_lines": "", "days_since_last": 200.0, "probability_alive": 0.1}, "full"),
    ],
)
def test_churn_kind(changes: dict[str, Any], kind: str) -> None:
    assert _first(assign_churn_kind(_one(BUYER, **changes), RULES)) == kind


def test_customers_without_orders_have_no_churn() -> None:
    assert _first(assign_churn_kind(_one(PROSPECT, dropped_lines="ink"), RULES)) == "none"
    # an order count of 0 decides, even beside a stray last-order age
    stray = _one(PROSPECT, dropped_lines="ink", days_since_last=10.0)
    assert _first(assign_churn_kind(stray, RULES)) == "none"


# --- profit profile -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "profile"),
    [
        ({"revenue": 99.0}, "not_key"),
        ({"margin_rate": NaN}, "unknown"),
        ({"margin_rate": -0.1}, "black"),
        ({"margin_rate": 0.02}, "black"),
        ({"margin_rate": 0.01, "annual_revenue": 1e9}, "black"),  # little profit first, whatever the volume
        ({"margin_rate": 0.0201}, "white"),  # on 500 of sales, at the volume threshold
        ({"margin_rate": 0.12}, "white"),
        ({"margin_rate": 0.12, "annual_revenue": 499.99}, "balanced"),
        ({"margin_rate": 0.1201, "annual_revenue": 1e9}, "balanced"),
        ({"margin_rate": 0.30, "gap_variation": 0.75}, "red"),
        ({"margin_rate": 0.2999, "gap_variation": 0.75}, "balanced"),
        ({"margin_rate": 0.30, "gap_variation": 0.7499}, "balanced"),
        ({"margin_rate": 0.90, "gap_variation": NaN}, "balanced"),
    ],
)
def test_profit_profile_of_key_customers(changes: dict[str, Any], profile: str) -> None:
    assert _first(assign_profit_profile(_one(BUYER, **changes), RULES, FIXED)) == profile


def test_white_needs_some_volume_even_when_its_threshold_resolves_to_zero() -> None:
    zero = replace(FIXED, white_min_volume=0.0)
    frame = _one(BUYER, margin_rate=0.05, annual_revenue=0.0)
    assert _first(assign_profit_profile(frame, RULES, zero)) == "balanced"


def test_prospects_are_not_key() -> None:
    frame = _one(PROSPECT, revenue=1e9, margin_rate=0.5)
    assert _first(assign_profit_profile(frame, RULES, FIXED)) == "not_key"


# --- thresholds -----------------------------------------------------------------------------------


def test_quantiles_are_taken_over_the_customers_who_ordered() -> None:
    buyers = [{**BUYER, "customer_id": i, "revenue": float(i)} for i in range(1, 11)]
    prospects = [{**PROSPECT, "customer_id": 100 + i} for i in range(10)]
    classes, resolved = classify(_frame(buyers + prospects), RULES)
    # linear interpolation over 1..10: 0.8 → 8.2, 0.45 → 5.05
    assert resolved.tier_high == pytest.approx(8.2)
    assert resolved.tier_medium == pytest.approx(5.05)
    assert classes["value_tier"].tolist() == ["low"] * 5 + ["medium"] * 3 + ["high"] * 2 + ["low"] * 10
    assert resolved.scale_large == 1_000_000.0  # absolute, passed through


def test_quantiles_of_margin_leave_unknown_margins_out() -> None:
    rules = ClassificationSettings(value_tier=ValueTierRules(metric="margin", high=Quantile(quantile=0.5),
                                                             medium=Quantile(quantile=0.25)))
    rows = [{**BUYER, "customer_id": i, "margin": m} for i, m in enumerate([NaN, 10.0, 20.0, 30.0])]
    assert resolve_thresholds(_frame(rows), rules).tier_high == 20.0


def test_every_threshold_can_be_a_quantile() -> None:
    q = Quantile(quantile=0.5)
    rules = ClassificationSettings(
        scale=ScaleRules(large=Quantile(quantile=0.75), medium=q),
        purchase_frequency=PurchaseFrequencyRules(high=Quantile(quantile=0.75), medium=q),
        profit_profile=ProfitProfileRules(white_min_volume=q),
    )
    rows = [{**BUYER, "customer_id": i, "annual_revenue": 10.0 * i, "orders_per_year": float(i)}
            for i in range(1, 6)]
    resolved = resolve_thresholds(_frame([*rows, PROSPECT]), rules)
    assert (resolved.scale_large, resolved.scale_medium, resolved.white_min_volume) == (40.0, 30.0, 30.0)
    assert (resolved.frequency_high, resolved.frequency_medium) == (4.0, 3.0)


def test_idle_buyers_stay_low_frequency_when_the_quantile_is_zero() -> None:
    rules = ClassificationSettings(purchase_frequency=PurchaseFrequencyRules(
        high=Quantile(quantile=0.9), medium=Quantile(quantile=0.5)))
    rows = [{**BUYER, "customer_id": i, "orders_per_year": 0.0} for i in range(9)]
    rows.append({**BUYER, "customer_id": 9, "orders_per_year": 6.0})
    classes, resolved = classify(_frame(rows), rules)
    assert resolved.frequency_medium == 0.0
    assert classes["purchase_frequency"].tolist() == ["low"] * 9 + ["high"]


def test_equal_revenue_everywhere_makes_nobody_high() -> None:
    classes, _ = classify(_frame([{**BUYER, "customer_id": i, "revenue": 500.0} for i in range(5)]), RULES)
    assert set(classes["value_tier"]) == {"low"}


def test_nobody_ordered_yet_resolves_quantiles_to_infinity() -> None:
    frame = _frame([{**PROSPECT, "customer_id": 1},
                    {**PROSPECT, "customer_id": 2, "days_since_engaged": 3.0}])
    classes, resolved = classify(frame, RULES)
    assert math.isinf(resolved.tier_high) and math.isinf(resolved.tier_medium)
    assert math.isinf(resolved.white_min_volume)
    assert resolved.scale_medium == 100_000.0 and resolved.frequency_high == 12.0
    assert classes.to_dict("records") == [
        {"scale": "small", "value_tier": "low", "industry": "other", "purchase_frequency": "none",
         "loyalty": "general", "lifecycle_stage": stage, "relationship_stage": "gestation",
         "churn_kind": "none", "profit_profile": "not_key"}
        for stage in ("prospect", "lead")
    ]


def test_resolved_thresholds_survive_json_with_infinity() -> None:
    resolved = replace(FIXED, tier_high=math.inf, tier_medium=math.inf)
    stored = json.loads(json.dumps(resolved.as_dict(), allow_nan=False))
    assert ResolvedThresholds.from_dict(stored) == resolved
    assert stored["tier_high"] == "inf" and stored["scale_large"] == 1000.0
    with pytest.raises(ValueError, match="white_min_volume"):
        ResolvedThresholds.from_dict({k: v for k, v in stored.items() if k != "white_min_volume"})


# --- classify -------------------------------------------------------------------------------------


def test_classify_returns_the_nine_dimensions_on_the_same_index() -> None:
    frame = _frame([{**BUYER, "customer_id": 7}, {**PROSPECT, "customer_id": 8}])
    frame.index = pd.Index([70, 30])
    frame["extra"] = "ignored"
    classes, _ = classify(frame, RULES)
    assert list(classes.columns) == list(DIMENSIONS)
    assert classes.index.equals(frame.index)
    assert all(classes[c].dtype == object for c in classes.columns)


def test_classify_names_missing_columns() -> None:
    frame = _frame([BUYER]).drop(columns=["dropped_lines", "share_of_wallet"])
    with pytest.raises(ValueError, match="share_of_wallet, dropped_lines"):
        classify(frame, RULES)


def test_classify_accepts_pandas_string_columns_and_an_empty_frame() -> None:
    frame = _frame([{**BUYER, "industry_text": "零售", "dropped_lines": "ink"}, PROSPECT])
    frame = frame.astype({"industry_text": "string", "dropped_lines": "string"})
    classes, _ = classify(frame, RULES)
    assert classes["industry"].tolist() == ["trade", "other"]
    assert classes["churn_kind"].tolist() == ["partial", "none"]
    empty, _ = classify(frame.iloc[0:0], RULES)
    assert empty.empty and list(empty.columns) == list(DIMENSIONS)


# --- properties -----------------------------------------------------------------------------------

INDUSTRY_TEXTS = st.one_of(st.sampled_from(["", "Factory", "零售", "consulting", "farm", "Retail software"]),
                           st.text(alphabet="aeirt svcl制造零售服务ＲＴ,", max_size=12))


def _maybe(values: st.SearchStrategy[float]) -> st.SearchStrategy[float]:
    return st.one_of(st.just(NaN), values)


@st.composite
def customers(draw: st.DrawFn, customer_id: int) -> dict[str, Any]:
    """One customer whose figures are consistent with each other (first ≥ last, gaps within the span)."""
    base: dict[str, Any] = {
        "customer_id": customer_id,
        "industry_text": draw(INDUSTRY_TEXTS),
        "dropped_lines": draw(st.sampled_from(["", "ink", "ink,paper", " "])),
        "days_since_engaged": draw(_maybe(st.floats(0, 1000))),
    }
    if draw(st.booleans()):
        return {**PROSPECT, **base}
    orders = draw(st.integers(1, 50))
    order_days = draw(st.integers(1, orders))
    first = draw(st.floats(0, 4000))
    last = draw(st.floats(0, first))
    returned = order_days > 1 and draw(st.booleans())
    soon = draw(_maybe(st.floats(0, 50)))
    return {
        **base,
        "order_count": orders,
        "order_days": order_days,
        "revenue": draw(st.floats(0, 1e7)),
        "margin": draw(_maybe(st.floats(-1e6, 1e7))),
        "margin_rate": draw(_maybe(st.floats(-1, 1))),
        "annual_revenue": draw(st.floats(0, 1e7)),
        "days_since_first": first,
        "days_since_last": last,
        "longest_gap_days": draw(_maybe(st.floats(0, first - last))),
        "mean_gap_days": draw(_maybe(st.floats(0, first - last))),
        "gap_variation": draw(_maybe(st.floats(0, 3))),
        "orders_per_year": draw(st.floats(0, 400)),
        "recent_orders_per_year": draw(st.floats(0, 400)),
        "usual_orders_per_year": draw(_maybe(st.floats(0, 400))),
        "expected_interval_days": draw(st.floats(1, 2000)),
        "days_since_return": draw(st.floats(last, first)) if returned else NaN,
        "orders_since_return": float(draw(st.integers(1, order_days))) if returned else NaN,
        "probability_alive": draw(_maybe(st.floats(0, 1))),
        "expected_orders_90d": soon,
        "expected_orders_365d": soon if math.isnan(soon) else soon + draw(st.floats(0, 150)),
        "predicted_value": draw(_maybe(st.floats(0, 1e7))),
        "share_of_wallet": draw(_maybe(st.floats(0, 1))),
    }


@st.composite
def feature_frames(draw: st.DrawFn, min_size: int = 0) -> pd.DataFrame:
    size = draw(st.integers(min_size, 25))
    return _frame([draw(customers(i)) for i in range(size)])


@st.composite
def threshold_pairs(draw: st.DrawFn, top: float) -> tuple[Threshold, Threshold]:
    """(upper, lower): both quantiles, both absolute, or one of each (possibly out of order)."""

    def one(kind: str, low: float, high: float) -> Threshold:
        if kind == "quantile":
            return Quantile(quantile=draw(st.floats(max(low, 0.01), min(high, 0.99))))
        return draw(st.floats(low * top, high * top))

    upper_kind, lower_kind = draw(st.sampled_from(["quantile", "absolute"])), draw(
        st.sampled_from(["quantile", "absolute"]))
    if upper_kind == lower_kind:
        lower = one(lower_kind, 0.0, 0.49)
        return one(upper_kind, 0.51, 1.0), lower
    return one(upper_kind, 0.0, 1.0), one(lower_kind, 0.0, 1.0)


@st.composite
def settings(draw: st.DrawFn) -> ClassificationSettings:
    tier_high, tier_medium = draw(threshold_pairs(1e7))
    large, medium = draw(threshold_pairs(1e7))
    freq_high, freq_medium = draw(threshold_pairs(400))
    white = draw(st.one_of(st.floats(0, 1e7), st.floats(0.01, 0.99).map(lambda q: Quantile(quantile=q))))
    return ClassificationSettings(
        value_tier=ValueTierRules(metric=draw(st.sampled_from(["revenue", "margin"])), high=tier_high,
                                  medium=tier_medium),
        scale=ScaleRules(large=large, medium=medium),
        purchase_frequency=PurchaseFrequencyRules(high=freq_high, medium=freq_medium),
        profit_profile=ProfitProfileRules(white_min_volume=white),
    )


@given(feature_frames(), settings())
def test_every_customer_gets_exactly_one_known_class_per_dimension(
    frame: pd.DataFrame, rules: ClassificationSettings
) -> None:
    classes, _ = classify(frame, rules)
    assert classes.shape == (len(frame), len(DIMENSIONS))
    assert classes.index.equals(frame.index)
    for dimension, vocabulary in DIMENSIONS.items():
        assert classes[dimension].isin(vocabulary).all(), dimension


@given(feature_frames(), settings())
def test_dimensions_agree_with_each_other(frame: pd.DataFrame, rules: ClassificationSettings) -> None:
    classes, _ = classify(frame, rules)
    churned = classes["lifecycle_stage"] == "churned"
    assert ((classes["loyalty"] == "churned") == churned).all()
    assert ((classes["churn_kind"] == "full") == churned).all()
    assert ((classes["profit_profile"] != "not_key") == (classes["value_tier"] == "high")).all()
    at_risk = classes["lifecycle_stage"] == "at_risk"
    assert (classes.loc[at_risk, "loyalty"] == "at_risk").all()  # loyalty at risk includes lifecycle's
    assert frame.loc[classes["lifecycle_stage"] == "reacquired", "days_since_return"].notna().all()
    assert ((classes["relationship_stage"] == "interrupted")
            == (interrupted(frame, rules.relationship) & (frame["order_count"] > 0))).all()
    prospects = classes["lifecycle_stage"].isin(["prospect", "lead"])
    assert prospects.equals(frame["order_count"] == 0)
    expected = {"value_tier": "low", "purchase_frequency": "none", "loyalty": "general",
                "relationship_stage": "gestation", "churn_kind": "none", "profit_profile": "not_key"}
    for dimension, value in expected.items():
        assert (classes.loc[prospects, dimension] == value).all(), dimension


@given(feature_frames(min_size=1), settings(), st.data())
def test_adding_to_the_tier_figure_never_lowers_the_tier(
    frame: pd.DataFrame, rules: ClassificationSettings, data: st.DataObject
) -> None:
    metric = rules.value_tier.metric
    position = data.draw(st.integers(0, len(frame) - 1))
    assume(not math.isnan(frame[metric].iloc[position]))
    richer = frame.copy()
    richer.loc[richer.index[position], metric] += data.draw(st.floats(0, 1e7))
    rank = {tier: i for i, tier in enumerate(reversed(VALUE_TIERS))}  # low 0, medium 1, high 2
    before = classify(frame, rules)[0]["value_tier"].iloc[position]
    after = classify(richer, rules)[0]["value_tier"].iloc[position]
    assert rank[after] >= rank[before]


@given(feature_frames(), settings(), st.integers(1, 5))
def test_partitions_classified_with_the_global_thresholds_match_the_whole(
    frame: pd.DataFrame, rules: ClassificationSettings, parts: int
) -> None:
    whole, resolved = classify(frame, rules)
    pieces = np.array_split(np.arange(len(frame)), parts)
    joined = pd.concat([assign_classes(frame.iloc[p], rules, resolved) for p in pieces])
    assert joined.equals(whole)


@given(st.lists(st.integers(0, 10**9), min_size=1, max_size=300, unique=True),
       st.floats(0.01, 0.98), st.floats(0.01, 0.98))
def test_tier_proportions_follow_the_quantiles(cents: list[int], a: float, b: float) -> None:
    assume(abs(a - b) > 1e-6)
    rules = ClassificationSettings(value_tier=ValueTierRules(high=Quantile(quantile=max(a, b)),
                                                             medium=Quantile(quantile=min(a, b))))
    frame = _frame([{**BUYER, "customer_id": i, "revenue": c / 100} for i, c in enumerate(cents)])
    tiers = classify(frame, rules)[0]["value_tier"].value_counts()
    n = len(cents)
    high, medium = int(tiers.get("high", 0)), int(tiers.get("medium", 0))
    assert abs(high - n * (1 - max(a, b))) <= 1
    assert abs(high + medium - n * (1 - min(a, b))) <= 1
