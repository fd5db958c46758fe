"""The console tests' world: a working folder (edm init) with customers of two managers, users of
every role made with `edm users add`, and the console served by uvicorn on loopback."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from edm.cli import main
from edm.clock import SystemClock
from edm.config import load_settings
from edm.console.app import create_console_app
from edm.runner import open_store
from edm.tracking import serve_in_background
from tests.conftest import SECRET_KEY, SmtpServer

PASSWORD = "correct horse battery staple"
USERS = {"ada": ("admin", None), "mia": ("marketer", None), "ana": ("analyst", None),
         "max": ("manager", "Max@Example.com"), "meg": ("manager", "meg@example.com")}
CUSTOMERS = ("external_id,name,kind,email,account_manager,account_manager_email\n"
             "C001,Alice Zhang,person,alice@example.com,Max,max@example.com\n"
             "C002,Bob Li,person,bob@example.com,Max,MAX@example.com\n"
             "C003,Carol Wu,company,carol@corp.example.com,Meg,meg@example.com\n")
GATED = """name: spring_sale
description: Needs a lead's approval first
approval: required
respect_frequency: false
template: re_permission
subject: {en: "News, {{ greeting_name }}", zh-Hans: "新闻", zh-Hant: "新聞"}
links: {stay: "https://www.example.com/stay"}
"""


@dataclass(frozen=True)
class Console:
    folder: Path
    url: str


def edm(folder: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(main, [*args, "--config", str(folder / "edm.yaml")], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session")
def made_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Made once (argon2 hashing and classifying take seconds): each test gets a copy."""
    made = tmp_path_factory.mktemp("console") / "folder"
    assert CliRunner().invoke(main, ["init", str(made)], catch_exceptions=False).exit_code == 0
    (made / "campaigns" / "spring_sale.yaml").write_text(GATED, encoding="utf-8")
    (made / "customers.csv").write_text(CUSTOMERS, encoding="utf-8")
    edm(made, "import", "customers", str(made / "customers.csv"))
    edm(made, "classify")
    for name, (role, email) in USERS.items():
        edm(made, "users", "add", name, "--role", role, *(["--email", email] if email else []),
            env={"EDM_USER_PASSWORD": PASSWORD})
    return made


@pytest.fixture
def folder(made_folder: Path, tmp_path: Path, smtp_server: SmtpServer,
           monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDM_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("EDM_SMTP__HOST", smtp_server.host)
    monkeypatch.setenv("EDM_SMTP__PORT", str(smtp_server.port))
    monkeypatch.setenv("EDM_CONSOLE__LOGIN_PER_IP", "8")  # each failed attempt costs an argon2 hash
    monkeypatch.setenv("EDM_CONSOLE__FIGURES_MAX_AGE_SECONDS", "0")  # the tests see each change at once
    monkeypatch.setenv("EDM_CONSOLE__SLOW_FIGURES_MAX_AGE_SECONDS", "0")
    copy = tmp_path / "folder"
    shutil.copytree(made_folder, copy)
    return copy


@pytest.fixture
def console(folder: Path) -> Iterator[Console]:
    settings = load_settings(folder / "edm.yaml")
    app = create_console_app(open_store(settings), settings, SystemClock())
    with serve_in_background(app) as url:
        yield Console(folder, url)


def client(console: Console) -> httpx.Client:
    return httpx.Client(base_url=console.url, timeout=30, follow_redirects=False)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def sign_in(http: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    form = http.get("/login")
    return http.post("/login", data={"csrf": csrf_of(form.text), "name": name, "password": password})


def signed_in(console: Console, name: str) -> httpx.Client:
    http = client(console)
    answer = sign_in(http, name)
    assert answer.status_code == 303 and answer.headers["location"] == "/", answer.text
    return http
