"""Cell parsers for imported files: each kind of cell read two ways that must agree.

The vectorised reader (`read_*`) takes a column of stripped, non-empty strings and
returns the values with a mask of the cells it accepted; it is what makes a
10-million-row import fast. The per-cell reader (`parse_*`) is the readable
specification: it raises `ValueError` with the reason a user sees, and is only
called for the cells the vectorised reader refused. Tests check that both agree on
arbitrary text.

Values come out in a storage-neutral form: money as whole cents (float64, exact
below 2**53), timestamps as UTC `datetime64[us]`, dates as `datetime64[D]`;
missing or refused cells are NaN / NaT / None.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal
from functools import cache
from typing import Any
from zoneinfo import available_timezones

import numpy as np
import pandas as pd
from email_validator import EmailNotValidError, validate_email
from numpy.typing import NDArray

from edm import countries

Texts = NDArray[np.object_]
Mask = NDArray[np.bool_]

KINDS = ("company", "person")
CENT = Decimal("0.01")
MAX_MONEY = Decimal("1e12")  # Numeric(14, 2)
MAX_CENTS = 10**14
FIRST_YEAR, LAST_YEAR = 1900, 2199  # orders outside these years are typing mistakes

_NUMBER = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_CENTS = re.compile(r"[+-]?[0-9]+(?:\.[0-9]{1,2}0*)?")  # _NUMBER with at most 2 significant decimals
_SHARE = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):?[0-5][0-9])?)?"
)
_LOCALE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z]{4})?(-(?:[A-Za-z]{2}|[0-9]{3}))?")
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


# ---- per cell: the specification, and the wording of every reason -------------------------


def parse_money(text: str, *, negative: bool = False) -> int:
    """A plain decimal number of at most 2 decimal places, as whole cents."""
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{text!r} is not a plain number like 1234.50")
    value = Decimal(text)
    if value < 0 and not negative:
        raise ValueError(f"{text!r} is negative; it must be 0 or more")
    if abs(value) >= MAX_MONEY:
        raise ValueError(f"{text!r} is too large (at most 999999999999.99)")
    if value != value.quantize(CENT, rounding=ROUND_DOWN):
        raise ValueError(f"{text!r} has more than 2 decimal places")
    return int(value * 100)


def parse_share(text: str) -> float:
    """A fraction from 0 to 1, or a percentage from 0% to 100%."""
    body, percent = (text[:-1].rstrip(), True) if text.endswith("%") else (text, False)
    if not _SHARE.fullmatch(body):
        raise ValueError(f"{text!r} is not a share like 0.35 or 35%")
    value = float(body) / 100 if percent else float(body)
    if not 0 <= value <= 1:
        hint = "" if percent else f"; write {text}% for a percentage"
        raise ValueError(f"{text!r} is not between 0 and 1 (0% and 100%){hint}")
    return value


def parse_date(text: str) -> date:
    if not _DATE.fullmatch(text):
        raise ValueError(f"{text!r} is not a date like 2024-01-31")
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date like 2024-01-31 ({exc})") from exc


def parse_timestamp(text: str) -> datetime:
    """An ISO date or date and time; without an offset it is taken as UTC."""
    example = "2024-01-31 or 2024-01-31T09:30+08:00"
    if not _TIMESTAMP.fullmatch(text):
        raise ValueError(f"{text!r} is not a date or time like {example}")
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date or time like {example} ({exc})") from exc
    utc = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise ValueError(f"{text!r} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return utc


def parse_kind(text: str) -> str:
    kind = text.lower()
    if kind not in KINDS:
        raise ValueError(f"{text!r} is not one of: {', '.join(KINDS)}")
    return kind


def parse_email(text: str) -> str:
    """The address as the validator normalises it (domain lower-cased, IDN decoded)."""
    try:
        return str(validate_email(text, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise ValueError(f"invalid email {text!r}: {exc}") from exc


def parse_locale(text: str) -> str:
    """A BCP-47 tag; `zh_CN` (as some exports write it) is accepted as `zh-CN`."""
    locale = text.replace("_", "-")
    if not _LOCALE.fullmatch(locale):
        raise ValueError(f"{text!r} is not a locale like en, zh-CN or zh-Hant-TW")
    return locale


def parse_country(text: str) -> str:
    """An ISO 3166 two-letter code in any case (`cn`, `DE`), stored upper-case."""
    return countries.parse_country(text)


def parse_timezone(text: str) -> str:
    if text not in time_zones():
        raise ValueError(f"{text!r} is not an IANA time zone like Asia/Shanghai")
    return text


def check_length(text: str, limit: int) -> str:
    if len(text) > limit:
        raise ValueError(f"longer than {limit} characters")
    return text


@cache
def time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


# ---- vectorised: the same rules over a whole column ----------------------------------------


def read_money(texts: Texts, *, negative: bool = False) -> tuple[NDArray[np.float64], Mask]:
    """Whole cents as float64 (NaN where refused), and which cells were accepted."""
    ok = _fullmatch(_CENTS, texts)
    cents = np.full(len(texts), np.nan)
    cents[ok] = np.rint(texts[ok].astype(np.float64) * 100)
    cents += 0.0  # -0.0 -> 0.0
    with np.errstate(invalid="ignore"):
        ok &= np.abs(cents) < MAX_CENTS
        if not negative:
            ok &= cents >= 0
    cents[~ok] = np.nan
    return cents, ok


def read_share(texts: Texts) -> tuple[NDArray[np.float64], Mask]:
    percent = np.fromiter((t.endswith("%") for t in texts), bool, len(texts))
    bodies = np.array([t[:-1].rstrip() if p else t for t, p in zip(texts, percent, strict=True)],
                      dtype=object)
    ok = _fullmatch(_SHARE, bodies)
    values = np.full(len(texts), np.nan)
    values[ok] = bodies[ok].astype(np.float64)
    values[percent] /= 100
    with np.errstate(invalid="ignore"):
        ok &= (values >= 0) & (values <= 1)
    values[~ok] = np.nan
    return values, ok


def read_date(texts: Texts) -> tuple[NDArray[np.datetime64], Mask]:
    """`YYYY-MM-DD` checked digit by digit in numpy (no per-cell datetime objects)."""
    ok = _fullmatch(_DATE, texts)
    days = np.full(len(texts), np.datetime64("NaT"), dtype="datetime64[D]")
    if ok.any():
        digits = np.asarray(texts[ok].astype("U10")).view(np.uint32).reshape(-1, 10).astype(np.int64) - 48
        year = digits[:, 0] * 1000 + digits[:, 1] * 100 + digits[:, 2] * 10 + digits[:, 3]
        month = digits[:, 5] * 10 + digits[:, 6]
        day = digits[:, 8] * 10 + digits[:, 9]
        valid_month = (month >= 1) & (month <= 12)
        leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
        month_days = _MONTH_DAYS[np.clip(month, 1, 12) - 1] + ((month == 2) & leap)
        valid = (year >= 1) & valid_month & (day >= 1) & (day <= month_days)
        months = ((year - 1970) * 12 + np.clip(month, 1, 12) - 1).astype("datetime64[M]")
        parsed = months.astype("datetime64[D]") + (day - 1).astype("timedelta64[D]")
        parsed[~valid] = np.datetime64("NaT")
        days[ok] = parsed
        ok[ok] = valid
    return days, ok


def read_timestamp(texts: Texts) -> tuple[NDArray[np.datetime64], Mask]:
    ok = _fullmatch(_TIMESTAMP, texts)
    parsed = pd.to_datetime(pd.Series(np.where(ok, texts, "")), format="ISO8601", utc=True, errors="coerce")
    values = parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[us]", copy=True)
    years = values.astype("datetime64[Y]").astype(np.int64) + 1970
    with np.errstate(invalid="ignore"):
        ok &= ~np.isnat(values) & (years >= FIRST_YEAR) & (years <= LAST_YEAR)
    values[~ok] = np.datetime64("NaT")
    return values, ok


def read_kind(texts: Texts) -> tuple[Texts, Mask]:
    lowered = np.array([t.lower() for t in texts], dtype=object)
    return _keep(lowered, np.isin(lowered, KINDS))


def read_locale(texts: Texts) -> tuple[Texts, Mask]:
    dashed = np.array([t.replace("_", "-") for t in texts], dtype=object)
    return _keep(dashed, _fullmatch(_LOCALE, dashed))


def read_country(texts: Texts) -> tuple[Texts, Mask]:
    upper = np.array([t.upper() if t.isascii() else "" for t in texts], dtype=object)
    codes = countries.country_codes()
    return _keep(upper, np.fromiter((t in codes for t in upper), bool, len(upper)))


def read_timezone(texts: Texts) -> tuple[Texts, Mask]:
    zones = time_zones()
    return _keep(texts, np.fromiter((t in zones for t in texts), bool, len(texts)))


def read_email(texts: Texts) -> tuple[Texts, Mask]:
    """Per cell: there is no faithful vectorised email validator, and emails are in small files."""
    return read_each(parse_email)(texts)


def read_text(limit: int) -> Callable[[Texts], tuple[Texts, Mask]]:
    def read(texts: Texts) -> tuple[Texts, Mask]:
        return _keep(texts, np.fromiter(map(len, texts), np.int64, len(texts)) <= limit)

    return read


def read_each(parse: Callable[[str], Any]) -> Callable[[Texts], tuple[Texts, Mask]]:
    """A vectorised reader from a per-cell one, for the cell kinds that have no faster way."""

    def read(texts: Texts) -> tuple[Texts, Mask]:
        values = np.empty(len(texts), dtype=object)
        ok = np.ones(len(texts), dtype=bool)
        for i, text in enumerate(texts):
            try:
                values[i] = parse(text)
            except ValueError:
                ok[i] = False
        return values, ok

    return read


def _fullmatch(pattern: re.Pattern[str], texts: Texts) -> Mask:
    return np.fromiter(map(bool, map(pattern.fullmatch, texts)), bool, len(texts))


def _keep(values: Texts, ok: Mask) -> tuple[Texts, Mask]:
    kept = values.copy()
    kept[~ok] = None
    return kept, ok
