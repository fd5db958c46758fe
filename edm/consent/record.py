"""Writing consent: the one place `consents` and `consent_history` are written."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from edm.addresses import canonical_address
from edm.store import Consent, ConsentHistory, upsert

EXPLICIT = "explicit"
EXISTING_CUSTOMER = "existing_customer"
NO_BASIS = "none"
BASES = (EXPLICIT, EXISTING_CUSTOMER, NO_BASIS)

GRANTED = "granted"
PENDING = "pending"  # a sign-up not confirmed yet
WITHDRAWN = "withdrawn"
STATUSES = (GRANTED, PENDING, WITHDRAWN)


@dataclass(frozen=True, slots=True)
class ConsentGiven:
    """One consent as recorded: for which mailbox, on which basis, where it came from, with its proof."""

    email: str
    basis: str
    status: str
    source: str  # "import:customers.csv", "api", "signup", "preferences", ...
    recorded_at: datetime
    wording_version: str | None = None
    ip: str | None = None
    user_agent: str | None = None

    def __post_init__(self) -> None:
        if self.basis not in BASES:
            raise ValueError(f"consent basis {self.basis!r}: use one of {', '.join(BASES)}")
        if self.status not in STATUSES:
            raise ValueError(f"consent status {self.status!r}: use one of {', '.join(STATUSES)}")


def record(session: Session, given: Iterable[ConsentGiven]) -> int:
    """Make each consent its mailbox's current one and append it to the history; how many were written.

    Of several for one mailbox in `given`, the last wins (all go to the history, in order)."""
    rows = [{"address_key": canonical_address(g.email), "basis": g.basis, "status": g.status,
             "source": g.source, "wording_version": g.wording_version, "ip": g.ip,
             "user_agent": g.user_agent, "recorded_at": g.recorded_at} for g in given]
    if not rows:
        return 0
    session.execute(insert(ConsentHistory), rows)
    latest = {row["address_key"]: row for row in rows}
    upsert(session, Consent, list(latest.values()), key="address_key",
           update=["basis", "status", "source", "wording_version", "ip", "user_agent", "recorded_at"])
    return len(rows)
