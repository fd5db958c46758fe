"""Importing each kind of file: insert, re-import (idempotent), update, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.config import ImportSettings
from edm.customers.importer import (
    ImportResult,
    import_contacts,
    import_customers,
    import_orders,
    import_wallet,
)
from edm.errors import ConfigError, ImportDataError
from edm.store import (
    Base,
    Contact,
    Customer,
    Order,
    WalletEstimate,
    create_schema,
    make_engine,
    session_factory,
)

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
CLOCK = FixedClock(NOW)
CUSTOMER_HEADER = "external_id,name,kind,contact_name,industry,email,locale,timezone,birthday,founded_on"
CUSTOMERS = f"""{CUSTOMER_HEADER}
c1,上海华东阀门有限公司,company,王芳,制造业,Wang.Fang@Example.COM,zh-CN,Asia/Shanghai,,2001-05-18
c2,Ann Smith,person,,,ann@example.com,en,Europe/London,1990-02-28,
c3,陈小明,person,,,chen@example.cn,zh-Hant-TW,Asia/Taipei,,
"""
ORDERS = """external_id,customer_external_id,ordered_at,amount,product_line,cost,margin
o1,c1,2025-01-15,1200.50,valves,1000,
o2,c1,2025-06-01T10:00:00+08:00,300,pumps,,-15
o3,c2,2025-07-04 09:30,19.99,,,
o4,c3,2025-08-01T00:00Z,80,valves,100.00,-20
"""


def write(folder: Path, name: str, content: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_text(content, encoding=encoding)
    return path


def snapshot(sessions: sessionmaker[Session]) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in key order: to show that a failed import changed nothing."""
    with sessions() as session:
        return {
            table.name: [tuple(row) for row in session.execute(
                select(table).order_by(*table.primary_key.columns))]
            for table in Base.metadata.sorted_tables
        }


