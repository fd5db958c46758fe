"""SIGTERM to `edm send`, `campaign run` and `edm daemon` as real processes, and a relay that stays down.

Each test works in a folder of its own: an `edm.yaml` with short bounds (`smtp.stop_timeout_seconds`
2, `smtp.give_up_after_seconds` 3), a SQLite file, the campaigns. The relay is a real aiosmtpd server
in the test process, slow enough (0.3 s a message) that a stop always finds mail on the wire, or a
port that refuses connections. After every stop: the process exited 0 in time, no outbox row is
`sending`, what the relay accepted is exactly what the store calls `sent`, nothing was counted as an
attempt that never reached the relay, and no process of the run is left.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from edm.config import SmtpSettings
from edm.delivery.pool import Relay
from edm.delivery.transport import Delivery, Outgoing, SmtpTransport
from edm.errors import NotAttemptedError, RelaysUnreachableError
from edm.resources import bundled_config_dir
from edm.store import OutboxMessage, create_schema, make_engine, session_factory
from tests.conftest import SECRET_KEY
from tests.delivery.rows import queue
from tests.delivery.smtp_servers import ScriptedHandler, refusing_port, serving
from tests.test_daemon import CAMPAIGN, populate

COMMAND = [sys.executable, "-c", "from edm.cli import main; main()"]
STOP_TIMEOUT = 2.0  # smtp.stop_timeout_seconds
GIVE_UP = 3.0  # smtp.give_up_after_seconds
CONNECT_TIMEOUT = 2.0  # smtp.timeout_seconds: the most one connection attempt adds to the give-up bound
EXIT_MARGIN = 3.0  # interpreter shutdown, the last write, joining the composers (a loaded machine)
LATENCY = 0.3  # the slow relay's pause before it accepts a message


@dataclass
class Folder:
    """A working folder: settings, database, campaigns; `edm` commands run against it."""

    path: Path
    sessions: sessionmaker[Session]

    @property
    def config(self) -> Path:
        return self.path / "edm.yaml"

    def settings(self, port: int, **smtp: object) -> None:
        values: dict[str, object] = {
            "host": "127.0.0.1", "port": port, "batch_size": 20, "concurrency": 4, "compose_processes": 2,
            "timeout_seconds": CONNECT_TIMEOUT, "stop_timeout_seconds": STOP_TIMEOUT,
            "give_up_after_seconds": GIVE_UP, "relay_retry_seconds": 0.2, "relay_retry_max_seconds": 0.5,
            "poll_seconds": 0.2, "claim_lease_seconds": 3600,  # a row left `sending` would stay so: seen
            **smtp,
        }
        lines = [f"database_url: sqlite:///{self.path / 'edm.db'}", "campaigns_dir: campaigns", "smtp:"]
        lines += [f"  {key}: {value}" for key, value in values.items()]
        lines += ["daemon:", "  workers: 2", "  plan_every_seconds: 1", "  stop_timeout_seconds: 10",
                  "  metrics_port: 0"]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def start(self, *args: str) -> subprocess.Popen[str]:
        """`edm ARGS --config FOLDER/edm.yaml`: every process of the run names the folder."""
        env = {**os.environ, "EDM_SECRET_KEY": SECRET_KEY}
        log = (self.path / f"{args[0]}.log").open("a", encoding="utf-8")
        return subprocess.Popen([*COMMAND, *args, "--config", str(self.config)], cwd=self.path, env=env,
                                stdout=log, stderr=subprocess.STDOUT, text=True)

    def log(self, command: str) -> str:
        return (self.path / f"{command}.log").read_text(encoding="utf-8", errors="replace")

    def rows(self) -> dict[str, tuple[str, int]]:
        """Each row's address, state and attempts."""
        with self.sessions() as session:
            found = session.execute(
                select(OutboxMessage.to_address, OutboxMessage.state, OutboxMessage.attempts))
            return {address: (state, attempts) for address, state, attempts in found}

    def states(self) -> Counter[str]:
        return Counter(state for state, _ in self.rows().values())

    def processes(self) -> set[int]:
        """Processes (other than this one) whose command line names this folder."""
        found = set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and int(entry.name) != os.getpid():
                try:
                    cmdline = (entry / "cmdline").read_bytes()
                except OSError:
                    continue
                if str(self.path).encode() in cmdline:
                    found.add(int(entry.name))
        return found


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Folder]:
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    (campaigns / "daemon_test.yaml").write_text(CAMPAIGN, encoding="utf-8")
    shutil.copy(bundled_config_dir() / "campaigns" / "win_back.yaml", campaigns / "win_back.yaml")
    engine: Engine = make_engine(f"sqlite:///{tmp_path / 'edm.db'}")
    create_schema(engine)
    made = Folder(tmp_path, session_factory(engine))
    yield made
    for pid in made.processes():  # a failing test leaves nothing running
        os.kill(pid, signal.SIGKILL)
    engine.dispose()


