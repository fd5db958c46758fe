"""A database that cannot be reached, named wrongly, or fails under a command: one line, exit 1, nothing lost.

The faults are real: a closed port, a driver that is not installed, a SQLite file opened read-only,
a file size limit (RLIMIT_FSIZE: writes past it fail as a disk would) and, where the test may mount
one, a full tmpfs.
"""

from __future__ import annotations

import csv
import logging
import os
import resource
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from edm.cli import main
from edm.clock import FixedClock
from edm.config import load_settings
from edm.daemon import jobs
from edm.daemon.metrics import DaemonState
from edm.delivery.sink import free_port
from edm.store import make_engine, session_factory
from tests.conftest import SECRET_KEY

COMMAND = [sys.executable, "-c", "from edm.cli import main; main()"]
PASSWORD = "hunter2-not-for-your-eyes"


def customers_file(folder: Path, rows: int, name: str = "customers.csv") -> Path:
    path = folder / name
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["external_id", "name", "kind", "email"])
        writer.writerows([f"C{i}", f"Customer {i}", "person", f"c{i}@example.com"] for i in range(rows))
    return path


def working_folder(parent: Path) -> Path:
    folder = parent / "work"
    assert CliRunner().invoke(main, ["init", str(folder)]).exit_code == 0
    result = CliRunner().invoke(main, ["import", "customers", str(customers_file(parent, 3, "first.csv")),
                                       "--config", str(folder / "edm.yaml")])
    assert result.exit_code == 0, result.output
    return folder


def customers_in(folder: Path) -> int:
    """Read with the sqlite3 module directly: the file must still be a healthy database."""
    with closing(sqlite3.connect(folder / "edm.db")) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        count: int = db.execute("SELECT count(*) FROM customers").fetchone()[0]
    return count


def error_line(output: str) -> str:
    """The one error line after the database line; no traceback, no driver detail."""
    lines = output.splitlines()
    assert len(lines) == 2 and lines[0].startswith("database: "), output
    assert lines[1].startswith("Error: database "), output
    assert "Traceback" not in output and "sqlalchemy" not in output.lower() and "psycopg." not in output
    return lines[1]


@pytest.mark.parametrize(("url", "shown", "says"), [
    (f"postgresql+psycopg://edm:{PASSWORD}@127.0.0.1:{{port}}/edm", "postgresql+psycopg://edm:***@127.0.0.1",
     "cannot connect (connection refused): check the host and port in the URL"),
    (f"postgresql+psycopg://edm:{PASSWORD}@no-such-host.invalid/edm", "edm:***@no-such-host.invalid",
     "cannot connect"),
    (f"postgresql+nosuch://edm:{PASSWORD}@db/edm", "postgresql+nosuch://edm:***@db/edm",
     "its driver 'postgresql+nosuch' is not installed or unknown"),
    (f"mysql://edm:{PASSWORD}@db/edm", "mysql://edm:***@db/edm", "its driver 'mysql' is not installed"),
    (f"postgres ql://edm:{PASSWORD}@db", "postgres ql://edm:***@db", "not a database URL; expected sqlite:///"),
])
def test_a_database_that_cannot_be_used_is_one_line_with_the_password_masked(
        tmp_path: Path, url: str, shown: str, says: str) -> None:
    (tmp_path / "edm.yaml").write_text("{}\n", encoding="utf-8")
    url = url.replace("{port}", str(free_port()))  # nothing listens there
    started = time.monotonic()
    result = CliRunner().invoke(main, ["classify"], env={"EDM_CONFIG": str(tmp_path / "edm.yaml"),
                                                         "EDM_DATABASE_URL": url})
    assert result.exit_code == 1
    line = error_line(result.output)
    assert shown in line and says in line, line
    assert PASSWORD not in result.output
    assert time.monotonic() - started < 15


