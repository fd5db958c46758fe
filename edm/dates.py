"""Dates as a mail shows them: Jinja filters for templates (registered by `edm.render.Renderer`).

A notice such as "closed from 4 to 13 February, last shipment on 27 January" must be right
every year without editing the template, so templates compute from `occasion.date` (the
holiday that year) rather than carry dates:

    {{ occasion.date | add_days(-params.closed_days_before) | long_date('en') }}
    -> Thursday, 4 February 2027
    {{ occasion.date | add_days(-2) | long_date('zh-Hans') }}  -> 2027年2月4日（星期四）

Pure functions on `datetime.date`; an argument a template gets wrong raises ValueError,
which the renderer reports as the template's error.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

_EN_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")
_ZH_WEEKDAYS = "一二三四五六日"  # 星期一 .. 星期日, the same characters in both scripts


def add_days(day: date, days: Any) -> date:
    """`day` moved by a whole number of days (negative: earlier); `days` may be a param like "2"."""
    if not isinstance(day, date):
        raise ValueError(f"add_days needs a date, not {day!r}")
    try:
        if isinstance(days, bool) or not isinstance(days, int | str):
            raise ValueError
        whole = int(days)
    except ValueError:
        raise ValueError(f"add_days needs a whole number of days, not {days!r}") from None
    return day + timedelta(days=whole)


def long_date(day: date, language: str = "en", *, weekday: bool = True) -> str:
    """`day` written out in `language` (en, zh-Hans or zh-Hant; others get 2027-02-04)."""
    if not isinstance(day, date):
        raise ValueError(f"long_date needs a date, not {day!r}")
    if language.lower().startswith("zh"):
        text = f"{day.year}年{day.month}月{day.day}日"
        return text + (f"（星期{_ZH_WEEKDAYS[day.weekday()]}）" if weekday else "")
    if language.lower().startswith("en"):
        text = f"{day.day} {_EN_MONTHS[day.month - 1]} {day.year}"
        return (f"{_EN_WEEKDAYS[day.weekday()]}, " if weekday else "") + text
    return day.isoformat()


FILTERS = {"add_days": add_days, "long_date": long_date}
