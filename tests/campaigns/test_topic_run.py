"""Topics and "no personalisation" through `edm campaign run` and a real SMTP server: who keeps only
greetings gets the Spring Festival greeting and not the offer, who turned personalisation off gets the
generic message, and the offer's one-click link turns off only its topic when so configured."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import SystemClock
from edm.config import DEFAULT_TOPICS
from edm.resources import bundled_config_dir
from edm.store import ClassificationRun, Customer, CustomerProfile, Suppression
from edm.tracking import create_tracking_app, serve_in_background
from tests.conftest import SECRET_KEY, SmtpServer
from tests.delivery.cli_folder import cli_environment, edm
from tests.delivery.rows import queue, states

SHIPPED = bundled_config_dir() / "campaigns"
NAMES = {"only_greetings@example.cn": "李雷", "only_offers@example.cn": "韩梅梅",
         "generic@example.cn": "王芳", "generic_en@example.com": "Jordan Lee"}


def _campaigns(folder: Path) -> None:
    """The shipped Spring Festival greeting and re-engagement offer, for everyone (no audience), the
    greeting at 00:00 on its day so it goes at once whatever the day of the run."""
    folder.mkdir()
    greeting = (SHIPPED / "spring_festival.yaml").read_text(encoding="utf-8")
    greeting = re.sub(r"audience:\n(  .*\n)+", "", greeting)
    greeting = greeting.replace("days_before: 3}", 'days_before: 3, at: "00:00"}')
    (folder / "spring_festival.yaml").write_text(greeting, encoding="utf-8")
    offer = (SHIPPED / "re_engagement.yaml").read_text(encoding="utf-8")
    (folder / "re_engagement.yaml").write_text(re.sub(r"audience:\n(  .*\n)+", "", offer), encoding="utf-8")
    assert "topic: greetings" in greeting and "topic: offers" in offer and "audience" not in greeting


def _customers(sessions: sessionmaker[Session]) -> None:
    now = datetime.now(UTC)
    chosen = {"only_greetings@example.cn": ("news, offers, surveys", True),
              "only_offers@example.cn": ("greetings", True),
              "generic@example.cn": (None, False), "generic_en@example.com": (None, False)}
    with sessions.begin() as session:
        for email, (off, personalised) in chosen.items():
            locale = "en" if email.endswith(".com") else "zh-CN"
            customer = Customer(external_id=email, name=NAMES[email], email=email, kind="person",
                                locale=locale, timezone="Asia/Shanghai", country="CN", created_at=now,
                                topics_off=off, personalised=personalised)
            session.add(customer)
            session.flush()
            session.add(CustomerProfile(customer_id=customer.id, value_tier="high", lifecycle_stage="mature",
                                        order_count=6, revenue=Decimal("5000"), computed_at=now))
        # profiles just classified: the run uses these rather than classify customers without orders
        session.add(ClassificationRun(computed_at=now, customers=4, moved=0, thresholds={}, churn_model=None))


def _text(message: object) -> str:
    body = message.get_body(("plain",))  # type: ignore[attr-defined]
    return str(body.get_content())


def _html(message: object) -> str:
    body = message.get_body(("html",))  # type: ignore[attr-defined]
    return str(body.get_content())


def test_topics_and_no_personalisation_decide_what_arrives(
    tmp_path: Path, sqlite_url: str, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    _campaigns(tmp_path / "campaigns")
    _customers(sessions)
    env = cli_environment(tmp_path, sqlite_url, smtp_server.port)

    dry = edm(env, "campaign", "run", "spring_festival", "re_engagement", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert re.search(r"held topic_off\s+1\s+e\.g\. \d+ only_offers@example\.cn", dry.output), dry.output
    assert re.search(r"held topic_off\s+1\s+e\.g\. \d+ only_greetings@example\.cn", dry.output), dry.output
    assert "topic turned off 1" in dry.output and smtp_server.handler.messages == []

    result = edm(env, "campaign", "run", "spring_festival", "re_engagement")
    assert result.exit_code == 0, result.output
    got = smtp_server.handler
    greeting, offer = "新春快乐", "好久不见"
    only_greetings = [str(m["Subject"]) for m in got.to("only_greetings@example.cn")]
    assert len(only_greetings) == 1 and greeting in only_greetings[0]  # the greeting, not the offer
    only_offers = got.to("only_offers@example.cn")
    assert len(only_offers) == 1 and offer in str(only_offers[0]["Subject"])  # the offer, not the greeting

    (generic,) = got.to("generic@example.cn")  # the greeting first (priority), the offer waits (one a day)
    assert str(generic["Subject"]) == "新春快乐！感谢一路同行"
    assert str(generic["To"]) == "generic@example.cn"  # the address alone: no name
    for part in (_text(generic), _html(generic), str(generic["Subject"])):
        assert "王芳" not in part
    assert "尊敬的客户：" in _text(generic)
    assert "/o/" not in _html(generic)  # no open pixel for who refused profiling
    (english,) = got.to("generic_en@example.com")
    assert "Dear customer," in _text(english) and "Jordan" not in english.as_string()
    assert str(english["Subject"]) == "Happy Spring Festival"

    personal = only_greetings_message = got.to("only_greetings@example.cn")[0]
    assert "李雷" in str(personal["Subject"]) and "尊敬的李雷：" in _text(only_greetings_message)
    assert "/o/" in _html(personal)

    # the offer's RFC 8058 one-click POST, with `compliance.one_click: topic`: only offers go off
    unsubscribe = re.search(r"<(https?://[^>]+/u/[^>]+)>", str(only_offers[0]["List-Unsubscribe"]))
    assert unsubscribe is not None and only_offers[0]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    app = create_tracking_app(sessions, [SECRET_KEY.encode()], SystemClock(), topics=DEFAULT_TOPICS,
                              one_click="topic")
    with serve_in_background(app) as base:
        path = unsubscribe[1].split("/u/", 1)[1]
        answer = httpx.post(f"{base}/u/{path}", data={"List-Unsubscribe": "One-Click"}, timeout=30)
    assert answer.status_code == 200 and "优惠与促销" in answer.text
    with sessions() as session:
        owner = session.scalars(select(Customer).where(Customer.email == "only_offers@example.cn")).one()
        assert owner.topics_off == "greetings, offers"
        assert session.scalars(select(Suppression)).all() == []  # still subscribed to the rest


def test_mail_queued_before_its_topic_was_turned_off_is_cancelled_not_sent(
    tmp_path: Path, sqlite_url: str, sessions: sessionmaker[Session], smtp_server: SmtpServer
) -> None:
    queue(sessions, ["keeps@example.com", "changed_mind@example.com"], datetime.now(UTC))  # win_back: offers
    with sessions.begin() as session:
        changed = session.scalars(select(Customer).where(Customer.email == "changed_mind@example.com")).one()
        changed.topics_off = "offers"
    result = edm(cli_environment(tmp_path, sqlite_url, smtp_server.port), "send", "--no-wait")
    assert result.exit_code == 0, result.output
    assert [str(m["To"]) for m in smtp_server.handler.messages] == ["keeps <keeps@example.com>"]
    assert states(sessions) == {"keeps@example.com": "sent", "changed_mind@example.com": "cancelled"}
