"""The nine classification dimensions of DOMAIN.md as pure, vectorised functions over a features frame.

Partition-safe: `resolve_thresholds` turns the quantile thresholds into figures once, over every
customer who has ordered; `assign_classes` then judges each row on its own with those figures, so
it can run per partition (e.g. Dask `map_partitions`) and give the same answer. `classify` does both.

Each dimension is a list of rules over whole columns, the first that holds wins (`np.select`), so
every customer gets exactly one class per dimension. A customer "has ordered" when `order_count > 0`
and `days_since_last` is known; everyone else is treated as not yet trading.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from edm.classes import (
    CHURN_KINDS,
    DIMENSIONS,
    FREQUENCIES,
    INDUSTRIES,
    LIFECYCLE_STAGES,
    LOYALTIES,
    PROFIT_PROFILES,
    RELATIONSHIP_STAGES,
    SCALES,
    VALUE_TIERS,
    Industry,
)
from edm.config import (
    ClassificationSettings,
    IndustryRules,
    Quantile,
    RelationshipRules,
    Threshold,
    ValueTierRules,
)

FEATURE_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "industry_text",
    "order_count",
    "order_days",
    "revenue",
    "margin",
    "margin_rate",
    "annual_revenue",
    "days_since_first",
    "days_since_last",
    "longest_gap_days",
    "mean_gap_days",
    "gap_variation",
    "orders_per_year",
    "recent_orders_per_year",
    "usual_orders_per_year",
    "expected_interval_days",
    "days_since_return",
    "orders_since_return",
    "probability_alive",
    "expected_orders_90d",
    "expected_orders_365d",
    "predicted_value",
    "share_of_wallet",
    "dropped_lines",
    "days_since_engaged",
)
"""One row per customer, built from the store; the only columns classification reads."""

DAYS_PER_YEAR = 365.0

Codes = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]


@dataclass(frozen=True)
class ResolvedThresholds:
    """Every threshold as a figure, stored with each run so a class can be explained later.

    `inf` where a quantile had nobody to be taken over (nobody has ordered): nobody reaches it.
    """

    scale_large: float
    scale_medium: float
    tier_high: float
    tier_medium: float
    frequency_high: float
    frequency_medium: float
    white_min_volume: float

    def as_dict(self) -> dict[str, float | str]:
        """JSON-safe: finite figures as numbers, infinities as the strings "inf" / "-inf"."""
        return {f.name: _json_number(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ResolvedThresholds:
        """The inverse of `as_dict` (any value `float()` reads is accepted)."""
        missing = [f.name for f in fields(cls) if f.name not in data]
        if missing:
            raise ValueError(f"resolved thresholds lack: {', '.join(missing)}")
        return cls(**{f.name: float(data[f.name]) for f in fields(cls)})


def resolve_thresholds(features: pd.DataFrame, rules: ClassificationSettings) -> ResolvedThresholds:
    """Quantile thresholds as figures over the customers who have ordered; absolute ones as given.

    Prospects are left out: their zeros would drag every quantile to zero. Unknown figures
    (a NaN margin) are left out too. The white-face volume is a quantile of the annual sales of
    all customers who ordered (as `Threshold` says), not of the key customers only.
    """
    _require(features, ("order_count", "days_since_last", "annual_revenue", "orders_per_year",
                        rules.value_tier.metric))
    ordered = has_ordered(features)

    def known(column: str) -> Floats:
        values = _floats(features, column)[ordered]
        return values[~np.isnan(values)]

    annual = known("annual_revenue")
    tier_figure = known(rules.value_tier.metric)
    rate = known("orders_per_year")
    return ResolvedThresholds(
        scale_large=_resolve(rules.scale.large, annual),
        scale_medium=_resolve(rules.scale.medium, annual),
        tier_high=_resolve(rules.value_tier.high, tier_figure),
        tier_medium=_resolve(rules.value_tier.medium, tier_figure),
        frequency_high=_resolve(rules.purchase_frequency.high, rate),
        frequency_medium=_resolve(rules.purchase_frequency.medium, rate),
        white_min_volume=_resolve(rules.profit_profile.white_min_volume, annual),
    )


def classify(
    features: pd.DataFrame, rules: ClassificationSettings
) -> tuple[pd.DataFrame, ResolvedThresholds]:
    """Every customer's nine classes (columns = `DIMENSIONS`, same index) and the thresholds used."""
    _require(features, FEATURE_COLUMNS)
    resolved = resolve_thresholds(features, rules)
    return assign_classes(features, rules, resolved), resolved


