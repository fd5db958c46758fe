"""`/healthz` and `/metrics` (Prometheus text format 0.0.4) for a running daemon.

Delivery figures are totals by state, and by relay and state for the rows a relay answered
(the outbox keeps which one); each sending pause (edm.delivery.health) is a gauge of its own.
The numbers are read from the store on each scrape; the server is the standard library's, on a
thread.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import Clock
from edm.delivery.holds import pauses
from edm.store import ClassificationRun, OutboxMessage
from edm.webhooks.status import EndpointStatus, endpoint_status

log = logging.getLogger(__name__)

REPORTED_STATES = ("queued", "sending", "sent", "deferred", "bounced", "failed", "suppressed")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass
class DaemonState:
    """What this daemon knows about itself; written by the daemon's threads, read by scrapes."""

    started_at: datetime
    leader: bool = False
    beat: datetime | None = None  # the main loop's last turn: a stuck daemon is unhealthy
    last_plan: datetime | None = None  # the last successful plan run in this process
    job_failures: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def failed(self, job: str) -> None:
        with self.lock:
            self.job_failures[job] = self.job_failures.get(job, 0) + 1


@dataclass(frozen=True)
class StoreFigures:
    outbox: dict[str, int]
    last_classification: datetime | None
    by_relay: dict[tuple[str, str], int] = field(default_factory=dict)  # (relay, state) -> rows
    paused: dict[str, float] = field(default_factory=dict)  # scope paused -> since (Unix seconds)
    webhooks: list[EndpointStatus] = field(default_factory=list)  # per webhook target (edm.webhooks)


def read_figures(sessions: sessionmaker[Session]) -> StoreFigures:
    with sessions() as session:
        counts = {state: n for state, n in session.execute(
            select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state))}
        by_relay = {(relay or "", state): n for relay, state, n in session.execute(
            select(OutboxMessage.relay, OutboxMessage.state, func.count())
            .where(OutboxMessage.relay.is_not(None))
            .group_by(OutboxMessage.relay, OutboxMessage.state))}
        last = session.scalar(select(func.max(ClassificationRun.computed_at)))
        paused = {p.scope: p.paused_at.timestamp() for p in pauses(session)}
        hooks = endpoint_status(session)
    return StoreFigures(counts, last, by_relay, paused, hooks)


