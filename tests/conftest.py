"""Shared fixtures: a real SQLite file per test, PostgreSQL when reachable, a clean environment."""

from __future__ import annotations

import atexit
import email
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from edm.delivery.sink import free_port
from edm.store import Base, create_schema, make_engine, session_factory

SERVER_URL = os.environ.get("EDM_TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Each test run works in a schema of its own, so runs sharing one server never see each
# other's tables (subprocesses given this URL land in the same schema).
TEST_SCHEMA = f"edm_test_{os.getpid()}"
# Link-signing keys as `edm` demands them (32 random bytes, see `edm.config.key_weakness`), made once
# with `python -c "import secrets; print(secrets.token_urlsafe(32))"`: tests never sign with a weak key.
SECRET_KEY = "IUxrCUfo1unVJ6CEb1xZiawfAjAyDZgEShAkgD52EZI"
OLD_SECRET_KEY = "E_HkzweBS0KeqhDwGTeTnfrA0R8TvH_2FeVeSjoWcJU"
POSTGRES_URL = f"{SERVER_URL}{'&' if '?' in SERVER_URL else '?'}options=-csearch_path%3D{TEST_SCHEMA}"


def _postgres_reachable() -> bool:
    try:
        engine = make_engine(SERVER_URL)
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {TEST_SCHEMA}"))
        engine.dispose()
    except Exception:
        return False
    atexit.register(_drop_test_schema)
    return True


def _drop_test_schema() -> None:
    engine = make_engine(SERVER_URL)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {TEST_SCHEMA} CASCADE"))
    engine.dispose()


POSTGRES_UP = _postgres_reachable()

# Property tests judge behaviour, not speed: a loaded machine must not fail them on a deadline.
hypothesis.settings.register_profile("edm", deadline=None)
hypothesis.settings.load_profile("edm")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No EDM_* setting from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("EDM_") and not name.startswith("EDM_TEST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'edm.db'}"


def _postgres_url() -> str:
    """The test server's URL; skips only when none answers (and fails if CI promised one)."""
    if not POSTGRES_UP:
        if os.environ.get("EDM_TEST_REQUIRE_POSTGRES"):
            pytest.fail(f"EDM_TEST_REQUIRE_POSTGRES is set but no PostgreSQL answers at {POSTGRES_URL}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}")
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db_url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """Runs the test on a SQLite file and on PostgreSQL."""
    return sqlite_url if request.param == "sqlite" else _postgres_url()


def _fresh_engine(url: str) -> Iterator[Engine]:
    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        Base.metadata.drop_all(engine)
    create_schema(engine)
    yield engine
    if engine.dialect.name == "postgresql":
        Base.metadata.drop_all(engine)
    engine.dispose()


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    yield from _fresh_engine(sqlite_url)


@pytest.fixture
def any_engine(any_db_url: str) -> Iterator[Engine]:
    yield from _fresh_engine(any_db_url)


@pytest.fixture
def postgres_sessions() -> Iterator[sessionmaker[Session]]:
    """For behaviour only PostgreSQL has (SKIP LOCKED)."""
    for engine in _fresh_engine(_postgres_url()):
        yield session_factory(engine)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


@pytest.fixture
def any_sessions(any_engine: Engine) -> sessionmaker[Session]:
    return session_factory(any_engine)


class RecordingHandler:
    """An aiosmtpd handler that keeps every message and can refuse chosen recipients."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: dict[str, str] = {}  # recipient -> SMTP reply, e.g. "550 5.1.1 no such user"

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


@dataclass
class SmtpServer:
    handler: RecordingHandler
    host: str
    port: int


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port, recording what it receives."""
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield SmtpServer(handler, "127.0.0.1", port)
    controller.stop()


def screenshot(page: Any, path: Path, *, full_page: bool = True) -> None:
    """Save a screenshot of a Playwright page. Chromium sometimes refuses one on a busy machine
    ("Unable to capture screenshot"): a screenshot is an artifact to look at, not what a test
    asserts, so it is tried three times."""
    for attempt in range(3):
        try:
            page.screenshot(path=str(path), full_page=full_page)
            return
        except Exception as refused:  # playwright's Error: the package is optional here
            if "Unable to capture screenshot" not in str(refused) or attempt == 2:
                raise
            time.sleep(0.5)


@pytest.fixture
def screenshots(request: pytest.FixtureRequest) -> Path:
    """Where a browser test keeps its screenshots after the run, to look at: $EDM_TEST_ARTIFACTS
    (default build/test-artifacts) / the test's id; emptied first."""
    root = os.environ.get("EDM_TEST_ARTIFACTS") or request.config.rootpath / "build" / "test-artifacts"
    folder = Path(root) / re.sub(r"[^\w.-]+", "_", request.node.nodeid)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
