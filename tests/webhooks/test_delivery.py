"""Outbound webhooks end to end: events from real actions, delivered to a real server that checks the
signatures with the official Standard Webhooks package; retries, dead letters, replay, rollback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.testclient import TestClient

from edm.clock import FixedClock, SystemClock
from edm.runner import open_store
from edm.store import WebhookDelivery
from edm.suppression import UNSUBSCRIBED, suppress
from edm.webhooks.deliver import deliver_due
from tests.webhooks.conftest import Folder, Receiver, endpoint_yaml, make_folder

TODAY = datetime.now(UTC).strftime("%Y-%m-%d")


def unsubscribe_through_the_link(folder: Folder, email: str = "wang@example.com") -> None:
    mailed = folder.mailed(email)
    url = mailed.links.unsubscribe_url(mailed.mail.outbox_id, mailed.mail.customer_id)
    with TestClient(mailed.app) as http:
        assert http.post(url).status_code == 200


def deliveries(folder: Folder) -> list[WebhookDelivery]:
    with open_store(folder.settings())() as session:
        return list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def test_an_unsubscribe_arrives_signed(folder: Folder, receiver: Receiver) -> None:
    unsubscribe_through_the_link(folder)
    result = folder.edm("webhooks", "deliver")
    assert result.exit_code == 0, result.output
    assert "sent 1, to retry 0, dead 0" in result.stdout
    [got] = receiver.received
    assert got.verified and got.answered == 200
    assert got.payload["type"] == "customer.unsubscribed"
    assert got.payload["data"]["customer"] == {"external_id": "wang@example.com", "email": "wang@example.com"}
    assert got.headers["webhook-id"].startswith("msg_")
    assert "pending 0, sent 1, dead 0" in folder.edm("webhooks", "status").stdout
    # delivered once: a second run sends nothing
    assert "sent 0" in folder.edm("webhooks", "deliver").stdout and len(receiver.received) == 1


def test_500s_are_retried_until_accepted(folder: Folder, receiver: Receiver) -> None:
    receiver.fail_first = 2
    unsubscribe_through_the_link(folder)
    outputs = [folder.edm("webhooks", "deliver").stdout for _ in range(3)]
    assert [o.strip().splitlines()[-1] for o in outputs] == [
        "sent 0, to retry 1, dead 0", "sent 0, to retry 1, dead 0", "sent 1, to retry 0, dead 0"]
    assert [r.answered for r in receiver.received] == [500, 500, 200]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1  # a retry is the same message
    assert all(r.verified for r in receiver.received)
    [row] = deliveries(folder)
    assert (row.state, row.attempts, row.last_status) == ("sent", 3, 200)


def test_a_failure_waits_its_backoff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                     receiver: Receiver) -> None:
    folder = make_folder(tmp_path, monkeypatch, endpoint_yaml(receiver, retry="[60, 600]"))
    monkeypatch.setenv("EDM_WEBHOOK_SHOP_SECRET", receiver.secret)
    receiver.fail_first = 2
    unsubscribe_through_the_link(folder)
    settings, sessions = folder.settings(), open_store(folder.settings())
    clock = FixedClock(datetime.now(UTC))
    assert deliver_due(sessions, settings.webhooks, clock).retried == 1
    assert deliver_due(sessions, settings.webhooks, clock).retried == 0  # not due yet
    clock.advance(timedelta(seconds=59))
    assert len(receiver.received) == 1 and deliver_due(sessions, settings.webhooks, clock).retried == 0
    clock.advance(timedelta(seconds=1))
    assert deliver_due(sessions, settings.webhooks, clock).retried == 1  # second failure: 600 s
    [row] = deliveries(folder)
    assert row.next_attempt_at == clock.now() + timedelta(seconds=600)
    clock.advance(timedelta(seconds=600))
    assert deliver_due(sessions, settings.webhooks, clock).sent == 1


def test_dead_after_max_attempts_then_replay_resends_with_the_same_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    folder = make_folder(tmp_path, monkeypatch, endpoint_yaml(receiver, max_attempts=3))
    monkeypatch.setenv("EDM_WEBHOOK_SHOP_SECRET", receiver.secret)
    receiver.fail_always = True
    unsubscribe_through_the_link(folder)
    lasts = [folder.edm("webhooks", "deliver").stdout.strip().splitlines()[-1] for _ in range(4)]
    assert lasts == ["sent 0, to retry 1, dead 0", "sent 0, to retry 1, dead 0", "sent 0, to retry 0, dead 1",
                     "sent 0, to retry 0, dead 0"]
    assert len(receiver.received) == 3
    status = folder.edm("webhooks", "status").stdout
    assert "shop: pending 0, sent 0, dead 1; last error: HTTP 500" in status

    receiver.fail_always = False
    replayed = folder.edm("webhooks", "replay", "--since", TODAY)
    assert "queued again: 1" in replayed.stdout
    assert "sent 1" in folder.edm("webhooks", "deliver").stdout
    first, last = receiver.received[0], receiver.received[-1]
    assert last.answered == 200 and last.verified
    assert last.headers["webhook-id"] == first.headers["webhook-id"] and last.body == first.body
    # a sent event replays too (receivers dedupe by webhook-id); a later --since leaves it alone
    assert "queued again: 0" in folder.edm("webhooks", "replay", "--since", "2999-01-01").stdout
    assert "queued again: 1" in folder.edm("webhooks", "replay", "--since", TODAY, "--endpoint", "shop",
                                           "--type", "customer.unsubscribed").stdout


def test_a_rolled_back_transaction_emits_nothing(folder: Folder) -> None:
    sessions = open_store(folder.settings())
    with pytest.raises(RuntimeError), sessions.begin() as session:
        suppress(session, ["gone@example.com"], UNSUBSCRIBED, datetime.now(UTC))
        assert session.scalars(select(WebhookDelivery)).all()  # queued inside the transaction ...
        raise RuntimeError("the unsubscribe failed")
    assert deliveries(folder) == []  # ... and gone with it
    with sessions.begin() as session:
        suppress(session, ["kept@example.com"], UNSUBSCRIBED, datetime.now(UTC))
    assert [d.event_type for d in deliveries(folder)] == ["customer.unsubscribed"]


def test_only_subscribed_events_are_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    folder = make_folder(tmp_path, monkeypatch, endpoint_yaml(receiver, events="[customer.bounced]"))
    monkeypatch.setenv("EDM_WEBHOOK_SHOP_SECRET", receiver.secret)
    unsubscribe_through_the_link(folder)
    assert deliveries(folder) == []


def test_a_missing_secret_holds_the_events_and_says_which_variable(folder: Folder, receiver: Receiver,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    unsubscribe_through_the_link(folder)
    monkeypatch.delenv("EDM_WEBHOOK_SHOP_SECRET")
    result = folder.edm("webhooks", "deliver")
    assert result.exit_code == 1
    assert "not delivered: shop: EDM_WEBHOOK_SHOP_SECRET is not set" in result.output
    assert receiver.received == [] and [d.state for d in deliveries(folder)] == ["pending"]


def test_system_clock_is_what_the_cli_uses() -> None:
    assert isinstance(SystemClock().now(), datetime)
