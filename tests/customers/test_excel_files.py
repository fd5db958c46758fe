"""Files as Excel and CRMs write them, through `edm import`: Chinese code pages, UTF-16, BOMs,
dates like 2024/3/5, Excel day numbers, and rejects files that a spreadsheet opens safely."""

from __future__ import annotations

import csv
import re
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy import select

from edm.cli import main
from edm.config import load_settings
from edm.runner import open_store
from edm.store import Customer, Order
from tests.customers.cli import run_import

SIMPLIFIED = [  # (external_id, name, contact, address-like industry text)
    ("C1", "上海东方贸易有限公司", "张伟"),
    ("C2", "北京华信科技有限公司", "王芳"),
    ("C3", "深圳市腾达电子有限公司", "李娜"),
]
TRADITIONAL = [
    ("C1", "台北貿易股份有限公司", "陳美玲"),
    ("C2", "高雄電子有限公司", "黃國華"),
    ("C3", "香港九龍灣物流有限公司", "鄧麗君"),
]
ORDERS = [("O1", "C1", "2026/3/11 16:23", datetime(2026, 3, 11, 16, 23, tzinfo=UTC), "1200.50"),
          ("O2", "C2", "2024/3/5", datetime(2024, 3, 5, tzinfo=UTC), "88"),
          ("O3", "C3", "2025/12/31 9:05", datetime(2025, 12, 31, 9, 5, tzinfo=UTC), "15.10")]


def _customers_text(rows: list[tuple[str, str, str]]) -> str:
    lines = ["external_id,name,kind,email,contact_name,founded_on"]
    lines += [f"{i},{name},company,{i.lower()}@example.com,{contact},2001/7/{n + 1}"
              for n, (i, name, contact) in enumerate(rows)]
    return "\r\n".join(lines) + "\r\n"  # Excel ends lines with CR LF


def _orders_text(rows: list[tuple[str, str, str]]) -> str:
    """Orders whose product line is in the file's script (the first characters of a customer name)."""
    lines = ["external_id,customer_external_id,ordered_at,amount,product_line"]
    lines += [f"{o},{c},{when},{amount},{row[1][:4]}"
              for (o, c, when, _, amount), row in zip(ORDERS, rows, strict=True)]
    return "\r\n".join(lines) + "\r\n"


Stored = tuple[list[tuple[str, str, str | None, date | None]], list[tuple[str, datetime]]]


def _stored(folder: Path) -> Stored:
    with open_store(load_settings(folder / "edm.yaml"))() as session:
        customers = session.execute(select(Customer.external_id, Customer.name, Customer.contact_name,
                                           Customer.founded_on).order_by(Customer.external_id)).all()
        orders = session.execute(select(Order.external_id, Order.ordered_at)
                                 .order_by(Order.external_id)).all()
    return [tuple(row) for row in customers], [tuple(row) for row in orders]  # type: ignore[misc]


ENCODINGS = [
    # (rows, how the bytes are made, what the output says)
    (SIMPLIFIED, lambda text: text.encode("gbk"), "GB18030 (detected)"),
    (TRADITIONAL, lambda text: text.encode("big5"), "Big5 (detected)"),
    (SIMPLIFIED, lambda text: text.encode("utf-16"), "UTF-16 LE with BOM (detected)"),
    (TRADITIONAL, lambda text: b"\xfe\xff" + text.encode("utf-16-be"), "UTF-16 BE with BOM (detected)"),
    (SIMPLIFIED, lambda text: text.encode("utf-8-sig"), "UTF-8 with BOM (detected)"),
    (TRADITIONAL, lambda text: text.encode("utf-8"), "UTF-8 (detected)"),
]


@pytest.mark.parametrize(("rows", "encode", "said"), ENCODINGS,
                         ids=["gbk", "big5", "utf-16-le", "utf-16-be", "utf-8-bom", "utf-8"])
