"""Holiday dates for greeting campaigns, Chinese lunar ones included, and each country's national day.

The lunar dates come from python-holidays (maintained, with the official Chinese
calendar tables); we only pick the day each festival falls on. The Lantern Festival
is the 15th day of the first lunar month, so always 14 days after Spring Festival
(a lunar month has at least 29 days). Western dates follow their usual rules.

A festival has one date everywhere; `national_day` has one per country, read from that
country's public calendar in python-holidays by the English name in `NATIONAL_DAYS`
(so a day that moves, like the Netherlands' King's Day on a Sunday, moves with it).
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from typing import Literal, get_args

import holidays
from dateutil.easter import easter

Festival = Literal[
    "spring_festival", "lantern_festival", "dragon_boat", "mid_autumn", "national_day_cn",
    "new_year", "valentines_day", "easter", "thanksgiving_us", "christmas",
]
Holiday = Literal[
    "spring_festival", "lantern_festival", "dragon_boat", "mid_autumn", "national_day_cn",
    "new_year", "valentines_day", "easter", "thanksgiving_us", "christmas", "national_day",
]
HOLIDAYS: tuple[Festival, ...] = get_args(Festival)  # one date everywhere (national_day: per country)

# python-holidays' English names for the Chinese public holidays we read
_CHINESE_NAMES: dict[Festival, str] = {
    "spring_festival": "Chinese New Year (Spring Festival)",
    "dragon_boat": "Dragon Boat Festival",
    "mid_autumn": "Mid-Autumn Festival",
}

# Each country's national day: its name in python-holidays' English calendar of that country.
# Hong Kong and Macau keep the PRC's National Day (1 October); the United Kingdom has no
# national public holiday, so it has none here (a national-day campaign skips its customers),
# nor has Spain (its national calendar drops 12 October when it falls on a Sunday).
NATIONAL_DAYS: dict[str, str] = {
    "AE": "National Day",  # 2 December
    "AT": "National Day",  # 26 October
    "AU": "Australia Day",  # 26 January
    "BE": "National Day",  # 21 July
    "BR": "Independence Day",  # 7 September
    "CA": "Canada Day",  # 1 July
    "CH": "National Day",  # 1 August
    "CN": "National Day",  # 1 October
    "DE": "German Unity Day",  # 3 October
    "FR": "National Day",  # 14 July
    "HK": "National Day",  # 1 October
    "ID": "Independence Day",  # 17 August
    "IN": "Independence Day",  # 15 August
    "IT": "Republic Day",  # 2 June
    "JP": "Foundation Day",  # 11 February
    "KR": "National Foundation Day",  # 3 October (Gaecheonjeol)
    "MO": "National Day of the People's Republic of China",  # 1 October
    "MX": "Independence Day",  # 16 September
    "MY": "National Day",  # 31 August
    "NL": "King's Day",  # 27 April (the 26th when the 27th is a Sunday)
    "NZ": "Waitangi Day",  # 6 February
    "PH": "Independence Day",  # 12 June
    "RU": "Russia Day",  # 12 June
    "SA": "National Day Holiday",  # 23 September
    "SG": "National Day",  # 9 August
    "TH": "National Day",  # 5 December
    "TR": "Republic Day",  # 29 October
    "TW": "National Day",  # 10 October (Double Tenth)
    "US": "Independence Day",  # 4 July
    "VN": "National Day",  # 2 September
}


def holiday_date(name: Festival, year: int) -> date:
    """The day `name` falls on in `year` (the first day, for a festival of several)."""
    if name in _CHINESE_NAMES:
        return _chinese_holiday(name, year)
    if name == "lantern_festival":
        return _chinese_holiday("spring_festival", year) + timedelta(days=14)
    if name == "easter":
        return easter(year)
    if name == "thanksgiving_us":
        first = date(year, 11, 1)
        return first + timedelta(days=(3 - first.weekday()) % 7 + 21)  # the fourth Thursday
    if name == "national_day_cn":
        return date(year, 10, 1)
    fixed = {"new_year": (1, 1), "valentines_day": (2, 14), "christmas": (12, 25)}
    month, day = fixed[name]
    return date(year, month, day)


@cache
def national_day(country: str, year: int) -> date | None:
    """`country`'s national day in `year`; None for a country without one in `NATIONAL_DAYS`."""
    wanted = NATIONAL_DAYS.get(country)
    if wanted is None:
        return None
    days = sorted(day for day, names in public_holidays(country, year).items() if wanted in names)
    return days[0] if days else None


@cache
def public_holidays(country: str, year: int) -> dict[date, tuple[str, ...]]:
    """`country`'s national public holidays in `year` by day, in English where python-holidays has
    it (the calendars without translations are written in English); empty for an unknown country."""
    try:
        calendar = holidays.country_holidays(country, years=year)
        if "en_US" in calendar.supported_languages:
            calendar = holidays.country_holidays(country, years=year, language="en_US")
    except NotImplementedError:  # python-holidays has no calendar for this country
        return {}
    return {day: tuple(names.split("; ")) for day, names in sorted(calendar.items())}


@cache
def _chinese_holiday(name: Festival, year: int) -> date:
    wanted = _CHINESE_NAMES[name]
    days = sorted(day for day, names in public_holidays("CN", year).items() if wanted in names)
    if not days:
        raise ValueError(f"no date for {name} in {year} in python-holidays' Chinese calendar")
    return days[0]
