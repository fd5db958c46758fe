"""The survey campaigns in the library (issue 10): their four templates in en, zh-Hans and zh-Hant,
the one-click answer links they carry, and the shipped campaign files that use them."""

from __future__ import annotations

import email
import re
from collections.abc import Callable
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from html import unescape
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from edm.campaigns.loader import load_campaigns
from edm.campaigns.schema import Campaign
from edm.config import BrandSettings, SenderSettings
from edm.delivery.brand import Brands
from edm.delivery.compose import Composer, SurveyChoice
from edm.delivery.compose import ProfileView as Profile
from edm.delivery.compose import RecipientView as Recipient
from edm.render import RenderedBody, Renderer, template_languages
from edm.resources import bundled_config_dir
from edm.store import Customer, CustomerProfile, OutboxMessage
from edm.surveys.scores import SCALES as SURVEY_SCALES
from edm.tracking import TrackingLinks, read_survey_token

LANGUAGES = ["en", "zh-Hans", "zh-Hant"]
LINKS_USED = {
    "csat_survey": set(),
    "nps_survey": set(),
    "detractor_follow_up": {"feedback"},
    "promoter_referral": {"review", "refer"},
}
TEMPLATES = sorted(LINKS_USED)
SURVEY_OF = {"csat_survey": "csat", "nps_survey": "nps"}
CAMPAIGN_OF = {
    "csat_survey": "csat_post_purchase",
    "nps_survey": "nps_key_accounts",
    "detractor_follow_up": "detractor_follow_up",
    "promoter_referral": "promoter_referral",
}
PIXEL = "https://t.example.com/o/PIXELTOKEN"
UNSUBSCRIBE = "https://t.example.com/u/UNSUBTOKEN"
UNSUBSCRIBE_LABEL = {"en": "Unsubscribe", "zh-Hans": "退订", "zh-Hant": "取消訂閱"}
# The brand (settings `brand:`), signed "Li Wei" in every language; templates see it in their own.
BRAND = Brands(BrandSettings(company="Acme Paper", signature="Li Wei"), "care@acme.example")
NASTY_NAME = "<b>Tom & Co</b>"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
# Characters written differently in the two scripts: a zh-Hant text with one of the first is a
# half-converted Simplified text, and the other way round.
SIMPLIFIED_ONLY = set("们这说对为请时么发见问让谢过还订单满与经务户复邮读给话写认应题员专负责选调")
TRADITIONAL_ONLY = set("們這說對為請時麼發見問讓謝過還訂單滿與經務戶復郵讀給話寫認應題員專負責選調")
NOW = datetime(2026, 10, 15, 2, tzinfo=UTC)
SCALES: dict[str, range] = {str(name): scale for name, scale in SURVEY_SCALES.items()}


def tracked(name: str) -> str:
    return f"https://t.example.com/c/{name}?sig=abc&n=1"


def answer_url(survey: str, score: int) -> str:
    return f"https://t.example.com/s/{survey}-{score}?sig=abc&n=1"


