"""Customer and order CSV import: validate every row, then upsert all or nothing.

Files are read as text (never guessing types), with or without a UTF-8 BOM, so Excel
exports work. Every problem is collected as (row, column, reason), where row is the
spreadsheet row number (the header is row 1), and one bad row stops the whole import:
a half-imported file is harder to fix than a rejected one. Re-importing the same file
changes nothing; the counts say what was new, what changed and what stayed the same.
"""

from __future__ import annotations

import csv
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import available_timezones

import pandas as pd
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import Clock
from edm.errors import ImportDataError
from edm.store import Customer, Order, upsert

Problem = tuple[int, str, str]
Record = dict[str, Any]
T = TypeVar("T")

CHUNK = 500
HEADER_ROW = 1
FIRST_DATA_ROW = 2
KINDS = ("company", "person")
LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z]{4})?(-(?:[A-Za-z]{2}|[0-9]{3}))?$")
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("1e12")  # Numeric(14, 2)

CUSTOMER_REQUIRED = ("external_id", "name", "kind", "email")
CUSTOMER_OPTIONAL = ("contact_name", "locale", "timezone", "industry", "birthday", "founded_on")
CUSTOMER_FIELDS = (
    "name", "email", "kind", "contact_name", "locale", "timezone", "industry", "birthday",
    "founded_on",
)
ORDER_REQUIRED = ("external_id", "customer_external_id", "ordered_at", "amount")
ORDER_OPTIONAL = ("product_line",)
ORDER_FIELDS = ("customer_id", "ordered_at", "amount", "product_line")
MAX_LENGTH = {
    "external_id": 64, "customer_external_id": 64, "name": 200, "contact_name": 200,
    "email": 320, "industry": 32, "product_line": 64,
}


@dataclass(frozen=True)
class ImportResult:
    """What an import did: `rows` read = `inserted` (new) + `updated` (changed) + `unchanged`."""

    rows: int
    inserted: int
    updated: int
    unchanged: int


def import_customers(sessions: sessionmaker[Session], path: Path, clock: Clock) -> ImportResult:
    """Validate `path` (customers.csv) and upsert its rows by external_id in one transaction."""
    frame = read_csv(path, CUSTOMER_REQUIRED, CUSTOMER_OPTIONAL)
    records, problems = parse_customers(frame)
    if problems:
        raise ImportDataError(str(path), problems)
    now = clock.now()
    with sessions.begin() as session:
        stored = _stored(session, Customer, CUSTOMER_FIELDS, [r["external_id"] for r in records])
        return _write(session, Customer, records, stored, CUSTOMER_FIELDS, {"created_at": now})


def import_orders(sessions: sessionmaker[Session], path: Path) -> ImportResult:
    """Validate `path` (orders.csv) against the stored customers and upsert by external_id.

    Customers must be imported first: an order naming an unknown customer is a bad row.
    """
    frame = read_csv(path, ORDER_REQUIRED, ORDER_OPTIONAL)
    with sessions.begin() as session:
        wanted = sorted(set(frame["customer_external_id"]) - {""})
        customer_ids = _customer_ids(session, wanted)
        records, problems = parse_orders(frame, customer_ids)
        if problems:
            raise ImportDataError(str(path), problems)
        stored = _stored(session, Order, ORDER_FIELDS, [r["external_id"] for r in records])
        return _write(session, Order, records, stored, ORDER_FIELDS, {})


