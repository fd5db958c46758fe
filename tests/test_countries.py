"""A customer's country: given as an ISO code, or read off the locale's region, or off the time zone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edm.countries import (
    country_codes,
    country_of_locale,
    country_of_timezone,
    derive_country,
    parse_country,
)
from edm.customers.fields import time_zones


@pytest.mark.parametrize(("text", "code"), [("cn", "CN"), ("DE", "DE"), (" us ", "US"), ("Tw", "TW")])
def test_a_country_code_is_accepted_in_any_case(text: str, code: str) -> None:
    assert parse_country(text) == code


@pytest.mark.parametrize("text", ["XX", "CHN", "China", "C", "", "U.S.", "UK", "EU", "中国"])
def test_anything_but_an_iso_code_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 3166 two-letter country code"):
        parse_country(text)


@pytest.mark.parametrize(
    ("locale", "country"),
    [("zh-CN", "CN"), ("en-US", "US"), ("de-DE", "DE"), ("zh-Hant-TW", "TW"), ("zh_HK", "HK"),
     ("en_GB.UTF-8", "GB"), ("sr-Latn-RS", "RS"), ("pt-br", "BR"),
     ("en", None), ("zh-Hant", None), ("es-419", None), ("en-XX", None), ("", None)],
)
def test_the_locales_region_names_the_country(locale: str, country: str | None) -> None:
    assert country_of_locale(locale) == country


@pytest.mark.parametrize(
    ("timezone", "country"),
    [("Asia/Shanghai", "CN"), ("America/Los_Angeles", "US"), ("Europe/Berlin", "DE"),
     ("Asia/Hong_Kong", "HK"), ("Asia/Taipei", "TW"), ("Asia/Singapore", "SG"), ("Asia/Riyadh", "SA"),
     ("Asia/Dubai", "AE"),
     ("Asia/Tokyo", "JP"), ("Asia/Seoul", "KR"), ("Europe/Paris", "FR"), ("Europe/London", "GB"),
     # aliases are copies of their zone in tzdata: the country is the zone's
     ("US/Pacific", "US"), ("PRC", "CN"), ("Asia/Calcutta", "IN"), ("Singapore", "SG"),
     # no country: UTC, fixed offsets, a clock several countries share, nonsense
     ("UTC", None), ("Etc/GMT+8", None), ("CET", None), ("Mars/Base", None), ("../../etc/passwd", None)],
)
def test_the_time_zone_names_the_country(timezone: str, country: str | None) -> None:
    assert country_of_timezone(timezone) == country


def test_the_locale_wins_over_the_time_zone_and_either_may_be_missing() -> None:
    assert derive_country("en-US", "Asia/Shanghai") == "US"  # a chosen locale, a server's default zone
    assert derive_country("en", "Asia/Shanghai") == "CN"
    assert derive_country("zh-Hant", "Asia/Taipei") == "TW"
    assert derive_country("en", "UTC") is None
    assert derive_country(None, None) is None


def _is_country(value: str | None) -> bool:
    return value is None or (len(value) == 2 and value.isupper() and value in country_codes())


@given(st.text(max_size=40), st.text(max_size=40))
def test_deriving_never_crashes_and_gives_a_code_or_none(locale: str, timezone: str) -> None:
    assert _is_country(derive_country(locale, timezone))
    assert _is_country(country_of_locale(locale))
    assert _is_country(country_of_timezone(timezone))


@given(st.from_regex(r"[A-Za-z]{2,3}([-_][A-Za-z]{4})?([-_][A-Za-z]{2}|[-_][0-9]{3})?", fullmatch=True),
       st.sampled_from(sorted(time_zones())))
def test_every_locale_and_real_zone_gives_a_code_or_none(locale: str, timezone: str) -> None:
    assert _is_country(derive_country(locale, timezone))


def test_most_real_zones_belong_to_a_country() -> None:
    zones = sorted(time_zones())
    known = [zone for zone in zones if country_of_timezone(zone)]
    assert len(known) > 0.8 * len(zones)
