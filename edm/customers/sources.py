"""Reading CSV and XLSX files in chunks of rows, as text, with spreadsheet row numbers.

CSV bytes are decoded strictly in the file's encoding (`edm.customers.encodings`:
given, or detected from the first bytes), as a stream. Every cell comes out as a
stripped string (never a guessed type), so the importer's own rules decide what a
number or a date is. Row numbers are what a spreadsheet shows: the header is row 1.
Fully blank rows are dropped but still counted, so the numbers stay right. A file is
read `chunk_rows` rows at a time and never held whole.
"""

from __future__ import annotations

import csv
import math
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from openpyxl import load_workbook
from openpyxl.utils.exceptions import InvalidFileException

from edm.customers.encodings import (
    AUTO,
    PREFIX_BYTES,
    BadBytes,
    EncodingProblem,
    StrictText,
    TextEncoding,
    choose,
    describe_bad_bytes,
    row_of,
)
from edm.errors import ImportDataError

HEADER_ROW = 1
ROW = "(row)"
SUFFIXES = (".csv", ".xlsx")
MAX_RAGGED = 1000  # ragged rows listed; the rest are only counted


@dataclass(frozen=True)
class Chunk:
    """Consecutive non-blank rows: `columns[j]` holds the texts under the file's column j."""

    rows: NDArray[np.int64]
    columns: list[NDArray[np.object_]]

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, position: int) -> NDArray[np.object_]:
        return self.columns[position]

    def records(self, positions: NDArray[np.intp]) -> list[list[str]]:
        """Whole rows (by position in the chunk), as the file had them."""
        return [[str(column[p]) for column in self.columns] for p in positions]


@dataclass(frozen=True)
class Table:
    """An open file: its header as written, and its rows to read once, chunk by chunk."""

    path: Path
    header: list[str]
    chunks: Iterator[Chunk]
    encoding: TextEncoding | None = None  # CSV only: how its bytes were read


@contextmanager
def open_table(path: Path, chunk_rows: int, encoding: str = AUTO,
               chosen_by: str = "imports.encoding") -> Iterator[Table]:
    """The file at `path` by its suffix; a file that cannot be read is an `ImportDataError`.

    A CSV file is read in `encoding` (`auto`: detected); `chosen_by` says who named it.
    """
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        _fail(path, f"cannot import {path.suffix or 'a file without a suffix'}; "
                    "save it as .csv or .xlsx")
    if not path.is_file():
        _fail(path, "file not found")
    if suffix == ".csv":
        yield _open_csv(path, chunk_rows, encoding, chosen_by)
    else:
        with _open_xlsx(path, chunk_rows) as table:
            yield table


# ---- CSV --------------------------------------------------------------------------------


def _open_csv(path: Path, chunk_rows: int, wanted: str, chosen_by: str) -> Table:
    encoding = _encoding(path, wanted, chosen_by)
    try:
        with path.open("rb") as raw:
            header = next(csv.reader(StrictText(raw, encoding.codec)), None)
    except BadBytes as bad:
        _bad_bytes(path, encoding, bad)
    except (OSError, csv.Error) as exc:
        _fail(path, f"cannot be read as CSV: {exc}")
    if header is None:
        _fail(path, "file is empty")
    if header:
        header[0] = header[0].removeprefix("\ufeff")
    chunks = _csv_chunks(path, encoding, len(header), chunk_rows)
    return Table(path, _header(path, header), chunks, encoding)


def _encoding(path: Path, wanted: str, chosen_by: str) -> TextEncoding:
    """The encoding given, or detected from the file's first bytes."""
    try:
        with path.open("rb") as raw:
            prefix = raw.read(PREFIX_BYTES + 1)
        return choose(prefix[:PREFIX_BYTES], wanted, chosen_by, whole=len(prefix) <= PREFIX_BYTES)
    except LookupError:
        _fail(path, f"{chosen_by} names an unknown encoding {wanted!r}; use e.g. gb18030, big5, utf-8")
    except EncodingProblem as exc:
        _fail(path, str(exc))
    except OSError as exc:
        _fail(path, f"cannot be read: {exc.strerror or exc}", exc)


def _bad_bytes(path: Path, encoding: TextEncoding, bad: BadBytes) -> NoReturn:
    """Bytes the encoding cannot read: refused, naming the row they are on."""
    try:
        row = row_of(path, encoding.codec, bad.offset, HEADER_ROW)
    except (OSError, BadBytes):
        row = HEADER_ROW
    _fail(path, describe_bad_bytes(bad, encoding, row), bad)


