"""Locales: the language chain, every shipped template in en, zh-Hans and zh-Hant, and the
acceptance path over real SMTP and HTTP (a Traditional Chinese customer gets the zh-Hant mail and
page, an unknown locale gets English)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.loader import load_campaigns
from edm.clock import FixedClock
from edm.config import BrandSettings, Settings, SmtpSettings, TrackingSettings
from edm.customers import import_customers, import_orders, recompute_profiles
from edm.delivery.brand import Brands
from edm.delivery.compose import OccasionView, ProfileView, RecipientView
from edm.render import Renderer, language_chain, resolve_language, template_languages
from edm.resources import bundled_config_dir
from edm.runner import run_campaigns
from edm.tracking import create_tracking_app, serve_in_background
from tests.conftest import SECRET_KEY, SmtpServer

SHIPPED = [
    "anniversary", "birthday", "holiday_greeting", "key_account_greeting", "partial_churn", "re_engagement",
    "re_permission", "reorder_reminder", "spring_festival_closure", "welcome", "win_back",
]
SHIPPED_LANGUAGES = {"en", "zh-Hans", "zh-Hant"}
CJK = re.compile(r"[\u4e00-\u9fff]")
# Characters of the zh-Hans templates that Traditional text writes otherwise (群 and characters
# that are also Traditional in their own right, like 后, 里 or 准, are left out).
SIMPLIFIED_ONLY = frozenset(
    "万与专业东两个为么义乐产亲从们价优会体关兴内写决况减击则刚务单发变吗听备复够宁实对将尔尽层属岁帮"
    "并开张弥归愿户托扰择挚换携断无时机来样楼欢沟没温点现码礼离种笔约纪终经结给继续联节荣获补见视订认让"
    "议讯记许论识诉试诚话该说请读谢负责账货质购贵贺转达过还这进适选邮铭链销长门问间阅随顺领题"
)
# Simplified -> Traditional for common characters: where the zh-Hans mail has the first, the
# zh-Hant mail has the second.
PAIRS = dict(
    zip(
        "们这为发时过来对经个会见门问间关单订购谢户节乐优码邮领贺礼",
        "們這為發時過來對經個會見門問間關單訂購謝戶節樂優碼郵領賀禮",
        strict=True,
    )
)

# --- the chain -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "chain"),
    [
        ("zh-HK", ["zh-hk", "zh-hant", "zh-hans", "zh", "en"]),
        ("zh-TW", ["zh-tw", "zh-hant", "zh-hans", "zh", "en"]),
        ("zh_MO.UTF-8", ["zh-mo", "zh-hant", "zh-hans", "zh", "en"]),
        ("zh-Hant", ["zh-hant", "zh-hans", "zh", "en"]),
        ("zh-Hant-CN", ["zh-hant-cn", "zh-hant", "zh-hans", "zh", "en"]),
        ("zh-Hans-HK", ["zh-hans-hk", "zh-hans", "zh", "en"]),
        ("zh-CN", ["zh-cn", "zh-hans", "zh", "en"]),
        ("zh-SG", ["zh-sg", "zh-hans", "zh", "en"]),
        ("zh", ["zh", "zh-hans", "en"]),
        ("fr-CA", ["fr-ca", "fr", "en"]),
        ("en-GB", ["en-gb", "en"]),
        ("xx-YY", ["xx-yy", "xx", "en"]),
        ("", ["en"]),
    ],
)
def test_language_chain(locale: str, chain: list[str]) -> None:
    assert language_chain(locale) == chain


@pytest.mark.parametrize(
    ("locale", "available", "expected"),
    [
        ("zh-HK", SHIPPED_LANGUAGES, "zh-Hant"),
        ("zh-TW", SHIPPED_LANGUAGES, "zh-Hant"),
        ("zh_HK", SHIPPED_LANGUAGES, "zh-Hant"),
        ("zh-Hant-TW", SHIPPED_LANGUAGES, "zh-Hant"),
        ("zh-CN", SHIPPED_LANGUAGES, "zh-Hans"),
        ("zh-SG", SHIPPED_LANGUAGES, "zh-Hans"),
        ("zh", SHIPPED_LANGUAGES, "zh-Hans"),
        ("en-AU", SHIPPED_LANGUAGES, "en"),
        ("xx-YY", SHIPPED_LANGUAGES, "en"),
        ("", SHIPPED_LANGUAGES, "en"),
        ("zh-HK", {"en", "zh-Hans"}, "zh-Hans"),  # no Traditional yet: Simplified beats English
        ("zh-HK", {"en", "zh"}, "zh"),  # a legacy `zh` template is Simplified
        ("zh-TW", {"en", "zh-Hans", "zh-Hant", "zh-TW"}, "zh-TW"),  # an exact regional one wins
        ("zh-HK", {"en"}, "en"),
    ],
)
def test_resolve_language(locale: str, available: set[str], expected: str) -> None:
    assert resolve_language(locale, available) == expected


_LANGUAGE_SETS = st.sets(st.sampled_from(["en", "zh", "zh-Hans", "zh-Hant", "zh-TW", "fr", "de-AT"]))
_TRADITIONAL_PREFIXES = st.sampled_from(["zh-HK", "zh-TW", "zh-MO", "zh-Hant", "zh_HK", "ZH-tw", "zh-hant"])


@given(locale=st.text(max_size=30), available=_LANGUAGE_SETS)
def test_the_result_is_always_an_available_language_or_english(locale: str, available: set[str]) -> None:
    assert resolve_language(locale, available) in available | {"en"}


@given(prefix=_TRADITIONAL_PREFIXES, rest=st.sampled_from(["", "-x-private", ".UTF-8", "@euro", "_x"]),
       available=_LANGUAGE_SETS)
def test_hong_kong_taiwan_macau_and_hant_get_traditional_when_there_is_one(
    prefix: str, rest: str, available: set[str]
) -> None:
    exact = language_chain(prefix + rest)[0]
    if "zh-Hant" in available and exact not in {name.lower() for name in available}:
        assert resolve_language(prefix + rest, available) == "zh-Hant"


@given(locale=st.from_regex(r"\A[zZ][hH]([-_][A-Za-z0-9]{1,8}){0,3}\Z"), available=_LANGUAGE_SETS)
def test_a_chinese_locale_never_gets_english_when_there_is_simplified(
    locale: str, available: set[str]
) -> None:
    if "zh-Hans" in available:
        assert resolve_language(locale, available) != "en"


# --- every shipped template in every language ------------------------------------------------

_PROFILES = [
    ProfileView("high", "mature", 8, 200, ("valves", "pumps"), 3),
    ProfileView("low", "new", 1, 30),
    ProfileView("medium", "growing", 2, 1000),
    ProfileView("medium", "reacquired", 3, None, (), 1),
    ProfileView("medium", "mature", 14, 25, (), 2, usual_interval_days=28,
                next_order_expected_on=date(2027, 2, 1)),
]
_PARAMS = {
    "holiday_en": "the Mid-Autumn Festival", "holiday_zh": "中秋节", "holiday_zh_hant": "中秋節",
    "discount": "15%", "offer_code": "COMEBACK15", "valid_until": "2027-03-31",
    "gift_en": "10% off", "gift_zh": "九折", "gift_zh_hant": "九折",
    "closed_days_before": 2, "closed_days_after": 7, "last_shipping_days_before": 10,
}


BRAND = Brands(BrandSettings(company="Acme Paper"), "care@acme.example")


def _contexts() -> Iterator[dict[str, Any]]:
    """Contexts reaching every branch of the templates; ASCII names, so all Chinese is the template's."""
    for kind in ("company", "person"):
        customer = RecipientView("Acme Trading", "Alice Wang", kind, "manufacturing", "en")
        for profile in _PROFILES:
            for step in range(4):
                yield {
                    "personalised": True,  # the generic message: tests/campaigns/test_topic_run.py
                    "customer": customer,
                    "greeting_name": "Alice Wang",
                    "profile": profile,
                    "params": _PARAMS,
                    "link": lambda name: f"https://t.example.com/c/{name}",
                    "sender_name": "Li Wei",
                    "open_pixel_url": "https://t.example.com/o/x",
                    "unsubscribe_url": "https://t.example.com/u/x",
                    "preferences_url": "https://t.example.com/u/x",
                    "recipient_address": "alice.wang@acme.example",
                    "brand": BRAND,
                    "step": step,
                    "occasion": OccasionView(date(2027, 2, 6), date(2027, 1, 12)),
                }


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


