"""`edm demo`'s last step, the web console: served at the demo's simulated day with a throwaway user
when asked (--console), otherwise a printed command that serves it later, which works as printed."""

from __future__ import annotations

import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from edm.cli import main
from tests.console.conftest import csrf_of

COMMAND = [sys.executable, "-c", "from edm.cli import main; main()"]
ROOT = Path(__file__).resolve().parents[1]
WAIT_SECONDS = 240


def _environment(**extra: str) -> dict[str, str]:
    """This checkout's edm first, and none of the operator's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDM_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env | extra


def _read_until(process: subprocess.Popen[str], pattern: str) -> tuple[re.Match[str], str]:
    """Lines of the process's stdout until one matches `pattern` (the output so far, for messages)."""
    assert process.stdout is not None
    seen = ""
    chooser = selectors.DefaultSelector()
    chooser.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        if not chooser.select(timeout=1):
            continue
        line = process.stdout.readline()
        if not line:
            break
        seen += line
        if found := re.search(pattern, line):
            return found, seen
    pytest.fail(f"no line matching {pattern!r} in:\n{seen}")


def _stopped(process: subprocess.Popen[str], group: bool = False) -> str:
    if group:
        os.killpg(process.pid, signal.SIGTERM)
    else:
        process.terminate()
    rest, _ = process.communicate(timeout=60)
    return rest


@pytest.fixture
def running(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen([*COMMAND, "demo", "--dir", str(tmp_path / "demo"), "--customers", "60",
                                "--console"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env=_environment(), cwd=tmp_path)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _sign_in(base: str, name: str, password: str) -> httpx.Client:
    http = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
    form = http.get("/login")
    answer = http.post("/login", data={"csrf": csrf_of(form.text), "name": name, "password": password})
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
    return http


def test_the_demo_serves_its_console_at_its_own_day_until_stopped(running: subprocess.Popen[str]) -> None:
    found, output = _read_until(running, r"^12\. Console at (http://127\.0\.0\.1:\d+) — sign in as (\w+) / "
                                         r"(\S+) \(Ctrl-C to stop\); its Today is the demo's day, "
                                         r"(\d{4}-\d\d-\d\d)")
    base, name, password, day = found.groups()
    assert name == "demo" and len(password) >= 12
    assert re.search(r"^11\. Engagement: sent \d+", output, re.M), output  # the demo ran before it
    http = _sign_in(base, name, password)
    try:
        today = http.get("/", headers={"Accept-Language": "en"})
        assert today.status_code == 200 and "demo (admin)" in today.text
        assert day in today.text  # the simulated day, weeks after the real one
        campaign = http.get("/campaigns/win_back")
        assert campaign.status_code == 200 and "win_back" in campaign.text
        report = http.get("/reports/engagement", params={"since": "2000-01-01", "until": day})
        assert report.status_code == 200 and "Engagement report" in report.text
    finally:
        http.close()
    rest = _stopped(running)  # SIGTERM, as Ctrl-C: a clean stop
    assert running.returncode == 0 and "Console stopped." in rest


def test_without_a_terminal_the_demo_prints_a_command_that_serves_it_later(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "--dir", str(folder), "--customers", "60"],
                                catch_exceptions=False)  # CliRunner's stdin is no terminal
    assert result.exit_code == 0, result.output
    assert "Console at" not in result.output
    found = re.search(r"^12\. To look at it all in the web console: (cd .* && edm console) \(then open",
                      result.output, re.M)
    assert found, result.output
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    password = "a demo password of the test"
    bin_dir = str(Path(sys.executable).parent)
    later = subprocess.Popen(  # the printed command as it is, in a shell; edm is this checkout's
        ["bash", "-c", found.group(1)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=_environment(EDM_USER_PASSWORD=password, EDM_CONSOLE__PORT=str(port),
                         PATH=os.pathsep.join([bin_dir, os.environ.get("PATH", "")])),
        cwd=tmp_path, start_new_session=True)
    try:
        _read_until(later, r"^console at ")
        for _ in range(100):  # the line comes just before uvicorn listens
            try:
                http = _sign_in(f"http://127.0.0.1:{port}", "demo", password)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        else:
            pytest.fail("edm console never listened")
        assert http.get("/campaigns").status_code == 200
        http.close()
    finally:
        _stopped(later, group=True)