def assign_classes(
    features: pd.DataFrame, rules: ClassificationSettings, resolved: ResolvedThresholds
) -> pd.DataFrame:
    """The nine classes with thresholds already resolved: row by row, so safe on any partition."""
    _require(features, FEATURE_COLUMNS)
    ordered = has_ordered(features)
    tier = _value_tier(features, rules.value_tier, resolved, ordered)
    stage = _lifecycle_stage(features, rules, ordered)
    codes = {
        "scale": _scale(features, resolved),
        "value_tier": tier,
        "industry": _industry(features, rules.industry),
        "purchase_frequency": _purchase_frequency(features, resolved, ordered),
        "loyalty": _loyalty(features, rules, ordered, stage),
        "lifecycle_stage": stage,
        "relationship_stage": _relationship_stage(features, rules.relationship, ordered),
        "churn_kind": _churn_kind(features, rules, ordered, stage),
        "profit_profile": _profit_profile(features, rules, resolved, tier),
    }
    return pd.DataFrame({name: _labels(features, name, codes[name]) for name in DIMENSIONS},
                        index=features.index)


def has_ordered(features: pd.DataFrame) -> Mask:
    """Customers with at least one order (and a known last order date)."""
    ordered: Mask = (_floats(features, "order_count") > 0) & ~np.isnan(_floats(features, "days_since_last"))
    return ordered


def assign_scale(features: pd.DataFrame, resolved: ResolvedThresholds) -> pd.Series:
    """large / medium / small by sales over the last 365 days ("at or above" each threshold).

    A class above small needs some sales: a quantile that resolves to 0 (most customers idle
    this year) must not make idle customers medium.
    """
    return _labels(features, "scale", _scale(features, resolved))


def assign_value_tier(
    features: pd.DataFrame, rules: ValueTierRules, resolved: ResolvedThresholds
) -> pd.Series:
    """high / medium / low by lifetime revenue or margin; customers without orders are low.

    High needs the figure at or above the high threshold *and* above the medium one, so when
    ties (or a mix of absolute and quantile thresholds) put medium at or above high, the tied
    mass is not all declared high. An unknown margin is low.
    """
    return _labels(features, "value_tier", _value_tier(features, rules, resolved, has_ordered(features)))


def assign_industry(features: pd.DataFrame, rules: IndustryRules) -> pd.Series:
    """manufacturing / services / trade / other from the free-text industry (see `industry_of`)."""
    return _labels(features, "industry", _industry(features, rules))


def assign_purchase_frequency(features: pd.DataFrame, resolved: ResolvedThresholds) -> pd.Series:
    """high / medium / low by orders per year over the window; none for customers without orders.

    As with scale, a class above low needs at least one order in the window.
    """
    return _labels(features, "purchase_frequency",
                   _purchase_frequency(features, resolved, has_ordered(features)))


def assign_loyalty(features: pd.DataFrame, rules: ClassificationSettings) -> pd.Series:
    """loyal / fairly_loyal / general / at_risk / churned; first matching rule wins.

    No orders: general. Lifecycle churned: churned; lifecycle at risk, or no open or click for
    more than `silent_days` from a customer who used to engage: at_risk. Customer for at least
    `loyal_years` (365-day years since the first order): loyal; `fairly_loyal_years`:
    fairly_loyal; else general.
    """
    ordered = has_ordered(features)
    stage = _lifecycle_stage(features, rules, ordered)
    return _labels(features, "loyalty", _loyalty(features, rules, ordered, stage))


