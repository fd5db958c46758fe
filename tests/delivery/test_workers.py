"""Several `edm send` / `edm worker` processes on one outbox: nothing is sent twice, nothing is lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from edm.resources import bundled_config_dir
from edm.store import create_schema, make_engine, session_factory
from tests.conftest import SECRET_KEY, _postgres_url
from tests.delivery.rows import queue, states
from tests.delivery.smtp_servers import ScriptedHandler, serving

COMMAND = [sys.executable, "-c", "from edm.cli import main; main()"]


def _environment(tmp_path: Path, database_url: str, port: int) -> dict[str, str]:
    config = tmp_path / "edm.yaml"
    config.write_text(f"campaigns_dir: {bundled_config_dir() / 'campaigns'}\n", encoding="utf-8")
    return {
        **os.environ,
        "EDM_CONFIG": str(config),
        "EDM_DATABASE_URL": database_url,
        "EDM_SMTP__HOST": "127.0.0.1",
        "EDM_SMTP__PORT": str(port),
        "EDM_SMTP__BATCH_SIZE": "25",
        "EDM_SMTP__CONCURRENCY": "4",
        "EDM_SMTP__POLL_SECONDS": "0.2",
        "EDM_SECRET_KEY": SECRET_KEY,
    }


def _drain_with_processes(sessions: sessionmaker[Session], url: str, tmp_path: Path, processes: int,
                          messages: int) -> None:
    from datetime import UTC, datetime

    emails = [f"u{i}@example.com" for i in range(messages)]
    queue(sessions, emails, datetime.now(UTC))
    handler = ScriptedHandler(latency=0.002)
    with serving(handler) as port:
        env = _environment(tmp_path, url, port)
        running = [subprocess.Popen([*COMMAND, "send"], env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
                   for _ in range(processes)]
        outputs = [p.communicate(timeout=300) for p in running]
    assert [p.returncode for p in running] == [0] * processes, [err.decode()[-6000:] for _, err in outputs]
    twice = [mid for mid, n in Counter(handler.message_ids).items() if n > 1]
    assert twice == [] and len(handler.message_ids) == messages
    assert sorted(handler.recipients) == sorted(emails)
    assert set(states(sessions).values()) == {"sent"}
    sent_by = [int(out.decode().split("sent ")[1].split(",")[0]) for out, _ in outputs]
    assert sum(sent_by) == messages and sum(1 for n in sent_by if n) >= 2, sent_by  # the work was shared


def test_two_processes_on_one_sqlite_file_never_send_a_message_twice(
    sessions: sessionmaker[Session], sqlite_url: str, tmp_path: Path
) -> None:
    _drain_with_processes(sessions, sqlite_url, tmp_path, processes=2, messages=600)


@pytest.mark.postgres
def test_four_worker_processes_on_postgres_never_send_a_message_twice(
    postgres_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _drain_with_processes(postgres_sessions, _postgres_url(), tmp_path, processes=4, messages=1500)


def test_a_worker_stops_on_sigterm_finishing_what_it_holds(sqlite_url: str, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    engine = make_engine(sqlite_url)
    create_schema(engine)
    sessions = session_factory(engine)
    queue(sessions, [f"u{i}@example.com" for i in range(2000)], datetime.now(UTC))
    handler = ScriptedHandler(latency=0.02)
    with serving(handler) as port:
        worker = subprocess.Popen([*COMMAND, "worker"], env=_environment(tmp_path, sqlite_url, port),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while len(handler.recipients) < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)
    assert worker.returncode == 0, err.decode()[-2000:]
    final = Counter(states(sessions).values())
    assert final["sending"] == 0  # nothing left claimed: what was on the wire is recorded, the rest put back
    assert final["sent"] == len(handler.recipients) and 50 <= final["sent"] < 2000
    assert f"sent {final['sent']}," in out.decode()
    engine.dispose()
