"""Reading XLSX like CSV: real date and number cells become the text a CSV export would hold."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy.orm import Session, sessionmaker

from edm.config import ImportSettings
from edm.customers.importer import ImportResult, import_customers, import_orders
from edm.errors import ImportDataError
from tests.customers.test_importer import CLOCK, CUSTOMERS, ORDERS, snapshot, write


def _workbook(path: Path, rows: list[list[Any]], first_sheet: str = "Orders") -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = first_sheet
    for values in rows:
        sheet.append(values)
    book.create_sheet("Notes").append(["not", "this", "sheet"])
    book.save(path)
    return path


def test_an_xlsx_file_imports_the_same_rows_as_the_equivalent_csv(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    customers = _workbook(tmp_path / "customers.xlsx", [
        ["external_id", "name", "kind", "contact_name", "industry", "email", "locale", "timezone", "birthday",
         "founded_on"],
        ["c1", "上海华东阀门有限公司", "company", "王芳", "制造业", "Wang.Fang@Example.COM", "zh-CN",
         "Asia/Shanghai", None, datetime(2001, 5, 18)],  # Excel keeps dates as datetimes
        ["c2", "Ann Smith", "person", None, None, "ann@example.com", "en", "Europe/London", date(1990, 2, 28),
         None],
        ["c3", "陈小明", "person", None, None, "chen@example.cn", "zh-Hant-TW", "Asia/Taipei", None, None],
    ])
    orders = _workbook(tmp_path / "orders.xlsx", [
        ["external_id", "customer_external_id", "ordered_at", "amount", "product_line", "cost", "margin"],
        ["o1", "c1", datetime(2025, 1, 15), 1200.5, "valves", 1000, None],
        ["o2", "c1", "2025-06-01T10:00:00+08:00", 300, "pumps", None, -15.0],
        ["o3", "c2", datetime(2025, 7, 4, 9, 30), 19.99, None, None, None],
        ["o4", "c3", datetime(2025, 8, 1), 80.0, "valves", 100, -20],
    ])
    assert import_customers(any_sessions, customers, CLOCK) == ImportResult(3, 3, 0, 0)
    assert import_orders(any_sessions, orders) == ImportResult(4, 4, 0, 0)
    from_xlsx = snapshot(any_sessions)
    csv_customers = write(tmp_path, "customers.csv", CUSTOMERS)
    assert import_customers(any_sessions, csv_customers, CLOCK) == ImportResult(3, 0, 0, 3)
    assert import_orders(any_sessions, write(tmp_path, "orders.csv", ORDERS)) == ImportResult(4, 0, 0, 4)
    assert snapshot(any_sessions) == from_xlsx


def test_xlsx_problems_name_the_spreadsheet_row_and_the_header_as_written(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_customers(sessions, write(tmp_path, "customers.csv", CUSTOMERS), CLOCK)
    path = _workbook(tmp_path / "orders.xlsx", [
        ["Order No", "Customer", "Date", "Total"],
        ["o1", "c1", datetime(2025, 1, 15), 10],
        [],  # an empty row: skipped, but still counted
        ["o2", "c1", "31/02/2025", 10.125],
        ["o3", "c9", datetime(2025, 1, 15), True],
    ])
    settings = ImportSettings(columns={"orders": {
        "external_id": "order no", "customer_external_id": "CUSTOMER", "ordered_at": "date",
        "amount": "total"}})
    with pytest.raises(ImportDataError) as exc:
        import_orders(sessions, path, settings=settings)
    assert [(row, column) for row, column, _ in exc.value.problems] == [
        (4, "Date"), (4, "Total"), (5, "Customer"), (5, "Total")]
    assert exc.value.problems[1][2] == "'10.125' has more than 2 decimal places"
    assert exc.value.problems[3][2] == "'TRUE' is not a plain number like 1234.50"


def test_a_csv_value_spanning_lines_is_one_spreadsheet_row(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text = 'external_id,name,kind,email\nc1,"Line one\nline two",company,a@example.com\nc2,Bo,person,bad\n'
    with pytest.raises(ImportDataError) as exc:
        import_customers(sessions, write(tmp_path, "customers.csv", text), CLOCK)
    assert [(row, column) for row, column, _ in exc.value.problems] == [(3, "email")]


def test_an_empty_workbook_is_a_problem_with_the_file(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = _workbook(tmp_path / "empty.xlsx", [])
    with pytest.raises(ImportDataError, match="the first sheet is empty"):
        import_customers(sessions, path, CLOCK)
