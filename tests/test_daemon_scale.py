"""Scale-out as the operator guide describes it: two `edm daemon` and four `edm worker` processes on
one PostgreSQL store. One daemon plans, the workers share the sending, every message goes out once."""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tests.conftest import _postgres_url
from tests.delivery.smtp_servers import ScriptedHandler, serving
from tests.test_daemon import COMMAND, Daemon, daemon_environment, outbox_count, populate, start_daemon

__all__ = ["start_daemon"]  # the fixture, used below

CUSTOMERS = 2000
WORKERS = 4


@pytest.mark.postgres
def test_two_daemons_and_four_workers_send_every_message_exactly_once(
    postgres_sessions: sessionmaker[Session], tmp_path: Path, start_daemon: Callable[[dict[str, str]], Daemon]
) -> None:
    populate(postgres_sessions, CUSTOMERS)
    handler = ScriptedHandler(latency=0.001)
    with serving(handler) as smtp_port:
        env = daemon_environment(tmp_path, _postgres_url(), smtp_port, metrics_port=0)
        env |= {"EDM_SMTP__BATCH_SIZE": "50", "EDM_SMTP__CONCURRENCY": "4"}
        daemons = [start_daemon(env), start_daemon(env)]
        for daemon in daemons:
            daemon.wait_for("started: role=standby")
        workers = [subprocess.Popen([*COMMAND, "worker"], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE) for _ in range(WORKERS)]
        try:
            deadline = time.monotonic() + 50
            while len(handler.message_ids) < CUSTOMERS and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(1.5)  # a moment more: a message sent twice would arrive now
        finally:
            for process in [*workers, *(d.process for d in daemons)]:
                process.send_signal(signal.SIGTERM)
            outputs = [w.communicate(timeout=30) for w in workers]
            codes = [d.process.wait(timeout=30) for d in daemons]
    assert [w.returncode for w in workers] == [0] * WORKERS, [err.decode()[-2000:] for _, err in outputs]
    assert codes == [0, 0], [d.text()[-2000:] for d in daemons]
    twice = [mid for mid, n in Counter(handler.message_ids).items() if n > 1]
    assert twice == [] and len(handler.message_ids) == CUSTOMERS
    assert sorted(handler.recipients) == sorted(f"c{i}@example.com" for i in range(CUSTOMERS))
    assert outbox_count(postgres_sessions, "sent") == CUSTOMERS
    leaders = [d for d in daemons if "role=leader" in d.text()]
    assert len(leaders) == 1 and [d.plans() > 0 for d in daemons].count(True) == 1
    sent_by = [int(out.decode().split("sent ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(sent_by) == CUSTOMERS and sum(1 for n in sent_by if n) >= 2, sent_by  # the work was shared
