"""How fast the tracking server records opens, against a bare Starlette hello-world.

    python bench/track.py [--seconds 5] [--rounds 3] [--connections 64] [--customers 1000] [--db URL]

Each app runs alone in its own process under uvicorn with the same settings (one worker,
lifespan on, no access log); the load comes from this process: `--connections` keep-alive
HTTP/1.1 connections over raw asyncio streams (a lean client, so the server is what is
measured), each sending GETs one after another for `--seconds`.

  hello     `GET /` answered with a fixed text by a one-route Starlette app;
  tracking  `GET /o/<token>.gif`, open pixels for `--customers` customers (each with a sent
            mail in a fresh SQLite file, or `--db`), every request verified and stored
            through the batched writer before it is answered.

After the tracking run the server is stopped with SIGTERM (graceful: lifespan shutdown) and
the events in the store are counted: they must equal the pixels answered 200. The goal is
tracking >= 0.8x hello's requests per second (the median rounds'), printed `met` or `NOT met`
with the figures; each round's ratio (against the hello round run just before it) is printed
too, to show how much the machine's other load moved them. Both run on uvicorn's default ("auto")
event loop and HTTP parser, as `edm track serve` does. Never part of the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import uvicorn
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from edm.clock import SystemClock
from edm.config import TrackingSettings
from edm.store import Customer, Event, OutboxMessage, create_schema, make_engine, session_factory
from edm.tracking import TrackingLinks, create_tracking_app

KEYS = [b"bench-current-key-0123456789abcdef", b"bench-previous-key"]
GOAL = 0.8
AGENT = "Thunderbird/128"  # a person's mail client: no machine rule fires


def hello_app() -> Starlette:
    async def hello(_request: Request) -> Response:
        return PlainTextResponse("Hello, world!")

    return Starlette(routes=[Route("/", hello)])


def serve(kind: str, port: int, db: str) -> None:
    """The server process: one app under uvicorn, the same settings for both."""
    if kind == "hello":
        app = hello_app()
    else:
        logging.basicConfig(format="tracking server: %(message)s")
        logging.getLogger("edm.tracking.app").setLevel(logging.INFO)  # its batch count at shutdown
        sessions = session_factory(make_engine(db))
        app = create_tracking_app(sessions, KEYS, SystemClock(), TrackingSettings())
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                            lifespan="on")
    uvicorn.Server(config).run()


def prepare(db: str, customers: int) -> list[tuple[int, int]]:
    """Customers with a mail sent yesterday; their (outbox id, customer id)."""
    engine = make_engine(db)
    create_schema(engine)
    now = datetime.now(UTC)
    pairs = []
    with session_factory(engine).begin() as session:
        for n in range(customers):
            customer = Customer(external_id=f"bench-{n}", name=f"Bench {n}", email=f"b{n}@example.com",
                                kind="person", created_at=now)
            session.add(customer)
            session.flush()
            mail = OutboxMessage(key=f"bench:{n}:{now.timestamp()}", campaign="bench", step=0,
                                 customer_id=customer.id, occurrence=date.today(),
                                 to_address=customer.email, state="sent", attempts=1,
                                 next_attempt_at=now, created_at=now, sent_at=now - timedelta(days=1))
            session.add(mail)
            session.flush()
            pairs.append((mail.id, customer.id))
    engine.dispose()
    return pairs


def count_events(db: str) -> int:
    engine = make_engine(db)
    with session_factory(engine)() as session:
        count = session.scalar(select(func.count()).select_from(Event)) or 0
    engine.dispose()
    return count


@dataclass
class Load:
    ok: int = 0
    other: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0


async def load(port: int, paths: list[str], connections: int, seconds: float) -> Load:
    """GET the paths round-robin over keep-alive connections until `seconds` have passed."""
    result = Load()
    stop_at = time.monotonic() + seconds

    async def connection(offset: int) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = offset
        while time.monotonic() < stop_at:
            path = paths[n % len(paths)]
            n += connections
            writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nUser-Agent: {AGENT}\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            if status in (200, 302):
                result.ok += 1
            else:
                result.other += 1
        writer.close()
        await writer.wait_closed()

    started = time.monotonic()
    await asyncio.gather(*(connection(i) for i in range(connections)))
    result.seconds = time.monotonic() - started
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User + system CPU the process has used (Linux /proc): the server's own cost, which other
    load on the machine does not inflate the way it inflates wall-clock rates."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    kind: str
    port: int
    process: subprocess.Popen[bytes]
    paths: list[str]
    rounds: list[Load] = field(default_factory=list)
    cpu: float = 0.0

    @property
    def rate(self) -> float:
        """The median round's requests per second."""
        return statistics.median(r.rate for r in self.rounds)

    @property
    def cpu_us(self) -> float:
        """Server CPU microseconds per answered request, over all rounds."""
        return self.cpu / max(sum(r.ok for r in self.rounds), 1) * 1e6


