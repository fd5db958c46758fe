"""The pages a survey link shows: thank you (with a comment box), the comment kept, and the
confirm button offered when the click looked like a link scanner's.

In the customer's language (en, zh-Hans, zh-Hant; see `pages.language_of`). Every value shown
is escaped, the comment above all: it is the one thing here a stranger could have typed. Forms
post back to the page's own URL, whose signed token is their only authority.
"""

from __future__ import annotations

from html import escape

from edm.surveys import answers
from edm.surveys.scores import SCALES, Survey
from edm.tracking.pages import Language, page

TEXT: dict[Language, dict[str, str]] = {
    "en": {
        "thanks_title": "Thank you",
        "answered": "Thank you: you answered {score} (on a scale of {low} to {high}).",
        "change": "Changed your mind? Click another number in the email.",
        "ask": "Anything you would like to tell us? (optional)",
        "send": "Send",
        "commented": "We have your comment:",
        "confirm_title": "Confirm your answer",
        "confirm_ask": "Record {score} (on a scale of {low} to {high}) as your answer?",
        "confirm": "Yes, my answer is {score}",
        "too_long_title": "Comment too long",
        "too_long": "Please shorten your comment to at most {limit} characters and send it again.",
    },
    "zh-Hans": {
        "thanks_title": "感谢您的反馈",
        "answered": "谢谢！您的评分是 {score} 分（{low}–{high} 分）。",
        "change": "想修改评分？点击邮件中的其他数字即可。",
        "ask": "还有什么想告诉我们的吗？（选填）",
        "send": "提交",
        "commented": "我们已收到您的留言：",
        "confirm_title": "确认您的评分",
        "confirm_ask": "将 {score} 分（{low}–{high} 分）记为您的评分吗？",
        "confirm": "确认，评 {score} 分",
        "too_long_title": "留言过长",
        "too_long": "请将留言缩短到 {limit} 字以内，再提交一次。",
    },
    "zh-Hant": {
        "thanks_title": "感謝您的回饋",
        "answered": "謝謝！您的評分是 {score} 分（{low}–{high} 分）。",
        "change": "想更改評分？點選郵件中的其他數字即可。",
        "ask": "還有什麼想告訴我們的嗎？（選填）",
        "send": "送出",
        "commented": "我們已收到您的留言：",
        "confirm_title": "確認您的評分",
        "confirm_ask": "將 {score} 分（{low}–{high} 分）記為您的評分嗎？",
        "confirm": "確認，評 {score} 分",
        "too_long_title": "留言過長",
        "too_long": "請將留言縮短至 {limit} 字以內，再送出一次。",
    },
}


def thanks_page(language: Language, answer: answers.RecordedAnswer) -> str:
    """After a score: thanks, and a box for a comment (holding the one given before, if any)."""
    t = TEXT[language]
    return page(
        language,
        t["thanks_title"],
        f"<p>{_answered(t, answer)}</p><p>{escape(t['change'])}</p>"
        f'<form method="post"><p><label for="comment">{escape(t["ask"])}</label></p>'
        f'<p><textarea id="comment" name="comment" rows="5" cols="40" maxlength="{answers.COMMENT_MAX}">'
        f"{escape(answer.comment or '')}</textarea></p>"
        f'<button type="submit">{escape(t["send"])}</button></form>',
    )


def commented_page(language: Language, answer: answers.RecordedAnswer) -> str:
    """After a comment: the score and the comment as stored, so the person sees what we keep."""
    t = TEXT[language]
    shown = escape(answer.comment or "").replace("\n", "<br>")
    return page(
        language,
        t["thanks_title"],
        f"<p>{_answered(t, answer)}</p><p>{escape(t['commented'])}</p><blockquote>{shown}</blockquote>",
    )


def confirm_page(language: Language, survey: Survey, score: int) -> str:
    """For a click that looked like a scanner's: nothing is recorded until this button is pressed."""
    t = TEXT[language]
    scale = SCALES[survey]
    ask = t["confirm_ask"].format(score=score, low=scale[0], high=scale[-1])
    return page(
        language,
        t["confirm_title"],
        f'<p>{escape(ask)}</p><form method="post"><button type="submit">'
        f"{escape(t['confirm'].format(score=score))}</button></form>",
    )


def too_long_page(language: Language) -> str:
    t = TEXT[language]
    text = t["too_long"].format(limit=answers.COMMENT_MAX)
    return page(language, t["too_long_title"], f"<p>{escape(text)}</p>")


def _answered(t: dict[str, str], answer: answers.RecordedAnswer) -> str:
    scale = SCALES[answer.survey]
    return escape(t["answered"].format(score=answer.score, low=scale[0], high=scale[-1]))
