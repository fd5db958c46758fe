"""Whether a customer's country keeps a holiday: no Christmas greeting to Riyadh, no Spring Festival
greeting to Berlin (`only_where_observed`, on by default).

A country keeps a holiday when its national public calendar (python-holidays, in English)
has a day off for it: a public holiday on the holiday's date, or within the days it may be
kept on (Hong Kong rests the day after Mid-Autumn, Easter is Good Friday to Easter Monday),
whose name says it is that holiday, so that an unrelated day off that happens to fall on
the date (Australia Day, 26 January, was the Spring Festival of 2028) does not count.
Only national calendars are read, not regional ones (a German state's extra days off do
not count). Each rule's `text` is what the campaign reference (docs/campaigns.md) says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from edm.campaigns.calendar import NATIONAL_DAYS, Festival, holiday_date, national_day, public_holidays


@dataclass(frozen=True)
class Observance:
    """How to tell from a country's public calendar that it keeps a holiday."""

    text: str  # where it is kept, in words, for the reference
    name: re.Pattern[str] | None  # a day off whose English name matches; None: any day off
    first: int = 0  # the days around the holiday's date it may be kept on
    last: int = 0
    everywhere: bool = False


_NEW_YEAR = re.compile(r"New Year")
RULES: dict[Festival, Observance] = {
    "spring_festival": Observance(
        "a day off named for the New Year on the day or the next: CN, HK, MO, TW, SG, MY, KR, VN, ID ...",
        _NEW_YEAR, 0, 1),
    "lantern_festival": Observance(
        "where spring_festival is kept (it closes the New Year; nowhere a day off)", _NEW_YEAR, 0, 1),
    "dragon_boat": Observance(
        "a Dragon Boat (Tuen Ng) day off on the day or the next: CN, HK, TW",
        re.compile(r"Dragon Boat|Tuen Ng"), 0, 1),
    "mid_autumn": Observance(
        "a Mid-Autumn (or Chuseok) day off on the day or the next: CN, HK, MO, TW, KR",
        re.compile(r"Mid-Autumn|Chuseok"), 0, 1),
    "national_day_cn": Observance(
        "a National Day off on 1 October: CN, HK, MO", re.compile(re.escape(NATIONAL_DAYS["CN"]))),
    "new_year": Observance(
        "1 January is a day off, whatever the calendar calls it (not SA or IL, say)", None),
    "valentines_day": Observance("everywhere (a custom, nowhere a day off)", None, everywhere=True),
    "easter": Observance(
        "an Easter or Good Friday day off, Good Friday to Easter Monday (not US, CN, JP ...)",
        re.compile(r"Easter|Good Friday"), -2, 1),
    "thanksgiving_us": Observance("a Thanksgiving day off on the day: US", re.compile(r"^Thanksgiving")),
    "christmas": Observance(
        "a Christmas day off on 25 December (not CN, JP, TW, SA, AE ...)", re.compile(r"Christmas")),
}
NATIONAL_DAY_TEXT = ("`country: customer`: wherever the customer's country has one (the table below); "
                     "a named country's: where its name is a day off on its date (CN's in HK and MO too)")


def keeps_festival(country: str, name: Festival, year: int) -> bool:
    """Whether `country` keeps festival `name` of `year`."""
    rule = RULES[name]
    if name == "lantern_festival":  # the Spring Festival's rule, on its date
        name = "spring_festival"
    return rule.everywhere or _day_off(country, holiday_date(name, year), rule)


def keeps_national_day(country: str, of: str | None, year: int) -> bool:
    """Whether `country` keeps the national day of `of` (None: its own, kept wherever it has one)."""
    if of is None or of == country:
        return national_day(country, year) is not None
    day = national_day(of, year)
    rule = Observance(f"{of}'s national day", re.compile(re.escape(NATIONAL_DAYS[of])))
    return day is not None and _day_off(country, day, rule)


def _day_off(country: str, day: date, rule: Observance) -> bool:
    for offset in range(rule.first, rule.last + 1):
        wanted = day + timedelta(days=offset)
        for named in public_holidays(country, wanted.year).get(wanted, ()):
            if rule.name is None or rule.name.search(named):
                return True
    return False
