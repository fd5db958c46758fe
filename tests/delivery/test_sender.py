"""The pipelined sender against real SMTP servers: retries, bounces, a relay that comes back, throughput."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.keys import outbox_key
from edm.clock import FixedClock, SystemClock
from edm.config import Settings, SmtpSettings
from edm.delivery.sender import SendSummary, Until
from edm.delivery.sink import free_port
from edm.errors import RelayLoginError
from edm.runner import send_pending
from edm.store import Event, OutboxMessage, Suppression
from tests.conftest import SECRET_KEY
from tests.delivery.rows import queue, shipped_campaigns, states
from tests.delivery.smtp_servers import ScriptedHandler, serving

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)


def _settings(port: int, **smtp: object) -> Settings:
    values: dict[str, object] = {"host": "127.0.0.1", "port": port, "retry_after_seconds": 60,
                                 "concurrency": 4, "batch_size": 20, **smtp}
    return Settings(smtp=SmtpSettings.model_validate(values), secret_keys=(SecretStr(SECRET_KEY),))


def _send(sessions: sessionmaker[Session], settings: Settings, clock: FixedClock | SystemClock,
          until: Until = Until.NOTHING_DUE) -> SendSummary:
    return asyncio.run(send_pending(settings, sessions, clock, shipped_campaigns(), until=until))


def test_a_relay_answering_451_for_a_while_ends_with_everything_delivered_once(
    any_sessions: sessionmaker[Session],
) -> None:
    emails = [f"u{i}@example.com" for i in range(30)]
    queue(any_sessions, emails, NOW)
    handler = ScriptedHandler(lambda rcpt, n: "451 4.7.1 greylisted, try later" if n <= 40 else None)
    clock = FixedClock(NOW)
    with serving(handler) as port:
        settings = _settings(port)
        for _ in range(20):  # each round: send what is due, then jump past the longest backoff
            _send(any_sessions, settings, clock)
            if set(states(any_sessions).values()) == {"sent"}:
                break
            clock.advance(timedelta(hours=1))
    assert set(states(any_sessions).values()) == {"sent"}
    assert sorted(handler.recipients) == sorted(emails)  # each exactly once
    assert len(set(handler.message_ids)) == 30
    with any_sessions() as session:
        assert session.scalar(select(func.max(OutboxMessage.attempts))) >= 2


def test_a_relay_refusing_some_addresses_bounces_and_suppresses_only_those(
    any_sessions: sessionmaker[Session],
) -> None:
    gone = {"gone1@example.com", "gone2@example.com"}
    emails = [f"u{i}@example.com" for i in range(10)] + sorted(gone)
    queue(any_sessions, emails, NOW)
    handler = ScriptedHandler(lambda rcpt, n: "550 5.1.1 no such user" if rcpt in gone else None)
    with serving(handler) as port:
        settings = _settings(port)
        summary = _send(any_sessions, settings, FixedClock(NOW))
        assert (summary.sent, summary.bounced) == (10, 2)
        unsent = {e: s for e, s in states(any_sessions).items() if s != "sent"}
        assert unsent == dict.fromkeys(gone, "bounced")
        with any_sessions() as session:
            assert set(session.scalars(select(Suppression.email))) == gone
            assert session.scalar(select(func.count()).select_from(Event).where(Event.kind == "bounce")) == 2
            # every answer is kept with the relay that gave it (per-relay metrics)
            assert set(session.scalars(select(OutboxMessage.relay))) == {f"127.0.0.1:{port}"}
        # a later campaign queues them again: the send-time check stops it
        later = NOW + timedelta(days=30)
        with any_sessions.begin() as session:
            for row in session.scalars(select(OutboxMessage).where(OutboxMessage.to_address.in_(gone))).all():
                session.add(OutboxMessage(
                    key=outbox_key("win_back", 0, row.customer_id, later.date()), campaign="win_back",
                    step=0, customer_id=row.customer_id, occurrence=later.date(), to_address=row.to_address,
                    state="queued", attempts=0, next_attempt_at=later, created_at=later))
        summary = _send(any_sessions, settings, FixedClock(later))
    assert (summary.sent, summary.suppressed) == (0, 2)
    assert sorted(handler.recipients) == sorted(set(emails) - gone)


def test_refusals_about_our_side_never_suppress_the_customer(sessions: sessionmaker[Session]) -> None:
    queue(sessions, ["spam@example.com", "auth@example.com"], NOW)
    answers = {"spam@example.com": "554 5.7.1 message rejected as spam",
               "auth@example.com": "530 5.7.0 authentication required"}
    handler = ScriptedHandler(lambda rcpt, n: answers.get(rcpt))
    with serving(handler) as port, pytest.raises(RelayLoginError, match="demands a login"):
        _send(sessions, _settings(port, concurrency=1), FixedClock(NOW))
    assert states(sessions) == {"spam@example.com": "failed", "auth@example.com": "queued"}
    with sessions() as session:
        assert session.scalars(select(Suppression.email)).all() == []


def test_a_relay_that_is_down_pauses_sending_and_everything_goes_when_it_returns(
    sessions: sessionmaker[Session],
) -> None:
    emails = [f"u{i}@example.com" for i in range(50)]
    queue(sessions, emails, datetime.now(UTC) - timedelta(seconds=1))
    port = free_port()
    settings = _settings(port, relay_retry_seconds=0.05, relay_retry_max_seconds=0.2, claim_lease_seconds=4,
                         poll_seconds=0.2)
    handler = ScriptedHandler()
    result: list[SendSummary] = []
    worker = threading.Thread(target=lambda: result.append(_send(sessions, settings, SystemClock(),
                                                                   Until.DRAINED)))
    worker.start()
    time.sleep(1.5)  # down for a while: several claims and reconnects
    assert handler.recipients == [] and worker.is_alive()
    with serving(handler, port):
        worker.join(timeout=30)
        assert not worker.is_alive()
    assert sorted(handler.recipients) == sorted(emails)
    assert set(states(sessions).values()) == {"sent"}
    with sessions() as session:  # waiting for the relay cost no attempt
        assert session.scalar(select(func.max(OutboxMessage.attempts))) == 1


def test_a_slow_relay_is_kept_busy_over_many_reused_connections(sessions: sessionmaker[Session]) -> None:
    emails = [f"u{i}@example.com" for i in range(400)]
    queue(sessions, emails, NOW)
    handler = ScriptedHandler(latency=0.05)  # a relay 50 ms away
    with serving(handler) as port:
        settings = _settings(port, concurrency=40, batch_size=100)
        started = time.monotonic()
        summary = _send(sessions, settings, FixedClock(NOW))
        elapsed = time.monotonic() - started
    assert summary.sent == 400 and len(set(handler.message_ids)) == 400
    assert len(handler.sessions) <= 40  # connections are reused across batches
    # one connection would need 400 x 50 ms = 20 s; forty in parallel about 0.5 s plus rendering
    assert elapsed < 8, elapsed