def _csv_chunks(path: Path, encoding: TextEncoding, width: int, chunk_rows: int) -> Iterator[Chunk]:
    first = HEADER_ROW + 1
    try:
        with path.open("rb") as raw, pd.read_csv(
            StrictText(raw, encoding.codec), dtype=str, keep_default_na=False, na_filter=False,
            skip_blank_lines=False, index_col=False, chunksize=chunk_rows,
        ) as reader:
            while (frame := _next_frame(reader)) is not None:
                yield _chunk([frame.iloc[:, j].to_numpy(dtype=object) for j in range(frame.shape[1])], first)
                first += len(frame)
    except BadBytes as bad:
        _bad_bytes(path, encoding, bad)
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        raise ImportDataError(str(path), *_ragged_rows(path, encoding, width, exc)) from exc
    except (OSError, ValueError) as exc:
        _fail(path, f"cannot be read as CSV: {exc}", exc)


def _next_frame(reader: Iterator[pd.DataFrame]) -> pd.DataFrame | None:
    """The next chunk; a row with one value too many is an error, not a silently dropped value.

    (With `index_col=False` pandas only warns about it; the filter is set per read, so it
    never outlives this call.)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        return next(reader, None)


def _ragged_rows(path: Path, encoding: TextEncoding, width: int,
                 exc: Exception) -> tuple[list[tuple[int, str, str]], int]:
    """Rows with more values than the header has columns, which no column can hold."""
    reason = "{} values but the header has {} columns; quote values that contain commas"
    problems: list[tuple[int, str, str]] = []
    count = 0
    try:
        with path.open("rb") as raw:
            for row, values in enumerate(csv.reader(StrictText(raw, encoding.codec)), start=HEADER_ROW):
                if len(values) > width:
                    count += 1
                    if len(problems) < MAX_RAGGED:
                        problems.append((row, ROW, reason.format(len(values), width)))
    except (OSError, ValueError, csv.Error, BadBytes):
        pass
    if not problems:
        return [(HEADER_ROW, ImportDataError.FILE, f"cannot be read as CSV: {exc}")], 1
    return problems, count


# ---- XLSX -------------------------------------------------------------------------------


@contextmanager
def _open_xlsx(path: Path, chunk_rows: int) -> Iterator[Table]:
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        _fail(path, f"cannot be read as an Excel workbook (.xlsx): {exc}", exc)
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # do not trust the size the writer recorded
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        texts = [cell_text(v) for v in first or ()]
        while texts and not texts[-1]:
            texts.pop()
        if not texts:
            _fail(path, "the first sheet is empty; its first row must hold the column names")
        yield Table(path, _header(path, texts), _xlsx_chunks(rows, len(texts), chunk_rows))
    finally:
        book.close()


def _xlsx_chunks(rows: Iterator[tuple[Any, ...]], width: int, chunk_rows: int) -> Iterator[Chunk]:
    first = HEADER_ROW + 1
    while batch := list(islice(rows, chunk_rows)):
        texts = [_fit([cell_text(v) for v in values[:width]], width) for values in batch]
        yield _chunk([np.array(column, dtype=object) for column in zip(*texts, strict=True)], first)
        first += len(batch)


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV export would hold: dates ISO, numbers without float noise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        if not math.isfinite(value):
            return repr(value)
        return format(Decimal(repr(value)).normalize(), "f")
    return str(value).strip()


def _fit(values: list[str], width: int) -> list[str]:
    return values + [""] * (width - len(values))


# ---- shared -----------------------------------------------------------------------------


def _chunk(columns: list[NDArray[np.object_]], first: int) -> Chunk:
    """Strip every cell and drop fully blank rows, keeping each row's spreadsheet number."""
    size = len(columns[0]) if columns else 0
    stripped = [np.fromiter(map(str.strip, column), dtype=object, count=size) for column in columns]
    rows = np.arange(first, first + size, dtype=np.int64)
    filled = np.zeros(size, dtype=bool)
    for column in stripped:
        filled |= column != ""
    if filled.all():
        return Chunk(rows, stripped)
    return Chunk(rows[filled], [column[filled] for column in stripped])


def _header(path: Path, names: Iterable[str]) -> list[str]:
    header = [name.strip() for name in names]
    if not any(header):
        _fail(path, "the first row is empty; it must hold the column names")
    return header


def _fail(path: Path, reason: str, cause: BaseException | None = None) -> NoReturn:
    raise ImportDataError(str(path), [(HEADER_ROW, ImportDataError.FILE, reason)]) from cause
