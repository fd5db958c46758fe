"""Digests as real mail through a real SMTP server, from rows in a real store, with a fake clock."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from edm.alerts import collect
from edm.alerts.digest import send_digests
from edm.clock import FixedClock
from edm.store import Customer, ManagerDigest
from tests.alerts.rows import (
    ANA,
    BO,
    NOW,
    answer,
    customer,
    html_of,
    populate,
    settings_for,
    text_of,
    transition,
)
from tests.conftest import SmtpServer

ANA_REASONS = {
    "A1": "At risk of churn: no order for 96 days, about 3 times their usual 30 days",
    "A2": "Churned: no order for 400 days, about 7 times their usual 60 days",
    "A3": "Stopped buying Paper, Ink, still buys other lines",
    "A4": "Answered the NPS survey 3/10: '<b>slow</b> delivery'",
    "A5": "Unsubscribed from our mail (from a 'Newsletter' mail)",
    "A6": "Clicked the win-back offer in a 'Win back' mail",
}


def _customers_in(text: str) -> list[str]:
    return re.findall(r"\(([A-Z]\d)\)", text)


def _watermarks(sessions: sessionmaker[Session]) -> dict[str, tuple[object, object]]:
    with sessions() as session:
        rows = session.execute(select(ManagerDigest.manager_email, ManagerDigest.covered_until,
                                      ManagerDigest.sent_at)).all()
    return {email: (covered, sent) for email, covered, sent in rows}


@pytest.mark.parametrize("chunk", [collect.LOOKUP_CHUNK, 1])  # customers are looked up in chunks
def test_each_manager_gets_one_digest_of_exactly_their_news(any_sessions: sessionmaker[Session],
                                                            smtp_server: SmtpServer, chunk: int,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collect, "LOOKUP_CHUNK", chunk)
    populate(any_sessions)
    clock = FixedClock(NOW)
    summary = send_digests(settings_for(smtp_server), any_sessions, clock)

    assert (summary.managers, summary.sent, summary.empty, summary.failed, summary.items) == (2, 1, 1, 0, 6)
    [message] = smtp_server.handler.messages
    assert message["To"] == f"Ana Li <{ANA}>"
    assert message["From"] == "edm <edm@example.com>"
    assert message["Subject"] == "edm: 6 customers need your attention"
    assert message["Date"] and message["Message-ID"]
    assert message.get_content_type() == "multipart/alternative"
    text = text_of(message)
    assert _customers_in(text) == ["A1", "A2", "A3", "A4", "A5", "A6"]  # the most serious first
    for reason in ANA_REASONS.values():
        assert f"- {reason}\n" in text
    assert "Hello Ana Li," in text
    alpha = text[text.index("Alpha Ltd (A1)"):text.index("Beta GmbH")]
    last_order = (NOW - timedelta(days=96, hours=2)).date().isoformat()
    assert f"Last order: {last_order} | Usual interval: 30 days | Value tier: high" in alpha
    assert smtp_server.handler.to(BO) == []
    assert _watermarks(any_sessions) == {ANA: (NOW, NOW), BO: (NOW, None)}


def test_customer_text_is_escaped_in_the_html_part(sessions: sessionmaker[Session],
                                                   smtp_server: SmtpServer) -> None:
    populate(sessions)
    send_digests(settings_for(smtp_server), sessions, FixedClock(NOW))
    html = html_of(smtp_server.handler.messages[0])
    assert "&lt;b&gt;slow&lt;/b&gt; delivery" in html and "<b>slow</b>" not in html
    assert "Delta &amp; Sons" in html
    assert _customers_in(html) == ["A1", "A2", "A3", "A4", "A5", "A6"]


def test_running_again_at_once_sends_nothing_then_only_what_is_new(sessions: sessionmaker[Session],
                                                                   smtp_server: SmtpServer) -> None:
    book = populate(sessions)
    clock = FixedClock(NOW)
    settings = settings_for(smtp_server)
    send_digests(settings, sessions, clock)
    again = send_digests(settings, sessions, clock)
    assert (again.sent, again.items) == (0, 0)
    assert len(smtp_server.handler.messages) == 1

    clock.advance(timedelta(hours=12))
    nothing = send_digests(settings, sessions, clock)
    assert (nothing.sent, nothing.empty) == (0, 2)

    clock.advance(timedelta(hours=12))
    with sessions.begin() as session:  # Beta, already reported as churned, now answers a survey badly
        answer(session, book.ids["A2"], "csat", 1, clock.now() - timedelta(hours=1), comment="Gave up")
    summary = send_digests(settings, sessions, clock)
    assert (summary.sent, summary.items) == (1, 1)
    latest = smtp_server.handler.messages[-1]
    assert latest["Subject"] == "edm: 1 customer needs your attention"
    text = text_of(latest)
    assert _customers_in(text) == ["A2"]
    assert "- Answered the CSAT survey 1/5: 'Gave up'\n" in text and "Churned" not in text
    assert _watermarks(sessions)[ANA] == (clock.now(), clock.now())


def test_a_refused_digest_keeps_its_watermark_and_goes_next_time(sessions: sessionmaker[Session],
                                                                smtp_server: SmtpServer) -> None:
    book = populate(sessions)
    clock = FixedClock(NOW)
    settings = settings_for(smtp_server)
    send_digests(settings, sessions, clock)
    clock.advance(timedelta(days=1))
    earlier = clock.now() - timedelta(hours=2)
    with sessions.begin() as session:
        transition(session, book.ids["A5"], "lifecycle_stage", "mature", "at_risk", earlier)
        transition(session, book.ids["B1"], "churn_kind", "none", "partial", earlier)
    smtp_server.handler.refuse[ANA] = "550 5.7.1 mailbox unavailable"

    refused = send_digests(settings, sessions, clock)
    assert (refused.sent, refused.failed) == (1, 1)
    [failure] = [r for r in refused.results if r.status == "failed"]
    assert failure.email == ANA and failure.error and "550" in failure.error
    assert [m["To"] for m in smtp_server.handler.messages[1:]] == [f"Bo <{BO}>"]  # the others still go
    assert _watermarks(sessions)[ANA] == (NOW, NOW)  # where the last digest that arrived ended
    assert _watermarks(sessions)[BO] == (clock.now(), clock.now())

    del smtp_server.handler.refuse[ANA]
    clock.advance(timedelta(hours=1))
    retried = send_digests(settings, sessions, clock)
    assert (retried.sent, retried.failed, retried.items) == (1, 0, 1)
    assert _customers_in(text_of(smtp_server.handler.messages[-1])) == ["A5"]
    assert _watermarks(sessions)[ANA] == (clock.now(), clock.now())


def test_a_dry_run_renders_but_sends_and_moves_nothing(sessions: sessionmaker[Session],
                                                       smtp_server: SmtpServer) -> None:
    populate(sessions)
    summary = send_digests(settings_for(smtp_server), sessions, FixedClock(NOW), dry_run=True)
    assert [(r.email, r.status, r.customers, r.items) for r in summary.results] == [
        (ANA, "ready", 6, 6), (BO, "empty", 0, 0)]
    assert summary.sent == 0 and smtp_server.handler.messages == []
    assert _watermarks(sessions) == {}


def test_the_digest_in_chinese_with_dates_in_the_managers_time_zone(sessions: sessionmaker[Session],
                                                                   smtp_server: SmtpServer) -> None:
    populate(sessions)
    with sessions.begin() as session:  # Ana's customers read Simplified Chinese: so does her digest
        session.execute(update(Customer).where(Customer.account_manager_email.is_not(None)).values(locale="zh-CN"))
    settings = settings_for(smtp_server, language="zh-Hans", timezone="Asia/Shanghai")
    send_digests(settings, sessions, FixedClock(NOW))
    [message] = smtp_server.handler.messages
    assert message["Subject"] == "edm：6 位客户需要您关注"
    text = text_of(message)
    assert "Ana Li，您好：" in text
    assert "有流失风险：已 96 天未下单，约为其平常间隔 30 天的 3 倍" in text
    assert "在 NPS 调查中打了 3/10 分：“<b>slow</b> delivery”" in text
    assert "2026-03-01 16:00 至 2026-03-02 16:00（Asia/Shanghai）" in text
    assert "价值等级：高" in text


def test_no_managers_no_mail(sessions: sessionmaker[Session], smtp_server: SmtpServer) -> None:
    summary = send_digests(settings_for(smtp_server), sessions, FixedClock(NOW))
    assert summary.managers == 0 and smtp_server.handler.messages == []


def test_a_manager_name_cannot_add_headers_and_a_bad_address_fails_alone(sessions: sessionmaker[Session],
                                                                        smtp_server: SmtpServer) -> None:
    with sessions.begin() as session:
        evil = customer(session, "E1", "Evil Corp", "Mallory\r\nBcc: spy@evil.example", "mallory@example.com")
        broken = customer(session, "X1", "Broken", "Nobody", "not an address")
        named = customer(session, "Z1", "李氏贸易", '李娜 "Lina", 经理', "lina@example.com")
        for customer_id in (evil, broken, named):
            transition(session, customer_id, "lifecycle_stage", "mature", "churned", NOW - timedelta(hours=1))
    summary = send_digests(settings_for(smtp_server), sessions, FixedClock(NOW))
    assert sorted((r.email, r.status) for r in summary.results) == [
        ("lina@example.com", "sent"), ("mallory@example.com", "sent"), ("not an address", "failed")]
    by_address = {m["To"].addresses[0].addr_spec: m for m in smtp_server.handler.messages}
    assert sorted(by_address) == ["lina@example.com", "mallory@example.com"]
    mallory = by_address["mallory@example.com"]
    assert mallory["Bcc"] is None
    assert mallory["To"].addresses[0].display_name == "Mallory Bcc: spy@evil.example"
    assert by_address["lina@example.com"]["To"].addresses[0].display_name == '李娜 "Lina", 经理'
    assert _customers_in(text_of(by_address["lina@example.com"])) == ["Z1"]
    assert "not an address" not in _watermarks(sessions)