@pytest.mark.parametrize("template", SHIPPED)
def test_every_shipped_template_ships_in_english_simplified_and_traditional(template: str) -> None:
    assert set(template_languages(template)) == SHIPPED_LANGUAGES


@pytest.mark.parametrize("template", SHIPPED)
def test_the_traditional_mail_is_written_in_traditional_characters(renderer: Renderer, template: str) -> None:
    for context in _contexts():
        hans = renderer.render(template, "zh-CN", context)
        hant = renderer.render(template, "zh-HK", context)
        en = renderer.render(template, "xx-YY", context)
        assert (hans.language, hant.language, en.language) == ("zh-Hans", "zh-Hant", "en")
        assert 'lang="zh-Hans"' in hans.html and 'lang="zh-Hant"' in hant.html and 'lang="en"' in en.html
        for part in ("html", "text"):
            simplified, traditional = getattr(hans, part), getattr(hant, part)
            assert SIMPLIFIED_ONLY & set(simplified), (template, part)  # the check below has teeth
            leftover = sorted(SIMPLIFIED_ONLY & set(traditional))
            assert not leftover, (template, part, leftover)
            for simple, full in PAIRS.items():
                if simple in simplified:
                    assert full in traditional, (template, part, simple)
            # The same message: as many Chinese characters, give or take a changed word or two.
            assert abs(len(CJK.findall(simplified)) - len(CJK.findall(traditional))) <= 12
        assert not CJK.findall(en.text) and not CJK.findall(en.html)  # labels too are in English


