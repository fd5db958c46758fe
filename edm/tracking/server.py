"""Running the tracking app under uvicorn: in a background thread (demo, tests) or for good.

Lifespan is on, so a graceful stop (Ctrl-C, SIGTERM, leaving `serve_in_background`) lets
requests in flight finish and then stores every queued event before the server exits.
`forwarded_allow_ips` are the reverse proxies whose X-Forwarded-For gives the client's
address (the machine-open rules look at it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import uvicorn
from starlette.types import ASGIApp

START_TIMEOUT_SECONDS = 10.0
STOP_TIMEOUT_SECONDS = 60.0  # requests in flight finish and queued events are stored
LOOPBACK = "127.0.0.1,::1"


@contextmanager
def serve_in_background(
    app: ASGIApp, host: str = "127.0.0.1", port: int = 0, *, forwarded_allow_ips: str = LOOPBACK
) -> Iterator[str]:
    """Serve `app` in a daemon thread; yields its base URL (port 0 picks a free port)."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                            forwarded_allow_ips=forwarded_allow_ips)
    server = uvicorn.Server(config)

    def run() -> None:
        with suppress(SystemExit):  # uvicorn exits when it cannot bind; reported below
            server.run()

    thread = threading.Thread(target=run, name="edm-tracking-server", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError(f"the tracking server could not start on {host}:{port}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"tracking server not up after {START_TIMEOUT_SECONDS}s")
            time.sleep(0.01)
        bound_host, bound_port = server.servers[0].sockets[0].getsockname()[:2]
        yield f"http://{_reachable(bound_host)}:{bound_port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STOP_TIMEOUT_SECONDS)


def serve_forever(app: ASGIApp, host: str, port: int, *, forwarded_allow_ips: str = LOOPBACK) -> None:
    """Serve `app` until interrupted (Ctrl-C / SIGTERM): `edm track serve`."""
    config = uvicorn.Config(app, host=host, port=port, log_level="info", lifespan="on",
                            forwarded_allow_ips=forwarded_allow_ips)
    uvicorn.Server(config).run()


def _reachable(host: str) -> str:
    """A host name a local client can connect to, for a server bound to `host`."""
    if host in ("0.0.0.0", ""):  # noqa: S104 - recognising the wildcard, not binding to it
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
