"""A person's rights over what `edm` holds about them: a copy (export), forgetting (erase), keeping
no more than needed (retention), and an audit log of each. docs/privacy.md says what is kept and why.

Assembly is pure (`export.archive`, `export.readme`, `erase.placeholders`); the store is read and
written in `export.gather`, `erase.erase_customer` and `retention.apply_retention`.
"""

from edm.privacy.audit import record_audit, who_runs_this
from edm.privacy.erase import EraseResult, erase_customer
from edm.privacy.export import BrandContact, PersonalData, archive, export_customer, gather
from edm.privacy.retention import RetentionResult, apply_retention

__all__ = ["BrandContact", "EraseResult", "PersonalData", "RetentionResult", "apply_retention", "archive",
           "erase_customer", "export_customer", "gather", "record_audit", "who_runs_this"]
