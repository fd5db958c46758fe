"""The suppression list: addresses every later send must skip. The one place that adds to it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.orm import Session

from edm.store import Suppression, upsert

UNSUBSCRIBED = "unsubscribed"
HARD_BOUNCE = "hard_bounce"


def suppress(session: Session, emails: Iterable[str], reason: str, now: datetime) -> None:
    """Add the addresses; one already listed keeps its first reason and time."""
    rows = [{"email": email, "reason": reason, "created_at": now} for email in sorted(set(emails))]
    upsert(session, Suppression, rows, key="email")
