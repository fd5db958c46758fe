"""The outbox side: an event becomes one pending delivery per subscribed target, in the caller's
transaction. Committed with the change it reports, or rolled back with it: never lost, never invented.

Which targets want which events travels with the sessions (`attach`, from the settings), so the
code that records an unsubscribe or a transition needs no settings of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.orm import Session, sessionmaker

from edm.config import WebhooksSettings
from edm.store import WebhookDelivery
from edm.store.engine import dialect_insert
from edm.webhooks.events import Event

INFO_KEY = "edm.webhooks"
CHUNK = 5_000  # rows per INSERT: a full reclassification may move thousands of customers


def routes(settings: WebhooksSettings) -> dict[str, tuple[str, ...]]:
    """Each target's name and the event types it takes (`*`: all)."""
    found = {e.name: e.events for e in settings.endpoints}
    found.update({a.name: a.events for a in settings.apprise})
    return found


def attach(sessions: sessionmaker[Session], settings: WebhooksSettings) -> sessionmaker[Session]:
    """Make sessions from `sessions` emit to the configured targets (none configured: emit is a no-op)."""
    info = dict(sessions.kw.get("info") or {})
    info[INFO_KEY] = routes(settings)
    sessions.configure(info=info)
    return sessions


def subscribers(session: Session, event_type: str) -> list[str]:
    table: Mapping[str, tuple[str, ...]] = session.info.get(INFO_KEY) or {}
    return [name for name, types in table.items() if "*" in types or event_type in types]


def wanted(session: Session, event_type: str) -> bool:
    """Whether any target takes `event_type`: callers skip building events nobody receives."""
    return bool(subscribers(session, event_type))


def emit(session: Session, events: Iterable[Event], now: datetime) -> int:
    """Queue each event for each target that takes it; an event already queued for a target is kept
    as it is (same id: once). Returns the rows offered."""
    rows: list[dict[str, Any]] = []
    moment = now.astimezone(UTC)
    by_type: dict[str, list[str]] = {}
    for event in events:
        targets = by_type.get(event.type)
        if targets is None:
            targets = by_type[event.type] = subscribers(session, event.type)
        rows += [{"endpoint": name, "event_type": event.type, "event_id": event.id, "payload": event.payload,
                  "state": "pending", "attempts": 0, "next_attempt_at": moment, "created_at": moment}
                 for name in targets]
    table = WebhookDelivery.__table__
    assert isinstance(table, Table)
    for start in range(0, len(rows), CHUNK):
        statement = dialect_insert(session)(table).on_conflict_do_nothing(
            index_elements=["endpoint", "event_id"])
        session.execute(statement, _chunk(rows, start))
    return len(rows)


def _chunk(rows: Sequence[dict[str, Any]], start: int) -> list[dict[str, Any]]:
    return list(rows[start:start + CHUNK])
