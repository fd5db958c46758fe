"""Keeping personal detail no longer than needed (`retention:` settings; PIPL Art. 19, GDPR Art. 5(1)(e)).

Raw events past `events_days` become counts in `event_totals` (per message, UTC day, kind and
machine flag) in the same transaction that drops them: the reports read both, so every figure
they show is the same before and after, while URLs, user agents and feedback reports go. Stored
message bodies (the local sink's `.eml` files), old sign-ups and old audit entries are deleted
when their settings say so. Each run that changes anything writes one audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, func, insert, or_, select
from sqlalchemy.orm import Session, sessionmaker

from edm.config import RetentionSettings
from edm.privacy.audit import RETENTION, record_audit
from edm.privacy.erase import changed
from edm.store import AuditEntry, Event, EventTotal, Signup
from edm.store.sql import utc_day

EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class RetentionResult:
    events: int  # raw events counted into event_totals and dropped
    totals: int  # event_totals rows written
    bodies: int  # .eml files deleted
    signups: int
    audit_entries: int
    dry_run: bool

    @property
    def changed(self) -> bool:
        return any((self.events, self.bodies, self.signups, self.audit_entries))


def apply_retention(sessions: sessionmaker[Session], settings: RetentionSettings, mail_dir: Path | None,
                    actor: str, now: datetime, dry_run: bool = False) -> RetentionResult:
    """Apply every configured limit (one transaction for the store); `dry_run` counts and changes nothing."""
    with sessions.begin() as session:
        events, totals = (_events(session, now - timedelta(days=settings.events_days), dry_run)
                          if settings.events_days is not None else (0, 0))
        signups = (_signups(session, now - timedelta(days=settings.signups_days), dry_run)
                   if settings.signups_days is not None else 0)
        audit = (_audit(session, now - timedelta(days=settings.audit_days), dry_run)
                 if settings.audit_days is not None else 0)
        bodies = (_bodies(mail_dir, now - timedelta(days=settings.bodies_days), dry_run)
                  if settings.bodies_days is not None and mail_dir is not None else 0)
        result = RetentionResult(events, totals, bodies, signups, audit, dry_run)
        if result.changed and not dry_run:
            record_audit(session, actor, RETENTION, None, now,
                         f"events={events} totals={totals} bodies={bodies} signups={signups} audit={audit}")
    return result


def _events(session: Session, before: datetime, dry_run: bool) -> tuple[int, int]:
    day = utc_day(Event.occurred_at).label("day")
    old = Event.occurred_at < before
    counted = (select(day, Event.outbox_id, Event.kind, Event.machine, func.count().label("events"))
               .where(old).group_by(day, Event.outbox_id, Event.kind, Event.machine))
    rows = [{"day": EPOCH + timedelta(days=int(row.day)), "outbox_id": row.outbox_id, "kind": row.kind,
             "machine": bool(row.machine), "events": int(row.events)} for row in session.execute(counted)]
    dropped = sum(row["events"] for row in rows)
    if rows and not dry_run:
        session.execute(insert(EventTotal), rows)
        session.execute(delete(Event).where(old))
    return dropped, len(rows)


def _signups(session: Session, before: datetime, dry_run: bool) -> int:
    settled = or_(Signup.state == "expired", Signup.expires_at < before, Signup.confirmed_at < before)
    old = (Signup.created_at < before) & settled
    if dry_run:
        return int(session.scalar(select(func.count()).select_from(Signup).where(old)) or 0)
    return changed(session.execute(delete(Signup).where(old)))


def _audit(session: Session, before: datetime, dry_run: bool) -> int:
    old = AuditEntry.occurred_at < before
    if dry_run:
        return int(session.scalar(select(func.count()).select_from(AuditEntry).where(old)) or 0)
    return changed(session.execute(delete(AuditEntry).where(old)))


def _bodies(mail_dir: Path, before: datetime, dry_run: bool) -> int:
    if not mail_dir.is_dir():
        return 0
    removed = 0
    for path in mail_dir.glob("*.eml"):
        if datetime.fromtimestamp(path.stat().st_mtime, UTC) < before:
            removed += 1
            if not dry_run:
                path.unlink(missing_ok=True)
    return removed