def start(kind: str, db: str, paths: list[str]) -> Server:
    port = free_port()
    process = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port), "--db", db])
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return Server(kind, port, process, paths)
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit(f"the {kind} server did not start") from None
            time.sleep(0.05)


def measure(server: Server, connections: int, seconds: float) -> None:
    cpu = cpu_seconds(server.process.pid)
    server.rounds.append(asyncio.run(load(server.port, server.paths, connections, seconds)))
    server.cpu += cpu_seconds(server.process.pid) - cpu


def stop(server: Server) -> None:
    """SIGTERM: uvicorn stops gracefully (the tracking app stores what is queued)."""
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--db", help="a store URL (default: a fresh SQLite file)")
    parser.add_argument("--serve", choices=["hello", "tracking"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.db)
        return

    with tempfile.TemporaryDirectory() as folder:
        db = args.db or f"sqlite:///{Path(folder) / 'track.db'}"
        pairs = prepare(db, args.customers)
        links = TrackingLinks("http://bench", KEYS)
        paths = [links.open_url(outbox, customer).removeprefix("http://bench") for outbox, customer in pairs]
        before = count_events(db)
        hello, tracking = start("hello", db, ["/"]), start("tracking", db, paths)
        try:
            for server in (hello, tracking):  # warm up, not counted
                asyncio.run(load(server.port, server.paths, args.connections, 1.0))
            warm = count_events(db) - before
            for _ in range(args.rounds):  # alternate, so both see the same background load
                for server in (hello, tracking):
                    measure(server, args.connections, args.seconds)
        finally:
            for server in (hello, tracking):
                stop(server)
        stored = count_events(db) - before - warm

    answered = sum(r.ok for r in tracking.rounds)
    errors = sum(r.other for r in hello.rounds + tracking.rounds)
    ratio = tracking.rate / hello.rate if hello.rate else 0.0
    print(f"{args.rounds} rounds of {args.seconds:g} s each, {args.connections} connections, "
          "load from a second process")
    print(f"{'app':<10} {'answered':>10} {'errors':>7} {'median req/s':>13} {'rounds req/s':>24} "
          f"{'server CPU us/req':>18}")
    for server in (hello, tracking):
        rounds = ", ".join(f"{r.rate:,.0f}" for r in server.rounds)
        answered_here, errors_here = sum(r.ok for r in server.rounds), sum(r.other for r in server.rounds)
        print(f"{server.kind:<10} {answered_here:>10,} {errors_here:>7} "
              f"{server.rate:>13,.0f} {rounds:>24} {server.cpu_us:>18,.0f}")
    paired = ", ".join(f"{t.rate / h.rate:.2f}" for h, t in zip(hello.rounds, tracking.rounds, strict=True))
    print(f"tracking / hello by round: {paired}; by server CPU per request: "
          f"{hello.cpu_us / tracking.cpu_us:.2f}")
    verdict = "met" if ratio >= GOAL else "NOT met"
    print(f"tracking / hello: {ratio:.2f} by median req/s (goal >= {GOAL}): {verdict}")
    print(f"events stored {stored:,} for {answered:,} pixels answered: "
          f"{'equal' if stored == answered else 'MISMATCH'}")
    if stored != answered or errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
