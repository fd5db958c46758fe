"""Benchmark: from a customer event's insert to the relay accepting its mail, in real time.

    python bench/react.py                  # 40 events, one every 0.5 s, SQLite
    python bench/react.py --events 100 --every 0.2 --url postgresql+psycopg://...
    python bench/react.py --http-load 32   # events posted to a live `edm serve` under load

In one process, as the daemon and one worker run them: the `react` loop (`edm.reactions.react_to_new`
every `daemon.react_seconds`), a sender in worker mode (`send_pending(until=STOPPED)`, polling every
`smtp.poll_seconds`) and a real SMTP server (aiosmtpd) noting when each message arrives. Events
(`quote_requested`) are inserted at a steady rate for different customers. Prints p50 / p95 latency
against the goal of issue 21: p95 <= 5 s, "met" or "not met".

With `--http-load N`, `edm serve` runs in a child process on the same store (bench/api.py), N
connections post other events (`page_viewed`, which no campaign waits for) as fast as it answers,
and the measured events are posted to it over HTTP too: the latency from the POST to the relay.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlalchemy import func, select

from edm.api.auth import create_key
from edm.campaigns.loader import load_campaigns
from edm.clock import SystemClock
from edm.config import DaemonSettings, Settings, SmtpSettings
from edm.customers import import_customers, recompute_profiles
from edm.delivery.sender import Until
from edm.delivery.sink import free_port
from edm.reactions import current_cursor, react_to_new
from edm.runner import open_store, send_pending
from edm.store import Customer, CustomerEvent, OutboxMessage

GOAL_P95 = 5.0
KEY = "IUxrCUfo1unVJ6CEb1xZiawfAjAyDZgEShAkgD52EZI"  # a bench-only signing key
CAMPAIGN = """\
name: quote_follow_up
kind: service
template: reorder_reminder
subject: {en: "About your quote"}
event: {name: quote_requested, within_hours: 24, unless: {event: order_placed, within_hours: 72}}
links: {reorder: 'https://shop.example.com/r', catalog: 'https://shop.example.com/c'}
"""


class Arrivals:
    """aiosmtpd handler: when each recipient's message was accepted (monotonic seconds)."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        for address in envelope.rcpt_tos:
            self.at.setdefault(address, time.monotonic())
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between events")
    parser.add_argument("--url", help="database URL (default: a new SQLite file)")
    parser.add_argument("--http-load", type=int, default=0, metavar="CONNECTIONS",
                        help="post the events to edm serve while CONNECTIONS others load it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edm-react-") as folder:
        run(Path(folder), args.events, args.every, args.url, args.http_load)


def _api_bench() -> Any:
    """bench/api.py as a module (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_api", Path(__file__).with_name("api.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(folder: Path, events: int, every: float, url: str | None, http_load: int = 0) -> None:
    arrivals = Arrivals()
    port = free_port()
    controller = Controller(arrivals, hostname="127.0.0.1", port=port)
    controller.start()
    (folder / "campaigns").mkdir()
    (folder / "campaigns" / "quote.yaml").write_text(CAMPAIGN, encoding="utf-8")
    settings = Settings(
        database_url=url or f"sqlite:///{folder / 'edm.db'}", campaigns_dir=folder / "campaigns",
        secret_keys=(SecretStr(KEY),), daemon=DaemonSettings(),
        smtp=SmtpSettings(host="127.0.0.1", port=port, compose_processes=0),
    )
    sessions = open_store(settings)
    clock = SystemClock()
    csv = "external_id,name,kind,email,locale,timezone\n" + "".join(
        f"B{i},Buyer {i},company,b{i}@example.com,en,UTC\n" for i in range(events))
    (folder / "customers.csv").write_text(csv, encoding="utf-8")
    import_customers(sessions, folder / "customers.csv", clock)
    recompute_profiles(sessions, settings.classification, clock)
    campaigns = {name: loaded.campaign for name, loaded in load_campaigns(settings.campaigns_dir).items()}
    with sessions() as session:
        customers = list(session.execute(select(Customer.id, Customer.email).order_by(Customer.id)))

    stop = threading.Event()
    worker_stop: asyncio.Event | None = None
    loop = asyncio.new_event_loop()

    def worker() -> None:
        nonlocal worker_stop
        asyncio.set_event_loop(loop)
        worker_stop = asyncio.Event()
        loop.run_until_complete(send_pending(settings, sessions, clock, campaigns, until=Until.STOPPED,
                                             stop=worker_stop))

    def reactor() -> None:
        cursor = current_cursor(sessions)
        while not stop.is_set():
            cursor, _ = react_to_new(sessions, settings, clock, cursor, campaigns.values())
            stop.wait(settings.daemon.react_seconds)

    threads = [threading.Thread(target=worker), threading.Thread(target=reactor)]
    with contextlib.ExitStack() as stack:
        post = None
        if http_load:
            api = _api_bench()
            key = create_key(sessions, "bench", ["events:write"], datetime.now(UTC), rate_per_minute=10**9)
            base = stack.enter_context(api.server("edm", settings.database_url))
            names = [f"B{i}" for i in range(events)]
            threads.append(threading.Thread(target=lambda: asyncio.run(api.load(
                base, "/v1/events", key, events * every + 5, http_load, names, "page_viewed"))))
            post = stack.enter_context(httpx.Client(base_url=base, timeout=30,
                                                    headers={"Authorization": f"Bearer {key}"}))
        for thread in threads:
            thread.start()
        inserted: dict[str, float] = {}
        for n, (customer_id, email) in enumerate(customers):
            inserted[email] = time.monotonic()
            now = datetime.now(UTC)
            if post is not None:
                answer = post.post("/v1/events", headers={"Idempotency-Key": f"probe-{n}"}, json={
                    "customer": f"B{n}", "name": "quote_requested", "occurred_at": now.isoformat()})
                answer.raise_for_status()
            else:
                with sessions.begin() as session:
                    session.add(CustomerEvent(customer_id=customer_id, name="quote_requested", properties={},
                                              occurred_at=now, received_at=now, idempotency_key=f"bench-{n}",
                                              source="bench"))
            time.sleep(every)
        deadline = time.monotonic() + 30
        while len(arrivals.at) < len(inserted) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        if worker_stop is not None:
            loop.call_soon_threadsafe(worker_stop.set)
        for thread in threads:
            thread.join()
    controller.stop()
    with sessions() as session:
        by_state = select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
        states = {state: count for state, count in session.execute(by_state)}
        quotes = session.scalar(select(func.count()).where(CustomerEvent.name == "quote_requested"))
    print(f"outbox {states}; quote events stored {quotes}")
    latencies = sorted(arrivals.at[email] - at for email, at in inserted.items() if email in arrivals.at)
    missing = len(inserted) - len(latencies)
    if not latencies:
        print(f"no message arrived of {len(inserted)}: not met")
        return
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    verdict = "met" if p95 <= GOAL_P95 and not missing else "not met"
    load = f" http_load={http_load} connections" if http_load else ""
    print(f"events={len(inserted)} arrived={len(latencies)} react_seconds={settings.daemon.react_seconds:g} "
          f"poll_seconds={settings.smtp.poll_seconds:g}{load}")
    print(f"latency p50={p50:.2f}s p95={p95:.2f}s max={latencies[-1]:.2f}s "
          f"goal p95<={GOAL_P95:g}s: {verdict}")


if __name__ == "__main__":
    main()
