"""Retention: raw events past `events_days` become totals and go, and every report figure stays;
old stored message bodies, sign-ups and audit entries go when their limits say; --dry-run changes nothing."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.config import RetentionSettings
from edm.privacy import apply_retention
from edm.store import AuditEntry, Event, EventTotal, OutboxMessage, Signup
from tests.conftest import SmtpServer
from tests.privacy.test_erase import figures
from tests.privacy.world import World, make_world


@pytest.fixture
def world(tmp_path: Path, any_db_url: str, smtp_server: SmtpServer) -> Iterator[World]:
    yield from make_world(tmp_path, any_db_url, smtp_server)


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _more_signals(sessions: sessionmaker[Session]) -> None:
    """What the tracking app did not make: a machine open, an unsubscribe, complaints (one naming no mail)."""
    with sessions.begin() as session:
        mail = session.scalars(select(OutboxMessage).where(OutboxMessage.campaign == "notice")).first()
        assert mail is not None
        at = mail.sent_at or mail.created_at
        session.add_all([
            Event(kind="open", customer_id=mail.customer_id, outbox_id=mail.id, occurred_at=at, machine=True),
            Event(kind="unsubscribe", customer_id=mail.customer_id, outbox_id=mail.id, occurred_at=at),
            Event(kind="complaint", customer_id=mail.customer_id, outbox_id=mail.id, occurred_at=at,
                  source="arf", detail={"feedback": "abuse"}),
            Event(kind="complaint", customer_id=mail.customer_id, outbox_id=None, occurred_at=at,
                  source="ses"),
        ])


def test_retention_drops_old_events_and_keeps_every_report_figure(world: World) -> None:
    _more_signals(world.sessions)
    before, events = figures(world.sessions), _count(world.sessions, Event)
    assert events >= 6
    later = datetime.now(UTC) + timedelta(days=400)
    settings = RetentionSettings(events_days=365)
    dry = apply_retention(world.sessions, settings, None, "test", later, dry_run=True)
    assert (dry.events, _count(world.sessions, Event)) == (events, events)
    assert _count(world.sessions, EventTotal) == 0
    assert _count(world.sessions, AuditEntry) == 0

    done = apply_retention(world.sessions, settings, None, "test", later)
    assert done.events == events and done.totals >= 4
    assert _count(world.sessions, Event) == 0
    with world.sessions() as session:
        assert session.scalar(select(func.sum(EventTotal.events))) == events
        [entry] = session.scalars(select(AuditEntry)).all()
    assert (entry.action, entry.actor, entry.subject) == ("retention", "test", None)
    assert figures(world.sessions) == before
    again = apply_retention(world.sessions, settings, None, "test", later)
    assert not again.changed and _count(world.sessions, AuditEntry) == 1  # nothing to do: no entry


def test_events_within_the_limit_stay(world: World) -> None:
    events = _count(world.sessions, Event)
    kept = RetentionSettings(events_days=365)
    done = apply_retention(world.sessions, kept, None, "test", datetime.now(UTC))
    assert (done.events, _count(world.sessions, Event)) == (0, events)


def test_bodies_sign_ups_and_audit_entries_past_their_limits_go(world: World, tmp_path: Path) -> None:
    mail_dir = tmp_path / "sink"
    mail_dir.mkdir()
    old, new = mail_dir / "000001-a@example.com.eml", mail_dir / "000002-b@example.com.eml"
    for path in (old, new):
        path.write_bytes(b"Subject: hello\r\n\r\nbody\r\n")
    month_ago = time.time() - 31 * 86400
    os.utime(old, (month_ago, month_ago))
    now = datetime.now(UTC)
    with world.sessions.begin() as session:
        session.add(AuditEntry(occurred_at=now - timedelta(days=800), actor="os:x", action="export",
                               subject="customer 9"))
        session.add(AuditEntry(occurred_at=now - timedelta(days=10), actor="os:x", action="export",
                               subject="customer 8"))
    settings = RetentionSettings(bodies_days=30, signups_days=1, audit_days=365)
    dry = apply_retention(world.sessions, settings, mail_dir, "test", now + timedelta(days=3), dry_run=True)
    assert (dry.bodies, dry.signups, dry.audit_entries) == (1, 1, 1) and old.exists()
    done = apply_retention(world.sessions, settings, mail_dir, "test", now + timedelta(days=3))
    assert (done.bodies, done.signups, done.audit_entries) == (1, 1, 1)
    assert not old.exists() and new.exists()
    assert _count(world.sessions, Signup) == 0
    with world.sessions() as session:
        subjects = set(session.scalars(select(AuditEntry.subject)))
    assert subjects == {"customer 8", None}  # the recent one, and this run's


def test_the_command_applies_the_settings_and_a_dry_run_changes_nothing(world: World) -> None:
    with open(world.env["EDM_CONFIG"], "a", encoding="utf-8") as settings:
        settings.write("retention:\n  signups_days: 1\n")
    dry = world.edm("retention", "apply", "--dry-run")
    assert dry.exit_code == 0 and "would drop: 0 raw events" in dry.output
    assert _count(world.sessions, Signup) == 1  # a dry run: still there
    done = world.edm("retention", "apply")
    assert done.exit_code == 0 and "dropped: 0 raw events" in done.output and ", 1 sign-up," in done.output
    assert _count(world.sessions, Signup) == 0


def test_events_days_below_a_year_is_refused() -> None:
    with pytest.raises(ValueError, match="greater than or equal to 365"):
        RetentionSettings(events_days=30)
