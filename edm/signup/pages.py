"""The sign-up's pages and its form, in zh-Hans, zh-Hant or en: pure functions returning HTML.

The language is `?lang=` (or the form's own), else the first of Accept-Language that we speak,
else English; every page links the other two. Every value shown is escaped. The same form
fields serve the hosted page and the embeddable snippet (edm.signup.snippet): email, an optional
name, the topics offered (titles in the page's language), the consent wording, and a honeypot
hidden by CSS (not `type=hidden`: bots fill those in too rarely to tell).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from urllib.parse import quote

from edm.config import Settings
from edm.delivery.brand import company_name, localized
from edm.tracking.pages import LANGUAGES, Language, language_of

HONEYPOT = "website"  # a name bots like to fill in
LANGUAGE_NAMES: dict[Language, str] = {"en": "English", "zh-Hans": "简体中文", "zh-Hant": "繁體中文"}
DEFAULT_WORDING: dict[Language, str] = {
    "en": "I agree that {company} may email me about the topics I chose. I can unsubscribe or change my "
          "choices at any time with the link in every email.",
    "zh-Hans": "我同意{company}就我所选的内容向我发送邮件。"
               "我可以随时通过每封邮件中的链接退订或更改选择。",
    "zh-Hant": "我同意{company}就我所選的內容寄送郵件給我。"
               "我可以隨時透過每封郵件中的連結取消訂閱或更改選擇。",
}
TEXT: dict[Language, dict[str, str]] = {
    "en": {
        "title": "Sign up",
        "intro": "Get email from {company}.",
        "email": "Email address",
        "name": "Name (optional)",
        "topics": "What would you like to receive?",
        "submit": "Sign up",
        "honeypot": "Leave this field empty",
        "bad_email": "Please enter a valid email address.",
        "no_topic": "Please choose at least one.",
        "sent_title": "Check your inbox",
        "sent": "If the address is right, an email with a confirmation link is on its way to it. You are "
                "signed up once you confirm; the link works for {hours} hours.",
        "confirm_title": "Confirm your sign-up",
        "confirm_ask": "Confirm that you would like email from {company}?",
        "confirm": "Confirm",
        "done_title": "Thank you",
        "done": "Your sign-up is confirmed. The link at the end of every email lets you change your "
                "choices or unsubscribe.",
        "already_title": "Already confirmed",
        "already": "This sign-up was confirmed before; nothing has changed.",
        "expired_title": "This link has expired",
        "expired": "This sign-up was not confirmed in time, so nothing was kept.",
        "again": "Sign up again",
        "invalid_title": "Link not valid",
        "invalid": "This confirmation link is not valid. Please use the link in the email exactly as it "
                   "came, or sign up again.",
        "busy_title": "Too many attempts",
        "busy": "Too many sign-ups came from your network in the last hour. Please try again later.",
        "too_long_title": "Too much text",
        "too_long": "The form sent more than it should. Please fill it in again.",
    },
    "zh-Hans": {
        "title": "订阅邮件",
        "intro": "订阅{company}的邮件。",
        "email": "电子邮箱",
        "name": "姓名（选填）",
        "topics": "您想收到哪些邮件？",
        "submit": "订阅",
        "honeypot": "此栏请留空",
        "bad_email": "请输入有效的电子邮箱地址。",
        "no_topic": "请至少选择一项。",
        "sent_title": "请查收邮件",
        "sent": "如果地址无误，一封含确认链接的邮件正在发往该邮箱。"
                "点击确认后订阅才会生效；链接在 {hours} 小时内有效。",
        "confirm_title": "确认订阅",
        "confirm_ask": "确认订阅{company}的邮件吗？",
        "confirm": "确认订阅",
        "done_title": "订阅成功",
        "done": "您的订阅已确认。每封邮件末尾都有链接，可随时更改选择或退订。",
        "already_title": "已经确认",
        "already": "此订阅之前已经确认，无需再次确认。",
        "expired_title": "链接已过期",
        "expired": "此订阅未在有效期内确认，相关信息未被保留。",
        "again": "重新订阅",
        "invalid_title": "链接无效",
        "invalid": "此确认链接无效。请使用邮件中的原始链接，或重新订阅。",
        "busy_title": "尝试次数过多",
        "busy": "过去一小时内来自您网络的订阅请求过多，请稍后再试。",
        "too_long_title": "内容过长",
        "too_long": "表单提交的内容超出限制，请重新填写。",
    },
    "zh-Hant": {
        "title": "訂閱郵件",
        "intro": "訂閱{company}的郵件。",
        "email": "電子郵件地址",
        "name": "姓名（選填）",
        "topics": "您想收到哪些郵件？",
        "submit": "訂閱",
        "honeypot": "此欄請留空",
        "bad_email": "請輸入有效的電子郵件地址。",
        "no_topic": "請至少選擇一項。",
        "sent_title": "請查收郵件",
        "sent": "如果地址無誤，一封含確認連結的郵件正在寄往該信箱。"
                "點選確認後訂閱才會生效；連結在 {hours} 小時內有效。",
        "confirm_title": "確認訂閱",
        "confirm_ask": "確認訂閱{company}的郵件嗎？",
        "confirm": "確認訂閱",
        "done_title": "訂閱成功",
        "done": "您的訂閱已確認。每封郵件末尾都有連結，可隨時更改選擇或取消訂閱。",
        "already_title": "已經確認",
        "already": "此訂閱之前已經確認，無需再次確認。",
        "expired_title": "連結已過期",
        "expired": "此訂閱未在有效期限內確認，相關資料未被保留。",
        "again": "重新訂閱",
        "invalid_title": "連結無效",
        "invalid": "此確認連結無效。請使用郵件中的原始連結，或重新訂閱。",
        "busy_title": "嘗試次數過多",
        "busy": "過去一小時內來自您網路的訂閱請求過多，請稍後再試。",
        "too_long_title": "內容過長",
        "too_long": "表單送出的內容超出限制，請重新填寫。",
    },
}
# Touch-friendly (issue 25): every button, field, tick box's label and link is at least 44 x 44 CSS px
# (the usual touch target), and nothing is wider than a 390 px phone: long words break.
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;line-height:1.6;"
    "overflow-wrap:anywhere}"
    "button{font:inherit;min-height:44px;min-width:44px;padding:.5rem 1.5rem;margin:.25rem 0;max-width:100%}"
    ".edm-languages a,a.edm-again{display:inline-flex;align-items:center;min-height:44px;min-width:44px;"
    "padding:0 .5rem}"
    ".edm-languages a:first-child{padding-left:0}"
)
FORM_STYLE = (
    ".edm-signup label{display:block;margin:.75rem 0 .25rem}"
    ".edm-signup input[type=email],.edm-signup input[type=text]{width:100%;box-sizing:border-box;"
    "font-size:1rem;padding:.4rem;min-height:44px}"
    ".edm-signup fieldset{border:0;padding:0;margin:.75rem 0;min-width:0}"
    ".edm-signup fieldset label{display:flex;align-items:center;gap:.75rem;min-height:44px;margin:0;"
    "cursor:pointer}"
    ".edm-signup fieldset input{width:1.25rem;height:1.25rem;margin:0;flex:none}"
    ".edm-signup .edm-error{color:#b00020}"
    ".edm-signup .edm-wording{font-size:.9rem;color:#444}"
    ".edm-signup button{font-size:1rem;min-height:44px;min-width:44px;padding:.5rem 1.5rem;margin:.5rem 0}"
    # the honeypot: out of sight and out of the tab order, but a real field (bots fill it)
    ".edm-hp{position:absolute!important;left:-10000px!important;top:auto;width:1px;height:1px;overflow:hidden}"
)


@dataclass(frozen=True)
class Entered:
    """What a person typed, to show again when the form comes back with an error."""

    email: str = ""
    name: str = ""
    topics: tuple[str, ...] | None = None  # None: all ticked (a fresh form)
    error: str | None = None  # a key of TEXT


@dataclass(frozen=True)
class SignupTexts:
    """The sign-up's settings as the pages show them, in each language."""

    settings: Settings
    offered: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        offered = self.settings.signup.topics or tuple(self.settings.topics)
        object.__setattr__(self, "offered", tuple(offered))

    def company(self, language: Language) -> str:
        return company_name(self.settings.brand, self.settings.sender.from_address, language)

    def wording(self, language: Language) -> str:
        text = localized(self.settings.signup.wording, language) or DEFAULT_WORDING[language]
        return text.replace("{company}", self.company(language))

    def topic_title(self, topic: str, language: Language) -> str:
        title = self.settings.topics.get(topic)
        return (localized(title, language, any_language=True) if title is not None else None) or topic

    def topics(self, language: Language) -> list[tuple[str, str]]:
        return [(topic, self.topic_title(topic, language)) for topic in self.offered]

    @property
    def hours(self) -> int:
        return round(self.settings.signup.expire_hours)


