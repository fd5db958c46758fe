"""Cell parsers: the fast vectorised readers must agree with the per-cell rules on any text."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from edm.customers import fields as f
from edm.customers.seen import SeenKeys
from edm.customers.sources import cell_text

Cells = list[str]


def _cells(*strategies: st.SearchStrategy[str]) -> st.SearchStrategy[Cells]:
    """Lists of stripped, non-empty cells, as the importer hands them to a reader."""
    cell = st.one_of(*strategies, st.text(min_size=1, max_size=12)).map(str.strip).filter(bool)
    return st.lists(cell, min_size=1, max_size=20)


def _agree(reader: Callable[[Any], tuple[Any, Any]], parse: Callable[[str], Any], cells: Cells,
           convert: Callable[[Any], Any] = lambda v: v) -> None:
    values, ok = reader(np.array(cells, dtype=object))
    for cell, value, accepted in zip(cells, values, ok, strict=True):
        try:
            expected = convert(parse(cell))
        except ValueError:
            assert not accepted, f"{cell!r} accepted but the rule refuses it"
            continue
        assert accepted, f"{cell!r} refused but the rule accepts it"
        assert value == expected, cell


MONEY = st.one_of(
    st.from_regex(r"[+-]?[0-9]{1,15}(\.[0-9]{0,5})?", fullmatch=True),
    st.decimals(min_value=-10**13, max_value=10**13, places=3, allow_nan=False).map(str),
    st.text(alphabet="0123456789.+-e,_ ", min_size=1, max_size=10),
)


@given(_cells(MONEY), st.booleans())
@example(["1.500", "-0", "999999999999.99", "1000000000000", "1e3", "٣", "1.", ".5", "+7"], False)
def test_money_readers_agree(cells: Cells, negative: bool) -> None:
    _agree(lambda t: f.read_money(t, negative=negative), lambda t: f.parse_money(t, negative=negative), cells)


@given(st.decimals(min_value=-999_999_999_999, max_value=999_999_999_999, places=2, allow_nan=False))
def test_money_is_exact_to_the_cent(amount: Decimal) -> None:
    cents, ok = f.read_money(np.array([str(amount)], dtype=object), negative=True)
    assert ok[0] and cents[0] == int(amount * 100) and cents[0] / 100 == float(amount)


SHARES = st.one_of(
    st.floats(0, 1.5).map(lambda v: f"{v:.4f}"),
    st.floats(0, 150).map(lambda v: f"{v:.1f}%"),
    st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3})? ?%?", fullmatch=True),
)


@given(_cells(SHARES))
@example(["35%", "35 %", "100%", "100.5%", "1", "1.0001", "0", "-0.1", "35", "%", "0.35%"])
def test_share_readers_agree(cells: Cells) -> None:
    _agree(f.read_share, f.parse_share, cells)


def test_a_share_is_a_fraction_or_a_percentage() -> None:
    assert f.parse_share("35%") == pytest.approx(0.35) and f.parse_share("0.35") == 0.35
    with pytest.raises(ValueError, match="write 35% for a percentage"):
        f.parse_share("35")


DATES = st.one_of(
    st.dates().map(date.isoformat),
    st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True),
    st.dates().map(lambda d: d.strftime("%Y/%m/%d")),
)


@given(_cells(DATES))
@example(["0000-01-01", "2024-02-29", "2023-02-29", "1900-02-29", "2000-02-29", "9999-12-31", "2024-13-01"])
def test_date_readers_agree(cells: Cells) -> None:
    _agree(f.read_date, f.parse_date, cells, lambda d: np.datetime64(d, "D"))


@st.composite
def _timestamps(draw: st.DrawFn) -> str:
    moment = draw(st.datetimes(min_value=datetime(1890, 1, 1), max_value=datetime(2210, 1, 1)))
    text = moment.date().isoformat()
    if draw(st.booleans()):
        text += draw(st.sampled_from("T ")) + moment.strftime("%H:%M")
        if draw(st.booleans()):
            text += moment.strftime(":%S")
            if draw(st.booleans()):
                text += "." + f"{moment.microsecond:06d}"[: draw(st.integers(1, 6))]
        offset = draw(st.none() | st.integers(-23 * 60 - 59, 23 * 60 + 59))
        if offset is not None:
            sign, minutes = "+-"[offset < 0], abs(offset)
            text += draw(st.sampled_from([f"{sign}{minutes // 60:02d}:{minutes % 60:02d}",
                                          f"{sign}{minutes // 60:02d}{minutes % 60:02d}", "Z"]))
    return text


NEAR_TIMESTAMPS = st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(Z|[+-][0-9]{4})?",
                                fullmatch=True)


@given(_cells(_timestamps(), NEAR_TIMESTAMPS))
@example(["1900-01-01T00:30+01:00", "2199-12-31T23:59:59.999999", "2025-01-15T24:00", "2025-01-15 10:00:60",
          "2025-01-15T10", "2025", "2025-01-15T10:00:00.1234567", "2025-06-01T10:00:00+08:00"])
@settings(max_examples=300)
def test_timestamp_readers_agree(cells: Cells) -> None:
    _agree(f.read_timestamp, f.parse_timestamp, cells,
           lambda d: np.datetime64(d.astimezone(UTC).replace(tzinfo=None), "us"))


def test_a_timestamp_without_an_offset_is_utc() -> None:
    assert f.parse_timestamp("2025-07-04 09:30") == datetime(2025, 7, 4, 9, 30, tzinfo=UTC)
    east = f.parse_timestamp("2025-06-01T10:00+08:00")
    assert east == datetime(2025, 6, 1, 10, tzinfo=timezone(timedelta(hours=8)))


@given(_cells(st.sampled_from(["company", "Person", "PERSON", "robot", "ｃｏｍｐａｎｙ"])))
def test_kind_readers_agree(cells: Cells) -> None:
    _agree(f.read_kind, f.parse_kind, cells)


@given(_cells(st.from_regex(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,4}){0,2}", fullmatch=True)))
def test_locale_readers_agree(cells: Cells) -> None:
    _agree(f.read_locale, f.parse_locale, cells)


@given(_cells(st.sampled_from(["Asia/Shanghai", "UTC", "Europe/London", "Mars/Olympus", "asia/shanghai"])))
def test_timezone_readers_agree(cells: Cells) -> None:
    _agree(f.read_timezone, f.parse_timezone, cells)


@given(_cells(st.text(max_size=70)), st.integers(1, 64))
def test_text_length_readers_agree(cells: Cells, limit: int) -> None:
    _agree(f.read_text(limit), lambda t: f.check_length(t, limit), cells)


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_spreadsheet_number_reads_as_the_same_number_without_float_noise(value: float) -> None:
    text = cell_text(value)
    assert float(text) == value and "e" not in text.lower()
    if value.is_integer():
        assert "." not in text


def test_spreadsheet_cells_read_as_a_csv_would_hold_them() -> None:
    assert cell_text(1234.5) == "1234.5" and cell_text(0.1 + 0.2) == "0.30000000000000004"
    assert cell_text(100.0) == "100" and cell_text(7) == "7" and cell_text(None) == ""
    assert cell_text(datetime(2024, 3, 1)) == "2024-03-01"
    assert cell_text(datetime(2024, 3, 1, 9, 30)) == "2024-03-01T09:30:00"
    assert cell_text(date(2024, 3, 1)) == "2024-03-01" and cell_text(True) == "TRUE"
    assert cell_text(math.inf) == "inf"


@given(st.lists(st.sampled_from(["a", "b", "c", "d", "e", "长", "f" * 40]), max_size=60),
       st.lists(st.integers(1, 7), min_size=1, max_size=20))
def test_seen_keys_find_the_first_row_of_every_repeated_key(keys: list[str], sizes: list[int]) -> None:
    seen = SeenKeys()
    first: dict[str, int] = {}
    start, turn = 0, 0
    while start < len(keys):
        size = sizes[turn % len(sizes)]
        chunk = keys[start : start + size]
        rows = np.arange(start + 2, start + 2 + len(chunk), dtype=np.int64)
        found = seen.first_rows(np.array(chunk, dtype=object), rows)
        for key, row in zip(chunk, rows, strict=True):
            first.setdefault(key, int(row))
        expected = [0 if first[key] == row else first[key] for key, row in zip(chunk, rows, strict=True)]
        assert found.tolist() == expected
        start, turn = start + size, turn + 1
    assert len(seen) == len(first)