def overdue(features: pd.DataFrame) -> Floats:
    """Whole days since the last order over the customer's expected interval (1.0: due today; NaN unknown)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        days = np.floor(_floats(features, "days_since_last"))
        ratio: Floats = days / _floats(features, "expected_interval_days")
    return ratio


def at_risk_signals(features: pd.DataFrame, rules: ClassificationSettings) -> dict[str, Mask]:
    """Each reason a customer may be at risk, as a mask (see `assign_lifecycle_stage`)."""
    r = rules.lifecycle
    late = overdue(features)
    silent = _floats(features, "days_since_last")
    signals = {
        "overdue": (late >= r.at_risk_overdue) & (silent >= r.at_risk_min_days),
        "falling_pace": _falling(features, rules),
        "unlikely_active": (late > 1) & (_floats(features, "probability_alive") < r.at_risk_probability),
    }
    if r.at_risk_days is not None:
        signals["silent_days"] = silent > r.at_risk_days
    return signals


def churned_signals(features: pd.DataFrame, rules: ClassificationSettings) -> dict[str, Mask]:
    """Each reason a customer may be churned, as a mask (see `assign_lifecycle_stage`)."""
    r = rules.lifecycle
    late = overdue(features)
    silent = _floats(features, "days_since_last")
    past_floor = silent >= r.churned_min_days
    signals = {
        "overdue": past_floor & (late >= r.churned_overdue),
        "unlikely_active": past_floor & (late > 1)
        & (_floats(features, "probability_alive") < r.churned_probability),
    }
    if r.churned_days is not None:
        signals["silent_days"] = silent > r.churned_days
    return signals


def falling_pace(features: pd.DataFrame, rules: ClassificationSettings) -> pd.Series:
    """Whether each customer's buying pace is clearly falling.

    Order days per year over the last `rhythm.recent_days` below `falling_ratio` of the usual
    pace, *and* at least `falling_min_missed` order days fewer than the usual pace predicts for
    the window: a quarterly buyer with one order day in a 180-day window instead of two is
    chance, not a sign. Unknown usual pace (too few order days before the window): False.
    """
    return pd.Series(_falling(features, rules), index=features.index, name="falling_pace")


def assign_lifecycle_stage(features: pd.DataFrame, rules: ClassificationSettings) -> pd.Series:
    """The lifecycle stage by the customer's own rhythm; first matching rule wins.

    No orders: lead if they opened or clicked within `lead_days`, else prospect. Then churned
    (any of `churned_signals`), at_risk (any of `at_risk_signals`), new (first order within
    `new_days`), reacquired (back after a lapse, fewer than `reacquired_orders` order days and
    `reacquired_days` ago), growing (first order, or the return, less than `mature_days` ago),
    mature.
    """
    return _labels(features, "lifecycle_stage", _lifecycle_stage(features, rules, has_ordered(features)))


def assign_relationship_stage(features: pd.DataFrame, rules: RelationshipRules) -> pd.Series:
    """Key-account stage by share of wallet, first matching rule wins.

    No orders: gestation. Trading stopped (no order for `interrupted_overdue` × the expected
    interval and `interrupted_min_days`, or for `interrupted_days`): interrupted, at any share.
    No share estimate: unknown. Then partner / middle / initial at or above each share, else
    gestation.
    """
    return _labels(features, "relationship_stage",
                   _relationship_stage(features, rules, has_ordered(features)))


def interrupted_signals(features: pd.DataFrame, rules: RelationshipRules) -> dict[str, Mask]:
    """Each reason trading may have stopped, as a mask: by the customer's own rhythm, or the
    fixed ceiling when set (see `assign_relationship_stage`)."""
    silent = _floats(features, "days_since_last")
    rhythm = (overdue(features) >= rules.interrupted_overdue) & (silent >= rules.interrupted_min_days)
    signals = {"overdue": rhythm}
    if rules.interrupted_days is not None:
        signals["silent_days"] = silent >= rules.interrupted_days
    return signals


def interrupted(features: pd.DataFrame, rules: RelationshipRules) -> Mask:
    """Trading stopped: any of `interrupted_signals`."""
    return _any(interrupted_signals(features, rules), len(features))


def assign_churn_kind(features: pd.DataFrame, rules: ClassificationSettings) -> pd.Series:
    """none / partial / full.

    Full: lifecycle churned. Partial: not churned, bought something within the churn-kind
    `recent_days` (so they still buy other lines) and `dropped_lines` names a line. A customer
    silent for the whole window but not yet churned is none: every line stopped, not one.
    """
    ordered = has_ordered(features)
    stage = _lifecycle_stage(features, rules, ordered)
    return _labels(features, "churn_kind", _churn_kind(features, rules, ordered, stage))


def assign_profit_profile(
    features: pd.DataFrame, rules: ClassificationSettings, resolved: ResolvedThresholds
) -> pd.Series:
    """red / black / white / balanced for key customers (value tier high), not_key for the rest.

    Unknown margin rate: unknown. Then black (margin rate at most `black_max_margin`, whatever
    the volume: little or no profit comes first), white (at most `white_max_margin` on annual
    sales at or above `white_min_volume`, and above zero), red (at least `red_min_margin` with gap
    variation at least `red_min_irregularity`; unknown variation is not irregular), else balanced.
    """
    tier = _value_tier(features, rules.value_tier, resolved, has_ordered(features))
    return _labels(features, "profit_profile", _profit_profile(features, rules, resolved, tier))


def industry_of(text: str, rules: IndustryRules) -> tuple[Industry, str | None]:
    """The class of a free-text industry and the listed word that decided it (None: other).

    Words match as case-insensitive substrings (after NFKC, so full-width letters count), since
    Chinese has no spaces ("机械制造" is manufacturing). When words of several classes occur,
    the vocabulary order wins (manufacturing, then services, then trade).
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    synonyms = {str(name): words for name, words in rules.synonyms.items()}
    for industry in INDUSTRIES:
        for word in synonyms.get(industry, []):
            key = unicodedata.normalize("NFKC", word).casefold().strip()
            if key and key in folded:
                return industry, word
    return "other", None


