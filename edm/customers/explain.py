"""Every class of one customer with a short plain-English reason, for `edm customers show ID`.

The classes come from the classification code itself (run on a one-row frame with the thresholds
the run resolved), so an explanation can never disagree with the stored profile; this module only
words the figure and the threshold that decided each class.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd

from edm.classes import DIMENSIONS
from edm.config import ClassificationSettings
from edm.customers.classify import (
    DAYS_PER_YEAR,
    FEATURE_COLUMNS,
    ResolvedThresholds,
    assign_classes,
    at_risk_signals,
    churned_signals,
    has_ordered,
    industry_of,
    interrupted_signals,
    overdue,
)
from edm.wording import count, days, number

NO_ORDERS = "no orders yet"


@dataclass(frozen=True)
class Explanation:
    """A class (or figure) and why."""

    value: str
    reason: str


def explain(
    row: Mapping[str, Any], resolved: ResolvedThresholds, rules: ClassificationSettings
) -> dict[str, Explanation]:
    """Each dimension's class with its reason, plus the customer's "rhythm", "churn_risk"
    (1 − P(alive), e.g. "72%"), "next_order" and "predicted_value".

    `row` holds the `FEATURE_COLUMNS` of one customer (None or NaN where unknown).
    """
    missing = [c for c in FEATURE_COLUMNS if c not in row]
    if missing:
        raise ValueError(f"the customer's features lack: {', '.join(missing)}")
    frame = pd.DataFrame({c: [row[c]] for c in FEATURE_COLUMNS})
    decided = assign_classes(frame, rules, resolved)
    classes = {name: str(decided[name].iloc[0]) for name in DIMENSIONS}
    f = _Figures.of(row)
    ordered = bool(has_ordered(frame)[0])
    signals = _Signals(
        at_risk=_held(at_risk_signals(frame, rules)),
        churned=_held(churned_signals(frame, rules)),
        interrupted=_held(interrupted_signals(frame, rules.relationship)),
        overdue=float(overdue(frame)[0]),
    )
    words = _Reasons(f, resolved, rules, ordered, signals, classes["value_tier"])
    reasons: dict[str, Callable[[str], str]] = {
        "scale": words.scale,
        "value_tier": words.value_tier,
        "industry": words.industry,
        "purchase_frequency": words.purchase_frequency,
        "loyalty": words.loyalty,
        "lifecycle_stage": words.lifecycle_stage,
        "relationship_stage": words.relationship_stage,
        "churn_kind": words.churn_kind,
        "profit_profile": words.profit_profile,
    }
    explained = {name: Explanation(value, reasons[name](value)) for name, value in classes.items()}
    explained["rhythm"] = words.rhythm()
    explained["churn_risk"] = _churn_risk(f, ordered)
    explained["next_order"] = words.next_order()
    explained["predicted_value"] = words.predicted_value()
    return explained


def _held(signals: Mapping[str, Any]) -> list[str]:
    """The names of the signals that hold for the one-row frame."""
    return [name for name, mask in signals.items() if mask[0]]


@dataclass(frozen=True)
class _Signals:
    """What the rules found for the one customer: the reasons that held, and how late they are."""

    at_risk: list[str]  # names of the signals that held (classify.*_signals)
    churned: list[str]
    interrupted: list[str]
    overdue: float


@dataclass(frozen=True)
class _Figures:
    """The row's numbers as floats (NaN when unknown: None, NaN, unparseable) and texts as stripped str."""

    industry_text: str
    dropped_lines: str
    order_days: float
    revenue: float
    margin: float
    margin_rate: float
    annual_revenue: float
    days_since_first: float
    days_since_last: float
    longest_gap_days: float
    mean_gap_days: float
    gap_variation: float
    orders_per_year: float
    recent_orders_per_year: float
    usual_orders_per_year: float
    expected_interval_days: float
    days_since_return: float
    orders_since_return: float
    probability_alive: float
    expected_orders_90d: float
    expected_orders_365d: float
    predicted_value: float
    share_of_wallet: float
    days_since_engaged: float

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> _Figures:
        texts = ("industry_text", "dropped_lines")
        numbers = {f.name: _float(row[f.name]) for f in fields(cls) if f.name not in texts}
        return cls(_text(row["industry_text"]), _text(row["dropped_lines"]), **numbers)


