"""`edm daemon` as real processes: one leader plans, a standby takes over after SIGKILL, SIGTERM stops
cleanly, /healthz and /metrics answer over HTTP. Short schedules come from the environment."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from edm.delivery.sink import free_port
from edm.store import (
    ClassificationRun,
    Customer,
    CustomerProfile,
    OutboxMessage,
    create_schema,
    make_engine,
    session_factory,
)
from tests.conftest import SECRET_KEY, _postgres_url
from tests.delivery.smtp_servers import ScriptedHandler, serving

COMMAND = [sys.executable, "-c", "from edm.cli import main; main()"]
CAMPAIGN = """\
name: daemon_test
audience: {tiers: [low], stages: [churned]}
template: win_back
subject: {en: "We miss you, {{ greeting_name }}"}
links: {offer: https://www.example.com/offers/welcome-back}
params: {discount: "15%", offer_code: COMEBACK15}
"""
PLANNED = re.compile(r"job=plan pid=(\d+) campaigns=\d+ queued=(\d+)")


def populate(sessions: sessionmaker[Session], customers: int) -> None:
    """Churned low-tier customers with fresh profiles (so no daemon reclassifies them away)."""
    now = datetime.now(UTC)
    emails = [f"c{i}@example.com" for i in range(customers)]
    with sessions.begin() as session:
        session.execute(insert(Customer), [
            {"external_id": e, "name": e.split("@")[0], "email": e, "kind": "person", "locale": "en",
             "timezone": "UTC", "created_at": now} for e in emails])
        ids = session.execute(select(Customer.id)).scalars().all()
        session.execute(insert(CustomerProfile), [
            {"customer_id": i, "value_tier": "low", "lifecycle_stage": "churned", "order_count": 1,
             "revenue": Decimal("10"), "computed_at": now} for i in ids])
        session.add(ClassificationRun(computed_at=now, customers=customers, moved=0, thresholds={},
                                      churn_model=None))


def outbox_count(sessions: sessionmaker[Session], state: str | None = None) -> int:
    with sessions() as session:
        query = select(func.count()).select_from(OutboxMessage)
        return session.scalar(query.where(OutboxMessage.state == state) if state else query) or 0


def daemon_environment(tmp_path: Path, database_url: str, smtp_port: int, **daemon: object) -> dict[str, str]:
    """A settings file naming the test campaign; everything else from EDM_* variables."""
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir(exist_ok=True)
    (campaigns / "daemon_test.yaml").write_text(CAMPAIGN, encoding="utf-8")
    config = tmp_path / "edm.yaml"
    config.write_text(f"campaigns_dir: {campaigns}\n", encoding="utf-8")
    env = {
        **os.environ,
        "EDM_CONFIG": str(config),
        "EDM_DATABASE_URL": database_url,
        "EDM_SECRET_KEY": SECRET_KEY,
        "EDM_SMTP__HOST": "127.0.0.1",
        "EDM_SMTP__PORT": str(smtp_port),
        "EDM_SMTP__POLL_SECONDS": "0.2",
        "EDM_SMTP__COMPOSE_PROCESSES": "0",
        "EDM_DAEMON__PLAN_EVERY_SECONDS": "1",
        "EDM_DAEMON__STANDBY_RETRY_SECONDS": "0.5",
        "EDM_DAEMON__STOP_TIMEOUT_SECONDS": "20",
        "EDM_DAEMON__WORKERS": "0",
        "EDM_DAEMON__METRICS_PORT": "0",
    }
    env.update({f"EDM_DAEMON__{key.upper()}": str(value) for key, value in daemon.items()})
    return env


@dataclass
class Daemon:
    process: subprocess.Popen[str]
    log: Path

    def text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def plans(self) -> int:
        return len(PLANNED.findall(self.text()))

    def wait_for(self, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while what not in self.text():
            if self.process.poll() is not None:
                pytest.fail(f"exited {self.process.returncode} before {what!r}:\n{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what!r} within {timeout} s:\n{self.text()[-3000:]}")
            time.sleep(0.05)


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], Daemon]]:
    """Starts `edm daemon` processes logging to files; any left running at the end is killed."""
    started: list[Daemon] = []

    def start(env: dict[str, str]) -> Daemon:
        log = tmp_path / f"daemon-{len(started)}.log"
        with log.open("w", encoding="utf-8") as out:
            process = subprocess.Popen([*COMMAND, "daemon"], env=env, stdout=out, stderr=subprocess.STDOUT,
                                       text=True)
        started.append(Daemon(process, log))
        return started[-1]

    yield start
    for daemon in started:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait()


def _leader_failover(sessions: sessionmaker[Session], url: str, tmp_path: Path,
                     start_daemon: Callable[[dict[str, str]], Daemon]) -> None:
    populate(sessions, 50)
    env = daemon_environment(tmp_path, url, free_port())
    first = start_daemon(env)
    first.wait_for("role=leader")
    metrics = free_port()
    second = start_daemon({**env, "EDM_DAEMON__METRICS_PORT": str(metrics)})
    second.wait_for("role=standby")
    second.wait_for("metrics on")
    deadline = time.monotonic() + 30
    while first.plans() < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert first.plans() >= 3, first.text()[-3000:]
    assert second.plans() == 0 and "role=leader" not in second.text()  # the standby never planned
    assert outbox_count(sessions) == 50  # planned once: later runs found nothing new to queue
    assert PLANNED.findall(first.text())[0][1] == "50"  # the first run queued everyone
    assert _get(f"http://127.0.0.1:{metrics}/healthz") == (200, "ok standby\n")
    assert "\nedm_daemon_leader 0\n" in _get(f"http://127.0.0.1:{metrics}/metrics")[1]

    first.process.kill()  # SIGKILL: no chance to release anything; the lock goes with the process
    first.process.wait()
    killed_at = time.monotonic()
    second.wait_for("role=leader", timeout=15)
    took_over = time.monotonic() - killed_at
    second.wait_for("job=plan")
    assert took_over < 10, took_over  # a retry period (0.5 s) plus the start, not a timeout
    assert outbox_count(sessions) == 50  # the new leader re-plans: idempotent, nothing queued twice
    assert _get(f"http://127.0.0.1:{metrics}/healthz") == (200, "ok leader\n")

    second.process.send_signal(signal.SIGTERM)
    assert second.process.wait(timeout=30) == 0, second.text()[-3000:]
    assert "stopped" in second.text()


def test_a_standby_daemon_takes_over_on_sqlite_when_the_leader_is_killed(
    sqlite_url: str, tmp_path: Path, start_daemon: Callable[[dict[str, str]], Daemon]
) -> None:
    engine = make_engine(sqlite_url)
    create_schema(engine)
    _leader_failover(session_factory(engine), sqlite_url, tmp_path, start_daemon)
    engine.dispose()


@pytest.mark.postgres
def test_a_standby_daemon_takes_over_on_postgres_when_the_leader_is_killed(
    postgres_sessions: sessionmaker[Session], tmp_path: Path, start_daemon: Callable[[dict[str, str]], Daemon]
) -> None:
    _leader_failover(postgres_sessions, _postgres_url(), tmp_path, start_daemon)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_sigterm_stops_the_workers_mid_send_and_exits_0_with_metrics_served_until_then(
    sqlite_url: str, tmp_path: Path, start_daemon: Callable[[dict[str, str]], Daemon]
) -> None:
    engine = make_engine(sqlite_url)
    create_schema(engine)
    sessions = session_factory(engine)
    populate(sessions, 1500)
    metrics = free_port()
    handler = ScriptedHandler(latency=0.02)  # slow enough that SIGTERM comes mid-send
    with serving(handler) as smtp_port:
        env = daemon_environment(tmp_path, sqlite_url, smtp_port, workers=2, metrics_port=metrics,
                                 stop_timeout_seconds=20)
        daemon = start_daemon({**env, "EDM_SMTP__BATCH_SIZE": "25", "EDM_SMTP__CONCURRENCY": "2"})
        daemon.wait_for("job=plan")
        deadline = time.monotonic() + 60
        while len(handler.message_ids) < 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        status, health = _get(f"http://127.0.0.1:{metrics}/healthz")
        status_m, text = _get(f"http://127.0.0.1:{metrics}/metrics")
        workers = [int(pid) for pid in re.findall(r"worker pid=(\d+) started", daemon.text())]
        stopping = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        code = daemon.process.wait(timeout=30)
        took = time.monotonic() - stopping
    assert (status, health, status_m) == (200, "ok leader\n", 200)
    assert "\nedm_daemon_leader 1\n" in text and re.search(r"\nedm_plan_lag_seconds \d", text)
    assert re.search(r"\nedm_last_classification_timestamp_seconds \d", text)
    assert re.search(r'\nedm_outbox_messages\{state="queued"\} \d+\n', text)
    assert re.search(r'\nedm_outbox_messages\{state="sent"\} [1-9]', text), text
    assert code == 0 and took < 20, daemon.text()[-3000:]
    assert len(workers) == 2 and not any(Path(f"/proc/{pid}").exists() for pid in workers)
    assert outbox_count(sessions, "sending") == 0  # what was on the wire was recorded, the rest put back
    assert outbox_count(sessions, "sent") == len(handler.message_ids) < 1500
    assert "stopped" in daemon.text()
    engine.dispose()