def test_excel_csv_in_any_code_page_imports_as_the_intended_text(
    folder: Path, rows: list[tuple[str, str, str]], encode: object, said: str
) -> None:
    assert callable(encode)
    customers = folder / "customers.csv"
    customers.write_bytes(encode(_customers_text(rows)))
    orders = folder / "orders.csv"
    orders.write_bytes(encode(_orders_text(rows)))
    assert run_import(folder, "customers", str(customers)) == (
        0, f"{customers}: 3 rows, 3 new, 0 updated, 0 unchanged; read as {said}\n")
    assert run_import(folder, "orders", str(orders)) == (
        0, f"{orders}: 3 rows, 3 new, 0 updated, 0 unchanged; read as {said}\n")
    stored_customers, stored_orders = _stored(folder)
    assert stored_customers == [(i, name, contact, date(2001, 7, n + 1))
                                for n, (i, name, contact) in enumerate(rows)]
    assert stored_orders == [(o, moment) for o, _, _, moment, _ in ORDERS]
    with open_store(load_settings(folder / "edm.yaml"))() as session:
        lines = list(session.scalars(select(Order.product_line).order_by(Order.external_id)))
    assert lines == [name[:4] for _, name, _ in rows]


def test_short_gbk_and_big5_files_are_told_apart(folder: Path) -> None:
    """One name each: the shortest files a user may try first."""
    for n, (name, encoding, said) in enumerate([("张伟", "gbk", "GB18030"), ("陳美玲", "big5", "Big5"),
                                               ("李娜", "gbk", "GB18030"), ("鄧麗君", "big5", "Big5")]):
        path = folder / f"one-{n}.csv"
        path.write_bytes(f"external_id,name,kind,email\nP{n},{name},person,p{n}@example.com\n".encode(encoding))
        code, output = run_import(folder, "customers", str(path))
        assert (code, output.rstrip().rsplit("read as ", 1)[-1]) == (0, f"{said} (detected)"), output
    stored_customers, _ = _stored(folder)
    assert [name for _, name, _, _ in stored_customers] == ["张伟", "陳美玲", "李娜", "鄧麗君"]


@pytest.mark.parametrize("encode", [lambda text: text.encode("big5"), lambda text: text.encode("utf-8")],
                         ids=["big5", "utf-8"])
def test_a_file_not_valid_in_the_named_encoding_is_refused_naming_the_row(folder: Path,
                                                                           encode: object) -> None:
    assert callable(encode)
    text = ("external_id,name,kind,email\nC1,Acme,company,a@example.com\n"
            "C2,香港九龍灣,company,b@example.com\n")
    path = folder / "customers.csv"
    path.write_bytes(encode(text))
    bad_at = len(encode("external_id,name,kind,email\nC1,Acme,company,a@example.com\nC2,"))
    code, output = run_import(folder, "customers", str(path), "--encoding", "gbk")
    assert code == 1
    found = re.search(r"row 3 is not valid GBK text \(byte ([0-9]+): 0x", output)
    assert found is not None, output
    assert bad_at <= int(found[1]) < bad_at + len(encode("香港九龍灣"))  # within the Chinese name
    assert "Traceback" not in output
    assert _stored(folder) == ([], [])


def test_the_wrong_encoding_is_refused_even_deep_in_a_streamed_file(folder: Path) -> None:
    path = folder / "customers.csv"
    good = "".join(f"C{n},张伟,person,c{n}@example.com\n" for n in range(3000))
    big5_row = "C9,鄧麗君,person,x@example.com\n".encode("big5")
    path.write_bytes(("external_id,name,kind,email\n" + good).encode("gbk") + big5_row)
    settings = folder / "edm.yaml"
    config = yaml.safe_load(settings.read_text())
    config["imports"]["chunk_rows"] = 500
    config["imports"]["encoding"] = "gbk"
    settings.write_text(yaml.safe_dump(config, allow_unicode=True))
    code, output = run_import(folder, "customers", str(path))
    assert code == 1 and "row 3002 is not valid GBK text" in output, output
    assert "imports.encoding" not in output or "GBK" in output
    assert _stored(folder) == ([], [])


def test_an_unknown_encoding_is_a_usage_error(folder: Path) -> None:
    path = folder / "customers.csv"
    path.write_text("external_id,name,kind,email\n")
    result = CliRunner().invoke(main, ["import", "customers", str(path), "--encoding", "klingon",
                                       "--config", str(folder / "edm.yaml")])
    assert result.exit_code == 2 and "unknown encoding 'klingon'" in result.output  # before any store