def read_csv(path: Path, required: Sequence[str], optional: Sequence[str]) -> pd.DataFrame:
    """The file as stripped strings with every known column present (missing optional = "").

    Fully blank lines are dropped; the index keeps each row's spreadsheet row number.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                skip_blank_lines=False,
                index_col=False,
            )
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        problems = _ragged_rows(path) or [(HEADER_ROW, ImportDataError.FILE, f"cannot be read as CSV: {exc}")]
        raise ImportDataError(str(path), problems) from exc
    except FileNotFoundError as exc:
        raise ImportDataError(str(path), [(HEADER_ROW, ImportDataError.FILE, "file not found")]) from exc
    except pd.errors.EmptyDataError as exc:
        raise ImportDataError(str(path), [(HEADER_ROW, ImportDataError.FILE, "file is empty")]) from exc
    except UnicodeDecodeError as exc:
        reason = "not a UTF-8 text file; save it as 'CSV UTF-8'"
        raise ImportDataError(str(path), [(HEADER_ROW, ImportDataError.FILE, reason)]) from exc
    except (OSError, ValueError) as exc:
        reason = f"cannot be read as CSV: {exc}"
        raise ImportDataError(str(path), [(HEADER_ROW, ImportDataError.FILE, reason)]) from exc
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        problems = [(HEADER_ROW, c, "required column is missing") for c in missing]
        raise ImportDataError(str(path), problems)
    frame = frame.reindex(columns=[*required, *optional], fill_value="")
    frame = frame.map(lambda v: v.strip() if isinstance(v, str) else "")
    frame.index = pd.RangeIndex(FIRST_DATA_ROW, FIRST_DATA_ROW + len(frame))
    return frame[(frame != "").any(axis=1)]


def _ragged_rows(path: Path) -> list[Problem]:
    """Rows with more values than the header has columns, which pandas cannot place."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            records = list(csv.reader(file))
    except (OSError, ValueError, csv.Error):
        return []
    width = len(records[0]) if records else 0
    reason = "{} values but the header has {} columns; quote values that contain commas"
    return [
        (row, "(row)", reason.format(len(values), width))
        for row, values in enumerate(records[1:], start=FIRST_DATA_ROW)
        if len(values) > width
    ]


def parse_customers(frame: pd.DataFrame) -> tuple[list[Record], list[Problem]]:
    """Each row as a `customers` record, or the problems that keep it out."""
    records: list[Record] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for row, values in _rows(frame):
        check = _RowCheck(row, values)
        external_id = check.required("external_id")
        record: Record = {
            "external_id": external_id,
            "name": check.required("name"),
            "kind": check.required("kind", _kind),
            "email": check.required("email", _email),
            "contact_name": check.optional("contact_name"),
            "locale": check.optional("locale", _locale) or "en",
            "timezone": check.optional("timezone", _timezone) or "UTC",
            "industry": check.optional("industry"),
            "birthday": check.optional("birthday", _date),
            "founded_on": check.optional("founded_on", _date),
        }
        check.unique(external_id, seen)
        problems.extend(check.problems)
        if not check.problems:
            records.append(record)
    return records, problems


def parse_orders(
    frame: pd.DataFrame, customer_ids: Mapping[str, int]
) -> tuple[list[Record], list[Problem]]:
    """Each row as an `orders` record, given the store's customer ids by external_id."""
    records: list[Record] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}

    def known_customer(value: str) -> int:
        if value not in customer_ids:
            raise ValueError(f"no customer {value!r} in the store; import customers first")
        return customer_ids[value]

    for row, values in _rows(frame):
        check = _RowCheck(row, values)
        external_id = check.required("external_id")
        record: Record = {
            "external_id": external_id,
            "customer_id": check.required("customer_external_id", known_customer),
            "ordered_at": check.required("ordered_at", _timestamp),
            "amount": check.required("amount", _amount),
            "product_line": check.optional("product_line"),
        }
        check.unique(external_id, seen)
        problems.extend(check.problems)
        if not check.problems:
            records.append(record)
    return records, problems


class _RowCheck:
    """Parses one row's cells, collecting a problem per bad cell instead of stopping."""

    def __init__(self, row: int, values: Mapping[str, str]) -> None:
        self.row = row
        self.values = values
        self.problems: list[Problem] = []

    def required(self, column: str, parse: Callable[[str], Any] = str) -> Any:
        if not self.values[column]:
            self.problems.append((self.row, column, "value is required"))
            return None
        return self.optional(column, parse)

    def optional(self, column: str, parse: Callable[[str], Any] = str) -> Any:
        raw = self.values[column]
        if not raw:
            return None
        limit = MAX_LENGTH.get(column)
        if limit is not None and len(raw) > limit:
            self.problems.append((self.row, column, f"longer than {limit} characters"))
            return None
        try:
            return parse(raw)
        except ValueError as exc:
            self.problems.append((self.row, column, str(exc)))
            return None

    def unique(self, external_id: str | None, seen: dict[str, int]) -> None:
        if not external_id:
            return
        if external_id in seen:
            reason = f"duplicate external_id {external_id!r}, first on row {seen[external_id]}"
            self.problems.append((self.row, "external_id", reason))
        else:
            seen[external_id] = self.row


