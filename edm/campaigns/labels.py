"""What a campaign is called and what sets it off, in words, in en, zh-Hans and zh-Hant.

`edm campaign due` and the API's campaign list show `trigger_label(campaign)` (every trigger kind;
a campaign without a trigger runs whenever it is run by name, and says so); digests name campaigns
by `display_name` (the file's `title:`, else the name humanised), and the CLI by `named` (the title
with the name to type). Pure: plain values in, text out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

from edm.campaigns.schema import (
    AfterOrder,
    Answered,
    Campaign,
    ClassEntry,
    EventTrigger,
    HolidayTrigger,
    Inactivity,
    LifeEvent,
    Reorder,
    Schedule,
)
from edm.render import resolve_language
from edm.wording import count, number

Language = Literal["en", "zh-Hans", "zh-Hant"]
LANGUAGES: tuple[Language, ...] = ("en", "zh-Hans", "zh-Hant")

HOLIDAY_NAMES: dict[str, tuple[str, str, str]] = {  # en, zh-Hans, zh-Hant
    "spring_festival": ("the Spring Festival", "春节", "春節"),
    "lantern_festival": ("the Lantern Festival", "元宵节", "元宵節"),
    "dragon_boat": ("the Dragon Boat Festival", "端午节", "端午節"),
    "mid_autumn": ("the Mid-Autumn Festival", "中秋节", "中秋節"),
    "national_day_cn": ("China's National Day", "国庆节", "國慶日"),
    "new_year": ("New Year's Day", "元旦", "元旦"),
    "valentines_day": ("Valentine's Day", "情人节", "情人節"),
    "easter": ("Easter", "复活节", "復活節"),
    "thanksgiving_us": ("Thanksgiving (US)", "感恩节（美国）", "感恩節（美國）"),
    "christmas": ("Christmas", "圣诞节", "聖誕節"),
    "national_day": ("the national day", "国庆日", "國慶日"),
}
LIFE_EVENTS: dict[str, tuple[str, str, str]] = {
    "birthday": ("each customer's birthday", "生日", "生日"),
    "founding_anniversary": ("each customer company's founding anniversary",
                             "公司成立纪念日", "公司成立紀念日"),
    "first_order_anniversary": ("the anniversary of each customer's first order", "首单纪念日", "首單紀念日"),
}
SURVEYS: dict[str, tuple[str, str, str]] = {
    "nps": ("an NPS", "NPS ", "NPS "),
    "csat": ("a CSAT", "CSAT ", "CSAT "),
    "any": ("a survey", "问卷", "問卷"),
}
ANSWERS: dict[str, tuple[str, str, str]] = {
    "detractor": ("a detractor", "贬损者", "貶損者"),
    "passive": ("a passive", "被动者", "被動者"),
    "promoter": ("a promoter", "推荐者", "推薦者"),
}


def trigger_label(campaign: Campaign, language: Language = "en") -> str:
    """What sets `campaign` off, e.g. "each customer's birthday, 09:00 their time" or
    "每位客户的生日，当地时间 09:00"."""
    z = _index(language)
    for value, word in _WORDERS:
        trigger = getattr(campaign, value)
        if trigger:
            return word(trigger, z, campaign)
    return ("no trigger: whenever edm campaign run names it, or runs every campaign",
            "无触发条件：edm campaign run 点名或运行全部活动时发送",
            "無觸發條件：edm campaign run 點名或執行全部活動時發送")[z]


def display_name(name: str, titles: Mapping[str, str] | None, language: str) -> str:
    """A campaign as people name it: its `title` in `language` (zh-TW reads zh-Hant, then zh-Hans),
    else its English title, else the name humanised: "key_account_greeting" → "Key account greeting"."""
    given = {key: text.strip() for key, text in (titles or {}).items() if text.strip()}
    if given:
        chosen = resolve_language(language, given)
        if chosen in given:
            return given[chosen]
    words = name.replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def named(name: str, titles: Mapping[str, str] | None, language: str) -> str:
    """A campaign for a reader who may act on it: its title in `language` with the name to type,
    "Spring Festival greeting (spring_festival)"; a campaign without a title is just its name (the
    humanised name would only repeat it)."""
    if not any(text.strip() for text in (titles or {}).values()):
        return name
    return f"{display_name(name, titles, language)} ({name})"


def _index(language: Language) -> int:
    return LANGUAGES.index(language)


def _schedule(s: Schedule, z: int, _: Campaign) -> str:
    return (f"on the schedule {s.cron} ({s.timezone})", f"按计划 {s.cron}（{s.timezone}）",
            f"按排程 {s.cron}（{s.timezone}）")[z]


def _holiday(h: HolidayTrigger, z: int, _: Campaign) -> str:
    name = HOLIDAY_NAMES.get(h.name, (h.name,) * 3)[z]
    at = f"{h.at:%H:%M}"
    if z == 0:
        offset = (f"{count(h.days_before, 'day')} before " if h.days_before
                  else f"{count(h.days_after, 'day')} after " if h.days_after else "")
        country = {None: "", "customer": " of each customer's country"}.get(h.country, f" of {h.country}")
        where = h.timezone or "each customer's time"
        observed = ", where observed" if h.only_where_observed else ""
        return f"{offset}{name}{country}, {at} {where}{observed}"
    offset = (f"前 {h.days_before} 天" if h.days_before else f"后 {h.days_after} 天" if h.days_after else "")
    if z == 2:
        offset = offset.replace("后", "後")
    country = {None: "", "customer": ("各客户所在国家的", "各客戶所在國家的")[z - 1]}.get(
        h.country, f"{h.country} ")
    where = h.timezone or ("客户当地时间", "客戶當地時間")[z - 1]
    observed = ("，仅限过此节日的地区", "，僅限過此節日的地區")[z - 1] if h.only_where_observed else ""
    return f"{country}{name}{offset}，{where} {at}{observed}"


def _life_event(e: LifeEvent, z: int, _: Campaign) -> str:
    name = LIFE_EVENTS[e.name][z]
    at = f"{e.at:%H:%M}"
    if z == 0:
        ahead = f"{count(e.days_before, 'day')} before " if e.days_before else ""
        return f"{ahead}{name}, {at} their time"
    ahead = f"前 {e.days_before} 天" if e.days_before else ""
    return (f"每位客户的{name}{ahead}，当地时间 {at}", f"每位客戶的{name}{ahead}，當地時間 {at}")[z - 1]


def _entered(e: ClassEntry, z: int, _: Campaign) -> str:
    into = ", ".join(e.into) if z == 0 else "、".join(e.into)
    return (f"when a customer enters {e.dimension} {into} (within {count(e.within_days, 'day')})",
            f"客户进入 {e.dimension} {into} 时（{e.within_days} 天内）",
            f"客戶進入 {e.dimension} {into} 時（{e.within_days} 天內）")[z]


def _inactive(i: Inactivity, z: int, _: Campaign) -> str:
    if i.days is not None:
        return (f"no order for {count(i.days, 'day')}", f"{number(i.days)} 天未下单",
                f"{number(i.days)} 天未下單")[z]
    times = number(i.usual_intervals)
    return (f"no order for {times}× their usual interval", f"超过平常下单间隔的 {times} 倍未下单",
            f"超過平常下單間隔的 {times} 倍未下單")[z]


def _after_order(a: AfterOrder, z: int, _: Campaign) -> str:
    if a.days == 0:
        return ("the day of each order", "每笔订单当天", "每筆訂單當天")[z]
    return (f"{count(a.days, 'day')} after each order", f"每笔订单后 {a.days} 天",
            f"每筆訂單後 {a.days} 天")[z]


def _reorder(r: Reorder, z: int, _: Campaign) -> str:
    if r.days_before == 0:
        return ("on each customer's expected next order day", "预计下次下单当天", "預計下次下單當天")[z]
    return (f"{count(r.days_before, 'day')} before each customer's expected next order",
            f"预计下次下单前 {r.days_before} 天", f"預計下次下單前 {r.days_before} 天")[z]


def _answered(a: Answered, z: int, _: Campaign) -> str:
    survey = SURVEYS[a.survey][z]
    if z == 0:
        kinds = " or ".join(ANSWERS.get(kind, (kind,) * 3)[0] for kind in a.as_)
        return f"{survey} answer from {kinds} (within {count(a.within_days, 'day')})"
    kinds = "或".join(ANSWERS.get(kind, (kind,) * 3)[z] for kind in a.as_)
    return (f"{survey}回答为{kinds}后（{a.within_days} 天内）",
            f"{survey}回答為{kinds}後（{a.within_days} 天內）")[z - 1]


def _event(e: EventTrigger, z: int, _: Campaign) -> str:
    where = ", ".join(f"{key}={value}" for key, value in e.where.items())
    hours = number(e.delay.hours) if e.delay else ""
    if z == 0:
        text = f"customer event {e.name}" + (f" where {where}" if where else "")
        text += f", {hours} h later" if e.delay else ""
        unless = e.unless
        if unless is not None:
            text += f", unless {unless.event} within {number(unless.within_hours)} h"
        return text
    text = (f"客户事件 {e.name}", f"客戶事件 {e.name}")[z - 1] + (f"（{where}）" if where else "")
    text += (f"，{hours} 小时后", f"，{hours} 小時後")[z - 1] if e.delay else ""
    if e.unless is not None:
        text += (f"，{number(e.unless.within_hours)} 小时内有 {e.unless.event} 则取消",
                 f"，{number(e.unless.within_hours)} 小時內有 {e.unless.event} 則取消")[z - 1]
    return text


def _api(_: bool, z: int, campaign: Campaign) -> str:
    route = f"POST /v1/campaigns/{campaign.name}/send"
    return (f"only through the API ({route})", f"仅通过 API 发送（{route}）",
            f"僅透過 API 發送（{route}）")[z]


_WORDERS: tuple[tuple[str, Callable[..., str]], ...] = (
    ("schedule", _schedule), ("holiday", _holiday), ("life_event", _life_event), ("entered", _entered),
    ("inactive", _inactive), ("after_order", _after_order), ("reorder", _reorder), ("answered", _answered),
    ("event", _event), ("api", _api),
)
