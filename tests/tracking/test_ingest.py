"""Batched ingest: many requests, few transactions, and nothing accepted is ever lost."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import FixedClock
from edm.delivery.sink import free_port
from edm.store import Base, Event, create_schema, make_engine, session_factory
from edm.tracking import EventWriter, Hit, TrackingLinks, create_tracking_app, serve_in_background
from tests.tracking.conftest import KEY, NOW, OLD_KEY, SHOP, add_mail

BURST = 10_000
CONNECTIONS = 64
BURST_CLIENT = Path(__file__).with_name("burst.py")


def _count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(Event)) or 0


def _fire(urls: list[str], folder: Path) -> Counter[int]:
    """Every URL fetched once over CONNECTIONS keep-alive connections, from a second process."""
    listing = folder / "urls.txt"
    listing.write_text("\n".join(urls), encoding="ascii")
    done = subprocess.run([sys.executable, str(BURST_CLIENT), str(listing), str(CONNECTIONS)],
                          capture_output=True, text=True, timeout=600, check=True)
    return Counter({int(status): count for status, count in json.loads(done.stdout).items()})


def test_a_burst_of_ten_thousand_requests_loses_no_event(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    mails = [add_mail(sessions, f"c{n}@example.com") for n in range(20)]
    app = create_tracking_app(sessions, [KEY], FixedClock(NOW))
    writer: EventWriter = app.state.events
    with serve_in_background(app) as base_url:
        links = TrackingLinks(base_url, [KEY])
        urls = [links.open_url(m.outbox_id, m.customer_id) if n % 2 else
                links.click_url(m.outbox_id, m.customer_id, SHOP)
                for n in range(BURST) for m in [mails[n % len(mails)]]]
        statuses = _fire(urls, tmp_path)
        assert statuses == {200: BURST // 2, 302: BURST // 2}
        assert _count(sessions) == BURST  # every answered request is already stored
        assert writer.stored == BURST
        assert writer.batches <= BURST / 4, f"arriving together, they share transactions: {writer.batches}"
    assert _count(sessions) == BURST
    with sessions() as session:
        kinds = dict(session.execute(select(Event.kind, func.count()).group_by(Event.kind)).all())
    assert kinds == {"open": BURST // 2, "click": BURST // 2}


def test_closing_stores_everything_queued_in_batches(sessions: sessionmaker[Session]) -> None:
    mail = add_mail(sessions)
    writer = EventWriter(sessions, batch_size=100)

    async def queue_then_close() -> list[bool]:
        tasks = [asyncio.create_task(writer.record(Hit("open", mail.customer_id, mail.outbox_id, NOW)))
                 for _ in range(1_000)]
        await asyncio.sleep(0)  # every hit is queued before the writer first runs
        assert writer.depth == 1_000
        await writer.aclose()
        return list(await asyncio.gather(*tasks))

    assert asyncio.run(queue_then_close()) == [True] * 1_000
    assert (writer.batches, writer.depth, _count(sessions)) == (10, 0, 1_000)
    assert asyncio.run(_one(writer, Hit("open", mail.customer_id, mail.outbox_id, NOW)))  # starts afresh
    assert _count(sessions) == 1_001


def test_a_client_that_hangs_up_does_not_withdraw_its_event(sessions: sessionmaker[Session]) -> None:
    mail = add_mail(sessions)
    writer = EventWriter(sessions)

    async def record_then_hang_up() -> None:
        waits = [asyncio.create_task(writer.record(Hit("open", mail.customer_id, mail.outbox_id, NOW)))
                 for _ in range(10)]
        await asyncio.sleep(0)  # queued
        for wait in waits[:5]:
            wait.cancel()  # what Starlette does to a request whose client disconnected
        await writer.aclose()
        assert [w.cancelled() for w in waits] == [True] * 5 + [False] * 5

    asyncio.run(record_then_hang_up())
    assert _count(sessions) == 10


async def _one(writer: EventWriter, hit: Hit) -> bool:
    try:
        return await writer.record(hit)
    finally:
        await writer.aclose()


def test_a_failed_write_is_not_accepted_and_the_server_goes_on(sessions: sessionmaker[Session]) -> None:
    mail = add_mail(sessions)
    app = create_tracking_app(sessions, [KEY], FixedClock(NOW))
    with serve_in_background(app) as base_url, httpx.Client(timeout=30) as client:
        pixel = TrackingLinks(base_url, [KEY]).open_url(mail.outbox_id, mail.customer_id)
        with sessions.begin() as session:
            session.execute(text("ALTER TABLE events RENAME TO events_away"))
        failed = client.get(pixel)
        assert (failed.status_code, failed.headers["retry-after"]) == (503, "30")
        with sessions.begin() as session:
            session.execute(text("ALTER TABLE events_away RENAME TO events"))
        assert client.get(pixel).status_code == 200
    assert _count(sessions) == 1


def test_unknown_customers_in_a_batch_are_refused_alone(sessions: sessionmaker[Session]) -> None:
    mail = add_mail(sessions)
    writer = EventWriter(sessions)

    async def mixed() -> list[bool]:
        try:
            hits = [Hit("open", mail.customer_id, mail.outbox_id, NOW), Hit("open", 424242, 1, NOW),
                    Hit("click", mail.customer_id, mail.outbox_id, NOW, SHOP)]
            return list(await asyncio.gather(*(writer.record(h) for h in hits)))
        finally:
            await writer.aclose()

    assert asyncio.run(mixed()) == [True, False, True]  # one bad hit does not sink the batch
    assert _count(sessions) == 2


def test_edm_track_serve_stores_everything_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'edm.db'}"
    engine = make_engine(url)
    create_schema(engine)
    sessions = session_factory(engine)
    mail = add_mail(sessions)
    port = free_port()
    (tmp_path / "edm.yaml").write_text("{}\n", encoding="utf-8")  # the working folder it serves from
    env = {**os.environ, "EDM_DATABASE_URL": url, "EDM_SECRET_KEY": f"{KEY.decode()},{OLD_KEY.decode()}",
           "EDM_TRACKING__BASE_URL": f"http://127.0.0.1:{port}"}
    server = subprocess.Popen([sys.executable, "-c", "from edm.cli import main; main()", "track", "serve",
                               "--port", str(port)],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base_url}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        links = TrackingLinks(base_url, [KEY])
        statuses = _fire([links.open_url(mail.outbox_id, mail.customer_id)] * 500, tmp_path)
        assert statuses == {200: 500}
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=60)[0].decode()
    # uvicorn shuts down gracefully, then re-raises the signal it caught
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "Application shutdown complete" in output
    assert _count(sessions) == 500
    Base.metadata.drop_all(engine)
    engine.dispose()