def _children(pid: int) -> set[int]:
    tasks = Path(f"/proc/{pid}/task")
    if not tasks.is_dir():
        return set()
    return {int(child) for path in tasks.glob("*/children") for child in path.read_text().split()}


def _alive(pids: set[int]) -> set[int]:
    """Which of `pids` still run (a zombie counts as gone: it is only waiting to be reaped)."""
    alive = set()
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        if "\nState:\tZ" not in status:
            alive.add(pid)
    return alive


def _wait_until(condition: Callable[[], bool], process: subprocess.Popen[str], what: str,
                timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"exited {process.returncode} before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout} s")
        time.sleep(0.02)


def _terminate(process: subprocess.Popen[str]) -> tuple[int, float]:
    """SIGTERM; the exit code and how long the process took to exit."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=30)
    return code, time.monotonic() - started


def _assert_store_matches_relay(folder: Folder, handler: ScriptedHandler) -> None:
    """Accepted by the relay <=> `sent`; nothing `sending`; every other row back as it was."""
    rows = folder.rows()
    sent = {address for address, (state, _) in rows.items() if state == "sent"}
    assert folder.states()["sending"] == 0, folder.states()
    assert Counter(handler.recipients) == Counter(sent)  # each accepted once, each recorded
    unsent = {address: row for address, row in rows.items() if address not in sent}
    assert all(row == ("queued", 0) for row in unsent.values()), Counter(unsent.values())


@pytest.mark.parametrize("command", [["send"], ["campaign", "run", "daemon_test"]])
def test_sigterm_mid_send_records_what_the_relay_took_puts_back_the_rest_and_a_restart_sends_it(
    folder: Folder, command: list[str]
) -> None:
    if command == ["send"]:
        queue(folder.sessions, [f"u{i}@example.com" for i in range(300)], datetime.now(UTC))
    else:
        populate(folder.sessions, 300)
    handler = ScriptedHandler(latency=LATENCY)
    with serving(handler) as port:
        folder.settings(port)
        process = folder.start(*command)
        _wait_until(lambda: len(handler.message_ids) >= 20, process, "20 messages at the relay")
        composers = _children(process.pid)
        code, took = _terminate(process)
        assert code == 0, folder.log(command[0])[-3000:]
        assert took < STOP_TIMEOUT + EXIT_MARGIN, took
        assert len(composers) == 2 and not _alive(composers) and not folder.processes()
        _assert_store_matches_relay(folder, handler)
        before = len(handler.recipients)
        assert 20 <= before < 300

        handler.latency = 0
        rest = folder.start("send")
        assert rest.wait(timeout=60) == 0, folder.log("send")[-3000:]
    assert folder.states() == {"sent": 300}
    assert sorted(Counter(handler.recipients).values()) == [1] * 300  # everyone, exactly once overall


@pytest.mark.parametrize("command", ["send", "worker"])
def test_sigterm_while_the_relay_is_down_exits_at_once_with_everything_queued(
    folder: Folder, command: str
) -> None:
    queue(folder.sessions, [f"u{i}@example.com" for i in range(100)], datetime.now(UTC))
    with refusing_port() as port:
        folder.settings(port, give_up_after_seconds=600)  # only the signal ends it (a worker never gives up)
        process = folder.start(command)
        _wait_until(lambda: folder.states()["sending"] > 0, process, "a claim")
        time.sleep(0.5)  # the consumers are waiting for the relay
        composers = _children(process.pid)
        code, took = _terminate(process)
    assert code == 0, folder.log(command)[-3000:]
    assert took < STOP_TIMEOUT + EXIT_MARGIN, took
    assert len(composers) == 2 and not _alive(composers) and not folder.processes()
    assert folder.rows() == {f"u{i}@example.com": ("queued", 0) for i in range(100)}


@pytest.mark.parametrize("command", [["campaign", "run", "daemon_test"], ["send"]])
def test_a_run_against_a_dead_relay_gives_up_in_time_with_exit_code_3(
    folder: Folder, command: list[str]
) -> None:
    if command == ["send"]:
        queue(folder.sessions, [f"u{i}@example.com" for i in range(200)], datetime.now(UTC))
    else:
        populate(folder.sessions, 200)
    with refusing_port() as port:
        folder.settings(port)
        started = time.monotonic()
        process = folder.start(*command)
        code = process.wait(timeout=60)
        took = time.monotonic() - started
    output = folder.log(command[0])
    assert code == 3, output[-3000:]
    startup = 8.0  # the interpreter, migrating and planning 200 customers, on a loaded machine
    assert GIVE_UP <= took < GIVE_UP + CONNECT_TIMEOUT + startup, took  # it did try for the whole bound
    assert re.search(r"Error: no relay reachable for 3 s \(127.0.0.1:\d+: .*\); gave up "
                     r"\(smtp.give_up_after_seconds: 3\), the rest is deferred to the next run", output)
    assert "Traceback" not in output
    assert command == ["send"] or ("daemon_test" in output and "queued 200" in output)
    rows = folder.rows()
    assert len(rows) == 200 and {state for state, _ in rows.values()} <= {"queued", "deferred"}
    assert {attempts for _, attempts in rows.values()} == {0}  # never reached a relay: no attempt counted
    assert not folder.processes()


def test_sigterm_to_the_daemon_mid_campaign_stops_its_workers_cleanly(folder: Folder) -> None:
    populate(folder.sessions, 300)
    handler = ScriptedHandler(latency=LATENCY)
    with serving(handler) as port:
        folder.settings(port, compose_processes=1)
        daemon = folder.start("daemon")
        _wait_until(lambda: len(handler.message_ids) >= 20, daemon, "20 messages at the relay")
        workers = {int(pid) for pid in re.findall(r"worker pid=(\d+) started", folder.log("daemon"))}
        family = workers | {child for worker in workers for child in _children(worker)}
        code, took = _terminate(daemon)
    assert code == 0, folder.log("daemon")[-3000:]
    assert took < STOP_TIMEOUT + EXIT_MARGIN + 2, took  # the workers' stop, then the daemon's own
    assert len(workers) == 2 and len(family) == 4, family  # two workers, a composer each
    assert not _alive(family) and not folder.processes()
    _assert_store_matches_relay(folder, handler)
    assert 20 <= len(handler.recipients) < 300


class StuckRelay:
    """Takes MAIL, RCPT and the data, then never answers the final dot."""

    def __init__(self) -> None:
        self.data = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data += 1
        await asyncio.sleep(3600)
        return "250 OK"


def test_a_transaction_without_an_answer_is_abandoned_at_the_stop_timeout_and_the_row_kept(
    folder: Folder,
) -> None:
    queue(folder.sessions, [f"u{i}@example.com" for i in range(40)], datetime.now(UTC))
    relay = StuckRelay()
    with serving(relay) as port:
        folder.settings(port, timeout_seconds=30)  # the stop, not the relay's time-out, ends the wait
        process = folder.start("send")
        _wait_until(lambda: relay.data == 4, process, "a message on each of the 4 connections")
        code, took = _terminate(process)
    assert code == 0, folder.log("send")[-3000:]
    assert STOP_TIMEOUT - 0.5 < took < STOP_TIMEOUT + EXIT_MARGIN, took  # waited for the answers, then not
    # the relay may or may not keep a message whose answer never came: it goes again, never skipped
    assert folder.rows() == {f"u{i}@example.com": ("queued", 0) for i in range(40)}
    assert "abandoned on the wire" in " ".join(_replies(folder))
    assert not folder.processes()


def _replies(folder: Folder) -> list[str]:
    with folder.sessions() as session:
        return [reply or "" for reply in session.scalars(select(OutboxMessage.last_reply))]


def test_the_relay_pool_gives_up_after_its_bound_and_a_worker_pool_never_does() -> None:
    settings = SmtpSettings(relay_retry_seconds=0.05, relay_retry_max_seconds=5, claim_lease_seconds=4,
                            concurrency=4)
    batch = [Outgoing(i, "care@example.com", f"u{i}@example.com", b"Subject: hi\r\n\r\nhi\r\n")
             for i in range(8)]

    async def send(transport: SmtpTransport) -> tuple[list[Delivery], float]:
        started = time.monotonic()
        halves = await asyncio.gather(transport.send(batch[:4]), transport.send(batch[4:]))
        return halves[0] + halves[1], time.monotonic() - started

    with refusing_port() as port:
        relay = [Relay("127.0.0.1", port)]
        gave_up, took = asyncio.run(send(SmtpTransport(settings, relays=relay, give_up_after=0.5)))
        waited, _ = asyncio.run(send(SmtpTransport(settings, relays=relay)))
    assert all(isinstance(d.error, RelaysUnreachableError) for d in gave_up)
    assert 0.5 <= took < 1.5, took  # tried until the bound, though the backoff had run past it
    # without a bound (a worker): put back for another claim, never "give up"
    assert all(type(d.error) is NotAttemptedError for d in waited)
