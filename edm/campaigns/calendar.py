"""Holiday dates for greeting campaigns, Chinese lunar ones included.

The lunar dates come from python-holidays (maintained, with the official Chinese
calendar tables); we only pick the day each festival falls on. The Lantern Festival
is the 15th day of the first lunar month, so always 14 days after Spring Festival
(a lunar month has at least 29 days). Western dates follow their usual rules.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import cache
from typing import Literal, get_args

import holidays
from dateutil.easter import easter

Holiday = Literal[
    "spring_festival", "lantern_festival", "dragon_boat", "mid_autumn", "national_day_cn",
    "new_year", "valentines_day", "easter", "thanksgiving_us", "christmas",
]
HOLIDAYS: tuple[Holiday, ...] = get_args(Holiday)

# python-holidays' English names for the Chinese public holidays we read
_CHINESE_NAMES: dict[Holiday, str] = {
    "spring_festival": "Chinese New Year (Spring Festival)",
    "dragon_boat": "Dragon Boat Festival",
    "mid_autumn": "Mid-Autumn Festival",
}


def holiday_date(name: Holiday, year: int) -> date:
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
    fixed = {"national_day_cn": (10, 1), "new_year": (1, 1), "valentines_day": (2, 14), "christmas": (12, 25)}
    month, day = fixed[name]
    return date(year, month, day)


@cache
def _chinese_holiday(name: Holiday, year: int) -> date:
    wanted = _CHINESE_NAMES[name]
    calendar = holidays.country_holidays("CN", years=year, language="en_US")
    days = sorted(day for day, names in calendar.items() if wanted in names.split("; "))
    if not days:
        raise ValueError(f"no date for {name} in {year} in python-holidays' Chinese calendar")
    return days[0]