def _rows(frame: pd.DataFrame) -> Iterator[tuple[int, dict[str, str]]]:
    columns = list(frame.columns)
    for row, values in zip(frame.index, frame.itertuples(index=False, name=None), strict=True):
        yield int(row), dict(zip(columns, values, strict=True))


def _kind(value: str) -> str:
    kind = value.lower()
    if kind not in KINDS:
        raise ValueError(f"{value!r} is not one of: {', '.join(KINDS)}")
    return kind


def _email(value: str) -> str:
    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError as exc:
        raise ValueError(f"invalid email {value!r}: {exc}") from exc


def _locale(value: str) -> str:
    """A BCP-47 tag; `zh_CN` (as some exports write it) is accepted as `zh-CN`."""
    locale = value.replace("_", "-")
    if not LOCALE.match(locale):
        raise ValueError(f"{value!r} is not a locale like en, zh-CN or zh-Hant-TW")
    return locale


def _timezone(value: str) -> str:
    if value not in _time_zones():
        raise ValueError(f"{value!r} is not an IANA time zone like Asia/Shanghai")
    return value


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a date like 2024-01-31") from exc


def _timestamp(value: str) -> datetime:
    """An ISO date or datetime in UTC; a time without an offset is taken as UTC."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a date or time like 2024-01-31T09:30+08:00") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _amount(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a plain number like 1234.50") from exc
    if not amount.is_finite():
        raise ValueError(f"{value!r} is not a plain number like 1234.50")
    if amount < 0:
        raise ValueError(f"{value!r} is negative; amounts must be 0 or more")
    if amount >= MAX_AMOUNT:
        raise ValueError(f"{value!r} is too large (at most 999999999999.99)")
    if amount != amount.quantize(CENT, rounding=ROUND_DOWN):
        raise ValueError(f"{value!r} has more than 2 decimal places")
    return amount.quantize(CENT)


def _chunks(items: Sequence[T], size: int = CHUNK) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _customer_ids(session: Session, external_ids: Sequence[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for chunk in _chunks(external_ids):
        query = select(Customer.external_id, Customer.id).where(Customer.external_id.in_(chunk))
        found.update({external_id: id_ for external_id, id_ in session.execute(query)})
    return found


def _stored(
    session: Session,
    model: type[Customer] | type[Order],
    fields: Sequence[str],
    external_ids: Sequence[str],
) -> dict[str, tuple[Any, ...]]:
    """The stored values of `fields` for the given external ids, to tell changes apart."""
    columns = [getattr(model, f) for f in fields]
    stored: dict[str, tuple[Any, ...]] = {}
    for chunk in _chunks(external_ids):
        query = select(model.external_id, *columns).where(model.external_id.in_(chunk))
        stored.update({row[0]: tuple(row[1:]) for row in session.execute(query)})
    return stored


def _write(
    session: Session,
    model: type[Customer] | type[Order],
    records: Sequence[Record],
    stored: Mapping[str, tuple[Any, ...]],
    fields: Sequence[str],
    on_insert: Mapping[str, Any],
) -> ImportResult:
    """Upsert the new and changed records; leave unchanged ones alone."""
    fresh = [{**r, **on_insert} for r in records if r["external_id"] not in stored]
    changed = [
        {**r, **on_insert}
        for r in records
        if r["external_id"] in stored
        and stored[r["external_id"]] != tuple(r[f] for f in fields)
    ]
    upsert(session, model, [*fresh, *changed], key="external_id", update=fields)
    return ImportResult(
        rows=len(records),
        inserted=len(fresh),
        updated=len(changed),
        unchanged=len(records) - len(fresh) - len(changed),
    )