class _Reasons:
    """One method per dimension: the reason for the class it was given."""

    def __init__(
        self, f: _Figures, t: ResolvedThresholds, rules: ClassificationSettings, ordered: bool,
        signals: _Signals, tier: str,
    ) -> None:
        self.f, self.t, self.rules, self.ordered, self.signals = f, t, rules, ordered, signals
        self.tier = tier

    def scale(self, value: str) -> str:
        sales = f"sales over the last 365 days {_num(self.f.annual_revenue)}"
        return _banded(sales, self.f.annual_revenue, value, ("large", self.t.scale_large),
                       ("medium", self.t.scale_medium), at_least=True)

    def value_tier(self, value: str) -> str:
        if not self.ordered:
            return NO_ORDERS
        metric = self.rules.value_tier.metric
        figure = {"revenue": self.f.revenue, "margin": self.f.margin,
                  "predicted_value": self.f.predicted_value}[metric]
        named = {"revenue": "lifetime sales", "margin": "lifetime margin",
                 "predicted_value": "predicted value"}[metric]
        if math.isnan(figure):
            return f"{named} unknown"
        named = f"{named} {_num(figure)}"
        return _banded(named, figure, value, ("high", self.t.tier_high), ("medium", self.t.tier_medium),
                       at_least=False)

    def industry(self, value: str) -> str:
        text = self.f.industry_text
        if not text:
            return "no industry given"
        _, word = industry_of(text, self.rules.industry)
        if word is None:
            return f'industry "{text}" names none of the listed words'
        return f'industry "{text}" contains "{word}"'

    def purchase_frequency(self, value: str) -> str:
        if not self.ordered:
            return NO_ORDERS
        window = self.rules.purchase_frequency.window_days
        rate = (f"{count(self.f.orders_per_year, 'order', digits=1)} a year over the last "
                f"{count(window, 'day')}")
        return _banded(rate, self.f.orders_per_year, value, ("high", self.t.frequency_high),
                       ("medium", self.t.frequency_medium), at_least=True)

    def loyalty(self, value: str) -> str:
        r = self.rules.loyalty
        if not self.ordered:
            return NO_ORDERS
        if value == "churned":
            return self.lifecycle_stage("churned")
        if value == "at_risk":
            causes = [self.lifecycle_stage("at_risk")] if self.signals.at_risk else []
            if r.silent_days is not None and self.f.days_since_engaged > r.silent_days:
                causes.append(f"no open or click for {_ago(self.f.days_since_engaged)} "
                              f"(silent after {count(r.silent_days, 'day')})")
            return "; ".join(causes)
        years = f"customer for {count(self.f.days_since_first / DAYS_PER_YEAR, 'year', digits=1)}"
        if value == "loyal":
            return f"{years} (loyal: {count(r.loyal_years, 'year')} or more) and buying at their own pace"
        if value == "fairly_loyal":
            fairly = count(r.fairly_loyal_years, 'year')
            return f"{years} (fairly loyal: {fairly} or more; loyal from {count(r.loyal_years, 'year')})"
        return f"{years}, under {count(r.fairly_loyal_years, 'year')}"

    def lifecycle_stage(self, value: str) -> str:
        r = self.rules.lifecycle
        f = self.f
        if value in ("prospect", "lead"):
            if math.isnan(f.days_since_engaged):
                return f"{NO_ORDERS}; never opened or clicked a mail"
            seen = f"{NO_ORDERS}; last opened or clicked {_ago(f.days_since_engaged)} ago"
            within = "within" if value == "lead" else "not within"
            return f"{seen} ({value}: {within} {count(r.lead_days, 'day')})"
        if value in ("churned", "at_risk"):
            names = self.signals.churned if value == "churned" else self.signals.at_risk
            return "; ".join(self._silence(value, name) for name in names)
        first = f"first order {_ago(f.days_since_first)} ago"
        if value == "new":
            return f"{first} (new: within {count(r.new_days, 'day')})"
        back = (f"back after a lapse {_ago(f.days_since_return)} ago, "
                f"{count(f.orders_since_return, 'order day')} since")
        if value == "reacquired":
            return (f"{back} (reacquired until {count(r.reacquired_orders, 'order day')} or "
                    f"{count(r.reacquired_days, 'day')})")
        start = back if not math.isnan(f.days_since_return) else first
        if value == "growing":
            return f"{start} (growing: under {count(r.mature_days, 'day')})"
        return f"{start} (mature: {count(r.mature_days, 'day')} or more)"

    def _silence(self, stage: str, signal: str) -> str:
        """One reason for at_risk or churned, with the figures (see `classify.at_risk_signals`)."""
        r, f = self.rules.lifecycle, self.f
        silent = f"no order for {_ago(f.days_since_last)}"
        if signal == "overdue":
            multiple, floor = ((r.churned_overdue, r.churned_min_days) if stage == "churned"
                               else (r.at_risk_overdue, r.at_risk_min_days))
            usual = days(f.expected_interval_days)
            return (f"{silent}, {_num(self.signals.overdue, 1)}× their usual {usual} "
                    f"({stage}: {_num(multiple)}× and {count(floor, 'day')} or more)")
        if signal == "falling_pace":
            share = f.recent_orders_per_year / f.usual_orders_per_year
            return (f"{count(f.recent_orders_per_year, 'order day', digits=1)} a year over the last "
                    f"{count(self.rules.rhythm.recent_days, 'day')}, "
                    f"{_num(f.usual_orders_per_year, 1)} before: "
                    f"pace fell to {_pct(share)} (at risk below {_pct(r.falling_ratio)})")
        if signal == "unlikely_active":
            below = r.churned_probability if stage == "churned" else r.at_risk_probability
            return (f"chance still active {_pct(f.probability_alive)}, below {_pct(below)}, "
                    f"{_num(self.signals.overdue, 1)}× their usual {days(f.expected_interval_days)}")
        after = r.churned_days if stage == "churned" else r.at_risk_days
        return f"{silent} ({stage} after {count(after, 'day')} whatever the rhythm)"

    def rhythm(self) -> Explanation:
        f = self.f
        if not self.ordered:
            return Explanation("n/a", NO_ORDERS)
        usual = f"usually orders every {days(f.expected_interval_days)}"
        if math.isnan(f.mean_gap_days):
            usual += " (ordered on one day only: their industry's usual gap)"
        elif f.expected_interval_days > f.mean_gap_days + 0.5:
            usual += f" (own {days(f.mean_gap_days)}, leaning on their industry's with few orders)"
        late = f"last order {_ago(f.days_since_last)} ago, {_num(self.signals.overdue, 1)}× the usual"
        pace = ""
        if not math.isnan(f.usual_orders_per_year):
            pace = (f"; {count(f.recent_orders_per_year, 'order day', digits=1)} a year over the last "
                    f"{count(self.rules.rhythm.recent_days, 'day')}, "
                    f"{_num(f.usual_orders_per_year, 1)} before")
        return Explanation(f"every {days(f.expected_interval_days)}", f"{usual}; {late}{pace}")

    def next_order(self) -> Explanation:
        f = self.f
        if not self.ordered:
            return Explanation("n/a", NO_ORDERS)
        due = f.expected_interval_days - math.floor(f.days_since_last)
        value = "today" if round(due) == 0 else (f"in {count(due, 'day')}" if due > 0
                                                 else f"{count(-due, 'day')} overdue")
        usual = days(f.expected_interval_days)
        reason = f"last order {_ago(f.days_since_last)} ago + usual {usual}"
        if not math.isnan(f.expected_orders_90d):
            reason += (f"; expected orders {_num(f.expected_orders_90d, 2)} in 90 days, "
                       f"{_num(f.expected_orders_365d, 2)} in 365 (MBG/NBD)")
        return Explanation(value, reason)

    def predicted_value(self) -> Explanation:
        f = self.f
        if not self.ordered:
            return Explanation("n/a", NO_ORDERS)
        if math.isnan(f.predicted_value):
            return Explanation("n/a", "no model estimate (too few customers have bought twice)")
        horizon = self.rules.rhythm.value_horizon_days
        reason = (f"expected spend over the next {count(horizon, 'day')}: "
                  "MBG/NBD orders × Gamma-Gamma value per order")
        if horizon == 365 and f.expected_orders_365d > 0:
            per_order = f.predicted_value / f.expected_orders_365d
            reason += f" ({_num(f.expected_orders_365d, 2)} × {_num(per_order)})"
        return Explanation(_num(f.predicted_value), reason)

    def relationship_stage(self, value: str) -> str:
        r = self.rules.relationship
        if not self.ordered:
            return NO_ORDERS
        if value == "interrupted":
            silent = f"no order for {_ago(self.f.days_since_last)}"
            if "overdue" in self.signals.interrupted:
                return (f"{silent}, {_num(self.signals.overdue, 1)}× their usual "
                        f"{days(self.f.expected_interval_days)} (interrupted: "
                        f"{_num(r.interrupted_overdue)}× and {count(r.interrupted_min_days, 'day')} or more)")
            return f"{silent} (interrupted after {count(r.interrupted_days, 'day')} whatever the rhythm)"
        if value == "unknown":
            return "no share-of-wallet estimate"
        share = f"share of wallet {_pct(self.f.share_of_wallet)}"
        bands = [("partner", r.partner), ("middle", r.middle), ("initial", r.initial)]
        for index, (name, floor) in enumerate(bands):
            if value == name:
                above = f", below {bands[index - 1][0]} {_pct(bands[index - 1][1])}" if index else ""
                return f"{share} ≥ {name} {_pct(floor)}{above}"
        return f"{share}, below initial {_pct(r.initial)}"

    def churn_kind(self, value: str) -> str:
        if not self.ordered:
            return NO_ORDERS
        if value == "full":
            return self.lifecycle_stage("churned")
        if value == "partial":
            lines = ", ".join(p.strip() for p in self.f.dropped_lines.split(",") if p.strip())
            return f"dropped product lines: {lines}"
        window = self.rules.churn_kind.recent_days
        if self.f.days_since_last > window:
            return f"no order within the last {count(window, 'day')}, not yet churned"
        return f"no product line dropped within the last {count(window, 'day')}"

    def profit_profile(self, value: str) -> str:
        p = self.rules.profit_profile
        f = self.f
        if value == "not_key":
            return f"not a key customer (value tier {self.tier})"
        rate = f"margin rate {_pct(f.margin_rate)}"
        volume = f"sales over the last 365 days {_num(f.annual_revenue)}"
        irregular = f"gap variation {_num(f.gap_variation)}"
        if value == "unknown":
            return "key customer, margin unknown"
        if value == "black":
            return f"{rate} ≤ black {_pct(p.black_max_margin)}"
        if value == "white":
            return f"{rate} ≤ white {_pct(p.white_max_margin)} on {volume} ≥ {_num(self.t.white_min_volume)}"
        if value == "red":
            return f"{rate} ≥ red {_pct(p.red_min_margin)} with {irregular} ≥ {_num(p.red_min_irregularity)}"
        if f.margin_rate <= p.white_max_margin:
            return f"{rate} but {volume} below white volume {_num(self.t.white_min_volume)}"
        if f.margin_rate >= p.red_min_margin:
            shown = irregular if not math.isnan(f.gap_variation) else "gap variation unknown"
            return f"{rate} but buying regular ({shown}, red needs {_num(p.red_min_irregularity)})"
        return f"{rate}: between white {_pct(p.white_max_margin)} and red {_pct(p.red_min_margin)}"


