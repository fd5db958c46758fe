"""The pages people see: unsubscribe (with gentler choices: pause, less mail, topics, no
personalisation), done, preferences saved.

In the customer's language (zh-Hans, zh-Hant or en, by `edm.render.language_chain`). Every value
shown is escaped. Forms post back under the same signed token, which is their only
authority: there are no cookies to ride on, so nothing for a cross-site request to forge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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
        "everything": "Unsubscribe from everything",
        "choose": "Or choose what you receive:",
        "about": "This email was about: {topic}.",
        "personalise": "Personalise my email (my name, my orders, when I usually read)",
        "generic_hint": "Unticked, you get the same general email as everyone, and we do not record "
                        "when you open it.",
        "save": "Save my choices",
        "kept": "<strong>{email}</strong> will receive: {topics}.",
        "kept_none": "<strong>{email}</strong> will receive none of these topics, only mail about "
                     "their orders and account.",
        "personal_on": "Our email to you is personalised.",
        "personal_off": "You get our general email, not personalised to you.",
        "topic_done": "<strong>{email}</strong> will receive no more email about: {topic}.",
        "and": ", ",
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
        "everything": "退订全部邮件",
        "choose": "或者，选择您想收到的邮件：",
        "about": "这封邮件属于：{topic}。",
        "personalise": "为我个性化邮件（使用我的姓名、订单和阅读时间）",
        "generic_hint": "不勾选时，您收到的是面向所有人的通用邮件，我们也不会记录您何时打开邮件。",
        "save": "保存我的选择",
        "kept": "<strong>{email}</strong> 将收到：{topics}。",
        "kept_none": "<strong>{email}</strong> 将不再收到以上任何类别的邮件，只收到与订单和账户有关的邮件。",
        "personal_on": "我们发给您的邮件会做个性化。",
        "personal_off": "您将收到不做个性化的通用邮件。",
        "topic_done": "<strong>{email}</strong> 将不再收到这类邮件：{topic}。",
        "and": "、",
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
        "everything": "取消訂閱全部郵件",
        "choose": "或者，選擇您想收到的郵件：",
        "about": "這封郵件屬於：{topic}。",
        "personalise": "為我個人化郵件（使用我的姓名、訂單和閱讀時間）",
        "generic_hint": "不勾選時，您收到的是面向所有人的通用郵件，我們也不會記錄您何時開啟郵件。",
        "save": "儲存我的選擇",
        "kept": "<strong>{email}</strong> 將收到：{topics}。",
        "kept_none": "<strong>{email}</strong> 將不再收到以上任何類別的郵件，只收到與訂單和帳戶有關的郵件。",
        "personal_on": "我們寄給您的郵件會做個人化。",
        "personal_off": "您將收到不做個人化的通用郵件。",
        "topic_done": "<strong>{email}</strong> 將不再收到這類郵件：{topic}。",
        "and": "、",
    },
}


def language_of(locale: str | None) -> Language:
    """The page language for a customer's locale (zh-HK -> zh-Hant -> zh-Hans -> en)."""
    chosen = resolve_language(locale or "", LANGUAGES)
    return next(language for language in LANGUAGES if language == chosen)


@dataclass(frozen=True)
class Choices:
    """What the choices form shows: the topics offered (name, title in the page's language), those
    turned off, whether mail is personalised, and the topic of the mail the link came in (if any)."""

    topics: Sequence[tuple[str, str]] = ()
    off: frozenset[str] = frozenset()
    personalised: bool = True
    about: str | None = None


def confirm_page(email: str, language: Language, token: str, choices: Choices | None = None) -> str:
    """The GET page: asks, and changes nothing (link scanners fetch GETs). The unsubscribe-from-
    everything button posts back to this URL; the others to `<token>/preferences` beside it: pause,
    less mail, and the choices form (a box per topic, and personalisation on or off)."""
    t = TEXT[language]
    choices = choices or Choices()
    pauses = "".join(
        f'<button type="submit" name="pause" value="{days}">{escape(t["pause"].format(days=days))}</button> '
        for days in PAUSE_DAYS
    )
    titles = dict(choices.topics)
    about = choices.about and titles.get(choices.about)
    boxes = "".join(
        f'<label class="choice"><input type="checkbox" name="topic" value="{escape(name)}"'
        f'{"" if name in choices.off else " checked"}> {escape(title)}</label>'
        for name, title in choices.topics
    )
    personal = " checked" if choices.personalised else ""
    return page(
        language,
        t["unsubscribe"],
        f"<p>{t['ask'].format(email=escape(email))}</p>"
        + (f"<p>{escape(t['about'].format(topic=about))}</p>" if about else "")
        + f'<form method="post"><button type="submit">{escape(t["everything"])}</button></form>'
        f"<p>{escape(t['or'])}</p>"
        f'<form method="post" action="{escape(token)}/preferences">{pauses}'
        f'<button type="submit" name="frequency" value="less">{escape(t["less"])}</button></form>'
        f"<p>{escape(t['choose'])}</p>"
        f'<form method="post" action="{escape(token)}/preferences">'
        f'<input type="hidden" name="choices" value="1">{boxes}'
        f'<label class="choice"><input type="checkbox" name="personalised" value="yes"{personal}> '
        f'{escape(t["personalise"])}</label><p class="hint"><small>{escape(t["generic_hint"])}</small></p>'
        f'<button type="submit">{escape(t["save"])}</button></form>',
    )


def choices_page(email: str, language: Language, kept: Sequence[str], personalised: bool, *,
                 offered: bool = True) -> str:
    """After the choices form: the topics kept (titles), and whether mail is personalised."""
    t = TEXT[language]
    shown = escape(email)
    lines = []
    if offered:
        lines.append(t["kept"].format(email=shown, topics=escape(t["and"].join(kept))) if kept
                     else t["kept_none"].format(email=shown))
    lines.append(escape(t["personal_on" if personalised else "personal_off"]))
    return page(language, t["saved_title"], "".join(f"<p>{line}</p>" for line in lines))


def topic_done_page(email: str, language: Language, topic: str) -> str:
    """After a per-topic one-click unsubscribe: which topic (its title) no longer comes."""
    t = TEXT[language]
    done = t["topic_done"].format(email=escape(email), topic=escape(topic))
    return page(language, t["done_title"], f"<p>{done}</p>")


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


# Touch-friendly (issue 25): every button and every tick box's label is at least 44 x 44 CSS px
# (the usual touch target), and nothing is wider than a 390 px phone: long addresses break.
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.6;"
    "overflow-wrap:anywhere}"
    "button{font:inherit;min-height:44px;min-width:44px;padding:.5rem 1.5rem;margin:.25rem .25rem .25rem 0;"
    "max-width:100%}"
    "label.choice{display:flex;align-items:center;gap:.75rem;min-height:44px;padding:.25rem 0;cursor:pointer}"
    "label.choice input{width:1.25rem;height:1.25rem;margin:0;flex:none}"
    ".hint{margin:0 0 .5rem}"
    "textarea{font:inherit;width:100%;box-sizing:border-box;min-height:44px}"
)


def page(language: Language, title: str, body: str) -> str:
    """A whole page around `body` (already escaped HTML); `title` is escaped here."""
    return (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