# --- the rules, as class codes (indexes into each dimension's vocabulary) ---------------------


def _scale(features: pd.DataFrame, t: ResolvedThresholds) -> Codes:
    sales = _floats(features, "annual_revenue")
    medium = (sales >= t.scale_medium) & (sales > 0)
    return _choose(SCALES, [(medium & (sales >= t.scale_large), "large"), (medium, "medium")], "small")


def _value_tier(features: pd.DataFrame, rules: ValueTierRules, t: ResolvedThresholds, ordered: Mask) -> Codes:
    figure = _floats(features, rules.metric)
    medium = ordered & (figure > t.tier_medium)
    return _choose(VALUE_TIERS, [(medium & (figure >= t.tier_high), "high"), (medium, "medium")], "low")


def _industry(features: pd.DataFrame, rules: IndustryRules) -> Codes:
    return industry_codes(features["industry_text"], rules)


def industry_codes(texts: pd.Series, rules: IndustryRules) -> Codes:
    """Each free-text industry's class as an index into `INDUSTRIES`, judged once per distinct text."""
    codes, distinct = pd.factorize(texts, use_na_sentinel=True)
    other = INDUSTRIES.index("other")
    lookup = [INDUSTRIES.index(industry_of(str(text), rules)[0]) for text in distinct]
    return np.asarray([*lookup, other], dtype=np.int64)[codes]  # code -1 (missing) is the last: other


def _purchase_frequency(features: pd.DataFrame, t: ResolvedThresholds, ordered: Mask) -> Codes:
    rate = _floats(features, "orders_per_year")
    medium = (rate >= t.frequency_medium) & (rate > 0)
    return _choose(
        FREQUENCIES,
        [(~ordered, "none"), (medium & (rate >= t.frequency_high), "high"), (medium, "medium")],
        "low",
    )


def _falling(features: pd.DataFrame, rules: ClassificationSettings) -> Mask:
    recent = _floats(features, "recent_orders_per_year")
    usual = _floats(features, "usual_orders_per_year")
    missed = (usual - recent) * (rules.rhythm.recent_days / DAYS_PER_YEAR)
    r = rules.lifecycle
    falling: Mask = (recent < r.falling_ratio * usual) & (missed >= r.falling_min_missed)
    return falling


def _loyalty(features: pd.DataFrame, rules: ClassificationSettings, ordered: Mask, stage: Codes) -> Codes:
    r = rules.loyalty
    years = _floats(features, "days_since_first") / DAYS_PER_YEAR
    at_risk = stage == LIFECYCLE_STAGES.index("at_risk")
    if r.silent_days is not None:  # NaN (never engaged) compares False: no signal
        at_risk = at_risk | (_floats(features, "days_since_engaged") > r.silent_days)
    return _choose(
        LOYALTIES,
        [
            (~ordered, "general"),
            (stage == LIFECYCLE_STAGES.index("churned"), "churned"),
            (at_risk, "at_risk"),
            (years >= r.loyal_years, "loyal"),
            (years >= r.fairly_loyal_years, "fairly_loyal"),
        ],
        "general",
    )


def _any(signals: dict[str, Mask], length: int) -> Mask:
    found: Mask = np.logical_or.reduce(list(signals.values())) if signals else np.zeros(length, bool)
    return found