def page_language(asked: str | None, accept_language: str | None) -> Language:
    """`asked` (?lang= or the form's), else the first language of Accept-Language we speak, else en."""
    if asked:
        return language_of(asked)
    for tag in accepted_languages(accept_language or ""):
        if tag.split("-")[0].lower() in ("zh", "en"):
            return language_of(tag)
    return "en"


def accepted_languages(header: str) -> list[str]:
    """The tags of an Accept-Language header, most wanted first (q=0 left out)."""
    weighted: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip() == "q":
            try:
                quality = float(value)
            except ValueError:
                quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, index, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def form_fields(texts: SignupTexts, language: Language, entered: Entered | None = None) -> str:
    """The inside of the form, shared by the hosted page and the embeddable snippet."""
    t = TEXT[language]
    entered = entered or Entered()
    error = f'<p class="edm-error" role="alert">{escape(t[entered.error])}</p>' if entered.error else ""
    topics = texts.topics(language)
    boxes = ""
    if topics:
        ticked = set(entered.topics) if entered.topics is not None else {name for name, _ in topics}
        boxes = f'<fieldset><legend>{escape(t["topics"])}</legend>' + "".join(
            f'<label for="edm-topic-{escape(name)}"><input type="checkbox" id="edm-topic-{escape(name)}"'
            f' name="topic" value="{escape(name)}"{" checked" if name in ticked else ""}>'
            f" {escape(title)}</label>"
            for name, title in topics
        ) + "</fieldset>"
    return (
        f"{error}"
        f'<label for="edm-email">{escape(t["email"])}</label>'
        f'<input type="email" id="edm-email" name="email" required maxlength="254" autocomplete="email"'
        f' value="{escape(entered.email)}">'
        f'<label for="edm-name">{escape(t["name"])}</label>'
        f'<input type="text" id="edm-name" name="name" maxlength="200" autocomplete="name"'
        f' value="{escape(entered.name)}">'
        f"{boxes}"
        f'<div class="edm-hp" aria-hidden="true"><label for="edm-{HONEYPOT}">{escape(t["honeypot"])}</label>'
        f'<input type="text" id="edm-{HONEYPOT}" name="{HONEYPOT}" tabindex="-1" autocomplete="off"'
        ' value=""></div>'
        f'<p class="edm-wording">{escape(texts.wording(language))}</p>'
        f'<input type="hidden" name="lang" value="{language}">'
        f'<button type="submit">{escape(t["submit"])}</button>'
    )


