"""Each kind of event, from the code that records the fact, to a real receiver."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.testclient import TestClient

from edm.alerts.digest import send_digests
from edm.clock import FixedClock
from edm.config import AppriseTargetSettings, WebhooksSettings
from edm.runner import open_store
from edm.store import Customer, Order, WebhookDelivery
from edm.webhooks.deliver import deliver_due
from edm.webhooks.emit import attach
from tests.alerts.rows import NOW, populate, settings_for
from tests.conftest import SmtpServer
from tests.webhooks.conftest import Folder, Receiver

BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"


def types_queued(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(WebhookDelivery.event_type).order_by(WebhookDelivery.id)))


def test_classify_emits_stage_changed_once(folder: Folder, receiver: Receiver) -> None:
    sessions = open_store(folder.settings())
    now = datetime.now(UTC)
    with sessions.begin() as session:
        for n in range(3):
            customer = Customer(external_id=f"C{n}", name=f"Shop {n}", email=f"c{n}@example.com",
                                kind="company", created_at=now - timedelta(days=20))
            session.add(customer)
            session.flush()
            session.add(Order(external_id=f"O{n}", customer_id=customer.id,
                              ordered_at=now - timedelta(days=10), amount=Decimal("100")))
    assert folder.edm("classify").exit_code == 0
    assert folder.edm("classify").exit_code == 0  # nobody moved: nothing new
    assert "sent 3" in folder.edm("webhooks", "deliver").stdout
    got = sorted((r.payload for r in receiver.received), key=lambda p: p["data"]["customer"]["external_id"])
    assert all(r.verified for r in receiver.received)
    moves = [(p["type"], p["data"]["customer"]["external_id"], p["data"]["from"], p["data"]["to"])
             for p in got]
    assert moves == [("stage.changed", f"C{n}", None, "new") for n in range(3)]


def test_a_persons_click_is_an_event_and_a_scanners_is_not(folder: Folder, receiver: Receiver) -> None:
    sessions, mail, links, app = folder.mailed()
    with TestClient(app) as http:
        url = links.click_url(mail.outbox_id, mail.customer_id, "https://shop.example.com/a")
        assert http.get(url, headers={"user-agent": BROWSER}, follow_redirects=False).status_code == 302
        assert http.get(url, headers={"user-agent": "Barracuda Sentinel (EE)"},
                        follow_redirects=False).status_code == 302
    assert types_queued(sessions) == ["message.clicked"]
    folder.edm("webhooks", "deliver")
    [got] = receiver.received
    assert got.payload["data"]["url"] == "https://shop.example.com/a" and got.verified


def test_a_detractors_answer_is_two_events(folder: Folder, receiver: Receiver) -> None:
    sessions, mail, links, app = folder.mailed()
    with TestClient(app) as http:
        for _ in range(2):  # the same answer twice: the same events, queued once
            assert http.post(links.survey_url(mail.outbox_id, mail.customer_id, "nps", 3),
                             headers={"user-agent": BROWSER}).status_code == 200
    assert sorted(types_queued(sessions)) == ["customer.detractor", "survey.answered"]
    folder.edm("webhooks", "deliver")
    answered = next(r.payload for r in receiver.received if r.payload["type"] == "survey.answered")
    assert answered["data"] | {"message_id": 0} == {
        "customer": {"external_id": "wang@example.com", "email": "wang@example.com"}, "message_id": 0,
        "survey": "nps", "score": 3, "standing": "detractor"}


def test_an_apprise_json_target_gets_the_digest_alerts_as_text(
    sessions: sessionmaker[Session], smtp_server: SmtpServer, receiver: Receiver
) -> None:
    receiver.signed = False
    hooks = WebhooksSettings(apprise=(AppriseTargetSettings(name="wecom", apprise_url_env="EDM_WECOM_URL",
                                                            events=("digest.alert",)),),
                             retry_seconds=(0,), jitter=0)
    attach(sessions, hooks)
    populate(sessions)
    settings = settings_for(smtp_server).model_copy(update={"webhooks": hooks})
    summary = send_digests(settings, sessions, FixedClock(NOW))
    assert summary.sent >= 1
    queued = types_queued(sessions)
    assert queued and set(queued) == {"digest.alert"}
    apprise_url = receiver.url.replace("http://", "json://")
    done = deliver_due(sessions, hooks, FixedClock(NOW), environ={"EDM_WECOM_URL": apprise_url})
    assert (done.sent, done.problems) == (len(queued), [])
    messages = [r.payload["message"] for r in receiver.received]
    assert len(messages) == len(queued)
    assert any(m.startswith("Ana@Example.com: Alpha Ltd: ") or "Alpha Ltd: " in m for m in messages)
    # the digest again at once finds nothing new: no new alerts
    send_digests(settings, sessions, FixedClock(NOW))
    assert len(types_queued(sessions)) == len(queued)
