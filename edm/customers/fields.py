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
from datetime import UTC, date, datetime, timedelta
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
_TIME = (r"(?:[T ]\s*(?P<h>[0-9]{1,2}):(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2})(?:\.(?P<f>[0-9]{1,6}))?)?"
         r")?")
_YEAR_FIRST = re.compile(r"(?P<y>[0-9]{4})(?P<sep>[-/.])(?P<a>[0-9]{1,2})(?P=sep)(?P<b>[0-9]{1,2})" + _TIME)
_YEAR_LAST = re.compile(r"(?P<a>[0-9]{1,2})(?P<sep>[-/.])(?P<b>[0-9]{1,2})(?P=sep)(?P<y>[0-9]{4})" + _TIME)
_CHINESE = re.compile(
    r"(?P<y>[0-9]{4})\s*年\s*(?P<a>[0-9]{1,2})\s*月\s*(?P<b>[0-9]{1,2})\s*[日号]"
    r"(?:\s*(?P<h>[0-9]{1,2})(?::(?P<mi>[0-9]{2})(?::(?P<s>[0-9]{2}))?"
    r"|\s*[时時点點]\s*(?P<mi2>[0-9]{1,2})\s*分(?:\s*(?P<s2>[0-9]{1,2})\s*秒)?))?"
)
_SERIAL = re.compile(r"[0-9]{1,7}(?:\.[0-9]+)?")
_COMPACT = re.compile(r"[0-9]{8}")  # 20240305
MAX_SERIAL = 2958465  # Excel's 9999-12-31
EXCEL_EPOCH = datetime(1899, 12, 30)
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
               "October", "November", "December")
DATE_EXAMPLE = "2024-01-31, 2024/1/31 or 2024年1月31日"
TIMESTAMP_EXAMPLE = "2024-01-31 09:30, 2024/1/31 9:30 or 2024-01-31T09:30+08:00"
DATE_SPELLINGS = (
    ("2024-03-05, 2024-3-5, 2024/3/5, 2024.3.5", "year first: always read"),
    ("2024年3月5日", "Chinese"),
    ("20240305", "eight digits, year first"),
    ("05/03/2024, 5.3.2024, 5-3-2024", "year last: day and month read only when a part over 12 "
     "decides, else as imports.date_format (dmy or mdy) says"),
    ("45356, 45356.68", "an Excel day number (1900 system), as Excel writes a date cell formatted General"),
    ("any of these + 16:23, 16:23:05 (Chinese also 16时23分)", "a time of day; ISO forms may end in Z "
     "or +08:00, others are UTC; a date column keeps only the day"),
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


def parse_date(text: str, order: str = "auto") -> date:
    """A day in any accepted spelling (see `DATE_SPELLINGS`); a time of day, if given, is dropped."""
    if _DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a date like {DATE_EXAMPLE} ({exc})") from exc
    return _moment(text, order, DATE_EXAMPLE).date()


def parse_timestamp(text: str, order: str = "auto") -> datetime:
    """A date, or date and time, in any accepted spelling; without an offset it is taken as UTC."""
    if _TIMESTAMP.fullmatch(text):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"{text!r} is not a date or time like {TIMESTAMP_EXAMPLE} ({exc})") from exc
    else:
        parsed = _moment(text, order, TIMESTAMP_EXAMPLE)
    utc = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if not FIRST_YEAR <= utc.year <= LAST_YEAR:
        raise ValueError(f"{text!r} is outside the years {FIRST_YEAR} to {LAST_YEAR}")
    return utc


def _moment(text: str, order: str, example: str) -> datetime:
    """A naive date and time from the spellings other than plain ISO, or the reason it is none."""
    if "%" in order:
        try:
            return datetime.strptime(text, order)
        except ValueError:
            pass  # not in the configured pattern: the built-in spellings may still read it
    if _SERIAL.fullmatch(text):
        return excel_serial(text)
    if _COMPACT.fullmatch(text):
        return _real(text, int(text[:4]), int(text[4:6]), int(text[6:]))
    found = _YEAR_FIRST.fullmatch(text) or _CHINESE.fullmatch(text)
    if found:
        return _real(text, int(found["y"]), int(found["a"]), int(found["b"]), found)
    found = _YEAR_LAST.fullmatch(text)
    if found:
        first, second, year = int(found["a"]), int(found["b"]), int(found["y"])
        day_first = _day_first(text, first, second, order)
        day, month = (first, second) if day_first else (second, first)
        return _real(text, year, month, day, found)
    raise ValueError(f"{text!r} is not a date like {example}")