class Surveys:
    """The context's `survey()`: each scale's scores with an answer link, and which surveys were asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, kind: str) -> list[SurveyChoice]:
        self.asked.append(kind)
        return [SurveyChoice(score, answer_url(kind, score)) for score in SCALES[kind]]


def make_context(
    *,
    name: str = "Acme Trading",
    greeting_name: str = "Alice Wang",
    kind: str = "company",
    profile: Profile | None = None,
    link: Callable[[str], str] = tracked,
    survey: Callable[[str], list[SurveyChoice]] | None = None,
) -> dict[str, Any]:
    return {
        "personalised": True,  # the generic message: tests/campaigns/test_topic_run.py
        "customer": Recipient(name, greeting_name, kind, "manufacturing", "en"),
        "greeting_name": greeting_name,
        "profile": profile or Profile("high", "mature", 8, 5, (), 3),
        "params": {},
        "link": link,
        "survey": survey or Surveys(),
        "sender_name": "Li Wei",
        "step": 0,
        "open_pixel_url": PIXEL,
        "unsubscribe_url": UNSUBSCRIBE,
        "preferences_url": UNSUBSCRIBE,
        "recipient_address": "alice.wang@acme.example",
        "brand": BRAND,
    }


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def own_words(body: RenderedBody) -> tuple[str, str]:
    """The html and text of a message, its bilingual unsubscribe label left out."""
    label = UNSUBSCRIBE_LABEL[body.language]
    return body.html.replace(label, ""), body.text.replace(label, "")


def test_the_survey_templates_ship_in_english_simplified_and_traditional_chinese() -> None:
    for template in TEMPLATES:
        assert template_languages(template) == LANGUAGES


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("kind", "orders", "years"), [("company", 8, 3), ("person", 1, 0)])
def test_each_template_renders_in_each_language_with_pixel_unsubscribe_and_signature(
    renderer: Renderer, template: str, lang: str, kind: str, orders: int, years: int
) -> None:
    context = make_context(kind=kind, profile=Profile("medium", "new", orders, 3, (), years))
    body = renderer.render(template, lang, context)

    assert body.language == lang
    assert f'<html lang="{lang}" ' in body.html
    assert f'<img src="{PIXEL}" width="1" height="1" alt=""' in body.html
    label = UNSUBSCRIBE_LABEL[lang]
    assert re.search(rf'<a href="{re.escape(UNSUBSCRIBE)}"[^>]*>{label}</a>', body.html)
    assert f"{label}: {UNSUBSCRIBE}" in body.text
    assert "Li Wei" in body.html and "Li Wei" in body.text
    html, text = own_words(body)
    assert bool(CHINESE.search(text)) == (lang != "en")
    assert bool(CHINESE.search(html)) == (lang != "en")


@pytest.mark.parametrize("template", TEMPLATES)
def test_traditional_chinese_is_its_own_text_not_a_copy_of_simplified(
    renderer: Renderer, template: str
) -> None:
    hans = renderer.render(template, "zh-Hans", make_context())
    hant = renderer.render(template, "zh-Hant", make_context())
    hans_html, hans_text, hant_html, hant_text = hans.html, hans.text, hant.html, hant.text

    assert hant_html != hans_html and hant_text != hans_text
    assert not SIMPLIFIED_ONLY & set(hant_html + hant_text)
    assert not TRADITIONAL_ONLY & set(hans_html + hans_text)


@pytest.mark.parametrize("locale", ["zh-TW", "zh-HK", "zh-Hant-CN", "zh-CN", "zh", "en-GB", "fr-FR"])
def test_a_locale_gets_the_script_its_readers_use(renderer: Renderer, locale: str) -> None:
    expected = {"zh-TW": "zh-Hant", "zh-HK": "zh-Hant", "zh-Hant-CN": "zh-Hant"}.get(
        locale, "zh-Hans" if locale.startswith("zh") else "en"
    )
    for template in TEMPLATES:
        assert renderer.render(template, locale, make_context()).language == expected


@pytest.mark.parametrize("template", sorted(SURVEY_OF))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_survey_carries_exactly_one_answer_link_per_score(
    renderer: Renderer, template: str, lang: str
) -> None:
    survey = SURVEY_OF[template]
    scores = list(SCALES[survey])
    surveys = Surveys()
    body = renderer.render(template, lang, make_context(survey=surveys))

    assert set(surveys.asked) == {survey}
    answer_hrefs = re.findall(r'href="(https://t\.example\.com/s/[^"]*)"', body.html)
    assert [unescape(href) for href in answer_hrefs] == [answer_url(survey, s) for s in scores]
    for score in scores:  # the number itself is the link's label
        href = f'href="{escape(answer_url(survey, score))}"'
        assert body.html.count(href) == 1
        assert re.search(rf"{re.escape(href)}[^>]*>{score}</a>", body.html)
    answer_lines = [line for line in body.text.splitlines() if "https://t.example.com/s/" in line]
    assert answer_lines == [f"{score}  {answer_url(survey, score)}" for score in scores]
    assert len(answer_lines) == {"nps": 11, "csat": 5}[survey]


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_links_are_the_campaigns_own_escaped_in_html_and_raw_in_text(
    renderer: Renderer, template: str, lang: str
) -> None:
    asked: list[str] = []
    surveys = Surveys()

    def link(name: str) -> str:
        asked.append(name)
        return tracked(name)

    body = renderer.render(template, lang, make_context(link=link, survey=surveys))

    assert set(asked) == LINKS_USED[template]
    assert set(surveys.asked) <= {SURVEY_OF.get(template)}  # the follow-ups ask nothing again
    for name in LINKS_USED[template]:
        assert f'href="{escape(tracked(name))}"' in body.html
        assert tracked(name) in body.text


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("kind", ["company", "person"])
def test_customer_names_are_escaped_in_html_and_raw_in_text(
    renderer: Renderer, template: str, lang: str, kind: str
) -> None:
    body = renderer.render(template, lang, make_context(name=NASTY_NAME, greeting_name=NASTY_NAME, kind=kind))

    assert "&lt;b&gt;Tom &amp; Co&lt;/b&gt;" in body.html
    assert NASTY_NAME not in body.html
    assert NASTY_NAME in body.text


@settings(max_examples=60, deadline=None)
@given(
    name=st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40)
    .map(str.strip)
    .filter(bool),
    template=st.sampled_from(TEMPLATES),
    lang=st.sampled_from(LANGUAGES),
)
def test_any_name_renders_and_is_escaped_in_html(name: str, template: str, lang: str) -> None:
    body = Renderer().render(template, lang, make_context(name=name, greeting_name=name))

    assert str(escape(name)) in body.html
    assert name in body.text


# --- the shipped campaign files --------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> dict[str, Campaign]:
    return {name: f.campaign for name, f in load_campaigns(bundled_config_dir() / "campaigns").items()}


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_survey_campaign_has_its_template_links_and_a_subject_per_language(
    renderer: Renderer, shipped: dict[str, Campaign], template: str
) -> None:
    campaign = shipped[CAMPAIGN_OF[template]]

    assert campaign.template == template
    assert set(campaign.subject) == set(LANGUAGES)
    assert LINKS_USED[template] <= set(campaign.links)
    subjects = {
        lang: renderer.render_subject(source, make_context(greeting_name=NASTY_NAME)) for lang, source in
        campaign.subject.items()
    }
    assert all(NASTY_NAME in subject for subject in subjects.values())
    assert subjects["zh-Hant"] != subjects["zh-Hans"]
    assert not SIMPLIFIED_ONLY & set(subjects["zh-Hant"]) and not TRADITIONAL_ONLY & set(subjects["zh-Hans"])


def test_the_survey_campaigns_fire_when_the_issue_says(shipped: dict[str, Campaign]) -> None:
    csat, nps = shipped["csat_post_purchase"], shipped["nps_key_accounts"]
    detractor, promoter = shipped["detractor_follow_up"], shipped["promoter_referral"]

    assert csat.after_order is not None and csat.after_order.days == 3
    assert csat.audience.not_ is not None and csat.audience.not_.days_since_surveyed is not None
    assert nps.schedule is not None and nps.schedule.cron == "0 10 15 1,4,7,10 *"
    assert nps.sender == "account_manager" and nps.audience.has_account_manager
    assert detractor.answered is not None and detractor.answered.as_ == ["detractor"]
    assert detractor.sender == "account_manager" and not detractor.respects_contact_interval
    assert detractor.priority == max(c.priority for c in shipped.values())  # it beats any other mail that day
    assert promoter.answered is not None and promoter.answered.as_ == ["promoter"]


# --- through the real composer: signed answer links that read back ----------------------


def _parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    assert part is not None
    return str(part.get_content())


@pytest.mark.parametrize(
    ("campaign_name", "locale", "language"),
    [("nps_key_accounts", "zh-HK", "zh-Hant"), ("csat_post_purchase", "zh-CN", "zh-Hans"),
     ("csat_post_purchase", "en-US", "en")],
)
def test_a_composed_survey_mail_answers_each_score_with_a_signed_link(
    shipped: dict[str, Campaign], campaign_name: str, locale: str, language: str
) -> None:
    keys = [b"k" * 32]
    composer = Composer(Renderer(), TrackingLinks("https://t.acme.example", keys),
                        SenderSettings(from_address="Acme <care@acme.example>"))
    campaign = shipped[campaign_name]
    survey = SURVEY_OF[campaign.template]
    customer = Customer(id=7, external_id="C7", name="恒達閥門", contact_name="陳大文",
                        email="chan@example.com", kind="company", locale=locale, timezone="Asia/Hong_Kong",
                        created_at=NOW, account_manager="李雷", account_manager_email="li.lei@acme.example")
    profile = CustomerProfile(customer_id=7, value_tier="high", lifecycle_stage="mature", order_count=9,
                              last_order_at=datetime(2026, 10, 12, tzinfo=UTC),
                              first_order_at=datetime(2022, 5, 1, tzinfo=UTC))
    row = OutboxMessage(id=42, key="f" * 64, campaign=campaign.name, step=0, customer_id=7,
                        occurrence=NOW.date(), to_address="chan@example.com", variant=None)

    composed = composer.compose(row, customer, profile, campaign, NOW)
    message = _parse(composed.data)

    assert composed.language == language
    html, text = _part(message, "html"), _part(message, "plain")
    tokens = re.findall(r'href="https://t\.acme\.example/s/([^"]+)"', html)
    answers = [read_survey_token(unescape(token), keys) for token in tokens]
    assert [(a.outbox_id, a.customer_id, a.survey, a.score) for a in answers if a is not None] == [
        (42, 7, survey, score) for score in SCALES[survey]
    ]
    answer_lines = [line for line in text.splitlines() if "/s/" in line]
    assert answer_lines == [f"{score}  https://t.acme.example/s/{unescape(token)}"
                            for score, token in zip(SCALES[survey], tokens, strict=True)]
    if campaign.sender == "account_manager":
        assert message["From"].addresses[0].display_name == "李雷"
        assert "李雷" in text
