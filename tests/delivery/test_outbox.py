"""Crash safety and retries of the outbox, on SQLite and PostgreSQL, with a real SMTP server."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.keys import outbox_key
from edm.campaigns.loader import load_campaigns
from edm.clock import FixedClock
from edm.config import Settings, SmtpSettings
from edm.delivery.outbox import CLAIM_LEASE, claim_batch
from edm.resources import bundled_config_dir
from edm.runner import send_pending
from edm.store import Customer, CustomerProfile, OutboxMessage, Suppression
from tests.conftest import SECRET_KEY, SmtpServer

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)


def _queue(sessions: sessionmaker[Session], *emails: str) -> None:
    with sessions.begin() as session:
        for email in emails:
            customer = Customer(external_id=email, name=email.split("@")[0], email=email, kind="person",
                                locale="en", timezone="UTC", created_at=NOW)
            session.add(customer)
            session.flush()
            session.add(CustomerProfile(customer_id=customer.id, value_tier="low", lifecycle_stage="churned",
                                        order_count=1, revenue=Decimal("10"), computed_at=NOW))
            session.add(OutboxMessage(
                key=outbox_key("win_back", 0, customer.id, NOW.date()), campaign="win_back", step=0,
                customer_id=customer.id, occurrence=NOW.date(), to_address=email, state="queued",
                attempts=0, next_attempt_at=NOW, created_at=NOW,
            ))


def _states(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        return dict(session.execute(select(OutboxMessage.to_address, OutboxMessage.state)).all())


def test_a_crashed_workers_claim_expires_and_is_taken_again(any_sessions: sessionmaker[Session]) -> None:
    _queue(any_sessions, "a@example.com", "b@example.com", "c@example.com")
    with any_sessions.begin() as session:
        first = claim_batch(session, NOW, limit=2)
    assert len(first) == 2  # ...and the worker dies before recording anything
    with any_sessions.begin() as session:
        assert len(claim_batch(session, NOW, limit=10)) == 1  # only the unclaimed row
    with any_sessions.begin() as session:
        assert claim_batch(session, NOW + CLAIM_LEASE - timedelta(seconds=1), limit=10) == []
    with any_sessions.begin() as session:
        again = claim_batch(session, NOW + CLAIM_LEASE + timedelta(seconds=1), limit=10)
    assert set(first) <= set(again)


@pytest.mark.postgres
def test_concurrent_claims_on_postgres_never_share_a_row(postgres_sessions: sessionmaker[Session]) -> None:
    _queue(postgres_sessions, *(f"u{i}@example.com" for i in range(6)))
    with postgres_sessions.begin() as first, postgres_sessions.begin() as second:
        mine = claim_batch(first, NOW, limit=4)
        theirs = claim_batch(second, NOW, limit=4)  # does not wait for the first transaction
    assert len(mine) == 4 and len(theirs) == 2 and not set(mine) & set(theirs)


def _settings(smtp: SmtpServer) -> Settings:
    return Settings(
        smtp=SmtpSettings(host=smtp.host, port=smtp.port, retry_after_seconds=60, max_attempts=2),
        secret_keys=(SecretStr(SECRET_KEY),),
    )


def _send(sessions: sessionmaker[Session], smtp: SmtpServer, clock: FixedClock) -> None:
    campaigns = {n: f.campaign for n, f in load_campaigns(bundled_config_dir() / "campaigns").items()}
    asyncio.run(send_pending(_settings(smtp), sessions, clock, campaigns))


def test_hard_bounce_suppresses_and_soft_bounce_retries_with_backoff(
    any_sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    _queue(any_sessions, "ok@example.com", "gone@example.com", "busy@example.com")
    smtp_server.handler.refuse = {"gone@example.com": "550 5.1.1 no such user",
                                  "busy@example.com": "451 4.7.1 greylisted"}
    clock = FixedClock(NOW)
    _send(any_sessions, smtp_server, clock)
    assert _states(any_sessions) == {"ok@example.com": "sent", "gone@example.com": "bounced",
                                     "busy@example.com": "deferred"}
    with any_sessions() as session:
        assert session.get(Suppression, "gone@example.com") is not None
        busy = session.scalars(
            select(OutboxMessage).where(OutboxMessage.to_address == "busy@example.com")
        ).one()
        # full jitter: somewhere within the first backoff (60 s), never before now
        assert NOW <= busy.next_attempt_at <= NOW + timedelta(seconds=60) and "451" in (busy.last_reply or "")
        retry_at = busy.next_attempt_at

    clock.advance(retry_at - NOW - timedelta(microseconds=1))
    _send(any_sessions, smtp_server, clock)  # not due yet
    assert len(smtp_server.handler.messages) == 1

    smtp_server.handler.refuse = {"gone@example.com": "550 5.1.1 no such user"}
    clock.advance(timedelta(microseconds=1))
    _send(any_sessions, smtp_server, clock)
    assert _states(any_sessions)["busy@example.com"] == "sent"
    assert sorted(str(m["To"]) for m in smtp_server.handler.messages) == [
        "busy <busy@example.com>", "ok <ok@example.com>"]


def test_a_relay_that_stays_down_fails_the_row_after_max_attempts(
    sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    _queue(sessions, "busy@example.com")
    smtp_server.handler.refuse = {"busy@example.com": "421 4.3.2 shutting down"}
    clock = FixedClock(NOW)
    _send(sessions, smtp_server, clock)
    clock.advance(timedelta(minutes=2))
    _send(sessions, smtp_server, clock)
    assert _states(sessions) == {"busy@example.com": "failed"}