def _day_first(text: str, first: int, second: int, order: str) -> bool:
    """Whether `05/03/2024` is 5 March: as configured, else only where a part over 12 decides."""
    if order in ("dmy", "mdy"):
        return order == "dmy"
    if first > 12 or first == second:
        return True
    if second > 12:
        return False
    raise ValueError(f"{text!r} could be {_spoken(second, first)} or {_spoken(first, second)}: "
                     "set imports.date_format to dmy or mdy")


def _spoken(month: int, day: int) -> str:
    return f"{day} {MONTH_NAMES[month - 1]}"


def _real(text: str, year: int, month: int, day: int, found: re.Match[str] | None = None) -> datetime:
    """The moment the parts name, or why they name none (30 February, 25 o'clock)."""
    parts = found.groupdict() if found is not None else {}
    hour = int(parts.get("h") or 0)
    minute = int(parts.get("mi") or parts.get("mi2") or 0)
    second = int(parts.get("s") or parts.get("s2") or 0)
    micro = int((parts.get("f") or "0").ljust(6, "0"))
    try:
        return datetime(year, month, day, hour, minute, second, micro)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a real date or time ({exc})") from exc


def excel_serial(text: str) -> datetime:
    """A day number as Excel stores dates (1900 system): 1 is 1900-01-01, 45356 is 2024-03-05, and
    the fraction is the time of day. Day 60 is Excel's 1900-02-29, a day that never was; a whole
    number from 1000 to 2999 is refused, as it is more likely a year than a day in 1902-1908."""
    value = Decimal(text)
    days = int(value)
    if not 1 <= days <= MAX_SERIAL:
        raise ValueError(f"{text!r} is not a date, nor an Excel day number (1 to {MAX_SERIAL})")
    if days == value and 1000 <= days <= 2999:
        raise ValueError(f"{text!r} could be the year {days} or an Excel day number; write the whole date")
    if days == 60:
        raise ValueError(f"{text!r} is Excel's 1900-02-29, a day that does not exist")
    seconds = int(((value - days) * 86400).quantize(Decimal(1)))
    epoch = EXCEL_EPOCH if days > 60 else EXCEL_EPOCH + timedelta(days=1)
    try:
        return epoch + timedelta(days=days, seconds=seconds)
    except OverflowError as exc:
        raise ValueError(f"{text!r} is after Excel's last day, 9999-12-31") from exc


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


def read_date(texts: Texts, order: str = "auto") -> tuple[NDArray[np.datetime64], Mask]:
    """`YYYY-MM-DD` checked digit by digit in numpy (no per-cell datetime objects); the other
    spellings cell by cell, once per distinct text."""
    days, ok = _read_iso_dates(texts)
    rest = np.flatnonzero(~ok)
    if len(rest):
        days[rest], ok[rest] = _each_distinct(texts[rest], lambda t: parse_date(t, order), "datetime64[D]",
                                              lambda d: np.datetime64(d, "D"))
    return days, ok


def _read_iso_dates(texts: Texts) -> tuple[NDArray[np.datetime64], Mask]:
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


def read_timestamp(texts: Texts, order: str = "auto") -> tuple[NDArray[np.datetime64], Mask]:
    """ISO forms through pandas; the other spellings cell by cell, once per distinct text."""
    values, ok = _read_iso_timestamps(texts)
    rest = np.flatnonzero(~ok & ~_fullmatch(_TIMESTAMP, texts))  # ISO-shaped but refused: refused
    if len(rest):
        values[rest], ok[rest] = _each_distinct(
            texts[rest], lambda t: parse_timestamp(t, order), "datetime64[us]",
            lambda d: np.datetime64(d.astimezone(UTC).replace(tzinfo=None), "us"))
    return values, ok


def _each_distinct(texts: Texts, parse: Callable[[str], Any], dtype: str,
                   convert: Callable[[Any], np.datetime64]) -> tuple[NDArray[np.datetime64], Mask]:
    """`parse` applied once per distinct text (dates repeat a lot in a big file)."""
    codes, distinct = pd.factorize(texts)
    values = np.full(len(distinct), np.datetime64("NaT"), dtype=dtype)
    ok = np.zeros(len(distinct), dtype=bool)
    for at, text in enumerate(distinct):
        try:
            values[at] = convert(parse(text))
        except ValueError:
            continue
        ok[at] = True
    return values[codes], ok[codes]


def _read_iso_timestamps(texts: Texts) -> tuple[NDArray[np.datetime64], Mask]:
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
