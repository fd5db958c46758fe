"""A working folder or nothing: store commands find `edm.yaml` here or above, or stop; none writes into
the installed package; each names the database it used."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

import edm
from edm.cli import main
from edm.config import NO_FOLDER, load_settings
from edm.resources import bundled_config_dir
from edm.runner import open_store
from edm.store import Customer
from tests.conftest import SECRET_KEY, SmtpServer
from tests.customers.test_importer import CUSTOMERS, ORDERS

COMMAND = [sys.executable, "-c", "from edm.cli import main; main()"]
Snapshot = dict[str, tuple[int, int]]


def package_files() -> Snapshot:
    """Every file of the installation (the package and its bundled config) with its mtime and size.

    Python's own bytecode caches are left out: the interpreter writes them, not edm.
    """
    files: Snapshot = {}
    for root in (Path(edm.__file__).resolve().parent, bundled_config_dir().resolve()):
        for path in root.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                stat = path.stat()
                files[str(path)] = (stat.st_mtime_ns, stat.st_size)
    return files


def data_files(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    customers, orders = folder / "customers.csv", folder / "orders.csv"
    customers.write_text(CUSTOMERS, encoding="utf-8")
    orders.write_text(ORDERS, encoding="utf-8")
    return customers, orders


def store_commands(data: Path, out: Path) -> list[list[str]]:
    """Every command that reads or writes a store (track serve aside: it blocks)."""
    customers, orders = data_files(data)
    return [
        ["import", "customers", str(customers)],
        ["import", "orders", str(orders)],
        ["classify"],
        ["customers", "show", "c1"],
        ["campaign", "run", "--all", "--dry-run"],
        ["campaign", "run", "win_back"],
        ["campaign", "preview", "win_back"],
        ["campaign", "due"],
        ["send", "--no-wait"],
        ["report", "engagement", "--out", str(out / "engagement.html")],
        ["alerts", "digest", "--dry-run"],
        ["db", "upgrade"],
    ]


def test_import_outside_a_working_folder_stops_and_writes_nothing(tmp_path: Path) -> None:
    """The reported case: `edm import customers file.csv` where there is no edm.yaml."""
    empty = tmp_path / "empty"
    empty.mkdir()
    customers, _ = data_files(tmp_path / "data")
    before = package_files()
    env = {**os.environ, "EDM_SECRET_KEY": SECRET_KEY, "PYTHONDONTWRITEBYTECODE": "1"}
    result = subprocess.run([*COMMAND, "import", "customers", str(customers)], cwd=empty, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == f"Error: {NO_FOLDER}\n"
    assert result.stdout == ""
    assert list(empty.iterdir()) == []
    assert package_files() == before


def test_every_store_command_outside_a_working_folder_stops(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    commands = store_commands(tmp_path / "data", empty)
    monkeypatch.chdir(empty)
    before = package_files()
    for args in [*commands, ["bounces", "poll"], ["worker"], ["daemon"], ["track", "serve"]]:
        result = CliRunner().invoke(main, args, env={"EDM_SECRET_KEY": SECRET_KEY})
        assert result.exit_code == 1, (args, result.output)
        assert result.output == f"Error: {NO_FOLDER}\n", args
    assert list(empty.iterdir()) == []
    assert package_files() == before


def test_commands_that_need_no_store_work_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = package_files()
    campaign = bundled_config_dir() / "campaigns" / "win_back.yaml"
    for args in (["--help"], ["--version"], ["campaign", "schema"], ["campaign", "validate", str(campaign)],
                 ["import", "customers", "--help"], ["init", "mine"]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (args, result.output)
    assert (tmp_path / "mine" / "edm.yaml").is_file() and (tmp_path / "mine" / "edm.db").is_file()
    assert package_files() == before


def test_a_subfolder_uses_the_working_folder_above_and_says_which_database(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: SmtpServer) -> None:
    work = tmp_path / "acme"
    assert CliRunner().invoke(main, ["init", str(work)]).exit_code == 0
    inside = work / "exports" / "2026"
    commands = store_commands(inside, inside)
    monkeypatch.chdir(inside)
    before = package_files()
    env = {"EDM_SECRET_KEY": SECRET_KEY, "EDM_SMTP__HOST": smtp_server.host,
           "EDM_SMTP__PORT": str(smtp_server.port)}
    for args in commands:
        result = CliRunner().invoke(main, args, env=env)
        assert result.exit_code == 0, (args, result.output)
        assert result.stderr.startswith(f"database: sqlite:///{work.resolve() / 'edm.db'}\n"), args
    assert package_files() == before
    with open_store(load_settings(work / "edm.yaml", environ={}))() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 3
    assert not (inside / "edm.db").exists()


def test_edm_config_names_the_working_folder_from_anywhere(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    work = tmp_path / "acme"
    assert CliRunner().invoke(main, ["init", str(work)]).exit_code == 0
    customers, _ = data_files(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["import", "customers", str(customers)],
                                env={"EDM_CONFIG": str(work / "edm.yaml")})
    assert result.exit_code == 0, result.output
    assert result.stderr == f"database: sqlite:///{work.resolve() / 'edm.db'}\n"
    missing = CliRunner().invoke(main, ["classify", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1
    nope = tmp_path / "nope.yaml"
    assert missing.output == f"Error: {nope}: no such settings file (run `edm init FOLDER` to make one)\n"


def test_no_working_folder_is_made_inside_the_package() -> None:
    before = package_files()
    for inside in (Path(edm.__file__).parent / "acme", bundled_config_dir() / "acme"):
        result = CliRunner().invoke(main, ["init", str(inside)])
        assert result.exit_code == 1
        assert result.output == f"Error: {inside} is inside the installed edm package: make the working " \
                                "folder elsewhere\n"
        assert not inside.exists()
    assert package_files() == before


def test_the_bundled_settings_never_open_a_store_inside_the_package(tmp_path: Path) -> None:
    """Even named on purpose, the shipped edm.yaml (database edm.db beside it) is refused."""
    customers, _ = data_files(tmp_path)
    before = package_files()
    started = time.monotonic()
    result = CliRunner().invoke(main, ["import", "customers", str(customers), "--config",
                                       str(bundled_config_dir() / "edm.yaml")])
    assert result.exit_code == 1
    assert "is inside the installed edm package: run `edm init FOLDER`" in result.output
    assert len(result.output.strip().splitlines()) == 2  # the database line, the error
    assert time.monotonic() - started < 10
    assert package_files() == before
