"""Bad rows: each named by file, row, column and reason; nothing written, or skipped to a rejects file."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from edm.config import ImportSettings
from edm.customers.importer import ImportResult, import_customers, import_orders
from edm.errors import ImportDataError
from edm.store import Order
from tests.customers.test_importer import CLOCK, CUSTOMER_HEADER, CUSTOMERS, ORDERS, snapshot, write

BAD_ORDERS = """external_id,customer_external_id,ordered_at,amount,product_line,cost,margin
o1,c1,2025-01-15,999,valves,,
o2,c1,2025-02-30,100,,,
o3,c2,2025-03-01,-5,,,
o4,nobody,2025-03-01,5,,,
o5,c2,2025-03-01,1.005,,,
o6,c2,2025-03-01,12,,-1,
o7,c2,2025-03-01,100,,60,50
o1,c2,2025-03-01,5,,,
o9,c3,2025-03-02,7,pumps,,
"""


def _problems(exc: pytest.ExceptionInfo[ImportDataError]) -> list[tuple[int, str]]:
    return [(row, column) for row, column, _ in exc.value.problems]


def _orders(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Order)) or 0


def test_a_bad_orders_file_names_every_problem_and_changes_nothing(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_customers(any_sessions, write(tmp_path, "customers.csv", CUSTOMERS), CLOCK)
    import_orders(any_sessions, write(tmp_path, "orders.csv", ORDERS))
    before = snapshot(any_sessions)
    path = write(tmp_path, "bad.csv", BAD_ORDERS)  # o1 and o9 are good: o1 would update a stored order
    with pytest.raises(ImportDataError) as exc:
        import_orders(any_sessions, path)
    assert str(exc.value) == "\n".join([
        f"nothing was imported from {path}, 7 problem(s):",
        f"  {path}: row 3, column 'ordered_at': '2025-02-30' is not a date or time like 2024-01-31 09:30, "
        "2024/1/31 9:30 or 2024-01-31T09:30+08:00 (day is out of range for month)",
        f"  {path}: row 4, column 'amount': '-5' is negative; it must be 0 or more",
        f"  {path}: row 5, column 'customer_external_id': no customer 'nobody' in the store; "
        "import customers first",
        f"  {path}: row 6, column 'amount': '1.005' has more than 2 decimal places",
        f"  {path}: row 7, column 'cost': '-1' is negative; it must be 0 or more",
        f"  {path}: row 8, column 'margin': margin 50.00 is not amount − cost (100.00 − 60.00 = 40.00)",
        f"  {path}: row 9, column 'external_id': duplicate external_id 'o1', first on row 2",
    ])
    assert snapshot(any_sessions) == before


def test_a_bad_customers_file_names_every_problem_and_changes_nothing(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    text = f"""{CUSTOMER_HEADER}
c1,Good,person,,,good@example.com,,,,
c2,Bad Mail,person,,,not-an-email,,,,
c3,Bad Date,person,,,c3@example.com,,,1990-13-01,
c1,Duplicate,person,,,dup@example.com,,,,
c5,,robot,,,c5@example.com,chinese,Mars/Olympus,,31/02/2000
"""
    before = snapshot(any_sessions)
    path = write(tmp_path, "customers.csv", text)
    with pytest.raises(ImportDataError) as exc:
        import_customers(any_sessions, path, CLOCK)
    assert _problems(exc) == [
        (3, "email"), (4, "birthday"), (5, "external_id"),
        (6, "name"), (6, "kind"), (6, "locale"), (6, "timezone"), (6, "founded_on"),
    ]
    reasons = [reason for _, _, reason in exc.value.problems]
    assert reasons[0].startswith("invalid email 'not-an-email': ")  # email_validator's own words
    assert reasons[1].startswith("'1990-13-01' is not a date like 2024-01-31")
    assert reasons[2] == "duplicate external_id 'c1', first on row 2"
    assert reasons[3:5] == ["value is required", "'robot' is not one of: company, person"]
    assert reasons[7] == "'31/02/2000' is not a real date or time (day is out of range for month)"
    assert snapshot(any_sessions) == before


def test_skip_invalid_writes_the_good_rows_and_a_rejects_file(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_customers(any_sessions, write(tmp_path, "customers.csv", CUSTOMERS), CLOCK)
    path = write(tmp_path, "orders.csv", BAD_ORDERS)
    result = import_orders(any_sessions, path, skip_invalid=True)
    rejects = tmp_path / "orders.rejects.csv"
    assert result == ImportResult(rows=9, inserted=2, updated=0, unchanged=0, rejected=7,
                                  rejects_path=rejects)
    with any_sessions() as session:
        assert set(session.scalars(select(Order.external_id))) == {"o1", "o9"}
    with rejects.open(encoding="utf-8-sig", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["row", "column", "reason", *BAD_ORDERS.splitlines()[0].split(",")]
    assert [(r[0], r[1], r[3]) for r in rows[1:]] == [
        ("3", "ordered_at", "o2"), ("4", "amount", "o3"), ("5", "customer_external_id", "o4"),
        ("6", "amount", "o5"), ("7", "cost", "o6"), ("8", "margin", "o7"), ("9", "external_id", "o1"),
    ]
    assert rows[2][2] == "'-5' is negative; it must be 0 or more"
    assert rows[2][3:] == ["o3", "c2", "2025-03-01", "-5", "", "", ""]  # the row as the file had it

    # The rejects file, fixed, imports as it is (its row/column/reason columns are ignored).
    fixed = rejects.read_text(encoding="utf-8-sig").replace(",-5,", ",5,")
    again = import_orders(any_sessions, write(tmp_path, "fixed.csv", fixed), skip_invalid=True,
                          rejects=tmp_path / "still-bad.csv")
    # o3 is fixed (new); o1 is no longer a duplicate within the file, so it updates the stored o1.
    assert (again.inserted, again.updated, again.rejected) == (1, 1, 5)
    assert again.rejects_path == tmp_path / "still-bad.csv"


def test_skip_invalid_with_nothing_bad_writes_no_rejects_file(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    result = import_customers(sessions, write(tmp_path, "customers.csv", CUSTOMERS), CLOCK, skip_invalid=True)
    assert (result.rejected, result.rejects_path) == (0, None)
    assert sorted(p.name for p in tmp_path.iterdir() if "rejects" in p.name or p.suffix == ".part") == []


def test_a_bad_row_in_the_last_chunk_means_nothing_is_written(
    any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    lines = [f"c{i},Customer {i},person,,,c{i}@example.com,,,," for i in range(35)]
    lines.append("c35,Late,person,,,late@example.com,,,,1999-02-29")
    path = write(tmp_path, "customers.csv", CUSTOMER_HEADER + "\n" + "\n".join(lines) + "\n")
    settings = ImportSettings(chunk_rows=10)
    before = snapshot(any_sessions)
    with pytest.raises(ImportDataError) as exc:
        import_customers(any_sessions, path, CLOCK, settings=settings)
    assert _problems(exc) == [(37, "founded_on")]
    assert snapshot(any_sessions) == before


def test_problems_in_several_chunks_keep_their_row_numbers(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_customers(sessions, write(tmp_path, "customers.csv", CUSTOMERS), CLOCK)
    lines = ["external_id,customer_external_id,ordered_at,amount"]
    for i in range(30):
        lines.append(f"o{i},c1,2025-01-01,{'x' if i in (2, 13, 27) else i}")
        if i in (5, 20):
            lines.extend(["", ",,,"])  # blank rows are skipped but keep the numbering
    lines.append("o13,c2,2025-01-01,1")  # a duplicate of a row three chunks back
    settings = ImportSettings(chunk_rows=4)
    with pytest.raises(ImportDataError) as exc:
        import_orders(sessions, write(tmp_path, "orders.csv", "\n".join(lines) + "\n"), settings=settings)
    assert _problems(exc) == [(4, "amount"), (17, "amount"), (33, "amount"), (36, "external_id")]
    assert exc.value.problems[-1][2] == "duplicate external_id 'o13', first on row 17"
    assert _orders(sessions) == 0


def test_a_huge_number_of_problems_is_counted_but_not_all_kept(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    import_customers(sessions, write(tmp_path, "customers.csv", CUSTOMERS), CLOCK)
    rows = "\n".join(f"o{i},c1,yesterday,1" for i in range(1500))
    path = write(tmp_path, "orders.csv", f"external_id,customer_external_id,ordered_at,amount\n{rows}\n")
    with pytest.raises(ImportDataError) as exc:
        import_orders(sessions, path, settings=ImportSettings(chunk_rows=400))
    assert (exc.value.total, len(exc.value.problems)) == (1500, 1000)
    assert exc.value.problems[-1][0] == 1001
    message = str(exc.value)
    assert "1500 problem(s)" in message and message.endswith("... and 1480 more")
    assert message.count("\n") == ImportDataError.SHOWN + 1


def test_progress_is_reported_after_each_chunk(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    lines = [f"c{i},Customer {i},person,,,c{i}@example.com,,,," for i in range(10)]
    path = write(tmp_path, "customers.csv", CUSTOMER_HEADER + "\n" + "\n".join(lines) + "\n")
    done: list[int] = []
    import_customers(sessions, path, CLOCK, settings=ImportSettings(chunk_rows=4), progress=done.append)
    assert done == [4, 8, 10]


def test_a_missing_required_column_is_named_on_the_header_row(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with pytest.raises(ImportDataError) as exc:
        import_customers(sessions, write(tmp_path, "c.csv", "external_id,name,kind\nc1,Ann,person\n"), CLOCK)
    assert exc.value.problems == [(1, "email", "required column is missing; name it so, or map email to your "
                                               "header under imports.columns.customers")]
    with pytest.raises(ImportDataError) as exc:
        import_orders(sessions, write(tmp_path, "o.csv", "External_ID,external_id\no1,o2\n"))
    assert (1, "External_ID", "appears 2 times in the header") in exc.value.problems


def test_a_row_with_too_many_values_is_named(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    text = "external_id,name,kind,email\nc1,Ann,person,ann@example.com\nc2,Bo,person,bo@example.com,extra\n"
    with pytest.raises(ImportDataError) as exc:
        import_customers(sessions, write(tmp_path, "customers.csv", text), CLOCK, skip_invalid=True)
    assert exc.value.problems == [
        (3, "(row)", "5 values but the header has 4 columns; quote values that contain commas")]
    assert not list(tmp_path.glob("*.rejects.csv")) and not list(tmp_path.glob(".*.part"))


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("missing.csv", None, "file not found"),
        ("empty.csv", b"", "file is empty"),
        ("blank.csv", b"\n\nexternal_id\n", "the first row is empty"),
        ("latin1.csv", "external_id,name\nc1,Café Müller\n".encode("latin-1"),
         "is not UTF-8, GB18030 (GBK) or Big5 text"),
        ("book.xlsx", b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xff\xfe\x80\x81", "Excel workbook"),
        ("customers.txt", b"external_id\n", "save it as .csv or .xlsx"),
        ("ragged.csv", b'external_id,name,kind,email\nc1,"Ann,person,a@example.com\n',
         "cannot be read as CSV"),
    ],
)
def test_an_unreadable_file_is_one_problem_naming_the_path(
    sessions: sessionmaker[Session], tmp_path: Path, name: str, content: bytes | None, reason: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImportDataError) as exc:
        import_customers(sessions, path, CLOCK)
    assert len(exc.value.problems) == 1 and reason in exc.value.problems[0][2]
    assert str(path) in str(exc.value)


def test_a_rejects_file_that_cannot_be_written_is_a_clean_error(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    path = write(tmp_path, "customers.csv", CUSTOMERS)
    with pytest.raises(ImportDataError, match="cannot write the rejects file"):
        import_customers(sessions, path, CLOCK, skip_invalid=True, rejects=tmp_path / "no" / "such.csv")
