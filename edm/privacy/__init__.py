"""A person's rights over what `edm` holds about them: a copy (export), forgetting (erase), keeping
no more than needed (retention), and an audit log of each. docs/privacy.md says what is kept and why.

Assembly is pure (`export.archive`, `export.readme`, `erase.placeholders`); the store is read and
written in `export.gather`, `erase.erase_customer` and `retention.apply_retention`. The names below
load their modules on first use (edm.lazy): the sender reaches `edm.privacy.audit`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edm.lazy import lazy_names

if TYPE_CHECKING:
    from edm.privacy.audit import record_audit, who_runs_this
    from edm.privacy.erase import EraseResult, erase_customer
    from edm.privacy.export import BrandContact, PersonalData, archive, export_customer, gather
    from edm.privacy.retention import RetentionResult, apply_retention

__all__ = ["BrandContact", "EraseResult", "PersonalData", "RetentionResult", "apply_retention", "archive",
           "erase_customer", "export_customer", "gather", "record_audit", "who_runs_this"]

__getattr__ = lazy_names(__name__, {
    "record_audit": "audit", "who_runs_this": "audit", "EraseResult": "erase", "erase_customer": "erase",
    "BrandContact": "export", "PersonalData": "export", "archive": "export", "export_customer": "export",
    "gather": "export", "RetentionResult": "retention", "apply_retention": "retention",
})
