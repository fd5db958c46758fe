"""How long the console's pages take on a large store: the Today page, a customer's card with its
timeline, a search, and a manager's search, against issue 23's goal of 300 ms server time.

Builds the store as bench/report.py does (customers with profiles, ~5 mails each, events, orders;
one customer in 1 000 given to an account manager), then serves the console in process (Starlette's
TestClient: no network, so the time is the server's) and times each page, median of 5.

    python bench/console.py /tmp/console-bench --customers 100000 --events 1000000
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import time
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import func, select
from starlette.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import populate  # the report benchmark's store, reused

from edm.clock import SystemClock
from edm.config import Settings
from edm.console.app import create_console_app
from edm.console.users import add_user, list_users
from edm.resources import bundled_config_dir
from edm.store import Customer, make_engine, session_factory

GOAL_SECONDS = 0.300
KEY = "IUxrCUfo1unVJ6CEb1xZiawfAjAyDZgEShAkgD52EZI"  # a benchmark's key, as the tests'
PASSWORD = "benchmark password"


def timed(client: TestClient, path: str, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answer = client.get(path)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, (path, answer.status_code)
    return statistics.median(times)


def sign_in(client: TestClient, name: str) -> None:
    form = client.get("/login").text
    csrf = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/login", data={"csrf": csrf, "name": name, "password": PASSWORD},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, help="Orders in the store (default: 2 a customer).")
    parser.add_argument("--reuse", action="store_true", help="Time the store a previous run left in FOLDER.")
    args = parser.parse_args()
    args.folder.mkdir(parents=True, exist_ok=True)
    path = args.folder / "console-bench.db"
    if not (args.reuse and path.exists()):
        path.unlink(missing_ok=True)
        started = time.perf_counter()
        sizes = populate(path, args.customers, args.events, orders=args.orders)
        with sqlite3.connect(path) as db:
            db.execute("UPDATE customers SET account_manager = 'Max',"
                       " account_manager_email = 'max@example.com' WHERE id % 1000 = 0")
        print(f"generated {sizes} in {time.perf_counter() - started:.1f} s")
    settings = Settings(database_url=f"sqlite:///{path}", campaigns_dir=bundled_config_dir() / "campaigns",
                        secret_keys=(SecretStr(KEY),))
    sessions = session_factory(make_engine(settings.database_url))
    with sessions.begin() as session:
        if not list_users(session):
            add_user(session, "ana", "analyst", PASSWORD, SystemClock().now())
            add_user(session, "max", "manager", PASSWORD, SystemClock().now(), "max@example.com")
    app = create_console_app(sessions, settings, SystemClock())
    with sessions() as session:
        middle = (session.scalar(select(func.count()).select_from(Customer)) or 2) // 2
    pages = {
        "Today": ("ana", "/"),
        "customer card + timeline": ("ana", f"/customers/c{middle}"),
        "search by name": ("ana", f"/customers?q=Company {middle}"),
        "search by email": ("ana", f"/customers?q=c{middle}@"),
        "manager's search": ("max", "/customers?q=Company"),
        "manager's own page (alerts, by risk)": ("max", "/customers"),
    }
    clients = {}
    for name in ("ana", "max"):
        clients[name] = TestClient(app, base_url="http://127.0.0.1")
        sign_in(clients[name], name)
    for label, (user, page) in pages.items():
        seconds = timed(clients[user], page)
        verdict = "met" if seconds <= GOAL_SECONDS else "NOT met"
        print(f"{label}: {seconds * 1000:.0f} ms (goal {GOAL_SECONDS * 1000:.0f} ms: {verdict})")


if __name__ == "__main__":
    main()
