"""Each country's calendar: national days from python-holidays, and which countries keep which holiday."""

from __future__ import annotations

from datetime import date

import pytest

from edm.campaigns.calendar import HOLIDAYS, NATIONAL_DAYS, national_day
from edm.campaigns.observance import RULES, keeps_festival, keeps_national_day

NATIONAL_2027 = {
    "CN": date(2027, 10, 1), "HK": date(2027, 10, 1), "TW": date(2027, 10, 10), "SG": date(2027, 8, 9),
    "US": date(2027, 7, 4), "DE": date(2027, 10, 3), "FR": date(2027, 7, 14), "JP": date(2027, 2, 11),
    "KR": date(2027, 10, 3), "SA": date(2027, 9, 23), "AE": date(2027, 12, 2), "MO": date(2027, 10, 1),
}


@pytest.mark.parametrize("country", sorted(NATIONAL_2027))
def test_national_days_fall_on_their_dates(country: str) -> None:
    assert national_day(country, 2027) == NATIONAL_2027[country]


def test_every_known_national_day_has_a_date_every_year_and_moving_ones_move() -> None:
    for country in NATIONAL_DAYS:
        for year in range(2020, 2036):  # python-holidays' tables for India end in 2035
            day = national_day(country, year)
            assert day is not None and day.year == year, (country, year)
    assert national_day("NL", 2025) == date(2025, 4, 26)  # King's Day: the 27th was a Sunday
    assert national_day("GB", 2027) is None  # no national public holiday
    assert national_day("XX", 2027) is None


KEPT = {  # holiday: (countries that keep it, countries that do not), in 2027
    "christmas": ({"DE", "FR", "GB", "US", "HK", "SG", "KR"}, {"SA", "AE", "CN", "JP", "TW"}),
    "spring_festival": ({"CN", "HK", "MO", "TW", "SG", "MY", "KR", "VN"}, {"DE", "US", "GB", "JP", "SA"}),
    "lantern_festival": ({"CN", "TW"}, {"DE", "US"}),
    "mid_autumn": ({"CN", "HK", "MO", "TW", "KR"}, {"SG", "US", "DE", "JP"}),
    "dragon_boat": ({"CN", "HK", "TW"}, {"SG", "US"}),
    "national_day_cn": ({"CN", "HK", "MO"}, {"TW", "US", "DE"}),
    "new_year": ({"CN", "US", "DE", "JP", "AE", "TW"}, {"SA", "IL"}),
    "easter": ({"DE", "GB", "FR", "HK"}, {"US", "CN", "JP", "SA"}),
    "thanksgiving_us": ({"US"}, {"CA", "JP", "CN"}),
    "valentines_day": ({"CN", "US", "SA"}, set()),
}


@pytest.mark.parametrize("name", sorted(KEPT))
def test_which_countries_keep_a_holiday(name: str) -> None:
    kept, not_kept = KEPT[name]
    assert {c for c in kept | not_kept if keeps_festival(c, name, 2027)} == kept  # type: ignore[arg-type]


def test_a_coincidental_day_off_does_not_count() -> None:
    """The Spring Festival of 2028 is 26 January, Australia Day; US Thanksgiving 2028 is 23 November,
    Japan's Labour Thanksgiving Day; Taiwan's Constitution Day is 25 December."""
    assert not keeps_festival("AU", "spring_festival", 2028)
    assert not keeps_festival("JP", "thanksgiving_us", 2028)
    assert not keeps_festival("TW", "christmas", 2027)


def test_national_days_are_kept_by_their_own_country_and_by_those_sharing_it() -> None:
    assert all(keeps_national_day(c, None, 2027) for c in NATIONAL_DAYS)
    assert not keeps_national_day("GB", None, 2027)
    china = {c for c in ("CN", "HK", "MO", "TW", "KR") if keeps_national_day(c, "CN", 2027)}
    assert china == {"CN", "HK", "MO"}
    assert not keeps_national_day("KR", "DE", 2027)  # 3 October both, but not German Unity Day


def test_every_holiday_has_a_rule_the_reference_can_show() -> None:
    assert set(RULES) == set(HOLIDAYS) and all(rule.text for rule in RULES.values())
    for name in HOLIDAYS:
        for year in range(2024, 2036):
            keeps_festival("CN", name, year)  # no year without data
