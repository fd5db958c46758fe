"""`edm send` killed with SIGKILL five times mid-send: no message is lost, and only mail in flight doubles.

A real SMTP server in the test process counts every Message-ID it accepts. An `edm send`
subprocess drains 10 000 queued rows; at seeded random moments, each after some progress,
it is killed without warning and started again. Right after each kill (before the restart)
the rows still `sending` are read from the store: claimed, possibly on the wire, not
recorded. Those, and only those, may reach the relay twice once their short lease runs out.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.config import SenderSettings
from edm.delivery.message import message_id
from edm.store import OutboxMessage
from tests.conftest import SECRET_KEY, _postgres_url
from tests.delivery.rows import queue, states
from tests.delivery.smtp_servers import ScriptedHandler, serving
from tests.delivery.test_workers import COMMAND, _environment

MESSAGES = 10_000
KILLS = 5
SEED = 20240506
LEASE_SECONDS = 5  # a killed worker's claims come back this soon; far above a live batch's round trip
LEASE = timedelta(seconds=LEASE_SECONDS)


def _in_flight(sessions: sessionmaker[Session], started: datetime) -> set[str]:
    """Message-IDs of the rows the killed worker claimed and never recorded: what it may have put on
    the wire. Rows an earlier victim left `sending` whose lease has not run out yet are not counted
    again (their claim is older than this worker)."""
    from_address = SenderSettings().from_address
    with sessions() as session:
        keys = session.scalars(select(OutboxMessage.key).where(
            OutboxMessage.state == "sending", OutboxMessage.claimed_until >= started + LEASE))
        return {message_id(key, from_address, SECRET_KEY.encode()) for key in keys}


def _children(pid: int) -> set[int]:
    """The processes `pid` started (its compose workers), from Linux's /proc; empty elsewhere."""
    tasks = Path(f"/proc/{pid}/task")
    found = tasks.glob("*/children") if tasks.is_dir() else ()
    return {int(child) for path in found for child in path.read_text().split()}


def _outliving(pids: set[int]) -> set[int]:
    """Which of `pids` still run a few seconds after their parent was killed; those are then ended."""
    deadline = time.monotonic() + 5
    alive = set(pids)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if Path(f"/proc/{pid}").exists()}
        time.sleep(0.05)
    for pid in alive:
        os.kill(pid, signal.SIGKILL)  # not left behind by a failing test
    return alive


def _wait_for(handler: ScriptedHandler, count: int, process: subprocess.Popen[bytes], kill: int) -> None:
    """Until the server has `count` messages: each kill comes after some progress."""
    deadline = time.monotonic() + 60
    while len(handler.message_ids) < count:
        if process.poll() is not None:
            _, err = process.communicate()
            pytest.fail(f"edm send exited {process.returncode} before kill {kill + 1} with "
                        f"{len(handler.message_ids)} of {count} received: {err.decode()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no progress before kill {kill + 1}: {len(handler.message_ids)} of {count} received")
        time.sleep(0.002)


def _crash_and_restart(sessions: sessionmaker[Session], url: str, tmp_path: Path) -> None:
    rng = random.Random(SEED)  # the kill moments: the same on every run
    queue(sessions, [f"c{i}@example.com" for i in range(MESSAGES)], datetime.now(UTC))
    handler = ScriptedHandler(latency=0.001)
    in_flight_per_kill: list[set[str]] = []
    orphans: set[int] = set()
    with serving(handler) as port:
        env = {**_environment(tmp_path, url, port), "EDM_SMTP__BATCH_SIZE": "100",
               "EDM_SMTP__CLAIM_LEASE_SECONDS": str(LEASE_SECONDS)}
        for kill in range(KILLS):
            started = datetime.now(UTC)
            process = subprocess.Popen([*COMMAND, "send"], env=env, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE)
            _wait_for(handler, len(handler.message_ids) + rng.randint(300, 1200), process, kill)
            time.sleep(rng.uniform(0, 0.05))  # off any boundary the progress count might line up with
            children = _children(process.pid)
            process.send_signal(signal.SIGKILL)
            process.wait()
            orphans |= _outliving(children)
            in_flight_per_kill.append(_in_flight(sessions, started))
        last = subprocess.run([*COMMAND, "send"], env=env, capture_output=True, timeout=120, check=False)
    assert last.returncode == 0, last.stderr.decode()[-3000:]
    assert not orphans  # a worker outliving its sender keeps the dead claim open on PostgreSQL

    final = states(sessions)
    assert Counter(final.values()) == {"sent": MESSAGES}
    assert set(handler.recipients) == set(final)  # every customer received the message
    copies = Counter(handler.message_ids)
    assert len(copies) == MESSAGES
    extra = sum(n - 1 for n in copies.values())
    in_flight = [len(ids) for ids in in_flight_per_kill]
    print(f"in flight at each kill {in_flight}; extra copies {extra}")
    assert all(in_flight), in_flight  # each kill hit the sender mid-batch
    assert extra <= sum(in_flight), (extra, in_flight)
    assert {mid for mid, n in copies.items() if n > 1} <= set().union(*in_flight_per_kill)


def test_send_killed_five_times_delivers_everyone_and_doubles_only_in_flight_mail_on_sqlite(
    sessions: sessionmaker[Session], sqlite_url: str, tmp_path: Path
) -> None:
    _crash_and_restart(sessions, sqlite_url, tmp_path)


@pytest.mark.postgres
def test_send_killed_five_times_delivers_everyone_and_doubles_only_in_flight_mail_on_postgres(
    postgres_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _crash_and_restart(postgres_sessions, _postgres_url(), tmp_path)
