"""The sandboxed renderer and the shipped templates."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape

from edm.config import BrandSettings, default_settings
from edm.delivery.brand import Brands
from edm.delivery.compose import ProfileView as Profile
from edm.delivery.compose import RecipientView as Customer
from edm.errors import EdmError, TemplateError
from edm.render import (
    RenderedBody,
    Renderer,
    check_template,
    resolve_language,
    template_languages,
    templates_available,
)

SHIPPED = [
    "holiday_greeting", "re_engagement", "win_back", "birthday", "partial_churn", "welcome", "anniversary",
    "key_account_greeting", "re_permission", "reorder_reminder",
]
LINKS_USED = {
    "anniversary": {"card"},
    "welcome": {"help"},  # step 0; later steps use catalog too
    "partial_churn": {"feedback", "catalog"},
    "holiday_greeting": {"card"},
    "birthday": {"card"},
    "re_engagement": {"catalog", "feedback"},
    "win_back": {"offer"},
    "key_account_greeting": set(),
    "re_permission": {"stay"},
    "reorder_reminder": {"reorder", "catalog"},
}
LANGUAGES = ["en", "zh-Hans", "zh-Hant"]
UNSUBSCRIBE_LABEL = {"en": "Unsubscribe", "zh-Hans": "退订", "zh-Hant": "取消訂閱"}
# The brand (settings `brand:`), signed "Li Wei" in every language; templates see it in their own.
BRAND = Brands(BrandSettings(company="Acme Paper", signature="Li Wei"), "care@acme.example")
PIXEL = "https://t.example.com/o/PIXELTOKEN"
UNSUBSCRIBE = "https://t.example.com/u/UNSUBTOKEN"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
NASTY_NAME = "<b>Tom & Co</b>"


def tracked(name: str) -> str:
    return f"https://t.example.com/c/{name}?sig=abc&n=1"


def make_context(
    *,
    greeting_name: str = "Alice Wang",
    customer: Customer | None = None,
    profile: Profile | None = None,
    params: dict[str, Any] | None = None,
    link: Callable[[str], str] = tracked,
) -> dict[str, Any]:
    return {
        "customer": customer or Customer("Acme Trading", greeting_name, "company", "manufacturing", "en"),
        "greeting_name": greeting_name,
        "personalised": True,  # as the composer says for everyone who did not turn it off
        "profile": profile or Profile("medium", "mature", 8, 200, usual_interval_days=30,
                                      next_order_expected_on=date(2027, 3, 1)),
        "params": params
        if params is not None
        else {
            "holiday_en": "the Mid-Autumn Festival",
            "holiday_zh": "中秋节",
            "holiday_zh_hant": "中秋節",
            "discount": "15%",
            "offer_code": "COMEBACK15",
        },
        "link": link,
        "sender_name": "Li Wei",
        "open_pixel_url": PIXEL,
        "unsubscribe_url": UNSUBSCRIBE,
        "preferences_url": UNSUBSCRIBE,
        "recipient_address": "alice.wang@acme.example",
        "brand": BRAND,
    }


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer()


def write_template(root: Path, name: str, lang: str, html: str, text: str = "text") -> None:
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{lang}.html.j2").write_text(html, encoding="utf-8")
    (folder / f"{lang}.txt.j2").write_text(text, encoding="utf-8")


# --- the shipped templates -------------------------------------------------------------


def test_the_shipped_templates_ship_in_english_simplified_and_traditional_chinese() -> None:
    assert set(SHIPPED) <= set(templates_available())
    for name in SHIPPED:
        check_template(name)
        assert template_languages(name) == LANGUAGES


@pytest.mark.parametrize("template", SHIPPED)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_personal_values_are_escaped_in_html_and_raw_in_text(
    renderer: Renderer, template: str, lang: str
) -> None:
    customer = Customer(NASTY_NAME, NASTY_NAME, "company", None, lang)
    body = renderer.render(template, lang, make_context(greeting_name=NASTY_NAME, customer=customer))

    assert body.language == lang
    assert "&lt;b&gt;Tom &amp; Co&lt;/b&gt;" in body.html
    assert NASTY_NAME not in body.html
    assert NASTY_NAME in body.text
    assert "Li Wei" in body.html and "Li Wei" in body.text


@pytest.mark.parametrize("template", SHIPPED)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_message_carries_the_open_pixel_and_the_unsubscribe_link(
    renderer: Renderer, template: str, lang: str
) -> None:
    body = renderer.render(template, lang, make_context())

    assert f'<img src="{PIXEL}" width="1" height="1" alt=""' in body.html
    assert body.html.rstrip().endswith("</html>")
    assert f'<a href="{UNSUBSCRIBE}"' in body.html
    assert f"{UNSUBSCRIBE_LABEL[lang]}</a>" in body.html
    assert f"{UNSUBSCRIBE_LABEL[lang]}: {UNSUBSCRIBE}" in body.text
    assert PIXEL not in body.text
    # the pixel comes last, after every word: image-beside-little-text rules measure what precedes it
    assert body.html.index(PIXEL) > body.html.index(f"{UNSUBSCRIBE_LABEL[lang]}</a>")


@pytest.mark.parametrize("template", SHIPPED)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_links_are_the_campaigns_own_escaped_in_html_and_raw_in_text(
    renderer: Renderer, template: str, lang: str
) -> None:
    asked: list[str] = []

    def link(name: str) -> str:
        asked.append(name)
        return tracked(name)

    body = renderer.render(template, lang, make_context(link=link))

    assert set(asked) == LINKS_USED[template]
    for name in LINKS_USED[template]:
        assert f'href="{escape(tracked(name))}"' in body.html
        assert tracked(name) in body.text


@pytest.mark.parametrize("template", SHIPPED)
def test_chinese_templates_are_written_in_chinese_and_english_ones_in_english(
    renderer: Renderer, template: str
) -> None:
    hans = renderer.render(template, "zh-CN", make_context())
    hant = renderer.render(template, "zh-TW", make_context())
    en = renderer.render(template, "en-US", make_context())

    for zh, lang in ((hans, "zh-Hans"), (hant, "zh-Hant")):
        assert len(CHINESE.findall(zh.text)) > 40
        assert len(CHINESE.findall(zh.html)) > 40
        assert f'lang="{lang}"' in zh.html
    assert hans.text != hant.text
    assert CHINESE.findall(en.text) == []  # the footer's labels are English too
    assert 'lang="en"' in en.html


@pytest.mark.parametrize("template", SHIPPED)
@pytest.mark.parametrize("lang", LANGUAGES)
def test_text_part_is_plain_and_tidy(renderer: Renderer, template: str, lang: str) -> None:
    text = renderer.render(template, lang, make_context()).text

    assert not re.search(r"<[a-z/]", text)
    assert "{{" not in text and "{%" not in text
    assert "\n\n\n" not in text
    assert all(line == line.rstrip() for line in text.splitlines())
    assert text.startswith(("Dear Alice Wang,", "尊敬的Alice Wang："))


@pytest.mark.parametrize("template", SHIPPED)
def test_html_uses_an_email_safe_layout(renderer: Renderer, template: str) -> None:
    html = renderer.render(template, "en", make_context()).html

    assert html.startswith("<!DOCTYPE html>")
    assert 'role="presentation"' in html
    assert "max-width:600px" in html
    assert "<style" not in html  # mail clients drop style blocks; everything is inline
    # nothing hidden (spam filters score it): the preheader is the first visible text
    assert "display:none" not in html and "font-size:0" not in html and "opacity:0" not in html
    preheader = re.search(r'<td style="[^"]*color:#555555;">([^<]+)</td>', html)
    assert preheader and html.index(preheader.group(1)) < html.index("Dear Alice Wang")


@pytest.mark.parametrize("template", SHIPPED)
def test_html_is_long_enough_that_its_images_do_not_look_like_an_image_only_mail(
    renderer: Renderer, template: str
) -> None:
    """SpamAssassin's HTML_IMAGE_ONLY_* (up to 2.8 points) fire on an <img> (the open pixel, the logo)
    in under 3,200 characters of html; every message keeps a margin, even under the brand `edm init`
    writes (no logo, address or website) and in Chinese, which says much in few characters."""
    brand = Brands(default_settings({}).brand, "care@example.com")
    for lang in LANGUAGES:
        for step in range(4):
            for kind in ("company", "person"):
                customer = Customer("Acme Trading", "Alice Wang", kind, None, lang)
                context = {**make_context(customer=customer), "brand": brand, "step": step}
                html = renderer.render(template, lang, context).html
                assert len(html) >= 3300, (template, lang, step, kind, len(html))  # 3,200 and a margin


def test_holiday_greeting_names_the_holiday_and_never_sells(renderer: Renderer) -> None:
    en = renderer.render("holiday_greeting", "en", make_context())
    zh = renderer.render("holiday_greeting", "zh", make_context())  # a bare `zh`: Simplified
    hant = renderer.render("holiday_greeting", "zh-HK", make_context())

    assert "the Mid-Autumn Festival" in en.text
    assert "中秋节快乐" in zh.text
    assert "中秋節快樂" in hant.text
    for body in (en, zh, hant):
        assert "15%" not in body.text and "COMEBACK15" not in body.text
        assert "%" not in body.text and "优惠" not in body.text and "優惠" not in body.text


def test_holiday_greeting_without_a_holiday_param_wishes_happy_holidays(
    renderer: Renderer,
) -> None:
    context = make_context(params={})

    assert "the holiday season" in renderer.render("holiday_greeting", "en", context).text
    assert "节日快乐" in renderer.render("holiday_greeting", "zh", context).text
    assert "節日快樂" in renderer.render("holiday_greeting", "zh-TW", context).text


def test_holiday_greeting_in_traditional_falls_back_to_the_simplified_holiday_name(
    renderer: Renderer,
) -> None:
    """A campaign that names its holiday only in Simplified still names it to Traditional readers."""
    context = make_context(params={"holiday_zh": "春节"})

    assert "春节快樂" in renderer.render("holiday_greeting", "zh-TW", context).text


def test_holiday_greeting_sends_regards_to_the_whole_company(renderer: Renderer) -> None:
    company = renderer.render("holiday_greeting", "en", make_context())
    person = make_context(customer=Customer("Alice Wang", None, "person", None, "en"))

    assert "everyone at Acme Trading" in company.text
    assert "everyone at" not in renderer.render("holiday_greeting", "en", person).text


def test_re_engagement_says_how_long_it_has_been_and_asks_what_is_wrong(
    renderer: Renderer,
) -> None:
    en = renderer.render("re_engagement", "en", make_context()).text
    zh = renderer.render("re_engagement", "zh", make_context()).text

    assert "It has been about 7 months since your last order" in en
    assert "Is something wrong?" in en
    assert "10%" not in en and "15% off your next order" in en
    assert "manufacturing businesses like yours" in en
    assert "大约7个月" in zh and "是不是我们哪里做得不够好" in zh and "制造业" in zh
    hant = renderer.render("re_engagement", "zh-TW", make_context()).text
    assert "大約7個月" in hant and "是不是我們哪裡做得不夠好" in hant and "製造業" in hant


@pytest.mark.parametrize(
    ("days", "en", "zh", "hant"),
    [
        (None, "It has been a while since", "已经有一段时间了", "已經有一段時間了"),
        (1, "It has been 1 day since", "已经1天了", "已經1天了"),
        (45, "It has been 45 days since", "已经45天了", "已經45天了"),
        (90, "It has been about 3 months since", "已经大约3个月了", "已經大約3個月了"),
        (400, "It has been over a year since", "已经一年多了", "已經一年多了"),
        (1000, "It has been over 2 years since", "已经2年多了", "已經2年多了"),
    ],
)
def test_re_engagement_phrases_the_time_since_the_last_order(
    renderer: Renderer, days: int | None, en: str, zh: str, hant: str
) -> None:
    context = make_context(profile=Profile("low", "at_risk", 3, days))

    assert en in renderer.render("re_engagement", "en", context).text
    assert zh in renderer.render("re_engagement", "zh", context).text
    assert hant in renderer.render("re_engagement", "zh-Hant", context).text


def test_re_engagement_offer_is_left_out_when_the_campaign_sets_no_discount(
    renderer: Renderer,
) -> None:
    text = renderer.render("re_engagement", "en", make_context(params={})).text

    assert "off your next order" not in text
    assert "Is something wrong?" in text


@pytest.mark.parametrize("template", ["re_engagement", "win_back"])
def test_high_value_customers_get_a_personal_note(renderer: Renderer, template: str) -> None:
    high = make_context(profile=Profile("high", "at_risk", 30, 200))
    low = make_context(profile=Profile("low", "at_risk", 2, 200))

    assert "myself" in renderer.render(template, "en", high).text
    assert "myself" not in renderer.render(template, "en", low).text
    assert "亲自" in renderer.render(template, "zh", high).text
    assert "亲自" not in renderer.render(template, "zh", low).text
    assert "親自" in renderer.render(template, "zh-HK", high).text
    assert "親自" not in renderer.render(template, "zh-HK", low).text


def test_win_back_carries_the_offer_code_and_discount(renderer: Renderer) -> None:
    context = make_context(params={"discount": "20%", "offer_code": "WELCOME20"})
    en = renderer.render("win_back", "en", context)
    zh = renderer.render("win_back", "zh", context)

    assert "20% off your next order" in en.text and "WELCOME20" in en.text
    assert "WELCOME20" in en.html and "Claim your 20% off" in en.html
    assert "20% 优惠" in zh.text and "WELCOME20" in zh.text
    hant = renderer.render("win_back", "zh-TW", context)
    assert "20% 優惠" in hant.text and "WELCOME20" in hant.text and "領取 20% 優惠" in hant.html
    assert "valid until" not in en.text


def test_win_back_shows_the_expiry_when_given(renderer: Renderer) -> None:
    params = {"discount": "20%", "offer_code": "W20", "valid_until": "31 March 2025"}

    assert "valid until 31 March 2025" in renderer.render("win_back", "en", make_context(params=params)).text


def test_win_back_without_an_offer_code_is_a_template_error(renderer: Renderer) -> None:
    with pytest.raises(TemplateError) as caught:
        renderer.render("win_back", "zh", make_context(params={"discount": "15%"}))

    message = str(caught.value)
    assert "'win_back'" in message and "(zh-Hans, html)" in message
    assert "offer_code" in message
    assert re.search(r"win_back/zh-Hans\.html\.j2 line \d+", message)


# --- errors ------------------------------------------------------------------------------


def test_a_missing_variable_names_template_language_and_line(renderer: Renderer) -> None:
    context = make_context()
    del context["profile"]

    with pytest.raises(TemplateError) as caught:
        renderer.render("re_engagement", "en-GB", context)

    message = str(caught.value)
    assert "'re_engagement' (en, html)" in message
    assert re.search(r"re_engagement/en\.html\.j2 line \d+: 'profile' is undefined", message)


def test_a_missing_layout_value_names_the_layout_and_the_template(renderer: Renderer) -> None:
    context = make_context()
    del context["open_pixel_url"]

    with pytest.raises(
        TemplateError,
        match=r"holiday_greeting/en\.html\.j2 line \d+ "
        r"\(in base\.html\.j2 line \d+\): 'open_pixel_url' is undefined",
    ):
        renderer.render("holiday_greeting", "en", context)


def test_an_unknown_link_name_is_a_template_error(renderer: Renderer) -> None:
    def only_card(name: str) -> str:
        return {"card": tracked("card")}[name]

    with pytest.raises(TemplateError, match=r"re_engagement.*KeyError: 'feedback'"):
        renderer.render("re_engagement", "en", make_context(link=only_card))


def test_a_users_error_from_the_link_function_keeps_its_message(renderer: Renderer) -> None:
    def link(name: str) -> str:
        raise TemplateError(f"campaign 'x' has no link {name!r} (links: none)")

    with pytest.raises(TemplateError) as caught:
        renderer.render("win_back", "en", make_context(link=link))

    message = str(caught.value)
    assert message.startswith("template 'win_back' (en, html): win_back/en.html.j2 line ")
    assert message.endswith(": campaign 'x' has no link 'offer' (links: none)")


def test_sandbox_refuses_python_internals(tmp_path: Path) -> None:
    write_template(tmp_path, "evil", "en", "{{ ''.__class__.__mro__[1].__subclasses__() }}")

    with pytest.raises(TemplateError) as caught:
        Renderer(tmp_path).render("evil", "en", {})

    message = str(caught.value)
    assert "'evil' (en, html)" in message and "evil/en.html.j2 line 1" in message
    assert "unsafe" in message


def test_templates_cannot_change_the_context_they_are_given(tmp_path: Path) -> None:
    write_template(tmp_path, "mutate", "en", "{{ params.update({'discount': '90%'}) }}")
    params = {"discount": "10%"}

    with pytest.raises(TemplateError):
        Renderer(tmp_path).render("mutate", "en", {"params": params})
    assert params == {"discount": "10%"}


def test_a_syntax_error_reports_file_and_line(tmp_path: Path) -> None:
    write_template(tmp_path, "broken", "en", "fine\nstill fine\n{% if x %}never closed\n")

    with pytest.raises(
        TemplateError,
        match=r"'broken' \(en, html\): broken/en\.html\.j2 line \d: "
        r"syntax error",
    ):
        Renderer(tmp_path).render("broken", "en", {"x": True})


def test_a_missing_include_is_a_template_error(tmp_path: Path) -> None:
    write_template(tmp_path, "inc", "en", "{% include 'nowhere.html.j2' %}")

    with pytest.raises(TemplateError, match=r"'nowhere\.html\.j2' not found"):
        Renderer(tmp_path).render("inc", "en", {})


def test_template_errors_are_edm_errors() -> None:
    assert issubclass(TemplateError, EdmError)


def test_an_unknown_template_lists_the_ones_there_are(renderer: Renderer) -> None:
    with pytest.raises(TemplateError, match=r"no template 'birthdy'.*available: .*win_back"):
        renderer.render("birthdy", "en", make_context())


@pytest.mark.parametrize("name", ["../secrets", "a/b", "", ".hidden", "base.html.j2"])
def test_template_names_cannot_escape_the_templates_folder(name: str) -> None:
    with pytest.raises(TemplateError):
        check_template(name)


def test_a_template_needs_an_english_html_to_be_available(tmp_path: Path) -> None:
    write_template(tmp_path, "only_zh", "zh", "<p>你好</p>")
    write_template(tmp_path, "complete", "en", "<p>hi</p>")
    (tmp_path / "html_only").mkdir()
    (tmp_path / "html_only" / "en.html.j2").write_text("<p>no text part</p>")
    (tmp_path / "text_only").mkdir()
    (tmp_path / "text_only" / "en.txt.j2").write_text("no html part")

    assert templates_available(tmp_path) == ["complete", "html_only"]
    check_template("html_only", tmp_path)
    for name in ("only_zh", "text_only"):
        with pytest.raises(TemplateError, match=rf"it needs {name}/en\.html\.j2"):
            check_template(name, tmp_path)
    assert templates_available(tmp_path / "missing") == []


def test_a_language_without_its_text_part_gets_one_derived_from_its_html(tmp_path: Path) -> None:
    write_template(tmp_path, "t", "en", "<p>hello</p>", "hello")
    (tmp_path / "t" / "zh.html.j2").write_text('<p>你好</p><p><a href="https://e.example/x">看看</a></p>')

    body = Renderer(tmp_path).render("t", "zh", {})
    html = '<p>你好</p><p><a href="https://e.example/x">看看</a></p>'
    assert body == RenderedBody(html=html, text="你好\n\n[看看](https://e.example/x)\n", language="zh")


# --- locale resolution ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        ("en", "en"),
        ("zh", "zh"),
        ("zh-CN", "zh"),
        ("zh-TW", "zh"),
        ("zh-HK", "zh"),
        ("zh-Hans", "zh"),
        ("ZH-hant-TW", "zh"),
        ("zh_CN", "zh"),
        ("zh_CN.UTF-8", "zh"),
        ("en-GB", "en"),
        ("EN-us", "en"),
        ("fr-FR", "en"),
        ("de", "en"),
        ("", "en"),
        ("  zh-cn ", "zh"),
    ],
)
def test_locale_resolution(locale: str, expected: str) -> None:
    assert resolve_language(locale, {"en", "zh"}) == expected


def test_an_exact_regional_template_wins_over_the_language() -> None:
    available = {"en", "zh", "zh-tw"}

    assert resolve_language("zh-TW", available) == "zh-tw"
    assert resolve_language("zh_tw", available) == "zh-tw"
    assert resolve_language("zh-HK", available) == "zh"


@given(st.text())
def test_any_locale_resolves_to_an_available_language(locale: str) -> None:
    assert resolve_language(locale, {"en", "zh"}) in {"en", "zh"}
    assert resolve_language(locale, ["en"]) == "en"


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(locale=st.text(max_size=20))
def test_any_customer_locale_renders(renderer: Renderer, locale: str) -> None:
    body = renderer.render("win_back", locale, make_context())

    assert body.language in set(LANGUAGES)
    assert UNSUBSCRIBE in body.text


_NAMES = (
    st.text(
        st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp"), blacklist_characters="\x85"),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_NAMES, template=st.sampled_from(SHIPPED), lang=st.sampled_from(LANGUAGES))
def test_any_name_is_escaped_in_html_and_verbatim_in_text(
    renderer: Renderer, name: str, template: str, lang: str
) -> None:
    customer = Customer(name, name, "company", None, lang)
    body = renderer.render(template, lang, make_context(greeting_name=name, customer=customer))

    assert str(escape(name)) in body.html
    assert name in body.text
    if "<" in name:  # the raw name adds no occurrence to the markup (a name like "<" is in any tag)
        plain = renderer.render(
            template,
            lang,
            make_context(greeting_name="X", customer=Customer("X", "X", "company", None, lang)),
        )
        assert body.html.count(name) == plain.html.count(name)


# --- subjects --------------------------------------------------------------------------------


def test_subject_renders_in_the_sandbox_without_html_escaping(renderer: Renderer) -> None:
    subject = renderer.render_subject(
        "We miss you, {{ greeting_name }} - {{ params.discount }} off",
        make_context(greeting_name="Tom & Co <sales>"),
    )

    assert subject == "We miss you, Tom & Co <sales> - 15% off"


def test_subject_collapses_line_breaks_so_no_header_can_be_injected(renderer: Renderer) -> None:
    context = make_context(greeting_name="Tom\r\nBcc: everyone@example.com\n")

    subject = renderer.render_subject("  Hello,\n {{ greeting_name }}\t!  ", context)

    assert subject == "Hello, Tom Bcc: everyone@example.com !"


_SUBJECT_RENDERER = Renderer()


@given(name=st.text())
def test_subject_is_always_one_line(name: str) -> None:
    subject = _SUBJECT_RENDERER.render_subject(
        "{{ greeting_name }}，好久不见 / {{ greeting_name }}", {"greeting_name": name}
    )

    assert "\r" not in subject and "\n" not in subject
    assert subject == subject.strip()
    assert "  " not in subject


def test_subject_errors_are_template_errors_with_the_line(renderer: Renderer) -> None:
    with pytest.raises(
        TemplateError,
        match=r"win_back subject \(zh\): <string> line 1: "
        r"'nobody' is undefined",
    ):
        renderer.render_subject("{{ nobody }}", {}, name="win_back subject (zh)")
    with pytest.raises(TemplateError, match="syntax error"):
        renderer.render_subject("{{ greeting_name }", {"greeting_name": "x"})
    with pytest.raises(TemplateError, match="unsafe"):
        renderer.render_subject("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})


def test_subject_cache_does_not_mix_up_subjects(renderer: Renderer) -> None:
    for number in range(300):
        assert renderer.render_subject(f"#{number} {{{{ n }}}}", {"n": number}) == (f"#{number} {number}")


def test_a_customer_record_can_be_a_plain_dataclass_copy(renderer: Renderer) -> None:
    """Callers build the context from frozen records; a copy with other values just works."""
    base = make_context()
    newer = dict(base, profile=replace(base["profile"], lifecycle_stage="new"))

    assert "You joined us only recently" in renderer.render("holiday_greeting", "en", newer).text


@pytest.mark.parametrize(
    ("lang", "named"),
    [("en", "valves and pumps"), ("zh-Hans", "valves、pumps"), ("zh-Hant", "valves、pumps")],
)
def test_the_partial_churn_note_names_the_dropped_lines(renderer: Renderer, lang: str, named: str) -> None:
    profile = Profile("high", "mature", 12, 20, ("valves", "pumps"))
    body = renderer.render("partial_churn", lang, make_context(profile=profile))
    assert named in body.text and named in body.html


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_step_of_the_welcome_sequence_says_something_different(renderer: Renderer, lang: str) -> None:
    texts = [renderer.render("welcome", lang, {**make_context(), "step": step}).text for step in range(4)]
    assert len(set(texts)) == 4
    assert tracked("catalog") in texts[2] and tracked("help") in texts[0]


@pytest.mark.parametrize(
    ("years", "en", "zh", "hant"), [(1, "a year since", "一周年", "一週年"), (7, "7 years", "7周年", "7週年")]
)
def test_the_anniversary_counts_the_years(
    renderer: Renderer, years: int, en: str, zh: str, hant: str
) -> None:
    profile = Profile("high", "mature", 30, 10, (), years)
    assert en in renderer.render("anniversary", "en", make_context(profile=profile)).text
    assert zh in renderer.render("anniversary", "zh", make_context(profile=profile)).text
    assert hant in renderer.render("anniversary", "zh-TW", make_context(profile=profile)).text


def test_years_as_customer_count_whole_years_to_the_day() -> None:
    from datetime import UTC, datetime

    from edm.delivery.compose import _whole_years

    first = datetime(2019, 3, 11, 8, tzinfo=UTC)
    assert _whole_years(first, datetime(2026, 3, 11, 0, tzinfo=UTC)) == 7  # the anniversary itself
    assert _whole_years(first, datetime(2026, 3, 10, 23, tzinfo=UTC)) == 6
    assert _whole_years(datetime(2020, 2, 29, tzinfo=UTC), datetime(2021, 2, 28, tzinfo=UTC)) == 0
