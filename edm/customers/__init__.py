"""Customers: import (CSV, XLSX), per-customer figures, classification and stored profiles."""

from edm.customers.importer import ImportResult, import_customers, import_orders
from edm.customers.profiles import ClassificationSummary, recompute_profiles

__all__ = [
    "ClassificationSummary",
    "ImportResult",
    "import_customers",
    "import_orders",
    "recompute_profiles",
]