def render_metrics(state: DaemonState, figures: StoreFigures, now: datetime) -> str:
    """The exposition text; pure, so its format is tested without a server."""
    lines = [
        "# HELP edm_outbox_messages Outbox messages by delivery state (all relays together).",
        "# TYPE edm_outbox_messages gauge",
    ]
    states = [*REPORTED_STATES, *sorted(set(figures.outbox) - set(REPORTED_STATES))]
    lines += [f'edm_outbox_messages{{state="{s}"}} {figures.outbox.get(s, 0)}' for s in states]
    lines += [
        "# HELP edm_relay_messages Outbox messages a relay answered, by relay and state.",
        "# TYPE edm_relay_messages gauge",
    ]
    lines += [f'edm_relay_messages{{relay="{_label(relay)}",state="{s}"}} {n}'
              for (relay, s), n in sorted(figures.by_relay.items())]
    lines += [
        "# HELP edm_sending_paused 1 for each scope paused for its bounce or complaint rate "
        "(campaign:NAME, or bulk); `edm campaign resume` lifts it.",
        "# TYPE edm_sending_paused gauge",
    ]
    lines += [f'edm_sending_paused{{scope="{_label(scope)}"}} 1' for scope in sorted(figures.paused)]
    lines += [
        "# HELP edm_sending_paused_since_timestamp_seconds When each paused scope was paused (Unix).",
        "# TYPE edm_sending_paused_since_timestamp_seconds gauge",
    ]
    lines += [f'edm_sending_paused_since_timestamp_seconds{{scope="{_label(scope)}"}} {at:.3f}'
              for scope, at in sorted(figures.paused.items())]
    lines += [
        "# HELP edm_webhook_deliveries Outbound webhook deliveries by target and state "
        "(pending, sent, dead).",
        "# TYPE edm_webhook_deliveries gauge",
    ]
    lines += [f'edm_webhook_deliveries{{endpoint="{_label(w.endpoint)}",state="{s}"}} {n}'
              for w in figures.webhooks for s, n in w.counts.items()]
    lines += [
        "# HELP edm_webhook_attempts Tries made for the deliveries held, by target "
        "(a replay resets its rows').",
        "# TYPE edm_webhook_attempts gauge",
    ]
    lines += [f'edm_webhook_attempts{{endpoint="{_label(w.endpoint)}"}} {w.attempts}'
              for w in figures.webhooks]
    lines += [
        "# HELP edm_daemon_leader 1 when this daemon holds the leader lock and schedules, 0 on standby.",
        "# TYPE edm_daemon_leader gauge",
        f"edm_daemon_leader {int(state.leader)}",
        "# HELP edm_daemon_uptime_seconds Seconds since this daemon started.",
        "# TYPE edm_daemon_uptime_seconds gauge",
        f"edm_daemon_uptime_seconds {(now - state.started_at).total_seconds():.3f}",
    ]
    if state.last_plan is not None:
        lines += [
            "# HELP edm_plan_lag_seconds Seconds since this daemon's last successful plan run.",
            "# TYPE edm_plan_lag_seconds gauge",
            f"edm_plan_lag_seconds {(now - state.last_plan).total_seconds():.3f}",
        ]
    if figures.last_classification is not None:
        lines += [
            "# HELP edm_last_classification_timestamp_seconds When profiles were last recomputed (Unix).",
            "# TYPE edm_last_classification_timestamp_seconds gauge",
            f"edm_last_classification_timestamp_seconds {figures.last_classification.timestamp():.3f}",
        ]
    with state.lock:
        failures = dict(state.job_failures)
    lines += ["# HELP edm_daemon_job_failures_total Scheduled job runs that raised, by job.",
              "# TYPE edm_daemon_job_failures_total counter"]
    lines += [f'edm_daemon_job_failures_total{{job="{job}"}} {n}' for job, n in sorted(failures.items())]
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    """A Prometheus label value: backslash, quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def healthy(state: DaemonState, sessions: sessionmaker[Session], now: datetime, stale_seconds: float) -> bool:
    """Healthy: the main loop turned recently and the store answers."""
    if state.beat is None or (now - state.beat).total_seconds() > stale_seconds:
        return False
    try:
        with sessions() as session:
            session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


class MetricsServer:
    """Serves `/healthz` and `/metrics` on a daemon thread until `close`."""

    def __init__(self, host: str, port: int, state: DaemonState, sessions: sessionmaker[Session],
                 clock: Clock, stale_seconds: float) -> None:
        routes: dict[str, Callable[[], tuple[int, str]]] = {
            "/healthz": lambda: self._health(state, sessions, clock, stale_seconds),
            "/metrics": lambda: (200, render_metrics(state, read_figures(sessions), clock.now())),
        }
        self._server = ThreadingHTTPServer((host, port), _handler(routes))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="edm-metrics", daemon=True)
        self._thread.start()

    @staticmethod
    def _health(state: DaemonState, sessions: sessionmaker[Session], clock: Clock,
                stale_seconds: float) -> tuple[int, str]:
        role = "leader" if state.leader else "standby"
        if healthy(state, sessions, clock.now(), stale_seconds):
            return 200, f"ok {role}\n"
        return 503, f"unhealthy {role}\n"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(routes: dict[str, Callable[[], tuple[int, str]]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            route = routes.get(self.path.split("?", 1)[0])
            try:
                status, body = route() if route else (404, "not found\n")
            except SQLAlchemyError as exc:
                status, body = 503, f"store unavailable: {exc.__class__.__name__}\n"
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", CONTENT_TYPE)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("metrics: " + format, *args)

    return Handler
