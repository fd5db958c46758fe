"""The daemon's side: the webhooks job is scheduled when targets are configured, delivers, and /metrics
shows each target's deliveries."""

from __future__ import annotations

from datetime import UTC, datetime

from edm.clock import FixedClock
from edm.config import Settings
from edm.daemon import jobs
from edm.daemon.metrics import DaemonState, read_figures, render_metrics
from edm.daemon.schedule import WEBHOOKS, wanted_jobs
from edm.runner import open_store
from edm.suppression import COMPLAINT, suppress
from tests.webhooks.conftest import Folder, Receiver


def test_the_job_is_wanted_only_with_targets(folder: Folder) -> None:
    now = datetime.now(UTC)
    assert WEBHOOKS in wanted_jobs(folder.settings(), now)
    assert WEBHOOKS not in wanted_jobs(Settings(), now)


def test_the_job_delivers_and_metrics_count_per_target(folder: Folder, receiver: Receiver) -> None:
    settings = folder.settings()
    sessions = open_store(settings)
    now = datetime.now(UTC)
    with sessions.begin() as session:
        suppress(session, ["a@example.com", "b@example.com"], COMPLAINT, now)
    receiver.fail_first = 1
    state = DaemonState(started_at=now)
    jobs.install(jobs.JobContext(settings, sessions, FixedClock(now), state))
    jobs.webhooks()
    assert state.job_failures == {}
    assert [r.answered for r in receiver.received] == [500, 200]
    assert {r.payload["type"] for r in receiver.received} == {"customer.complained"}
    samples = render_metrics(state, read_figures(sessions), now).splitlines()
    assert 'edm_webhook_deliveries{endpoint="shop",state="sent"} 1' in samples
    assert 'edm_webhook_deliveries{endpoint="shop",state="pending"} 1' in samples
    assert 'edm_webhook_deliveries{endpoint="shop",state="dead"} 0' in samples
    assert 'edm_webhook_attempts{endpoint="shop"} 2' in samples
