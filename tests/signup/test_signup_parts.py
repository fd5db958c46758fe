"""The pure parts of sign-up: its tokens, the bot judge, the per-address limit, the language of a page,
the pages and the confirmation mail in every language."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edm.signup.guard import EMBED, HOSTED, PerIpLimit, Posted, bot_reason
from edm.signup.mail import ConfirmationMail
from edm.signup.pages import (
    SignupTexts,
    accepted_languages,
    already_page,
    busy_page,
    confirm_page,
    confirmed_page,
    expired_page,
    form_page,
    invalid_page,
    page_language,
    sent_page,
)
from edm.signup.signups import PendingSignup
from edm.signup.tokens import confirm_token, form_token, read_confirm_token, read_form_token
from edm.tracking.pages import LANGUAGES, Language
from tests.conftest import OLD_SECRET_KEY, SECRET_KEY
from tests.signup.conftest import settings_for

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
KEY, OTHER = SECRET_KEY.encode(), OLD_SECRET_KEY.encode()


def test_tokens_read_back_and_are_not_taken_for_each_other() -> None:
    form = form_token(NOW, [KEY])
    confirm = confirm_token(7, "nonce", [KEY])
    assert read_form_token(form, [OTHER, KEY]) == NOW  # any configured key verifies (rotation)
    assert read_confirm_token(confirm, [KEY]) == (7, "nonce")
    assert read_form_token(confirm, [KEY]) is None and read_confirm_token(form, [KEY]) is None
    assert read_form_token(form, [OTHER]) is None and read_confirm_token(confirm, [OTHER]) is None


@given(position=st.integers(min_value=0), replacement=st.sampled_from("AQgw_-09xyz."))
def test_a_token_changed_anywhere_is_refused(position: int, replacement: str) -> None:
    token = confirm_token(42, "n0nce", [KEY])
    at = position % len(token)
    changed = token[:at] + replacement + token[at + 1:]
    if changed != token:
        assert read_confirm_token(changed, [KEY]) is None


@pytest.mark.parametrize(("posted", "seconds", "reason"), [
    (Posted(HOSTED, "", None, None), 10, "no valid form token"),
    (Posted(HOSTED, "x", "TOKEN", None), 10, "honeypot"),
    (Posted(HOSTED, " ", "TOKEN", None), 10, None),  # blank is empty: an autofill of spaces is no bot
    (Posted(HOSTED, "", "TOKEN", None), 1.999, "filled in 2.0s"),
    (Posted(HOSTED, "", "TOKEN", None), 2, None),
    (Posted(EMBED, "", None, None), 10, "no start time (no JavaScript)"),
    (Posted(EMBED, "", None, "-5"), 10, "no start time (no JavaScript)"),
    (Posted(EMBED, "", None, "START"), 1, "filled in 1.0s"),
    (Posted(EMBED, "", None, "START"), 2.5, None),
    (Posted(EMBED, "", None, "START"), -600, "start time in the future"),
    (Posted("other", "", None, "START"), 10, "unknown form"),
])
def test_bots_are_told_by_honeypot_fill_time_and_token(
    posted: Posted, seconds: float, reason: str | None
) -> None:
    issued = NOW - timedelta(seconds=seconds)
    posted = Posted(posted.form, posted.honeypot,
                    form_token(issued, [KEY]) if posted.issued == "TOKEN" else posted.issued,
                    str(round(issued.timestamp() * 1000)) if posted.started == "START" else posted.started)
    assert bot_reason(posted, NOW, [KEY], 2.0) == reason


def test_the_limit_counts_per_address_over_a_sliding_hour() -> None:
    limit = PerIpLimit(3)
    assert [limit.allow("203.0.113.1", t) for t in (0, 10, 20, 30)] == [True, True, True, False]
    assert limit.allow("203.0.113.2", 30)  # another address has its own count
    assert not limit.allow("203.0.113.1", 3599)
    assert limit.allow("203.0.113.1", 3600.5)  # the first post left the window


@pytest.mark.parametrize(("header", "tags"), [
    ("zh-TW,zh;q=0.8,en-US;q=0.5", ["zh-TW", "zh", "en-US"]),
    ("en;q=0.1, fr, zh-CN;q=0.9", ["fr", "zh-CN", "en"]),
    ("*, de;q=0, ja;q=bad", []),
    ("", []),
])
def test_accept_language_is_read_most_wanted_first(header: str, tags: list[str]) -> None:
    assert accepted_languages(header) == tags


@pytest.mark.parametrize(("asked", "header", "language"), [
    ("zh-Hant", "en", "zh-Hant"), ("zh-HK", None, "zh-Hant"), ("klingon", "zh-CN", "en"),
    (None, "ja, zh-MO;q=0.5", "zh-Hant"), (None, "ja", "en"), (None, None, "en"),
])
def test_the_page_language(asked: str | None, header: str | None, language: str) -> None:
    assert page_language(asked, header) == language


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_is_written_in_its_language(language: Language) -> None:
    texts = SignupTexts(settings_for("https://t.example.com", 25))
    shown = [form_page(texts, language, "TOKEN"), sent_page(texts, language), confirm_page(texts, language),
             confirmed_page(language), already_page(language), expired_page(language), invalid_page(language),
             busy_page(language)]
    for html in shown:
        assert html.startswith(f'<!doctype html><html lang="{language}">')
        body = re.sub(r"<nav .*?</nav>", "", html.split("<body>")[1])  # the links to the other languages
        has_chinese = any("\u4e00" <= ch <= "\u9fff" for ch in body)
        assert has_chinese == (language != "en"), html
    assert "Lumen Paper" in shown[2] if language == "en" else "流明" in shown[2]


def test_the_wording_names_the_company_or_is_the_configured_one() -> None:
    settings = settings_for("https://t.example.com", 25)
    assert "Lumen Paper may email me" in SignupTexts(settings).wording("en")
    assert "流明紙業" in SignupTexts(settings).wording("zh-Hant")
    own = settings.model_copy(update={"signup": settings.signup.model_copy(
        update={"wording": {"en": "Yes, {company} may write to me."}})})
    assert SignupTexts(own).wording("en") == "Yes, Lumen Paper may write to me."


@pytest.mark.parametrize(("locale", "subject", "greeting"), [
    ("en", "Please confirm your sign-up to Lumen Paper", "Dear Ada,"),
    ("zh-CN", "请确认订阅流明纸业的邮件", "Ada，您好"),
    ("zh-TW", "請確認訂閱流明紙業的郵件", "Ada，您好"),
])
def test_the_confirmation_mail_in_every_language(locale: str, subject: str, greeting: str) -> None:
    settings = settings_for("https://t.example.com/x", 25)
    mail = ConfirmationMail(settings, [KEY])
    signup = PendingSignup(5, "ada@example.com", "Ada", locale, "nonce5", ("news", "offers"), NOW)
    outgoing = mail.compose(signup, NOW)
    message = email.message_from_bytes(outgoing.data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    assert (outgoing.recipient, outgoing.sender, outgoing.outbox_id) == ("ada@example.com",
                                                                       "care@lumen-paper.example", 5)
    assert message["Subject"] == subject and message["List-Unsubscribe"] is None
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    url = mail.confirm_url(5, "nonce5")
    assert url.startswith("https://t.example.com/x/signup/confirm/")
    assert read_confirm_token(url.rsplit("/", 1)[1], [KEY]) == (5, "nonce5")
    assert greeting in text.get_content() and url in text.get_content() and url in html.get_content()
    assert "72" in text.get_content()


def test_the_traditional_pages_and_mail_hold_no_simplified_only_character() -> None:
    from tests.test_locales import SIMPLIFIED_ONLY

    settings = settings_for("https://t.example.com", 25)
    texts = SignupTexts(settings)
    mail = ConfirmationMail(settings, [KEY]).compose(
        PendingSignup(1, "a@example.com", None, "zh-Hant", "n", ("news",), NOW), NOW)
    message = email.message_from_bytes(mail.data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    parts = [message.get_body((kind,)) for kind in ("plain", "html")]
    form = re.sub(r"<nav .*?</nav>", "", form_page(texts, "zh-Hant", "T"))  # names 简体中文, rightly
    shown = [form, sent_page(texts, "zh-Hant"), confirm_page(texts, "zh-Hant"),
             confirmed_page("zh-Hant"), already_page("zh-Hant"), expired_page("zh-Hant"),
             invalid_page("zh-Hant"), busy_page("zh-Hant"), str(message["Subject"]),
             *(part.get_content() for part in parts if part is not None)]
    found = {ch for text in shown for ch in text if ch in SIMPLIFIED_ONLY}
    assert not found, found