def test_the_daemon_with_an_unreachable_database_says_so_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "edm.yaml").write_text("{}\n", encoding="utf-8")
    env = {**os.environ, "EDM_CONFIG": str(tmp_path / "edm.yaml"), "EDM_SECRET_KEY": SECRET_KEY,
           "EDM_DATABASE_URL": f"postgresql+psycopg://edm:{PASSWORD}@127.0.0.1:{free_port()}/edm",
           "EDM_DAEMON__WORKERS": "1", "EDM_DAEMON__METRICS_PORT": "0"}
    result = subprocess.run([*COMMAND, "daemon"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("Error: database postgresql+psycopg://edm:***@127.0.0.1")
    assert "cannot connect" in result.stderr and "Traceback" not in result.stderr
    assert PASSWORD not in result.stderr and "worker pid" not in result.stderr


def test_a_read_only_store_is_one_line_and_keeps_its_data(tmp_path: Path) -> None:
    folder = working_folder(tmp_path)
    database = folder / "edm.db"
    env = {"EDM_CONFIG": str(folder / "edm.yaml")}
    if os.geteuid() == 0:  # root writes through file modes: open the file read-only instead
        env["EDM_DATABASE_URL"] = f"sqlite:///file:{database}?mode=ro&uri=true"
    else:
        for path in folder.glob("edm.db*"):
            path.chmod(0o444)
        folder.chmod(0o555)
    try:
        result = CliRunner().invoke(main, ["import", "customers", str(customers_file(tmp_path, 10))], env=env)
    finally:
        folder.chmod(0o755)
        for path in folder.glob("edm.db*"):
            path.chmod(0o644)
    assert result.exit_code == 1
    assert "the database is read-only: check the permissions of the file and of its folder" in \
        error_line(result.output)
    assert customers_in(folder) == 3


def _limit_file_size(limit: int) -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails (EFBIG), not the process
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_write_the_disk_refuses_is_one_line_and_the_import_is_rolled_back(tmp_path: Path) -> None:
    folder = working_folder(tmp_path)
    big = customers_file(tmp_path, 5000)  # far more than the limit lets the write-ahead log hold
    limit = (folder / "edm.db").stat().st_size + 64 * 1024
    result = subprocess.run([*COMMAND, "import", "customers", str(big)], cwd=folder, capture_output=True,
                            text=True, timeout=120, preexec_fn=lambda: _limit_file_size(limit))
    assert result.returncode == 1
    assert result.stdout == ""
    line = error_line(result.stderr)
    assert "the disk reported an I/O error: check the disk and its file system" in line, line
    assert customers_in(folder) == 3  # none of the 5000: the transaction was rolled back


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 768 KiB tmpfs (a new store and its config take about 450): a real file system that fills up.
    Needs the right to mount (root in a container)."""
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=768k", "tmpfs", str(mount)],
                          capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=True)  # lazy: our engines hold files open


def test_a_full_disk_is_one_line_and_the_import_is_rolled_back(tmp_path: Path, small_disk: Path) -> None:
    folder = working_folder(small_disk)
    big = customers_file(tmp_path, 5000)  # some megabytes of write-ahead log: far more than is free
    result = subprocess.run([*COMMAND, "import", "customers", str(big)], cwd=folder, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert "the disk is full: free space (or move the database) and run again" in line, line
    assert customers_in(folder) == 3


def test_a_daemon_job_on_a_failing_store_logs_one_line_and_counts_the_failure(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    folder = working_folder(tmp_path)
    url = f"sqlite:///file:{folder / 'edm.db'}?mode=ro&uri=true"  # reads work, the plan's writes cannot
    settings = load_settings(folder / "edm.yaml", {"EDM_DATABASE_URL": url})
    state = DaemonState(started_at=datetime.now(UTC))
    jobs.install(jobs.JobContext(settings, session_factory(make_engine(url)), FixedClock(datetime.now(UTC)),
                                 state))
    with caplog.at_level(logging.INFO, logger="edm.daemon.jobs"):
        jobs.plan()
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert record.exc_info is None  # no traceback in the daemon's log
    assert record.getMessage().startswith("job=plan pid=")
    assert f"failed: database {url}: the database is read-only" in record.getMessage()
    assert state.job_failures == {"plan": 1}