def test_customers_are_inserted_then_unchanged_then_updated(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write(tmp_path, "customers.csv", CUSTOMERS)
    assert import_customers(any_sessions, path, CLOCK) == ImportResult(3, 3, 0, 0)
    stored = snapshot(any_sessions)
    assert import_customers(any_sessions, path, CLOCK) == ImportResult(3, 0, 0, 3)
    assert snapshot(any_sessions) == stored

    later = FixedClock(datetime(2026, 4, 1, tzinfo=UTC))
    changed = CUSTOMERS.replace("Ann Smith", "Ann Jones") + "c4,新客户,company,,,new@example.com,,,,\n"
    result = import_customers(any_sessions, write(tmp_path, "customers.csv", changed), later)
    assert result == ImportResult(rows=4, inserted=1, updated=1, unchanged=2)
    with any_sessions() as session:
        customers = {c.external_id: c for c in session.scalars(select(Customer))}
    assert customers["c2"].name == "Ann Jones" and customers["c2"].created_at == NOW
    assert customers["c4"].created_at == later.now()
    assert customers["c1"].email == "Wang.Fang@example.com"  # the validator's normal form
    new = customers["c4"]
    assert (new.locale, new.timezone, new.contact_name) == ("en", "UTC", None)
    assert customers["c1"].founded_on == date(2001, 5, 18) and customers["c1"].industry == "制造业"


def test_orders_store_amounts_times_and_margins(any_sessions: sessionmaker[Session], tmp_path: Path) -> None:
    import_customers(any_sessions, write(tmp_path, "customers.csv", CUSTOMERS), CLOCK)
    path = write(tmp_path, "orders.csv", ORDERS)
    assert import_orders(any_sessions, path) == ImportResult(4, 4, 0, 0)
    assert import_orders(any_sessions, path) == ImportResult(4, 0, 0, 4)
    with any_sessions() as session:
        orders = {o.external_id: o for o in session.scalars(select(Order))}
        ids = {k: v for k, v in session.execute(select(Customer.external_id, Customer.id))}
    assert orders["o1"].ordered_at == datetime(2025, 1, 15, tzinfo=UTC)
    assert orders["o2"].ordered_at == datetime(2025, 6, 1, 2, 0, tzinfo=UTC)  # +08:00 stored as UTC
    assert orders["o3"].ordered_at == datetime(2025, 7, 4, 9, 30, tzinfo=UTC)
    assert [orders[k].amount for k in ("o1", "o2", "o3", "o4")] == [
        Decimal("1200.50"), Decimal("300.00"), Decimal("19.99"), Decimal("80.00")]
    assert orders["o1"].margin == Decimal("200.50")  # amount - cost
    assert orders["o2"].margin == Decimal("-15.00")  # given: a loss-making deal
    assert orders["o3"].margin is None  # neither cost nor margin known
    assert orders["o4"].margin == Decimal("-20.00")  # given and consistent with the cost
    assert orders["o1"].customer_id == ids["c1"] and orders["o3"].customer_id == ids["c2"]
    assert orders["o3"].product_line is None

    changed = ORDERS.replace("19.99", "29.99") + "o5,c3,2026-03-01,0,,,\n"
    assert import_orders(any_sessions, write(tmp_path, "orders.csv", changed)) == ImportResult(5, 1, 1, 3)
    with any_sessions() as session:
        assert session.scalar(select(Order.amount).where(Order.external_id == "o3")) == Decimal("29.99")


def test_wallet_estimates_are_one_per_customer_and_dated_today_when_undated(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_customers(any_sessions, write(tmp_path, "customers.csv", CUSTOMERS), CLOCK)
    text_ = "customer_external_id,share,category_spend\nc1,35%,\nc2,0.5,20000\nc3,,150000.50\n"
    path = write(tmp_path, "wallet.csv", text_)
    assert import_wallet(any_sessions, path, CLOCK) == ImportResult(3, 3, 0, 0)
    later = FixedClock(datetime(2026, 5, 1, tzinfo=UTC))
    assert import_wallet(any_sessions, path, later) == ImportResult(3, 0, 0, 3)
    changed = write(tmp_path, "wallet.csv", text_.replace("35%", "40 %"))
    assert import_wallet(any_sessions, changed, later) == ImportResult(3, 0, 1, 2)
    with any_sessions() as session:
        rows = session.execute(
            select(Customer.external_id, WalletEstimate.share, WalletEstimate.category_spend,
                   WalletEstimate.estimated_on).join(Customer, Customer.id == WalletEstimate.customer_id)
            .order_by(Customer.external_id)
        ).all()
    assert rows == [
        ("c1", 0.4, None, date(2026, 5, 1)),  # changed: dated by the later import
        ("c2", 0.5, Decimal("20000.00"), date(2026, 3, 1)),  # unchanged: keeps its date
        ("c3", None, Decimal("150000.50"), date(2026, 3, 1)),
    ]
    dated = "customer_external_id,share,estimated_on\nc1,0.4,2025-12-31\n"
    assert import_wallet(any_sessions, write(tmp_path, "w.csv", dated), later) == ImportResult(1, 0, 1, 0)


def test_contacts_are_upserted_by_customer_and_email(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_customers(any_sessions, write(tmp_path, "customers.csv", CUSTOMERS), CLOCK)
    text_ = ("customer_external_id,email,name,role,birthday\n"
             "c1,li.na@Example.COM,李娜,采购经理,1985-04-12\nc1,wang@example.com,王芳,,\n"
             "c2,li.na@example.com,Li Na,buyer,\n")
    path = write(tmp_path, "contacts.csv", text_)
    assert import_contacts(any_sessions, path) == ImportResult(3, 3, 0, 0)
    assert import_contacts(any_sessions, path) == ImportResult(3, 0, 0, 3)
    changed = write(tmp_path, "contacts.csv", text_.replace("采购经理", "总经理"))
    assert import_contacts(any_sessions, changed) == ImportResult(3, 0, 1, 2)
    with any_sessions() as session:
        contacts = session.execute(
            select(Customer.external_id, Contact.email, Contact.name, Contact.role, Contact.birthday)
            .join(Customer, Customer.id == Contact.customer_id).order_by(Customer.external_id, Contact.email)
        ).all()
    assert contacts == [
        ("c1", "li.na@example.com", "李娜", "总经理", date(1985, 4, 12)),
        ("c1", "wang@example.com", "王芳", None, None),
        ("c2", "li.na@example.com", "Li Na", "buyer", None),
    ]


def test_the_orm_reads_back_exactly_what_it_would_have_stored(sqlite_url: str, tmp_path: Path) -> None:
    """The bulk writer bypasses SQLAlchemy: its rows must be byte-for-byte what the ORM writes."""
    imported = session_factory(make_engine(sqlite_url))
    create_schema(imported.kw["bind"])
    import_customers(imported, write(tmp_path, "customers.csv", CUSTOMERS), CLOCK)
    import_orders(imported, write(tmp_path, "orders.csv", ORDERS))
    import_wallet(imported, write(tmp_path, "w.csv", "customer_external_id,share,category_spend\nc1,0.35,"
                                                     "1000\nc2,,99.5\n"), CLOCK)
    import_contacts(imported, write(tmp_path, "k.csv", "customer_external_id,email,birthday\nc1,a@b.cn,"
                                                       "1990-01-31\n"))
    import_customers(imported, write(tmp_path, "more.csv", f"{LABELLED_HEADER}\n{LABELLED_ROWS}"), CLOCK)
    with imported() as session:
        objects = [obj for model in (Customer, Order, WalletEstimate, Contact)
                   for obj in session.scalars(select(model))]
        for obj in objects:
            session.expunge(obj)
    by_orm = session_factory(make_engine(f"sqlite:///{tmp_path / 'orm.db'}"))
    create_schema(by_orm.kw["bind"])
    with by_orm.begin() as session:
        for obj in objects:
            session.merge(obj)
    for table in ("customers", "orders", "wallet_estimates", "contacts"):
        query = text(f"SELECT *, {_types(imported, table)} FROM {table} ORDER BY 1")
        with imported() as one, by_orm() as other:
            assert one.execute(query).all() == other.execute(query).all(), table


LABELLED_HEADER = ("external_id,name,kind,email,tags,attr.Region,attr.employees,account_manager,"
                   "account_manager_email")
LABELLED_ROWS = """\
m1,Mercury,company,m1@example.com,VIP; Expo-2025，vip,华东,250,李雷,Li.Lei@Example.com
m2,Venus,person,m2@example.com,,north,,,
m3,Mars,person,m3@example.com,,,,,
"""


def test_tags_custom_attributes_and_account_managers_are_imported(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write(tmp_path, "labelled.csv", f"{LABELLED_HEADER}\n{LABELLED_ROWS}")
    assert import_customers(any_sessions, path, CLOCK) == ImportResult(3, 3, 0, 0)
    assert import_customers(any_sessions, path, CLOCK) == ImportResult(3, 0, 0, 3)

    def stored() -> list[tuple[object, ...]]:
        with any_sessions() as session:
            return [tuple(row) for row in session.execute(
                select(Customer.external_id, Customer.tags, Customer.attributes, Customer.account_manager,
                       Customer.account_manager_email).order_by(Customer.external_id))]

    assert stored() == [
        ("m1", "expo-2025, vip", {"region": "华东", "employees": 250}, "李雷", "Li.Lei@example.com"),
        ("m2", None, {"region": "north"}, None, None),
        ("m3", None, None, None, None),
    ]
    # a file without attribute columns leaves them; one with them replaces each row's set
    plain = write(tmp_path, "plain.csv", "external_id,name,kind,email\nm1,Mercury,company,m1@example.com\n")
    assert import_customers(any_sessions, plain, CLOCK) == ImportResult(1, 0, 0, 1)
    changed = write(tmp_path, "changed.csv", "external_id,name,kind,email,attr.size\n"
                                             "m1,Mercury,company,m1@example.com,12.5\n")
    assert import_customers(any_sessions, changed, CLOCK) == ImportResult(1, 0, 1, 0)
    assert stored()[0][:3] == ("m1", "expo-2025, vip", {"size": 12.5})


def test_bad_tags_attributes_and_manager_addresses_are_named(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    bad_header = write(tmp_path, "h.csv", "external_id,name,kind,email,attr.9lives,attr.size,ATTR.Size\n")
    with pytest.raises(ImportDataError) as exc:
        import_customers(sessions, bad_header, CLOCK)
    assert [(row, column) for row, column, _ in exc.value.problems] == [(1, "attr.9lives"), (1, "ATTR.Size")]
    assert "starting with a letter" in exc.value.problems[0][2]
    long_tag = "x" * 41
    rows = write(tmp_path, "r.csv", "external_id,name,kind,email,tags,account_manager_email,attr.note\n"
                                    f"a,A,person,a@example.com,ok;{long_tag},boss@,{'y' * 501}\n")
    with pytest.raises(ImportDataError) as exc:
        import_customers(sessions, rows, CLOCK)
    assert [(row, column) for row, column, _ in exc.value.problems] == [
        (2, "tags"), (2, "account_manager_email"), (2, "attr.note")]
    assert exc.value.problems[0][2] == f"tag {long_tag!r} is longer than 40 characters"


def _types(sessions: sessionmaker[Session], table: str) -> str:
    with sessions() as session:
        names = [row[1] for row in session.execute(text(f"PRAGMA table_info({table})"))]
    return ", ".join(f"typeof({name})" for name in names)


def test_columns_the_file_lacks_are_left_as_stored(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_customers(any_sessions, write(tmp_path, "customers.csv", CUSTOMERS), CLOCK)
    import_orders(any_sessions, write(tmp_path, "orders.csv", ORDERS))
    before = snapshot(any_sessions)
    short = "external_id,name,kind,email\nc1,上海华东阀门有限公司,company,Wang.Fang@Example.COM\n"
    assert import_customers(any_sessions, write(tmp_path, "c.csv", short), CLOCK) == ImportResult(1, 0, 0, 1)
    lean = "external_id,customer_external_id,ordered_at,amount\no1,c1,2025-01-15,1200.50\n"
    assert import_orders(any_sessions, write(tmp_path, "o.csv", lean)) == ImportResult(1, 0, 0, 1)
    assert snapshot(any_sessions) == before  # locale, industry, margin, product line all kept


def test_excel_style_headers_and_locales_are_accepted(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text_ = "External_ID , Name,KIND,Email,Locale\n c1 ,王芳,Person,wf@example.com,zh_CN\n"
    import_customers(sessions, write(tmp_path, "customers.csv", text_), CLOCK)
    with sessions() as session:
        customer = session.scalars(select(Customer)).one()
    assert (customer.external_id, customer.kind, customer.locale) == ("c1", "person", "zh-CN")


def test_a_bom_file_with_chinese_text_round_trips(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    path = write(tmp_path, "customers.csv", CUSTOMERS, encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert import_customers(sessions, path, CLOCK).inserted == 3
    with sessions() as session:
        names = {k: v for k, v in session.execute(select(Customer.external_id, Customer.name))}
    assert names["c1"] == "上海华东阀门有限公司" and names["c3"] == "陈小明"


def test_column_mapping_imports_a_crm_export_as_it_is(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = ImportSettings(columns={
        "customers": {"external_id": "客户编号", "name": "客户名称", "kind": "类型", "email": "邮箱"},
        "orders": {"external_id": "订单号", "customer_external_id": "客户编号", "ordered_at": "下单时间",
                   "amount": "金额"},
    })
    crm = "客户编号,客户名称,类型,邮箱,备注\nK001,华东阀门,company,sales@huadong.cn,老客户\n"
    assert import_customers(any_sessions, write(tmp_path, "crm.csv", crm), CLOCK,
                            settings=settings).inserted == 1
    erp = "订单号,客户编号,下单时间,金额\nD1,K001,2025-03-01 10:00,5000\n"
    assert import_orders(any_sessions, write(tmp_path, "erp.csv", erp), settings=settings).inserted == 1
    with any_sessions() as session:
        email = session.scalar(select(Customer.email).where(Customer.external_id == "K001"))
        assert email == "sales@huadong.cn"
        assert session.scalar(select(Order.amount).where(Order.external_id == "D1")) == Decimal("5000.00")

    bad = write(tmp_path, "bad.csv", "客户编号,客户名称,类型,邮箱\nK002,某公司,company,not-an-email\n")
    with pytest.raises(ImportDataError) as exc:
        import_customers(any_sessions, bad, CLOCK, settings=settings)
    assert f"{bad}: row 2, column '邮箱': invalid email 'not-an-email'" in str(exc.value)

    missing = write(tmp_path, "missing.csv", "客户编号,客户名称,类型\nK003,某公司,company\n")
    with pytest.raises(ImportDataError) as exc:
        import_customers(any_sessions, missing, CLOCK, settings=settings)
    assert exc.value.problems == [
        (1, "邮箱", "required column is missing (imports.columns.customers maps email to it)")]


def test_a_mapping_to_an_unknown_field_is_a_config_error(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = ImportSettings(columns={"orders": {"amout": "金额"}})
    with pytest.raises(ConfigError, match=r"imports\.columns\.orders: 'amout' is not a field of orders"):
        import_orders(sessions, write(tmp_path, "o.csv", ORDERS), settings=settings)


def test_foreign_keys_are_enforced_again_after_an_import(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    """SQLite imports run with the FK check off (every id was just looked up); it must come back on."""
    import_customers(sessions, write(tmp_path, "customers.csv", CUSTOMERS), CLOCK)
    import_orders(sessions, write(tmp_path, "orders.csv", ORDERS))
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(Order(external_id="ghost", customer_id=9999, ordered_at=NOW, amount=Decimal(1)))
