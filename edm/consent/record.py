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


# the columns' widths (edm.store.models.Consent): longer proof is cut, as events cut user agents
SOURCE_LENGTH, WORDING_LENGTH, IP_LENGTH, AGENT_LENGTH = 200, 64, 64, 500


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
             "source": g.source[:SOURCE_LENGTH], "wording_version": _cut(g.wording_version, WORDING_LENGTH),
             "ip": _cut(g.ip, IP_LENGTH), "user_agent": _cut(g.user_agent, AGENT_LENGTH),
             "recorded_at": g.recorded_at} for g in given]
    if not rows:
        return 0
    session.execute(insert(ConsentHistory), rows)
    latest = {row["address_key"]: row for row in rows}
    upsert(session, Consent, list(latest.values()), key="address_key",
           update=["basis", "status", "source", "wording_version", "ip", "user_agent", "recorded_at"])
    return len(rows)


def _cut(text: str | None, length: int) -> str | None:
    return None if text is None else text[:length]
