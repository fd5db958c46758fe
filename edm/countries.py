"""Which country a customer is in: an ISO 3166 alpha-2 code, given or read off the locale or time zone.

A holiday greeting belongs to a country's calendar, and most customer files carry no
country column; but a locale often names a region (`zh-CN`, `en-US`, `zh-Hant-TW`) and
an IANA time zone belongs to one (`Europe/Berlin` is Germany's). The codes and the
zones come from the tz database tables that the `tzdata` package ships (`iso3166.tab`,
`zone.tab`), so no list of our own can go stale. Pure functions: text in, a code or None.
"""

from __future__ import annotations

import re
from functools import cache, lru_cache
from importlib import resources

_ALPHA2 = re.compile(r"[A-Za-z]{2}")
_LOCALE_SUFFIX = re.compile(r"[.@]")  # zh_CN.UTF-8, sr_RS@latin
_ZONE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*")  # never `..` or an absolute path


def parse_country(text: str) -> str:
    """A two-letter ISO 3166 code in any case (`cn`, `De`), upper-cased; raises ValueError otherwise."""
    code = text.strip()
    if not _ALPHA2.fullmatch(code) or code.upper() not in country_codes():  # ASCII first: "ß" is not SS
        raise ValueError(f"{text!r} is not an ISO 3166 two-letter country code like CN, US or DE")
    return code.upper()


def country_of_locale(locale: str) -> str | None:
    """The region of a BCP-47 tag (`zh-Hant-TW` → TW, `en_US.UTF-8` → US); None without one.

    Only a two-letter region that is an ISO country counts: `es-419` (Latin America) names none.
    """
    tag = _LOCALE_SUFFIX.split(locale.strip(), maxsplit=1)[0].replace("_", "-")
    for subtag in tag.split("-")[1:]:  # after the language: an optional script, then the region
        if len(subtag) == 2 and subtag.isascii() and subtag.isalpha():
            code = subtag.upper()
            return code if code in country_codes() else None
    return None


def country_of_timezone(timezone: str) -> str | None:
    """The country an IANA zone belongs to (`Asia/Shanghai` → CN, the alias `PRC` too); None for UTC,
    `Etc/...` and aliases of a clock several countries share."""
    name = timezone.strip()
    known = _zone_countries().get(name)
    if known is not None or not _ZONE_NAME.fullmatch(name):
        return known
    return _alias_country(name)


@lru_cache(maxsize=4096)  # the importer and the planner ask per row; customers share few pairs
def derive_country(locale: str | None, timezone: str | None) -> str | None:
    """The locale's region, else the time zone's country: a customer writing `en-US` from Shanghai is
    taken at their word, since a locale is chosen and a server's zone is often a default."""
    return country_of_locale(locale or "") or country_of_timezone(timezone or "")


@cache
def country_codes() -> frozenset[str]:
    """Every ISO 3166 alpha-2 code the tz database knows (`iso3166.tab`)."""
    return frozenset(line.split("\t", 1)[0] for line in _table("iso3166.tab"))


@cache
def _alias_country(name: str) -> str | None:
    """An alias (`US/Pacific`, `Asia/Calcutta`) is a byte-for-byte copy of its zone in `tzdata`: the
    country of the listed zones with the same data, when they are one country's, or one is so named."""
    data = _zone_data(name)
    if data is None:
        return None
    same = [zone for zone in _zone_countries() if _zone_data(zone) == data]
    countries = {_zone_countries()[zone] for zone in same}
    if len(countries) == 1:
        return countries.pop()
    named = [zone for zone in same if zone.rsplit("/", 1)[-1] == name.rsplit("/", 1)[-1]]
    return _zone_countries()[named[0]] if len(named) == 1 else None


@cache
def _zone_data(name: str) -> bytes | None:
    try:
        return resources.files("tzdata").joinpath("zoneinfo", *name.split("/")).read_bytes()
    except (OSError, ValueError):
        return None


@cache
def _zone_countries() -> dict[str, str]:
    """Zone name → country, from `zone.tab` (one country per zone, unlike `zone1970.tab`)."""
    found: dict[str, str] = {}
    for line in _table("zone.tab"):
        code, _, zone = line.split("\t")[:3]
        found[zone] = code
    return found


def _table(name: str) -> list[str]:
    text = resources.files("tzdata").joinpath("zoneinfo", name).read_text(encoding="utf-8")
    return [line for line in text.splitlines() if line and not line.startswith("#")]