@pytest.mark.parametrize(
    ("template", "params", "expected"),
    [
        ("holiday_greeting", {"holiday_zh": "春节", "holiday_zh_hant": "春節"}, "春節快樂"),
        ("holiday_greeting", {"holiday_zh": "春节"}, "春节快樂"),  # no Traditional name: the Simplified one
        ("holiday_greeting", {}, "節日快樂"),
        ("birthday", {"gift_zh": "九折券 HB10", "gift_zh_hant": "九折優惠券 HB10"}, "禮物：九折優惠券 HB10"),
        ("birthday", {"gift_zh": "九折券 HB10"}, "禮物：九折券 HB10"),  # a gift is never lost
    ],
)
def test_traditional_templates_prefer_the_zh_hant_params_and_fall_back_to_zh(
    renderer: Renderer, template: str, params: dict[str, str], expected: str
) -> None:
    context = {**next(_contexts()), "params": params}
    assert expected in renderer.render(template, "zh-TW", context).text


def test_the_traditional_unsubscribe_label_is_traditional(renderer: Renderer) -> None:
    context = next(_contexts())
    hant = renderer.render("win_back", "zh-TW", context)
    assert "取消訂閱</a>" in hant.html and "Unsubscribe" not in hant.html
    assert "取消訂閱: https://t.example.com/u/x" in hant.text


# --- end to end: real SMTP, the shipped win_back campaign, the real tracking app -------------

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
CUSTOMERS = """\
external_id,name,kind,contact_name,email,locale,timezone,industry,birthday,founded_on
TW,陳志明,person,,chen@example.tw,zh-TW,Asia/Taipei,,,
HK,黃家豪,person,,wong@example.hk,zh-HK,Asia/Hong_Kong,,,
CN,王芳,person,,wang@example.cn,zh-CN,Asia/Shanghai,,,
XX,Yuri Unknown,person,,yuri@example.com,xx-YY,Europe/London,,,
"""


@dataclass
class Sent:
    messages: dict[str, EmailMessage]  # by locale


def _body(message: EmailMessage, kind: str) -> str:
    part = message.get_body((kind,))
    assert part is not None
    return str(part.get_content())