def _lifecycle_stage(features: pd.DataFrame, rules: ClassificationSettings, ordered: Mask) -> Codes:
    r = rules.lifecycle
    since_first = _floats(features, "days_since_first")
    since_return = _floats(features, "days_since_return")
    returned = ~np.isnan(since_return)
    still_returning = (returned & (_floats(features, "orders_since_return") < r.reacquired_orders)
                       & (since_return < r.reacquired_days))
    since_start = np.where(returned, since_return, since_first)
    return _choose(
        LIFECYCLE_STAGES,
        [
            (~ordered & (_floats(features, "days_since_engaged") <= r.lead_days), "lead"),
            (~ordered, "prospect"),
            (_any(churned_signals(features, rules), len(features)), "churned"),
            (_any(at_risk_signals(features, rules), len(features)), "at_risk"),
            (since_first <= r.new_days, "new"),
            (still_returning, "reacquired"),
            (since_start < r.mature_days, "growing"),
        ],
        "mature",
    )


def _relationship_stage(features: pd.DataFrame, rules: RelationshipRules, ordered: Mask) -> Codes:
    share = _floats(features, "share_of_wallet")
    return _choose(
        RELATIONSHIP_STAGES,
        [
            (~ordered, "gestation"),
            (interrupted(features, rules), "interrupted"),
            (np.isnan(share), "unknown"),
            (share >= rules.partner, "partner"),
            (share >= rules.middle, "middle"),
            (share >= rules.initial, "initial"),
        ],
        "gestation",
    )


def _churn_kind(features: pd.DataFrame, rules: ClassificationSettings, ordered: Mask, stage: Codes) -> Codes:
    bought_recently = _floats(features, "days_since_last") <= rules.churn_kind.recent_days
    return _choose(
        CHURN_KINDS,
        [
            (~ordered, "none"),
            (stage == LIFECYCLE_STAGES.index("churned"), "full"),
            (bought_recently & _has_text(features["dropped_lines"]), "partial"),
        ],
        "none",
    )


def _profit_profile(
    features: pd.DataFrame, rules: ClassificationSettings, t: ResolvedThresholds, tier: Codes
) -> Codes:
    p = rules.profit_profile
    rate = _floats(features, "margin_rate")
    volume = _floats(features, "annual_revenue")
    irregularity = _floats(features, "gap_variation")
    return _choose(
        PROFIT_PROFILES,
        [
            (tier != VALUE_TIERS.index("high"), "not_key"),
            (np.isnan(rate), "unknown"),
            (rate <= p.black_max_margin, "black"),
            ((rate <= p.white_max_margin) & (volume >= t.white_min_volume) & (volume > 0), "white"),
            ((rate >= p.red_min_margin) & (irregularity >= p.red_min_irregularity), "red"),
        ],
        "balanced",
    )


# --- plumbing ---------------------------------------------------------------------------------


def _choose(vocabulary: Sequence[str], rules: list[tuple[Mask, str]], default: str) -> Codes:
    """The first rule that holds, per row, as an index into `vocabulary`."""
    chosen: Codes = np.select(
        [condition for condition, _ in rules],
        [vocabulary.index(name) for _, name in rules],
        default=vocabulary.index(default),
    ).astype(np.int64, copy=False)
    return chosen


def _labels(features: pd.DataFrame, dimension: str, codes: Codes) -> pd.Series:
    names = np.asarray(DIMENSIONS[dimension], dtype=object)
    return pd.Series(names[codes], index=features.index, name=dimension, dtype=object)


def _floats(features: pd.DataFrame, column: str) -> Floats:
    """A column as float64, None/NaN/unparseable as NaN (rows may come from stored profiles)."""
    values: Floats = pd.to_numeric(features[column], errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    return values


def _has_text(column: pd.Series) -> Mask:
    """Non-blank strings, judged once per distinct value."""
    codes, values = pd.factorize(column, use_na_sentinel=True)
    lookup = np.asarray([*(bool(str(v).strip()) for v in values), False], dtype=np.bool_)
    found: Mask = lookup[codes]
    return found


def _resolve(threshold: Threshold, values: Floats) -> float:
    if isinstance(threshold, Quantile):
        return float(np.quantile(values, threshold.quantile)) if values.size else math.inf
    return float(threshold)


def _require(features: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise ValueError(f"the features frame lacks column(s): {', '.join(missing)}")


def _json_number(value: float) -> float | str:
    return value if math.isfinite(value) else str(value)
