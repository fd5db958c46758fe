"""Customers: CSV import, classification (pure, pandas) and stored profiles."""

from edm.classes import LIFECYCLE_STAGES, VALUE_TIERS
from edm.customers.classify import (
    TierThresholds,
    assign_lifecycle_stage,
    assign_value_tier,
    classify,
    tier_thresholds,
)
from edm.customers.importer import ImportResult, import_customers, import_orders
from edm.customers.profiles import ClassificationSummary, recompute_profiles

__all__ = [
    "LIFECYCLE_STAGES",
    "VALUE_TIERS",
    "ClassificationSummary",
    "ImportResult",
    "TierThresholds",
    "assign_lifecycle_stage",
    "assign_value_tier",
    "classify",
    "import_customers",
    "import_orders",
    "recompute_profiles",
    "tier_thresholds",
]
