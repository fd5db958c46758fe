"""The classes a customer can be in: one vocabulary for classification, campaigns, settings and reports.

Nine dimensions, after the domain brief (DOMAIN.md). Every customer is in exactly one
class of each; where the data to decide is missing the class says so ("unknown"), and
customers who have never ordered get the class that fits "not yet trading".
"""

from __future__ import annotations

from typing import Literal, get_args

Scale = Literal["large", "medium", "small"]
Tier = Literal["high", "medium", "low"]
Industry = Literal["manufacturing", "services", "trade", "other"]
Frequency = Literal["high", "medium", "low", "none"]
Loyalty = Literal["loyal", "fairly_loyal", "general", "at_risk", "churned"]
Stage = Literal[
    "prospect", "lead", "new", "growing", "mature", "at_risk", "churned", "reacquired"
]
Relationship = Literal["gestation", "initial", "middle", "partner", "interrupted", "unknown"]
ChurnKind = Literal["none", "partial", "full"]
ProfitProfile = Literal["red", "black", "white", "balanced", "unknown", "not_key"]

SCALES: tuple[Scale, ...] = get_args(Scale)
VALUE_TIERS: tuple[Tier, ...] = get_args(Tier)
INDUSTRIES: tuple[Industry, ...] = get_args(Industry)
FREQUENCIES: tuple[Frequency, ...] = get_args(Frequency)
LOYALTIES: tuple[Loyalty, ...] = get_args(Loyalty)
LIFECYCLE_STAGES: tuple[Stage, ...] = get_args(Stage)
RELATIONSHIP_STAGES: tuple[Relationship, ...] = get_args(Relationship)
CHURN_KINDS: tuple[ChurnKind, ...] = get_args(ChurnKind)
PROFIT_PROFILES: tuple[ProfitProfile, ...] = get_args(ProfitProfile)

DIMENSIONS: dict[str, tuple[str, ...]] = {
    "scale": SCALES,
    "value_tier": VALUE_TIERS,
    "industry": INDUSTRIES,
    "purchase_frequency": FREQUENCIES,
    "loyalty": LOYALTIES,
    "lifecycle_stage": LIFECYCLE_STAGES,
    "relationship_stage": RELATIONSHIP_STAGES,
    "churn_kind": CHURN_KINDS,
    "profit_profile": PROFIT_PROFILES,
}
"""Each dimension's column name in profiles and its classes, in display order."""
