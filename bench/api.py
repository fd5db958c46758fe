"""Benchmark: custom events ingested over HTTP by `edm serve`, against a bare Starlette app.

    python bench/api.py                    # 10 s per server, 32 connections, SQLite
    python bench/api.py --seconds 20 --connections 64 --url postgresql+psycopg://...

Both servers run alone in a child process under uvicorn with the same settings; this process
posts as fast as the server answers. `edm serve` stores each `POST /v1/events` (a key check, a
pydantic body, one insert with its idempotency key); the baseline answers `POST /` with a fixed
JSON body and stores nothing. Prints requests per second of both and the ratio against the goal
of issue 21 (>= 0.5x), "met" or "not met". Event-to-relay latency under this load:
`python bench/react.py --http-load 32`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx

GOAL = 0.5
KEY = "IUxrCUfo1unVJ6CEb1xZiawfAjAyDZgEShAkgD52EZI"  # a bench-only signing key
CUSTOMERS = 100


def serve(kind: str, port: int, url: str) -> None:
    """The child: one server on `port` until killed."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    if kind == "hello":
        async def hello(request: Request) -> JSONResponse:
            await request.body()
            return JSONResponse({"id": 1, "duplicate": False}, status_code=201)

        app = Starlette(routes=[Route("/", hello, methods=["POST"])])
    else:
        from edm.api import create_api_app
        from edm.clock import SystemClock
        from edm.config import Settings
        from edm.runner import open_store

        settings = Settings(database_url=url, campaigns_dir=Path(tempfile.mkdtemp()))
        app = create_api_app(open_store(settings), settings, SystemClock())  # type: ignore[assignment]
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def prepare(url: str) -> str:
    """Customers to post events for, and a key allowed to: the key."""
    from edm.api.auth import create_key
    from edm.config import Settings
    from edm.runner import open_store
    from edm.store import Customer

    sessions = open_store(Settings(database_url=url))
    now = datetime.now(UTC)
    with sessions.begin() as session:
        session.add_all(Customer(external_id=f"C{n}", name=f"Customer {n}", email=f"c{n}@example.com",
                                 kind="company", locale="en", timezone="UTC", created_at=now)
                        for n in range(CUSTOMERS))
    return create_key(sessions, "bench", ["events:write"], now, rate_per_minute=10**9)


async def load(base: str, path: str, key: str, seconds: float, connections: int,
               customers: list[str] | None = None, name: str = "quote_requested") -> float:
    """Requests per second answered 2xx over `seconds`, `connections` at a time: events `name` for
    `customers` (external ids; default C0..C99)."""
    who = customers or [f"C{n}" for n in range(CUSTOMERS)]
    numbers = itertools.count()
    done = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30,
                                 headers={"Authorization": f"Bearer {key}"}) as client:
        async def worker() -> None:
            nonlocal done
            while time.monotonic() < deadline:
                n = next(numbers)
                body = {"customer": who[n % len(who)], "name": name,
                        "properties": {"value": n}, "occurred_at": datetime.now(UTC).isoformat()}
                answer = await client.post(path, json=body, headers={"Idempotency-Key": f"bench-{n}"})
                done += answer.is_success

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        return done / (time.monotonic() - started)


def measure(kind: str, url: str, key: str, seconds: float, connections: int) -> float:
    with server(kind, url) as base:
        return asyncio.run(load(base, "/" if kind == "hello" else "/v1/events", key, seconds, connections))


@contextlib.contextmanager
def server(kind: str, url: str) -> Iterator[str]:
    """`kind` ("edm" or "hello") serving in a child process on `url`'s store; yields its base URL."""
    from edm.delivery.sink import free_port

    port = free_port()
    child = subprocess.Popen([sys.executable, __file__, "--serve", kind, "--port", str(port), "--url", url])
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(base + "/", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        yield base
    finally:
        child.terminate()
        child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--url", help="database URL (default: a SQLite file in a temporary folder)")
    parser.add_argument("--serve", choices=["edm", "hello"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.url)
        return
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'edm.db'}"
    key = prepare(url)
    hello = measure("hello", url, key, args.seconds, args.connections)
    edm = measure("edm", url, key, args.seconds, args.connections)
    ratio = edm / hello
    print(f"bare Starlette: {hello:,.0f} requests/s; edm serve POST /v1/events: {edm:,.0f} events/s stored")
    print(f"ratio {ratio:.2f} (goal >= {GOAL}): {'met' if ratio >= GOAL else 'not met'} "
          f"({args.connections} connections, {args.seconds:g} s each, {url.split(':', 1)[0]})")


if __name__ == "__main__":
    main()
