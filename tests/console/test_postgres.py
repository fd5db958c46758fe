"""The console on PostgreSQL: its queries (search, a manager's limit, Today's counts) and the
approval gate, where the production store runs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from edm.clock import SystemClock
from edm.config import load_settings
from edm.console.app import create_console_app
from edm.runner import open_store
from edm.store import Base, make_engine
from edm.tracking import serve_in_background
from tests.conftest import _postgres_url
from tests.console.conftest import CUSTOMERS, PASSWORD, USERS, Console, csrf_of, edm, signed_in

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_console(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Console]:
    url = _postgres_url()
    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    engine.dispose()
    monkeypatch.setenv("EDM_DATABASE_URL", url)
    shutil.rmtree(folder / "data", ignore_errors=True)  # nothing of the SQLite copy is used
    (folder / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    edm(folder, "import", "customers", str(folder / "customers.csv"))
    edm(folder, "classify")
    for name in ("mia", "max"):
        role, email = USERS[name]
        edm(folder, "users", "add", name, "--role", role, *(["--email", email] if email else []),
            env={"EDM_USER_PASSWORD": PASSWORD})
    settings = load_settings(folder / "edm.yaml")
    with serve_in_background(create_console_app(open_store(settings), settings, SystemClock())) as url:
        yield Console(folder, url)
    engine = make_engine(_postgres_url())
    Base.metadata.drop_all(engine)
    engine.dispose()


def test_approve_pause_search_and_limits_on_postgresql(pg_console: Console) -> None:
    dry = edm(pg_console.folder, "campaign", "run", "spring_sale", "--dry-run")
    assert "spring_sale: awaiting approval" in dry
    mia = signed_in(pg_console, "mia")
    for action in ("approve", "pause"):
        form = mia.get("/campaigns/spring_sale").text
        assert mia.post(f"/campaigns/spring_sale/{action}", data={"csrf": csrf_of(form)}).status_code == 303
    ran = edm(pg_console.folder, "campaign", "run", "spring_sale")
    assert "queued 3" in ran, ran
    today = mia.get("/").text
    assert "paused in the console by mia" in today and "spring_sale" in today
    assert "/customers/C003" in mia.get("/customers", params={"q": "carol@"}).text

    max_ = signed_in(pg_console, "max")
    found = max_.get("/customers", params={"q": "C"}).text
    assert "/customers/C001" in found and "/customers/C002" in found and "C003" not in found
    assert max_.get("/customers/C003").status_code == 403