def _churn_risk(f: _Figures, ordered: bool) -> Explanation:
    if not ordered:
        return Explanation("n/a", NO_ORDERS)
    silent = "ordered today" if f.days_since_last < 0.5 else f"no order for {_ago(f.days_since_last)}"
    usual = (f"usually orders every {days(f.expected_interval_days)}" if f.order_days > 1
             else "one order day so far")
    reason = f"{silent}; {usual}"
    if math.isnan(f.probability_alive):
        return Explanation("n/a", f"no churn-model estimate (too few customers have bought twice); {reason}")
    return Explanation(f"{100 * (1 - f.probability_alive):.0f}%", f"{reason} (MBG/NBD)")


def _banded(
    named: str, figure: float, value: str, upper: tuple[str, float], lower: tuple[str, float], *,
    at_least: bool,
) -> str:
    """The reason for a three-band class (top / middle / bottom) decided by two thresholds.

    `at_least`: the middle band starts at its threshold (scale, frequency); else above it (tier).
    """
    (top, top_at), (middle, middle_at) = upper, lower
    middle_sign = "≥" if at_least else ">"
    if value == top:
        both = f" and {middle_sign} {middle} threshold {_num(middle_at)}" if middle_at > top_at else ""
        return f"{named} ≥ {top} threshold {_num(top_at)}{both}"
    if value == middle:
        return f"{named} {middle_sign} {middle} threshold {_num(middle_at)}, below {top} {_num(top_at)}"
    if at_least and figure <= 0 and middle_at <= 0:
        return f"{named}: none, so not {middle}"
    return f"{named}, {'below' if at_least else 'not above'} {middle} threshold {_num(middle_at)}"


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    return "" if value is None or pd.isna(value) else str(value).strip()


def _num(value: float, digits: int = 2) -> str:
    """1250000 → "1,250,000"; 8.25 → "8.25"; inf → "∞"."""
    return number(value, digits)


def _pct(fraction: float) -> str:
    return "unknown" if math.isnan(fraction) else f"{_num(fraction * 100, 1)}%"


def _ago(elapsed: float) -> str:
    """Days since something, whole: 1 → "1 day", 45.3 → "45 days"."""
    return count(elapsed, "day")
