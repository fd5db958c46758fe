"""Consent: why each mailbox may be mailed, recorded with its proof, and its history kept.

Every consent is one `ConsentGiven` written by `record`: the mailbox's current row in `consents`
(one a mailbox, by canonical address) is replaced and the change appended to `consent_history`.
A mailbox with no row has the customer relationship alone (`existing_customer`, dated by the
customer record and their orders): what a CRM export of a company's own customers carries.
"""

from edm.consent.forgotten import address_hash, forget, forgotten
from edm.consent.record import (
    BASES,
    STATUSES,
    ConsentGiven,
    record,
)

__all__ = ["BASES", "STATUSES", "ConsentGiven", "address_hash", "forget", "forgotten", "record"]