def form_page(texts: SignupTexts, language: Language, form_token: str, entered: Entered | None = None) -> str:
    """The hosted form: its signed token says when it was issued (edm.signup.tokens)."""
    t = TEXT[language]
    body = (
        f"{_switch(language)}<p>{escape(t['intro'].format(company=texts.company(language)))}</p>"
        f'<form class="edm-signup" method="post">'
        '<input type="hidden" name="form" value="hosted">'
        f'<input type="hidden" name="issued" value="{escape(form_token)}">'
        f"{form_fields(texts, language, entered)}</form>"
    )
    return page(language, t["title"], body, extra_style=FORM_STYLE)


def sent_page(texts: SignupTexts, language: Language) -> str:
    """After every post not refused outright: a person's, a bot's, a known or unknown address alike."""
    t = TEXT[language]
    return page(language, t["sent_title"], f"<p>{escape(t['sent'].format(hours=texts.hours))}</p>")


def confirm_page(texts: SignupTexts, language: Language) -> str:
    """The GET of a confirmation link: a button, since mail scanners fetch links and must confirm nothing."""
    t = TEXT[language]
    return page(language, t["confirm_title"],
                f"<p>{escape(t['confirm_ask'].format(company=texts.company(language)))}</p>"
                f'<form method="post"><button type="submit">{escape(t["confirm"])}</button></form>')


def confirmed_page(language: Language) -> str:
    t = TEXT[language]
    return page(language, t["done_title"], f"<p>{escape(t['done'])}</p>")


def already_page(language: Language) -> str:
    t = TEXT[language]
    return page(language, t["already_title"], f"<p>{escape(t['already'])}</p>")


# the form, from a confirmation link's page (/signup/confirm/TOKEN), below any prefix of the base URL
FROM_CONFIRM = "../../signup"


def expired_page(language: Language) -> str:
    t = TEXT[language]
    return page(language, t["expired_title"],
                f"<p>{escape(t['expired'])}</p><p>{_again(language, FROM_CONFIRM)}</p>")


def invalid_page(language: Language) -> str:
    t = TEXT[language]
    return page(language, t["invalid_title"],
                f"<p>{escape(t['invalid'])}</p><p>{_again(language, FROM_CONFIRM)}</p>")


def busy_page(language: Language) -> str:
    t = TEXT[language]
    return page(language, t["busy_title"], f"<p>{escape(t['busy'])}</p>")


def too_long_page(language: Language) -> str:
    t = TEXT[language]
    return page(language, t["too_long_title"],
                f"<p>{escape(t['too_long'])}</p><p>{_again(language, 'signup')}</p>")


def _again(language: Language, href: str) -> str:
    """A link to the form (`href` relative, so a base URL with a path keeps working)."""
    return f'<a class="edm-again" href="{href}?lang={quote(language)}">{escape(TEXT[language]["again"])}</a>'


def _switch(current: Language, languages: Sequence[Language] = LANGUAGES) -> str:
    """Links to the form in the other languages."""
    links = [f'<a href="?lang={quote(lang)}" hreflang="{lang}" lang="{lang}">{LANGUAGE_NAMES[lang]}</a>'
             for lang in languages if lang != current]
    return f'<nav class="edm-languages">{" · ".join(links)}</nav>'


def page(language: Language, title: str, body: str, *, extra_style: str = "") -> str:
    """A whole page around `body` (already escaped HTML); `title` is escaped here."""
    return (
        f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}{extra_style}</style></head>"
        f"<body><h1>{escape(title)}</h1>{body}</body></html>"
    )
