"""`edm demo`'s last step: the web console over the demo's folder, at the demo's simulated day, with a
throwaway admin user, until Ctrl-C; or, where nobody is there to look (no terminal), how to serve it
later."""

from __future__ import annotations

import secrets
import shlex
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from sqlalchemy.orm import Session, sessionmaker

from edm.clock import Clock
from edm.config import MAKE_KEY, Settings
from edm.console.app import create_console_app
from edm.console.users import ADMIN, add_user
from edm.tracking import serve_in_background

DEMO_USER = "demo"
Echo = Callable[[str], None]


def serve_demo_console(settings: Settings, sessions: sessionmaker[Session], clock: Clock, echo: Echo,
                       *, step: str = "12.", stop: threading.Event | None = None) -> None:
    """Add the `demo` admin with a random password (printed once: the folder is a throwaway one),
    serve the console on loopback (console.port if free, else any free port) until Ctrl-C, SIGTERM
    or `stop`, with the demo's settings, throwaway key and clock."""
    password = secrets.token_urlsafe(12)
    with sessions.begin() as db:
        add_user(db, DEMO_USER, ADMIN, password, clock.now())
    host = "127.0.0.1"
    port = settings.console.port if _free(host, settings.console.port) else 0
    stop = stop or threading.Event()
    previous = signal.getsignal(signal.SIGTERM)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stopper(stop))
    try:
        app = create_console_app(sessions, settings, clock)
        with serve_in_background(app, host, port) as url:
            echo(f"{step} Console at {url} — sign in as {DEMO_USER} / {password} (Ctrl-C to stop); its Today "
                 f"is the demo's day, {clock.now():%Y-%m-%d}")
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
        echo("    Console stopped.")
    finally:
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, previous)


def later_console(folder: Path, step: str = "12.") -> str:
    """How to serve the demo folder's console later: a key (the demo's own was never kept), a user,
    then `edm console` (on today's real date: the demo's clock stood still only while it ran)."""
    where = shlex.quote(str(folder.resolve()))
    return (f"{step} To look at it all in the web console: cd {where} && export EDM_SECRET_KEY=$({MAKE_KEY}) "
            f"&& edm users add {DEMO_USER} --role admin && edm console (then open http://127.0.0.1:8070; "
            "its Today is the real date), or run the demo again with --console")


def _free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _stopper(stop: threading.Event) -> Callable[[int, FrameType | None], None]:
    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()
    return handle
