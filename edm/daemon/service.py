"""`edm daemon`: lead or stand by, keep the sender workers up, serve health, stop gracefully.

The main thread loops: a standby tries the leader lock every `standby_retry_seconds`; the
leader starts the scheduler and checks every turn that its lock still holds (a lost
PostgreSQL connection means another daemon may lead now: the scheduler stops at once).
SIGTERM or SIGINT ends the loop: workers are told to stop claiming and finish what is on
the wire, a running job finishes, the lock is released; all within `stop_timeout_seconds`.
Workers are given at least `smtp.stop_timeout_seconds` + `WORKER_EXIT_SECONDS`: a worker killed
before it has recorded its answers would leave rows `sending` and accepted mail unrecorded.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from types import FrameType

from apscheduler.schedulers.background import BackgroundScheduler

from edm.clock import Clock
from edm.config import Settings
from edm.daemon import jobs
from edm.daemon.leader import LeaderLock, leader_lock
from edm.daemon.metrics import DaemonState, MetricsServer
from edm.daemon.schedule import start_scheduler
from edm.daemon.workers import Workers
from edm.store import make_engine, session_factory
from edm.store.migrate import upgrade_schema
from edm.webhooks.emit import attach

log = logging.getLogger(__name__)

LEADER_CHECK_SECONDS = 1.0  # how often a leader makes sure its lock still holds, at most
WORKER_EXIT_SECONDS = 5.0  # a stopping worker's time to record, give back and exit after its stop timeout


def run_daemon(settings: Settings, clock: Clock, *, worker_command: Sequence[str]) -> None:
    """Run until SIGTERM or SIGINT; returns normally once everything has stopped."""
    settings.signing_keys()  # workers could sign nothing: refuse before leading, planning or starting them
    daemon = settings.daemon
    engine = make_engine(settings.database_url)
    upgrade_schema(engine)
    sessions = attach(session_factory(engine), settings.webhooks)
    state = DaemonState(started_at=clock.now())
    jobs.install(jobs.JobContext(settings, sessions, clock, state))
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("daemon pid=%d got %s: stopping", os.getpid(), signal.Signals(signum).name)
        stop.set()

    previous = {signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGINT)}
    lock = leader_lock(engine)
    stale = 3 * max(daemon.standby_retry_seconds, LEADER_CHECK_SECONDS) + 5
    server = (MetricsServer(daemon.metrics_host, daemon.metrics_port, state, sessions, clock, stale)
              if daemon.metrics_port else None)
    workers = Workers(daemon.workers, worker_command)
    scheduler: BackgroundScheduler | None = None
    log.info("daemon pid=%d started: role=standby until the leader lock is ours, workers=%d%s", os.getpid(),
             daemon.workers, f", metrics on {daemon.metrics_host}:{server.port}" if server else "")
    try:
        while not stop.is_set():
            scheduler = _lead_or_wait(lock, scheduler, state,
                                      start=lambda: start_scheduler(engine, settings, clock.now()))
            workers.keep_up()
            state.beat = clock.now()
            stop.wait(LEADER_CHECK_SECONDS if scheduler else daemon.standby_retry_seconds)
    finally:
        stopping = time.monotonic()
        finished = _stop(scheduler, workers, lock, state, stopping + daemon.stop_timeout_seconds,
                         workers_by=stopping + max(daemon.stop_timeout_seconds,
                                                   settings.smtp.stop_timeout_seconds + WORKER_EXIT_SECONDS))
        if server is not None:
            server.close()
        engine.dispose()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if not finished:  # a job still running at the deadline: its transaction never commits; go now
        log.warning("daemon pid=%d: a job was still running at the stop timeout; abandoned", os.getpid())
        logging.shutdown()
        os._exit(0)
    log.info("daemon pid=%d stopped", os.getpid())


def _lead_or_wait(lock: LeaderLock, scheduler: BackgroundScheduler | None, state: DaemonState, *,
                  start: Callable[[], BackgroundScheduler]) -> BackgroundScheduler | None:
    """One turn of the leadership loop: the scheduler to keep (None: standing by)."""
    if scheduler is None:
        if not lock.acquire():
            return None
        try:
            scheduler = start()
        except Exception:
            lock.release()  # let another daemon try rather than hold a lock and schedule nothing
            raise
        state.leader = True
        log.info("daemon pid=%d role=leader: scheduling %s", os.getpid(),
                 ", ".join(job.id for job in scheduler.get_jobs()))
        return scheduler
    if lock.held():
        return scheduler
    log.warning("daemon pid=%d lost the leader lock: role=standby", os.getpid())
    state.leader = False
    scheduler.shutdown(wait=False)
    return None


def _stop(scheduler: BackgroundScheduler | None, workers: Workers, lock: LeaderLock, state: DaemonState,
          deadline: float, *, workers_by: float) -> bool:
    """Stop the scheduler by `deadline` and the workers by `workers_by`; False when a job was still
    running at the deadline."""
    workers.terminate()  # first: they stop claiming at once, and finish in parallel with the job
    finished = True
    if scheduler is not None:
        stopping = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True)
        stopping.start()
        stopping.join(max(deadline - time.monotonic(), 0.0))
        finished = not stopping.is_alive()
    workers.wait(workers_by)
    lock.release()
    state.leader = False
    return finished
