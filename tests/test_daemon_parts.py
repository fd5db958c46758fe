"""The daemon's parts on their own: the leader lock on real databases, the job store, the metrics
text, the weekly report mail through a real SMTP server."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.config import AlertSettings, DaemonSettings, Settings, SmtpSettings
from edm.daemon.jobs import mail_report, plan_due
from edm.daemon.leader import AdvisoryLock, FileLock, leader_lock
from edm.daemon.metrics import DaemonState, StoreFigures, render_metrics
from edm.daemon.schedule import JOB_TABLE, start_scheduler
from edm.errors import ConfigError
from edm.store import make_engine
from tests.conftest import SmtpServer
from tests.test_daemon import CAMPAIGN, outbox_count, populate

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _another(engine: Engine) -> Engine:
    """A second engine on the same store, as another daemon would have."""
    return make_engine(engine.url.render_as_string(hide_password=False))


def test_only_one_leader_lock_is_held_at_a_time(any_engine: Engine) -> None:
    first, second = leader_lock(any_engine), leader_lock(_another(any_engine))
    assert first.acquire() and first.acquire()  # taking it again while holding it is a no-op
    assert not second.acquire() and not second.held()
    first.release()
    assert second.acquire() and second.held()
    assert not first.acquire()
    second.release()


def test_the_sqlite_lock_file_names_its_holder(tmp_path: Path) -> None:
    lock = leader_lock(make_engine(f"sqlite:///{tmp_path / 'edm.db'}"))
    assert isinstance(lock, FileLock) and lock.acquire()
    assert lock.path.read_text().strip().isdigit()
    lock.release()


@pytest.mark.postgres
def test_a_leader_whose_postgres_session_dies_knows_it_lost_the_lock(postgres_sessions: sessionmaker[Session],
                                                                     ) -> None:
    engine = postgres_sessions.kw["bind"]
    lock, rival = AdvisoryLock(engine), AdvisoryLock(_another(engine))
    assert lock.acquire() and not rival.acquire()
    assert lock._connection is not None  # the lock's own session: other runs on this server are left alone
    pid = lock._connection.scalar(text("SELECT pg_backend_pid()"))
    with engine.connect() as admin:  # what a server restart or a network cut does to the session
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    assert not lock.held()
    assert rival.acquire()
    rival.release()


def test_jobs_have_fixed_ids_and_follow_the_settings_on_each_start(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'edm.db'}")
    with_report = Settings(daemon=DaemonSettings(report_to=("a@example.com",), timezone="Asia/Shanghai"))
    scheduler = start_scheduler(engine, with_report, NOW)
    jobs_now = sorted(job.id for job in scheduler.get_jobs())
    assert jobs_now == ["digest", "plan", "react", "reclassify", "weekly-report"]
    scheduler.shutdown()
    # a restart after report_to was emptied and the digests switched off
    scheduler = start_scheduler(engine, Settings(alerts=AlertSettings(enabled=False)), NOW)
    jobs = {job.id: job for job in scheduler.get_jobs()}
    scheduler.shutdown()
    assert sorted(jobs) == ["plan", "react", "reclassify"]
    assert str(jobs["reclassify"].trigger.timezone) == "UTC"
    with engine.connect() as connection:
        stored = connection.execute(text(f"SELECT id FROM {JOB_TABLE}")).scalars().all()
    assert sorted(stored) == ["plan", "react", "reclassify"]  # kept in the database, one row per id


@pytest.mark.parametrize("key, value", [("reclassify_cron", "0 25 * * *"), ("timezone", "Mars/Base")])
def test_a_bad_schedule_names_the_key(tmp_path: Path, key: str, value: str) -> None:
    from edm.config import load_settings

    config = tmp_path / "edm.yaml"
    config.write_text(f"daemon: {{{key}: '{value}'}}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=key):
        load_settings(config, {})


def test_metrics_text_is_prometheus_exposition_format() -> None:
    state = DaemonState(started_at=NOW, leader=True, last_plan=datetime(2026, 3, 2, 7, 59, 30, tzinfo=UTC))
    state.failed("plan")
    figures = StoreFigures({"queued": 7, "sent": 3, "held_out": 1}, datetime(2026, 3, 2, 2, 30, tzinfo=UTC),
                           {("smtp1.example:587", "sent"): 2, ("smtp2.example:465", "sent"): 1})
    body = render_metrics(state, figures, NOW)
    samples = [line for line in body.splitlines() if not line.startswith("#")]
    label = r'[a-z_]+="[a-z0-9_.:-]+"'
    sample = rf"[a-z_]+(\{{{label}(,{label})*\}})? -?\d+(\.\d+)?"
    assert all(re.fullmatch(sample, s) for s in samples), samples
    assert 'edm_relay_messages{relay="smtp1.example:587",state="sent"} 2' in samples
    assert 'edm_outbox_messages{state="queued"} 7' in samples
    assert 'edm_outbox_messages{state="bounced"} 0' in samples  # every state reported, even when none
    assert 'edm_outbox_messages{state="held_out"} 1' in samples
    assert "edm_plan_lag_seconds 30.000" in samples
    assert "edm_last_classification_timestamp_seconds 1772418600.000" in samples
    assert 'edm_daemon_job_failures_total{job="plan"} 1' in samples
    assert "edm_daemon_leader 1" in samples and body.endswith("\n")


def _settings(tmp_path: Path, **changes: object) -> Settings:
    (tmp_path / "campaigns").mkdir(exist_ok=True)
    (tmp_path / "campaigns" / "daemon_test.yaml").write_text(CAMPAIGN, encoding="utf-8")
    return Settings(campaigns_dir=tmp_path / "campaigns", **changes)  # type: ignore[arg-type]


def test_plan_due_queues_without_sending_and_once(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    populate(sessions, 20)
    settings = _settings(tmp_path)
    clock = FixedClock(datetime.now(UTC))
    assert sum(r.queued for r in plan_due(settings, sessions, clock)) == 20
    assert sum(r.queued for r in plan_due(settings, sessions, clock)) == 0
    assert outbox_count(sessions, "queued") == 20


def test_the_weekly_report_arrives_as_mail_with_the_html_attached(
    sessions: sessionmaker[Session], tmp_path: Path, smtp_server: SmtpServer
) -> None:
    populate(sessions, 5)
    smtp = SmtpSettings(host=smtp_server.host, port=smtp_server.port)
    settings = _settings(tmp_path, smtp=smtp, daemon=DaemonSettings(report_to=("ana@example.com",
                                                                                "bo@example.com")))
    assert mail_report(settings, sessions, FixedClock(NOW)) == 2
    assert [m["To"] for m in smtp_server.handler.messages] == ["ana@example.com, bo@example.com"] * 2
    message = smtp_server.handler.messages[0]
    assert "2026-02-23" in message["Subject"] and "sent 0" in message.get_body(("plain",)).get_content()
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/html"
    assert "<html" in attachment.get_content().lower()


def test_no_report_recipients_sends_nothing(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    assert mail_report(_settings(tmp_path), sessions, FixedClock(NOW)) == 0


def test_a_worker_that_keeps_failing_is_restarted_ever_more_slowly_and_a_steady_one_afresh() -> None:
    import itertools
    import subprocess
    import sys

    from edm.daemon.workers import MAX_RESTART_SECONDS, Workers, restart_delay

    assert [restart_delay(n) for n in range(7)] == [5, 5, 10, 20, 40, 80, 160]
    assert restart_delay(50) == MAX_RESTART_SECONDS
    now = [1000.0]
    workers = Workers(1, [sys.executable, "-c", "raise SystemExit(1)"], clock=lambda: now[0])
    starts = []
    for _ in range(400):  # 400 ticks of 5 s: about half an hour of a worker refused its login
        workers.keep_up()
        process = workers.slots[0]
        if process is not None and (not starts or starts[-1][1] is not process):
            starts.append((now[0], process))
            process.wait()
        now[0] += 5.0
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(starts)]
    assert gaps[:6] == [5, 10, 20, 40, 80, 160] and set(gaps[6:]) == {MAX_RESTART_SECONDS}
    assert len(starts) < 15  # not 400

    workers = Workers(1, [sys.executable, "-c", "import time; time.sleep(0.2)"], clock=lambda: now[0])
    workers.keep_up()
    first = workers.slots[0]
    assert first is not None
    first.wait()
    now[0] += 61.0  # it ran a steady minute before it ended: no back-off for its slot
    workers.keep_up()
    assert workers.failures == [0] and workers.slots[0] is not first
    second = workers.slots[0]
    assert isinstance(second, subprocess.Popen)
    second.wait()
