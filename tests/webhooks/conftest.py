"""A real receiving server that checks signatures with the official `standardwebhooks` package, and a
working folder whose edm.yaml sends to it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette

from edm.cli import main
from edm.clock import FixedClock
from edm.config import Settings, load_settings
from edm.runner import open_store
from edm.store import Base, make_engine
from edm.tracking import TrackingLinks, create_tracking_app
from edm.webhooks.signing import new_secret
from tests.conftest import SECRET_KEY
from tests.tracking.conftest import Mail, add_mail


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int

    @property
    def payload(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Answers 500 to the first `fail_first` posts (or always, `fail_always`), then 200."""

    secret: str
    url: str = ""
    fail_first: int = 0
    fail_always: bool = False
    signed: bool = True  # False: a plain JSON receiver (Apprise's json://), no signature asked
    received: list[Received] = field(default_factory=list)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        try:
            verified = not self.signed or Webhook(self.secret).verify(body, headers) is not None
        except WebhookVerificationError:
            verified = False
        failing = self.fail_always or len(self.received) < self.fail_first
        status = 401 if not verified else 500 if failing else 200
        self.received.append(Received(headers, body, verified, status))
        return status

    def accepted(self) -> list[Received]:
        return [r for r in self.received if r.answered == 200]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            status = receiver.answer({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver(new_secret())
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(found))
    found.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()
    server.server_close()


@dataclass
class Folder:
    path: Path
    config: Path

    def settings(self) -> Settings:
        return load_settings(self.config)

    def edm(self, *args: str) -> Result:
        return CliRunner().invoke(main, [*args, "--config", str(self.config)], catch_exceptions=False)

    def mailed(self, email: str = "wang@example.com") -> Mailed:
        """A sent mail in this folder's store, and its tracking app with the links it carries."""
        settings = self.settings()
        sessions = open_store(settings)
        mail = add_mail(sessions, email)
        keys = settings.signing_keys()
        app = create_tracking_app(sessions, keys, FixedClock(datetime.now(UTC)), settings.tracking)
        return Mailed(sessions, mail, TrackingLinks("http://testserver", keys), app)


class Mailed(NamedTuple):
    sessions: sessionmaker[Session]
    mail: Mail
    links: TrackingLinks
    app: Starlette


def make_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, webhooks_yaml: str) -> Folder:
    monkeypatch.setenv("EDM_SECRET_KEY", SECRET_KEY)
    assert CliRunner().invoke(main, ["init", str(tmp_path / "work")]).exit_code == 0
    config = tmp_path / "work" / "edm.yaml"
    text = config.read_text(encoding="utf-8")
    assert "\nwebhooks: []" in text
    config.write_text(text.replace("\nwebhooks: []", "\n" + webhooks_yaml), encoding="utf-8")
    return Folder(tmp_path / "work", config)


def endpoint_yaml(receiver: Receiver, *, max_attempts: int = 8, retry: str = "[0]",
                  events: str = '["*"]') -> str:
    return (f"webhooks:\n  endpoints:\n    - name: shop\n      url: {receiver.url}\n      events: {events}\n"
            f"      secret_env: EDM_WEBHOOK_SHOP_SECRET\n      max_attempts: {max_attempts}\n"
            f"      timeout_seconds: 5\n  retry_seconds: {retry}\n  jitter: 0\n")


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver, any_db_url: str) -> Folder:
    """A working folder on each database (SQLite, and PostgreSQL where it runs)."""
    made = make_folder(tmp_path, monkeypatch, endpoint_yaml(receiver))
    if any_db_url.startswith("postgresql"):  # a clean schema: open_store migrates it from nothing
        engine = make_engine(any_db_url)
        Base.metadata.drop_all(engine)
        with engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        engine.dispose()
        monkeypatch.setenv("EDM_DATABASE_URL", any_db_url)
    monkeypatch.setenv("EDM_WEBHOOK_SHOP_SECRET", receiver.secret)
    return made
