"""Customers: import (CSV, XLSX), per-customer figures, classification and stored profiles."""

from edm.customers.importer import (
    ImportResult,
    import_contacts,
    import_customers,
    import_file,
    import_orders,
    import_wallet,
)
from edm.customers.profiles import ClassificationSummary, recompute_profiles

__all__ = [
    "ClassificationSummary",
    "ImportResult",
    "import_contacts",
    "import_customers",
    "import_file",
    "import_orders",
    "import_wallet",
    "recompute_profiles",
]
