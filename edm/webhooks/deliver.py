"""Deliver due webhook rows: claim (safe across processes), POST signed, record sent / retry / dead."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

import httpx
from sqlalchemy import Table, and_, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import Clock
from edm.config import AppriseTargetSettings, WebhookSettings, WebhooksSettings
from edm.store import WebhookDelivery
from edm.webhooks import signing
from edm.webhooks.apprise import notify
from edm.webhooks.backoff import retry_delay
from edm.webhooks.events import summary

log = logging.getLogger(__name__)
_table = cast(Table, WebhookDelivery.__table__)
_c = _table.c
ERROR_WIDTH = 500


@dataclass
class DeliverySummary:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    problems: list[str] = field(default_factory=list)  # targets whose secret or URL is not set


@dataclass(frozen=True)
class _Claimed:
    id: int
    endpoint: str
    event_id: str
    payload: dict[str, object]
    attempts: int


@dataclass(frozen=True)
class _Result:
    ok: bool
    status: int | None
    error: str | None


def deliver_due(sessions: sessionmaker[Session], settings: WebhooksSettings, clock: Clock,
                environ: Mapping[str, str] | None = None) -> DeliverySummary:
    """Deliver every due row once (batch after batch); rows of targets not configured wait."""
    environ = os.environ if environ is None else environ
    summary_ = DeliverySummary()
    ready: dict[str, tuple[WebhookSettings | AppriseTargetSettings, list[bytes] | str]] = {}
    for endpoint in settings.endpoints:
        raw = (environ.get(endpoint.secret_env) or "").split()  # several (space-separated): a rotation
        try:
            if not raw:
                raise ValueError("is not set")
            ready[endpoint.name] = (endpoint, [signing.secret_key(part) for part in raw])
        except ValueError as exc:
            why = str(exc) if not raw else f"is not a whsec_ secret ({exc})"
            summary_.problems.append(f"{endpoint.name}: {endpoint.secret_env} {why}")
    for chat in settings.apprise:
        url = environ.get(chat.apprise_url_env)
        if url:
            ready[chat.name] = (chat, url)
        else:
            summary_.problems.append(f"{chat.name}: {chat.apprise_url_env} is not set")
    if not ready:
        return summary_
    after = 0  # each row is tried at most once a run: batches go up the ids
    with httpx.Client(follow_redirects=False) as client:
        while True:
            with sessions.begin() as session:
                rows = _claim(session, clock.now(), settings.batch_size,
                              timedelta(seconds=settings.claim_lease_seconds), sorted(ready), after)
            if not rows:
                return summary_
            after = rows[-1].id
            for row in rows:
                target, secret = ready[row.endpoint]
                result = _post(client, target, secret, row) if isinstance(target, WebhookSettings) \
                    else _chat(secret, row)
                with sessions.begin() as session:
                    outcome = _record(session, row, result, target.max_attempts, settings, clock.now())
                setattr(summary_, outcome, getattr(summary_, outcome) + 1)


def _claim(session: Session, now: datetime, limit: int, lease: timedelta, endpoints: list[str],
           after: int) -> list[_Claimed]:
    """Take due pending rows by pushing their next try past the lease; a sender that dies mid-batch
    leaves them due again after the lease (sent twice at worst, never skipped)."""
    if session.get_bind().dialect.name == "sqlite":
        driver = session.connection().connection.dbapi_connection
        if driver is not None and not getattr(driver, "in_transaction", True):
            session.execute(text("BEGIN IMMEDIATE"))
    due = (select(_c.id).where(_c.state == "pending", _c.next_attempt_at <= now, _c.endpoint.in_(endpoints),
                               _c.id > after)
           .order_by(_c.id).limit(limit).with_for_update(skip_locked=True))
    claimed = session.execute(
        update(_table).where(_c.id.in_(due.scalar_subquery()))
        .values(next_attempt_at=now + lease)
        .returning(_c.id, _c.endpoint, _c.event_id, _c.payload, _c.attempts)
    )
    return sorted((_Claimed(*row) for row in claimed), key=lambda r: r.id)


def _post(client: httpx.Client, endpoint: WebhookSettings, keys: list[bytes] | str, row: _Claimed) -> _Result:
    assert isinstance(keys, list)
    body = json.dumps(row.payload, separators=(",", ":"), ensure_ascii=False).encode()
    # the signature's time is the wall clock: receivers compare it with theirs
    headers = signing.headers(keys, row.event_id, int(time.time()), body)
    headers["content-type"] = "application/json"
    try:
        response = client.post(endpoint.url, content=body, headers=headers, timeout=endpoint.timeout_seconds)
    except httpx.HTTPError as exc:
        return _Result(False, None, f"{type(exc).__name__}: {exc}"[:ERROR_WIDTH])
    if 200 <= response.status_code < 300:
        return _Result(True, response.status_code, None)
    return _Result(False, response.status_code, f"HTTP {response.status_code}: {response.text[:200]}")


def _chat(url: list[bytes] | str, row: _Claimed) -> _Result:
    assert isinstance(url, str)
    error = notify(url, summary(row.payload))
    return _Result(error is None, None, error)


def _record(session: Session, row: _Claimed, result: _Result, max_attempts: int,
            settings: WebhooksSettings, now: datetime) -> str:
    attempts = row.attempts + 1
    values: dict[str, object] = {"attempts": attempts, "last_status": result.status,
                                 "last_error": result.error}
    if result.ok:
        values |= {"state": "sent", "sent_at": now}
        outcome = "sent"
    elif attempts >= max_attempts:
        values |= {"state": "dead"}
        outcome = "dead"
        log.warning("webhook %s to %s is dead after %d attempts: %s", row.event_id, row.endpoint, attempts,
                    result.error)
    else:
        delay = retry_delay(attempts, settings.retry_seconds, settings.jitter)
        values |= {"next_attempt_at": now + timedelta(seconds=delay)}
        outcome = "retried"
    # only a row still pending and not replayed meanwhile (attempts unchanged) takes this outcome
    session.execute(update(_table).where(_c.id == row.id, _c.state == "pending", _c.attempts == row.attempts)
                    .values(**values))
    return outcome


def replay(session: Session, since: datetime, now: datetime, endpoint: str | None = None,
           event_type: str | None = None) -> int:
    """Queue sent and dead deliveries created since `since` again: same event id, attempts from 0."""
    where = [_c.state.in_(("sent", "dead")), _c.created_at >= since]
    if endpoint is not None:
        where.append(_c.endpoint == endpoint)
    if event_type is not None:
        where.append(_c.event_type == event_type)
    done = session.execute(update(_table).where(and_(*where)).values(
        state="pending", attempts=0, next_attempt_at=now, sent_at=None,
        last_error=None, last_status=None))
    return int(getattr(done, "rowcount", 0) or 0)