SPELLINGS = [("2024/3/5", "2024-03-05 00:00"), ("2024/3/5 16:23", "2024-03-05 16:23"),
             ("2024-3-5", "2024-03-05 00:00"), ("2024年3月5日", "2024-03-05 00:00"),
             ("2024年3月5日 16:23", "2024-03-05 16:23"), ("2024.3.5", "2024-03-05 00:00"),
             ("2024-03-05T16:23:00+08:00", "2024-03-05 08:23"), ("45356", "2024-03-05 00:00"),
             ("45356.68", "2024-03-05 16:19"), ("13/03/2024", "2024-03-13 00:00"),
             ("3/13/2024 7:05", "2024-03-13 07:05"), ("20240305", "2024-03-05 00:00")]


def _customers_and(folder: Path, column: str, values: list[str], *, config: dict[str, str] | None = None
                   ) -> tuple[int, str]:
    customers = folder / "customers.csv"
    customers.write_text("external_id,name,kind,email\nC1,Acme,company,a@example.com\n", encoding="utf-8")
    assert run_import(folder, "customers", str(customers))[0] == 0
    if config:
        settings = folder / "edm.yaml"
        loaded = yaml.safe_load(settings.read_text())
        loaded["imports"].update(config)
        settings.write_text(yaml.safe_dump(loaded, allow_unicode=True))
    orders = folder / "orders.csv"
    lines = [f"external_id,customer_external_id,{column},amount"]
    lines += [f"O{n:02d},C1,{value},10" for n, value in enumerate(values)]
    orders.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return run_import(folder, "orders", str(orders))


def test_every_date_spelling_imports_through_the_cli(folder: Path) -> None:
    assert _customers_and(folder, "ordered_at", [text for text, _ in SPELLINGS])[0] == 0
    _, orders = _stored(folder)
    assert [f"{moment:%Y-%m-%d %H:%M}" for _, moment in orders] == [want for _, want in SPELLINGS]


def test_an_ambiguous_day_and_month_names_the_row_and_column(folder: Path) -> None:
    code, output = _customers_and(folder, "ordered_at", ["2024/3/5", "05/03/2024"])
    assert code == 1
    assert ("row 3, column 'ordered_at': '05/03/2024' could be 5 March or 3 May: "
            "set imports.date_format to dmy or mdy") in output
    assert _stored(folder)[1] == []


@pytest.mark.parametrize(("date_format", "stored"), [
    ("dmy", datetime(2024, 3, 5, tzinfo=UTC)), ("mdy", datetime(2024, 5, 3, tzinfo=UTC)),
    ("%d.%m.%Y", datetime(2024, 3, 5, tzinfo=UTC))])
def test_imports_date_format_settles_day_and_month(folder: Path, date_format: str, stored: datetime) -> None:
    text = "05.03.2024" if "%" in date_format else "05/03/2024"
    assert _customers_and(folder, "ordered_at", [text], config={"date_format": date_format})[0] == 0
    assert _stored(folder)[1] == [("O00", stored)]


def test_an_excel_day_number_is_a_date_in_a_date_column(folder: Path) -> None:
    path = folder / "customers.csv"
    path.write_text("external_id,name,kind,email,birthday,founded_on\n"
                    "C1,Acme,company,a@example.com,45356,1985年7月1日\n", encoding="utf-8")
    assert run_import(folder, "customers", str(path))[0] == 0
    with open_store(load_settings(folder / "edm.yaml"))() as session:
        assert session.execute(select(Customer.birthday, Customer.founded_on)).one() == (
            date(2024, 3, 5), date(1985, 7, 1))


def test_a_rejects_file_neutralises_formulas(folder: Path) -> None:
    path = folder / "customers.csv"
    path.write_text("external_id,name,kind,email,contact_name\n"
                    'C1,"=HYPERLINK(""http://evil.example"",""x"")",robot,a@example.com,@SUM(A1)\n'
                    "C2,Good,company,b@example.com,Ann\n"
                    "C3,+86 21 5555,robot,c@example.com,-2+3+cmd|' /C calc'!A0\n", encoding="utf-8")
    rejects = folder / "bad.csv"
    code, output = run_import(folder, "customers", str(path), "--skip-invalid", "--rejects", str(rejects))
    assert code == 0, output
    with rejects.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(file))
    assert [row[3:] for row in rows[1:]] == [
        ["C1", "'=HYPERLINK(\"http://evil.example\",\"x\")", "robot", "a@example.com", "'@SUM(A1)"],
        ["C3", "'+86 21 5555", "robot", "c@example.com", "'-2+3+cmd|' /C calc'!A0"],
    ]
