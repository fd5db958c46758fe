"""Issue 25: each account manager reads their digest in their own language (the one most of their
customers read), and campaigns by their display names (`title:` in the campaign file, else the name
humanised), through a real SMTP server from rows in a real store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from edm.alerts.digest import send_digests
from edm.alerts.items import manager_language
from edm.campaigns.labels import display_name
from edm.clock import FixedClock
from edm.config import AlertSettings, SenderSettings, Settings, SmtpSettings
from tests.alerts.rows import NOW, customer, event, text_of
from tests.conftest import SmtpServer

LI, JO = "lilei@example.com", "jo@example.com"
TITLED = """name: key_account_greeting
title: {en: Year-end thank-you, zh-Hans: 年终致谢, zh-Hant: 年終致謝}
template: key_account_greeting
subject: {en: Thank you}
"""


@pytest.fixture
def campaigns(tmp_path: Path) -> Path:
    folder = tmp_path / "campaigns"
    folder.mkdir()
    (folder / "key_account_greeting.yaml").write_text(TITLED, encoding="utf-8")
    return folder


def test_a_chinese_and_an_english_manager_each_read_their_own_language_and_titles(
    sessions: sessionmaker[Session], smtp_server: SmtpServer, campaigns: Path,
) -> None:
    h = timedelta(hours=1)
    with sessions.begin() as s:
        shanghai = customer(s, "L1", "上海精密", "李雷", LI, locale="zh-CN")
        customer(s, "L2", "苏州机电", "李雷", LI, locale="zh-Hans")
        customer(s, "L3", "Acme Ltd.", "李雷", LI, locale="en")  # one English reader among his three
        london = customer(s, "J1", "Pacific Rim Components Ltd.", "Jo", JO, locale="en-GB")
        event(s, shanghai, "unsubscribe", "key_account_greeting", NOW - h)
        event(s, london, "unsubscribe", "key_account_greeting", NOW - 2 * h)
        event(s, london, "click", "win_back", NOW - 3 * h)
    settings = Settings(smtp=SmtpSettings(host=smtp_server.host, port=smtp_server.port),
                        sender=SenderSettings(from_address="edm <edm@example.com>"),
                        alerts=AlertSettings(language="en"), campaigns_dir=campaigns)
    summary = send_digests(settings, sessions, FixedClock(NOW))
    assert summary.sent == 2
    mail = {m["To"].addresses[0].addr_spec: m for m in smtp_server.handler.messages}
    assert mail[LI]["Subject"] == "edm：1 位客户需要您关注"
    chinese = text_of(mail[LI])
    assert "李雷，您好：" in chinese and "退订了我们的邮件（来自“年终致谢”邮件）" in chinese
    assert "key_account_greeting" not in chinese
    assert mail[JO]["Subject"] == "edm: 1 customer needs your attention"
    english = text_of(mail[JO])
    assert "Hello Jo," in english
    assert "Unsubscribed from our mail (from a 'Year-end thank-you' mail)" in english
    assert "Clicked the win-back offer in a 'Win back' mail" in english  # no title: the name humanised


@pytest.mark.parametrize(("locales", "fallback", "expected"), [
    ({"zh-CN": 2, "en": 1}, "en", "zh-Hans"),
    ({"zh-TW": 1, "zh-HK": 1, "zh-CN": 1}, "en", "zh-Hant"),
    ({"en": 2, "zh-CN": 2}, "zh-Hans", "zh-Hans"),  # a tie: alerts.language, being among the leaders
    ({"en": 2, "zh-TW": 2}, "zh-Hans", "en"),  # a tie without it: the first of the leaders
    ({"fr": 3, "zh-CN": 2}, "zh-Hans", "en"),  # French readers get English mail, so English it is
    ({}, "zh-Hant", "zh-Hant"),
])
def test_a_managers_language_is_the_one_most_of_their_customers_read(
    locales: dict[str, int], fallback: str, expected: str,
) -> None:
    assert manager_language(locales, fallback) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(("titles", "language", "expected"), [
    ({"en": "Year-end thank-you", "zh-Hans": "年终致谢"}, "zh-Hans", "年终致谢"),
    ({"en": "Year-end thank-you", "zh-Hans": "年终致谢"}, "zh-Hant", "年终致谢"),  # zh-Hant reads zh-Hans
    ({"en": "Year-end thank-you", "zh-Hans": "年终致谢"}, "fr", "Year-end thank-you"),
    ({"zh-Hans": "年终致谢"}, "en", "Key account greeting"),
    ({}, "zh-Hans", "Key account greeting"),
    (None, "en", "Key account greeting"),
    ({"en": "  "}, "en", "Key account greeting"),
])
def test_display_names_fall_back_to_english_then_to_the_name_humanised(
    titles: dict[str, str] | None, language: str, expected: str,
) -> None:
    assert display_name("key_account_greeting", titles, language) == expected
