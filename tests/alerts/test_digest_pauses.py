"""Sending pauses in the account managers' digest: every manager is told, in their language, through
real mail; a manager with no customer news still hears of a pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from edm.alerts.digest import send_digests
from edm.alerts.items import PauseNotice, notice
from edm.clock import FixedClock
from edm.config import DigestLanguage
from edm.delivery.holds import pause
from tests.alerts.rows import ANA, NOW, customer, html_of, populate, settings_for, text_of, transition
from tests.conftest import SmtpServer

REASON = "hard bounces 6.2% of the last 1000 deliveries (limit 5%)"
AT = datetime(2026, 3, 2, 7, 15, tzinfo=UTC)


def test_every_digest_says_what_is_paused_and_how_to_resume(sessions: sessionmaker[Session],
                                                            smtp_server: SmtpServer) -> None:
    populate(sessions)
    with sessions.begin() as session:
        pause(session, "campaign:spring_sale", REASON, AT)
        quiet = customer(session, "Q1", "Quiet Ltd", "Quinn", "quinn@example.com")  # no news of their own
        transition(session, quiet, "lifecycle_stage", "mature", "mature", NOW - timedelta(days=30))
    summary = send_digests(settings_for(smtp_server), sessions, FixedClock(NOW))
    assert summary.failed == 0
    line = ("Campaign 'spring_sale' paused itself on 2026-03-02 07:15: hard bounces 6.2% of the last 1000 "
            "deliveries (limit 5%). Its mail waits in the queue; `edm campaign resume spring_sale` sends "
            "it once the list is cleaned")
    [ana] = smtp_server.handler.to(ANA)
    assert line in text_of(ana) and line.replace("'", "&#39;") in html_of(ana)
    assert "6 of your customers need your attention" in text_of(ana)
    [quinn] = smtp_server.handler.to("quinn@example.com")
    assert quinn["Subject"] == "edm: sending is paused"
    assert line in text_of(quinn) and "customers need" not in text_of(quinn)


@pytest.mark.parametrize("language, campaign, bulk", [
    ("en", "Campaign 'spring' paused itself on 2026-03-02 15:15: hard bounces 6.2% of the last 1000",
     "Bulk mail (all but service mail) paused itself on 2026-03-02 15:15: complaints 0.3% of the last 900 "
     "deliveries (limit 0.1%). It waits in the queue; `edm campaign resume --bulk`"),
    ("zh-Hans", "活动“spring”已于 2026-03-02 15:15 自动暂停发送：最近 1000 封投递中硬退信占 6.2%"
                "（上限 5%）。",
     "群发邮件（服务类邮件除外）已于 2026-03-02 15:15 自动暂停发送：最近 900 封投递中投诉占 0.3%"
     "（上限 0.1%）。"),
    ("zh-Hant", "活動「spring」已於 2026-03-02 15:15 自動暫停發送：最近 1000 封投遞中硬退信佔 6.2%"
                "（上限 5%）。",
     "群發郵件（服務類郵件除外）已於 2026-03-02 15:15 自動暫停發送：最近 900 封投遞中投訴佔 0.3%"
     "（上限 0.1%）。"),
])
def test_a_pause_is_told_in_the_digests_language_and_time_zone(language: DigestLanguage, campaign: str,
                                                               bulk: str) -> None:
    zone = ZoneInfo("Asia/Shanghai")
    assert notice(PauseNotice("campaign:spring", REASON, AT), language, zone).startswith(campaign)
    complaints = "complaints 0.3% of the last 900 deliveries (limit 0.1%)"
    assert notice(PauseNotice("bulk", complaints, AT), language, zone).startswith(bulk)
    odd = notice(PauseNotice("bulk", "paused by hand\nfor the audit", AT), language, zone)
    assert "paused by hand for the audit" in odd and "\n" not in odd  # a reason edm did not write: as is


def test_the_chinese_digest_subject_when_only_sending_is_paused(sessions: sessionmaker[Session],
                                                                smtp_server: SmtpServer) -> None:
    with sessions.begin() as session:
        customer(session, "Q1", "Quiet Ltd", "Quinn", "quinn@example.com", locale="zh-HK")
        pause(session, "bulk", REASON, AT)
    send_digests(settings_for(smtp_server, language="zh-Hant"), sessions, FixedClock(NOW))
    [message] = smtp_server.handler.messages
    assert message["Subject"] == "edm：郵件發送已暫停"
    assert "群發郵件（服務類郵件除外）已於 2026-03-02 07:15 自動暫停發送" in text_of(message)
