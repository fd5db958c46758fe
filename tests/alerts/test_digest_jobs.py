"""How digests are started: the daemon's job and schedule, `edm alerts digest`, and the alerts settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.cli import main
from edm.clock import FixedClock
from edm.config import AlertSettings, Settings, load_settings
from edm.daemon import jobs
from edm.daemon.metrics import DaemonState
from edm.daemon.schedule import DIGEST, wanted_jobs
from edm.errors import ConfigError
from edm.runner import open_store
from edm.store import ManagerDigest
from tests.alerts.rows import ANA, BO, NOW, populate, settings_for
from tests.conftest import SECRET_KEY, SmtpServer


@pytest.fixture
def job_context(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jobs, "_context", None)  # whatever a test installs is gone afterwards


def test_the_daemon_job_sends_the_digests(sessions: sessionmaker[Session], smtp_server: SmtpServer,
                                          job_context: None) -> None:
    populate(sessions)
    state = DaemonState(started_at=NOW)
    jobs.install(jobs.JobContext(settings_for(smtp_server), sessions, FixedClock(NOW), state))
    jobs.digest()
    assert [m["To"] for m in smtp_server.handler.messages] == [f"Ana Li <{ANA}>"]
    assert state.job_failures == {}


def test_a_digest_that_fails_counts_as_a_failed_job(sessions: sessionmaker[Session], smtp_server: SmtpServer,
                                                    job_context: None) -> None:
    populate(sessions)
    smtp_server.handler.refuse[ANA] = "451 4.3.0 try again later"
    state = DaemonState(started_at=NOW)
    jobs.install(jobs.JobContext(settings_for(smtp_server), sessions, FixedClock(NOW), state))
    jobs.digest()
    assert state.job_failures == {"digest": 1}
    with sessions() as session:  # Bo had nothing: his watermark moved all the same
        assert session.scalars(select(ManagerDigest.manager_email)).all() == [BO]


def test_the_job_does_nothing_when_alerts_are_off(sessions: sessionmaker[Session], smtp_server: SmtpServer,
                                                  job_context: None) -> None:
    populate(sessions)
    state = DaemonState(started_at=NOW)
    jobs.install(jobs.JobContext(settings_for(smtp_server, enabled=False), sessions, FixedClock(NOW), state))
    assert jobs.send_manager_digests(jobs._current()) == "alerts=off"
    assert smtp_server.handler.messages == []


def test_the_digest_is_scheduled_in_its_own_time_zone_unless_off() -> None:
    settings = Settings(alerts=AlertSettings(digest_cron="30 9 * * mon-fri", timezone="Asia/Shanghai"))
    job = wanted_jobs(settings, NOW)[DIGEST]
    assert job["func"] == "edm.daemon.jobs:digest"
    assert str(job["trigger"].timezone) == "Asia/Shanghai"
    assert job["trigger"].get_next_fire_time(None, NOW).isoformat() == "2026-03-03T09:30:00+08:00"
    assert DIGEST not in wanted_jobs(Settings(alerts=AlertSettings(enabled=False)), NOW)


@pytest.mark.parametrize(("yaml", "key"), [
    ("alerts: {digest_cron: '0 8 * *'}", "digest_cron"),
    ("alerts: {timezone: Mars/Base}", "timezone"),
    ("alerts: {language: fr}", "language"),
    ("alerts: {first_lookback_hours: 0}", "first_lookback_hours"),
])
def test_bad_alert_settings_name_the_key(tmp_path: Path, yaml: str, key: str) -> None:
    config = tmp_path / "edm.yaml"
    config.write_text(yaml + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=key):
        load_settings(config, {})


def test_alert_settings_from_the_environment(tmp_path: Path) -> None:
    config = tmp_path / "edm.yaml"
    config.write_text("alerts: {win_back_campaigns: [win_back, comeback]}\n", encoding="utf-8")
    settings = load_settings(config, {"EDM_ALERTS__ENABLED": "false", "EDM_ALERTS__LANGUAGE": "zh-Hant"})
    assert settings.alerts == AlertSettings(enabled=False, language="zh-Hant",
                                            win_back_campaigns=("win_back", "comeback"))


def _config(tmp_path: Path, smtp: SmtpServer, extra: str = "") -> Path:
    config = tmp_path / "edm.yaml"
    config.write_text(f"database_url: sqlite:///{tmp_path / 'cli.db'}\n"
                      f"smtp: {{host: {smtp.host}, port: {smtp.port}}}\n{extra}", encoding="utf-8")
    return config


def test_the_command_prints_each_manager_and_mails_for_real(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = _config(tmp_path, smtp_server)
    sessions = open_store(load_settings(config, {}))
    populate(sessions, datetime.now(UTC))  # the command runs on the system clock
    runner = CliRunner()
    dry = runner.invoke(main, ["alerts", "digest", "--dry-run", "--config", str(config)],
                        catch_exceptions=False)
    assert dry.exit_code == 0, dry.output
    assert f"{ANA}: 6 items, 6 customers, would be mailed (dry run)" in dry.output
    assert f"{BO}: 0 items, 0 customers, nothing new, not mailed" in dry.output
    assert smtp_server.handler.messages == []

    keyless = runner.invoke(main, ["alerts", "digest", "--config", str(config)])
    assert keyless.exit_code == 1 and "EDM_SECRET_KEY" in keyless.output  # it sends: a key first
    assert smtp_server.handler.messages == []
    sent = runner.invoke(main, ["alerts", "digest", "--config", str(config)], catch_exceptions=False,
                         env={"EDM_SECRET_KEY": SECRET_KEY})
    assert sent.exit_code == 0, sent.output
    assert f"{ANA}: 6 items, 6 customers, mailed" in sent.output
    assert "managers 2, mailed 1, nothing new 1, failed 0, items 6" in sent.output
    assert len(smtp_server.handler.to(ANA)) == 1
    with sessions() as session:
        assert sorted(session.scalars(select(ManagerDigest.manager_email)).all()) == [ANA, BO]


def test_the_command_exits_1_when_a_digest_is_refused(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = _config(tmp_path, smtp_server)
    populate(open_store(load_settings(config, {})), datetime.now(UTC))
    smtp_server.handler.refuse[ANA] = "550 5.1.1 no such user"
    result = CliRunner(env={"EDM_SECRET_KEY": SECRET_KEY}).invoke(
        main, ["alerts", "digest", "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 1
    assert f"{ANA}: 6 items, 6 customers, NOT mailed: " in result.output and "550" in result.output


def test_the_command_says_when_alerts_are_off(tmp_path: Path, smtp_server: SmtpServer) -> None:
    config = _config(tmp_path, smtp_server, "alerts: {enabled: false}\n")
    result = CliRunner(env={"EDM_SECRET_KEY": SECRET_KEY}).invoke(
        main, ["alerts", "digest", "--config", str(config)], catch_exceptions=False)
    assert result.exit_code == 0 and "alerts.enabled is false" in result.output
