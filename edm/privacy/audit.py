"""The audit log: who exported, erased or pruned what, when; never the personal data itself."""

from __future__ import annotations

import getpass
from datetime import datetime

from sqlalchemy.orm import Session

from edm.store import AuditEntry

EXPORT, ERASE, RETENTION = "export", "erase", "retention"


def record_audit(session: Session, actor: str, action: str, subject: str | None, now: datetime,
                 detail: str | None = None) -> None:
    """Append one entry in the caller's transaction (it commits, or rolls back, with what it records)."""
    session.add(AuditEntry(occurred_at=now, actor=actor[:200], action=action, subject=subject, detail=detail))


def who_runs_this() -> str:
    """The OS user running the command: the default actor of CLI entries."""
    try:
        return f"os:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (a container's arbitrary uid)
        return "os:unknown"
