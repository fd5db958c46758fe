"""`edm import ...` through click: one summary line, or a clean error and exit 1."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from edm.config import load_settings
from edm.runner import open_store
from edm.store import Customer, Order, WalletEstimate
from tests.customers.cli import run_import
from tests.customers.test_importer import CUSTOMERS, ORDERS, write


def _count(folder: Path, model: type[Customer] | type[Order] | type[WalletEstimate]) -> int:
    with open_store(load_settings(folder / "edm.yaml"))() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_importing_files_prints_one_summary_line_each(folder: Path) -> None:
    customers = write(folder, "customers.csv", CUSTOMERS)
    assert run_import(folder, "customers", str(customers)) == (
        0, f"{customers}: 3 rows, 3 new, 0 updated, 0 unchanged; read as UTF-8 (detected)\n")
    orders = write(folder, "orders.csv", ORDERS)
    assert run_import(folder, "orders", str(orders)) == (
        0, f"{orders}: 4 rows, 4 new, 0 updated, 0 unchanged; read as UTF-8 (detected)\n")
    assert run_import(folder, "orders", str(orders))[1].endswith(
        "0 new, 0 updated, 4 unchanged; read as UTF-8 (detected)\n")
    wallet = write(folder, "wallet.csv", "customer_external_id,share\nc1,35%\n")
    assert run_import(folder, "wallet", str(wallet))[0] == 0
    assert (_count(folder, Customer), _count(folder, Order), _count(folder, WalletEstimate)) == (3, 4, 1)


def test_a_bad_file_is_a_clean_error_and_writes_nothing(folder: Path) -> None:
    bad = write(folder, "customers.csv", "external_id,name,kind,email\nC1,Ann,person,ann@example.com\n"
                                         "C2,Bob,robot,not-an-email\n")
    code, output = run_import(folder, "customers", str(bad))
    assert code == 1
    assert f"Error: nothing was imported from {bad}, 2 problem(s):" in output
    assert "row 3, column 'kind': 'robot' is not one of: company, person" in output
    assert "row 3, column 'email': invalid email 'not-an-email'" in output
    assert "Traceback" not in output
    assert _count(folder, Customer) == 0


def test_skip_invalid_reports_the_rejects_file(folder: Path) -> None:
    bad = write(folder, "customers.csv", "external_id,name,kind,email\nC1,Ann,person,ann@example.com\n"
                                         "C2,Bob,robot,bob@example.com\n")
    rejects = folder / "bad-customers.csv"
    code, output = run_import(folder, "customers", str(bad), "--skip-invalid", "--rejects", str(rejects))
    summary = (f"{bad}: 2 rows, 1 new, 0 updated, 0 unchanged, 1 rejected (see {rejects}); "
               "read as UTF-8 (detected)\n")
    assert (code, output) == (0, summary)
    assert "robot" in rejects.read_text(encoding="utf-8-sig")
    assert _count(folder, Customer) == 1


def test_rejects_without_skip_invalid_is_a_usage_error(folder: Path) -> None:
    customers = write(folder, "customers.csv", CUSTOMERS)
    code, output = run_import(folder, "customers", str(customers), "--rejects", str(folder / "r.csv"))
    assert code == 2 and "pass --skip-invalid too" in output
    assert _count(folder, Customer) == 0