@pytest.fixture
def sent(tmp_path: Path, sessions: sessionmaker[Session], smtp_server: SmtpServer) -> Iterator[Sent]:
    """The shipped win_back sent to four churned customers, one per locale, with the tracking app up."""
    clock = FixedClock(NOW)
    orders = ["external_id,customer_external_id,ordered_at,amount,product_line"]
    for number, customer in enumerate(("TW", "HK", "CN", "XX")):
        for days_ago in range(900, 399, -30):
            orders.append(f"O{number}{days_ago},{customer},{TODAY - timedelta(days=days_ago)},5000.00,valves")
    (tmp_path / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    (tmp_path / "orders.csv").write_text("\n".join(orders) + "\n", encoding="utf-8")
    import_customers(sessions, tmp_path / "customers.csv", clock)
    import_orders(sessions, tmp_path / "orders.csv")
    base = Settings(campaigns_dir=bundled_config_dir() / "campaigns", secret_keys=(SecretStr(SECRET_KEY),))
    recompute_profiles(sessions, base.classification, clock)
    with serve_in_background(create_tracking_app(sessions, base.signing_keys(), clock)) as base_url:
        settings = base.model_copy(update={
            "smtp": SmtpSettings(host=smtp_server.host, port=smtp_server.port),
            "tracking": TrackingSettings(base_url=base_url),
        })
        report = asyncio.run(run_campaigns(settings, sessions, clock, ["win_back"]))
        assert report.delivery is not None and report.delivery.sent == 4
        by_address = {"chen@example.tw": "zh-TW", "wong@example.hk": "zh-HK", "wang@example.cn": "zh-CN",
                      "yuri@example.com": "xx-YY"}
        messages = {}
        for address, locale in by_address.items():
            [messages[locale]] = smtp_server.handler.to(address)
        yield Sent(messages)


def _unsubscribe_page(message: EmailMessage) -> str:
    url = str(message["List-Unsubscribe"]).split(",")[0].strip().strip("<>")
    response = httpx.get(url)
    assert response.status_code == 200
    return response.text


def test_traditional_chinese_customers_receive_the_zh_hant_mail_and_page(sent: Sent) -> None:
    subjects = load_campaigns(bundled_config_dir() / "campaigns")["win_back"].campaign.subject
    assert "zh-Hant" in subjects and "zh-Hans" in subjects
    for locale, name in (("zh-TW", "陳志明"), ("zh-HK", "黃家豪")):
        message = sent.messages[locale]
        subject, html, text = str(message["Subject"]), _body(message, "html"), _body(message, "plain")
        assert subject == f"{name}，我們想念您 —— 下單立享 15% 優惠"
        assert 'lang="zh-Hant"' in html
        assert "我們真誠地想知道" in text and "優惠碼" in text and "COMEBACK15" in text
        for part in (subject, html, text):
            assert not SIMPLIFIED_ONLY & set(part), (locale, sorted(SIMPLIFIED_ONLY & set(part)))
        page = _unsubscribe_page(message)
        assert '<html lang="zh-Hant">' in page and "取消訂閱" in page and "退订" not in page


def test_a_simplified_chinese_customer_receives_the_zh_hans_mail(sent: Sent) -> None:
    message = sent.messages["zh-CN"]
    assert str(message["Subject"]) == "王芳，我们想念您 —— 下单立享 15% 优惠"
    html, text = _body(message, "html"), _body(message, "plain")
    assert 'lang="zh-Hans"' in html and "我们真诚地想知道" in text and "優惠" not in text
    assert '<html lang="zh-Hans">' in _unsubscribe_page(message)


def test_a_customer_with_an_unknown_locale_receives_english(sent: Sent) -> None:
    message = sent.messages["xx-YY"]
    assert str(message["Subject"]).startswith("We miss you, Yuri Unknown")
    html, text = _body(message, "html"), _body(message, "plain")
    assert 'lang="en"' in html and "COMEBACK15" in text
    assert not CJK.findall(text) and not CJK.findall(html)  # the footer's labels are English too
    page = _unsubscribe_page(message)
    assert '<html lang="en">' in page and "Unsubscribe" in page
