"""The pages people see: unsubscribe (with gentler choices), done, preferences saved.

In the customer's language (zh-Hans, zh-Hant or en, by `edm.render.language_chain`). Every value
shown is escaped. Forms post back under the same signed token, which is their only
authority: there are no cookies to ride on, so nothing for a cross-site request to forge.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Literal

from edm.render import resolve_language
from edm.tracking.events import PAUSE_DAYS

Language = Literal["en", "zh-Hans", "zh-Hant"]
LANGUAGES: tuple[Language, ...] = ("en", "zh-Hans", "zh-Hant")

TEXT: dict[Language, dict[str, str]] = {
    "en": {
        "unsubscribe": "Unsubscribe",
        "ask": "Stop sending email to <strong>{email}</strong>?",
        "or": "Or, rather than leaving, hear from us less:",
        "pause": "Pause for {days} days",
        "less": "Send me less email",
        "done_title": "Unsubscribed",
        "done": "<strong>{email}</strong> will receive no more email from us.",
        "saved_title": "Preferences saved",
        "paused": "No marketing email to <strong>{email}</strong> until {date}.",
        "lessened": "We will write to <strong>{email}</strong> less often.",
        "bad_title": "Nothing changed",
        "bad": "That choice is not one we offer; please use the buttons on the page.",
    },
    "zh-Hans": {
        "unsubscribe": "退订",
        "ask": "不再向 <strong>{email}</strong> 发送邮件？",
        "or": "或者，不必退订，减少来信：",
        "pause": "暂停 {days} 天",
        "less": "少发一些邮件",
        "done_title": "已退订",
        "done": "<strong>{email}</strong> 将不会再收到我们的邮件。",
        "saved_title": "设置已保存",
        "paused": "{date} 之前不再向 <strong>{email}</strong> 发送营销邮件。",
        "lessened": "我们会减少给 <strong>{email}</strong> 的来信。",
        "bad_title": "未做更改",
        "bad": "没有这个选项，请使用页面上的按钮。",
    },
    "zh-Hant": {
        "unsubscribe": "取消訂閱",
        "ask": "不再向 <strong>{email}</strong> 傳送郵件？",
        "or": "或者，不必取消訂閱，減少來信：",
        "pause": "暫停 {days} 天",
        "less": "少寄一些郵件",
        "done_title": "已取消訂閱",
        "done": "<strong>{email}</strong> 將不會再收到我們的郵件。",
        "saved_title": "設定已儲存",
        "paused": "{date} 之前不再向 <strong>{email}</strong> 傳送行銷郵件。",
        "lessened": "我們會減少給 <strong>{email}</strong> 的來信。",
        "bad_title": "未做更改",
        "bad": "沒有這個選項，請使用頁面上的按鈕。",
    },
}


def language_of(locale: str | None) -> Language:
    """The page language for a customer's locale (zh-HK -> zh-Hant -> zh-Hans -> en)."""
    chosen = resolve_language(locale or "", LANGUAGES)
    return next(language for language in LANGUAGES if language == chosen)


def confirm_page(email: str, language: Language, token: str) -> str:
    """The GET page: asks, and changes nothing (link scanners fetch GETs). The unsubscribe
    button posts back to this URL; the others to `<token>/preferences` beside it."""
    t = TEXT[language]
    pauses = "".join(
        f'<button type="submit" name="pause" value="{days}">{escape(t["pause"].format(days=days))}</button> '
        for days in PAUSE_DAYS
    )
    return page(
        language,
        t["unsubscribe"],
        f"<p>{t['ask'].format(email=escape(email))}</p>"
        f'<form method="post"><button type="submit">{escape(t["unsubscribe"])}</button></form>'
        f"<p>{escape(t['or'])}</p>"
        f'<form method="post" action="{escape(token)}/preferences">{pauses}'
        f'<button type="submit" name="frequency" value="less">{escape(t["less"])}</button></form>',
    )


def done_page(email: str, language: Language) -> str:
    t = TEXT[language]
    return page(language, t["done_title"], f"<p>{t['done'].format(email=escape(email))}</p>")


def saved_page(email: str, language: Language, paused_until: datetime | None) -> str:
    """After a preference: until when mail is paused (a UTC date), or that it will come less often."""
    t = TEXT[language]
    shown = escape(email)
    if paused_until is not None:
        message = t["paused"].format(email=shown, date=paused_until.date().isoformat())
    else:
        message = t["lessened"].format(email=shown)
    return page(language, t["saved_title"], f"<p>{message}</p>")


def bad_choice_page(language: Language) -> str:
    t = TEXT[language]
    return page(language, t["bad_title"], f"<p>{escape(t['bad'])}</p>")


def page(language: Language, title: str, body: str) -> str:
    """A whole page around `body` (already escaped HTML); `title` is escaped here."""
    return (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>body{{font-family:system-ui,sans-serif;"
        "max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.6}"
        "button{font-size:1rem;padding:.5rem 1.5rem;margin:.25rem 0}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
