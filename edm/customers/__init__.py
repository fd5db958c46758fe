"""Customers: import (CSV, XLSX), per-customer figures, classification and stored profiles.

The names below load their modules on first use (edm.lazy): the sender reaches `edm.customers.tags`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edm.lazy import lazy_names

if TYPE_CHECKING:
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

__getattr__ = lazy_names(__name__, {
    "ImportResult": "importer", "import_contacts": "importer", "import_customers": "importer",
    "import_file": "importer", "import_orders": "importer", "import_wallet": "importer",
    "ClassificationSummary": "profiles", "recompute_profiles": "profiles",
})
