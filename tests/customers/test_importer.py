from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.customers import ImportResult, import_customers, import_orders
from edm.errors import EdmError, ImportDataError
from edm.store import Customer, Order

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
CUSTOMER_HEADER = "external_id,name,kind,contact_name,email,locale,timezone,industry,birthday,founded_on"
CUSTOMERS = f"""{CUSTOMER_HEADER}
c1,上海华东阀门有限公司,company,王芳,Wang.Fang@Example.COM,zh-CN,Asia/Shanghai,manufacturing,,2001-05-18
c2,Ann Smith,person,,ann@example.com,en,Europe/London,,1990-02-28,
c3,陈小明,person,,chen@example.cn,zh-Hant-TW,Asia/Taipei,,,
"""
ORDERS = """external_id,customer_external_id,ordered_at,amount,product_line
o1,c1,2025-01-15,1200.50,valves
o2,c1,2025-06-01T10:00:00+08:00,300,pumps
o3,c2,2025-07-04 09:30,19.99,
"""


def _write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def _import_customers(sessions: sessionmaker[Session], path: Path) -> ImportResult:
    return import_customers(sessions, path, FixedClock(NOW))


def _count(sessions: sessionmaker[Session], model: type[Customer] | type[Order]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def _problems(exc: pytest.ExceptionInfo[ImportDataError]) -> list[tuple[int, str]]:
    return [(row, column) for row, column, _ in exc.value.problems]


def test_customers_are_imported_with_defaults_and_normalized_email(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text = "external_id,name,kind,email\nc9,Bob,Person,bob@example.com\n"
    result = _import_customers(sessions, _write(tmp_path, "c.csv", text))
    assert result == ImportResult(rows=1, inserted=1, updated=0, unchanged=0)
    with sessions() as session:
        bob = session.scalars(select(Customer)).one()
    assert (bob.locale, bob.timezone, bob.kind, bob.contact_name) == ("en", "UTC", "person", None)
    assert bob.created_at == NOW

    _import_customers(sessions, _write(tmp_path, "c.csv", CUSTOMERS))
    with sessions() as session:
        wang = session.scalars(select(Customer).where(Customer.external_id == "c1")).one()
    assert wang.email == "Wang.Fang@example.com"
    assert wang.founded_on == date(2001, 5, 18) and wang.birthday is None


def test_excel_style_headers_and_locales_are_accepted(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text = "External_ID , Name,Kind,Email,Locale\n c1 ,王芳,person,wf@example.com,zh_CN\n"
    _import_customers(sessions, _write(tmp_path, "customers.csv", text))
    with sessions() as session:
        customer = session.scalars(select(Customer)).one()
    assert (customer.external_id, customer.locale) == ("c1", "zh-CN")


def test_chinese_names_round_trip_from_a_bom_file(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = _write(tmp_path, "customers.csv", CUSTOMERS, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    result = _import_customers(sessions, path)
    assert result.inserted == 3
    with sessions() as session:
        names = dict(session.execute(select(Customer.external_id, Customer.name)).all())
        locales = dict(session.execute(select(Customer.external_id, Customer.locale)).all())
    assert names["c1"] == "上海华东阀门有限公司" and names["c3"] == "陈小明"
    assert locales["c3"] == "zh-Hant-TW"


def test_reimporting_the_same_files_changes_nothing(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    customers = _write(tmp_path, "customers.csv", CUSTOMERS)
    orders = _write(tmp_path, "orders.csv", ORDERS)
    assert _import_customers(sessions, customers) == ImportResult(3, 3, 0, 0)
    assert import_orders(sessions, orders) == ImportResult(3, 3, 0, 0)
    with sessions() as session:
        before = session.execute(select(Customer.id, Customer.created_at)).all()
    assert _import_customers(sessions, customers) == ImportResult(3, 0, 0, 3)
    assert import_orders(sessions, orders) == ImportResult(3, 0, 0, 3)
    with sessions() as session:
        assert session.execute(select(Customer.id, Customer.created_at)).all() == before
    assert (_count(sessions, Customer), _count(sessions, Order)) == (3, 3)


def test_a_changed_file_updates_only_the_changed_rows(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _import_customers(sessions, _write(tmp_path, "customers.csv", CUSTOMERS))
    import_orders(sessions, _write(tmp_path, "orders.csv", ORDERS))
    later = FixedClock(datetime(2026, 4, 1, tzinfo=UTC))
    changed = CUSTOMERS.replace("Ann Smith", "Ann Jones") + "c4,新客户,company,,new@example.com\n"
    result = import_customers(sessions, _write(tmp_path, "customers.csv", changed), later)
    assert result == ImportResult(rows=4, inserted=1, updated=1, unchanged=2)
    orders = ORDERS.replace("19.99", "29.99") + "o4,c4,2026-03-01,0,\n"
    assert import_orders(sessions, _write(tmp_path, "orders.csv", orders)) == ImportResult(4, 1, 1, 2)
    with sessions() as session:
        ann = session.scalars(select(Customer).where(Customer.external_id == "c2")).one()
        amount = session.scalar(select(Order.amount).where(Order.external_id == "o3"))
    assert ann.name == "Ann Jones" and ann.created_at == NOW
    assert amount == Decimal("29.99")


def test_order_times_are_stored_in_utc(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    _import_customers(sessions, _write(tmp_path, "customers.csv", CUSTOMERS))
    import_orders(sessions, _write(tmp_path, "orders.csv", ORDERS))
    with sessions() as session:
        times = dict(session.execute(select(Order.external_id, Order.ordered_at)).all())
        amounts = dict(session.execute(select(Order.external_id, Order.amount)).all())
    assert times == {
        "o1": datetime(2025, 1, 15, tzinfo=UTC),
        "o2": datetime(2025, 6, 1, 2, 0, tzinfo=UTC),
        "o3": datetime(2025, 7, 4, 9, 30, tzinfo=UTC),
    }
    assert amounts == {"o1": Decimal("1200.50"), "o2": Decimal("300.00"), "o3": Decimal("19.99")}


def test_every_bad_customer_row_is_named_by_row_and_column(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text = f"""{CUSTOMER_HEADER}
c1,Good,person,,good@example.com,,,,,
c2,Bad Mail,person,,not-an-email,,,,,
c3,Bad Date,person,,c3@example.com,,,,1990-13-01,
c1,Duplicate,person,,dup@example.com,,,,,
c5,,robot,,c5@example.com,chinese,Mars/Olympus,,,31/12/2000
"""
    path = _write(tmp_path, "customers.csv", text)
    with pytest.raises(ImportDataError) as exc:
        _import_customers(sessions, path)
    assert _problems(exc) == [
        (3, "email"),
        (4, "birthday"),
        (5, "external_id"),
        (6, "name"),
        (6, "kind"),
        (6, "locale"),
        (6, "timezone"),
        (6, "founded_on"),
    ]
    assert "first on row 2" in exc.value.problems[2][2]
    assert str(path) in str(exc.value) and "nothing was imported" in str(exc.value)
    assert _count(sessions, Customer) == 0


def test_every_bad_order_row_is_named_and_nothing_is_written(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _import_customers(sessions, _write(tmp_path, "customers.csv", CUSTOMERS))
    text = """external_id,customer_external_id,ordered_at,amount,product_line
o1,c1,2025-01-15,100,
o2,c1,2025-02-30,100,
o3,c2,2025-03-01,-5,
o4,nobody,2025-03-01,5,
o5,c2,2025-03-01,1.005,
o6,c2,2025-03-01,¥12,
o1,c2,2025-03-01,5,
"""
    with pytest.raises(ImportDataError) as exc:
        import_orders(sessions, _write(tmp_path, "orders.csv", text))
    assert _problems(exc) == [
        (3, "ordered_at"),
        (4, "amount"),
        (5, "customer_external_id"),
        (6, "amount"),
        (7, "amount"),
        (8, "external_id"),
    ]
    reasons = [reason for _, _, reason in exc.value.problems]
    assert "negative" in reasons[1] and "import customers first" in reasons[2]
    assert "2 decimal places" in reasons[3]
    assert _count(sessions, Order) == 0


def test_a_missing_column_is_reported_on_the_header_row(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = _write(tmp_path, "customers.csv", "external_id,name,kind\nc1,Ann,person\n")
    with pytest.raises(ImportDataError) as exc:
        _import_customers(sessions, path)
    assert exc.value.problems == [(1, "email", "required column is missing")]


def test_blank_lines_keep_spreadsheet_row_numbers(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text = "external_id,name,kind,email\n\nc1,Ann,person,ann@example.com\n,,,\nc2,Bo,person,bad\n"
    with pytest.raises(ImportDataError) as exc:
        _import_customers(sessions, _write(tmp_path, "customers.csv", text))
    assert _problems(exc) == [(5, "email")]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("missing.csv", None),
        ("empty.csv", b""),
        ("book.xlsx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe\x80\x81"),
        ("ragged.csv", b'external_id,name,kind,email\nc1,"Ann,person,a@example.com\n'),
    ],
)
def test_an_unreadable_file_is_an_edm_error_naming_the_path(
    sessions: sessionmaker[Session], tmp_path: Path, name: str, content: bytes | None
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(EdmError, match=name):
        _import_customers(sessions, path)


def test_a_row_with_too_many_values_is_named(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text = "external_id,name,kind,email\nc1,Ann,person,ann@example.com,extra\n"
    with pytest.raises(ImportDataError) as exc:
        _import_customers(sessions, _write(tmp_path, "customers.csv", text))
    assert _problems(exc) == [(2, "(row)")]
    assert "5 values but the header has 4 columns" in exc.value.problems[0][2]


def test_many_rows_are_imported_in_batches(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    lines = [f"c{i},Customer {i},person,c{i}@example.com" for i in range(1234)]
    text = "external_id,name,kind,email\n" + "\n".join(lines) + "\n"
    result = _import_customers(sessions, _write(tmp_path, "customers.csv", text))
    assert result == ImportResult(1234, 1234, 0, 0)
    orders = [f"o{i},c{i % 1234},2025-01-01,{i}.25" for i in range(2500)]
    text = "external_id,customer_external_id,ordered_at,amount\n" + "\n".join(orders) + "\n"
    assert import_orders(sessions, _write(tmp_path, "orders.csv", text)).inserted == 2500
    assert _count(sessions, Order) == 2500
