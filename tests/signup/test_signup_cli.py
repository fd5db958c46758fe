"""Sign-up through the public surface: a working folder (`edm init`), the snippet `edm signup snippet`
prints, posted as a browser would post it to the real tracking server, and `edm campaign run` over a real
SMTP server: a sign-up gets no marketing until it is confirmed."""

from __future__ import annotations

import re
import time
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from click.testing import CliRunner

from edm.cli import main, signup_routes
from edm.clock import SystemClock
from edm.config import load_settings
from edm.daemon.schedule import SIGNUP, wanted_jobs
from edm.delivery.sink import free_port
from edm.runner import open_store
from edm.tracking import create_tracking_app, serve_in_background
from tests.conftest import SECRET_KEY, SmtpServer

CAMPAIGN = """name: {name}
description: Everyone, once
respect_frequency: false
schedule: {{cron: "0 9 * * *"}}
template: re_permission
subject: {{en: "News, {{{{ greeting_name }}}}", zh-Hans: "新闻", zh-Hant: "新聞"}}
links: {{stay: "https://www.example.com/stay"}}
"""


class FormReader(HTMLParser):
    """The form's action and fields, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__()
        self.action = ""
        self.fields: list[dict[str, str | None]] = []
        self.script = ""
        self._in_script = False
        self.resources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form":
            self.action = found.get("action") or ""
        elif tag == "input":
            self.fields.append(found)
        elif tag == "script":
            self._in_script = True
        self.resources += [value or "" for name, value in attrs if name in ("src", "href")]

    def handle_endtag(self, tag: str) -> None:
        self._in_script = False if tag == "script" else self._in_script

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script += data


def _edm(folder: Path, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--config", str(folder / "edm.yaml")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def folder(tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDM_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("EDM_SMTP__HOST", smtp_server.host)
    monkeypatch.setenv("EDM_SMTP__PORT", str(smtp_server.port))
    monkeypatch.setenv("EDM_POLICY__ONE_PER_DAY", "false")  # two campaigns in one day
    assert CliRunner().invoke(main, ["init", str(tmp_path)], catch_exceptions=False).exit_code == 0
    settings_file = tmp_path / "edm.yaml"
    data = yaml.safe_load(settings_file.read_text(encoding="utf-8"))
    data["tracking"]["base_url"] = f"http://127.0.0.1:{free_port()}"
    data["signup"] = {"enabled": True}
    data["topics"] = {"news": {"en": "News", "zh-Hans": "新闻", "zh-Hant": "新聞"},
                      "offers": {"en": "Offers", "zh-Hans": "优惠", "zh-Hant": "優惠"}}
    settings_file.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    for name in ("news", "more_news"):
        (tmp_path / "campaigns" / f"{name}.yaml").write_text(CAMPAIGN.format(name=name), encoding="utf-8")
    (tmp_path / "customers.csv").write_text("external_id,name,kind,email\nC1,Bob,person,bob@example.com\n",
                                            encoding="utf-8")
    return tmp_path


def _received(smtp_server: SmtpServer) -> list[tuple[str, str]]:
    return sorted((m["To"].addresses[0].addr_spec, str(m["Subject"])) for m in smtp_server.handler.messages)


def _wait_for(smtp_server: SmtpServer, count: int) -> None:
    deadline = time.monotonic() + 10
    while len(smtp_server.handler.messages) < count:
        assert time.monotonic() < deadline, _received(smtp_server)
        time.sleep(0.02)


def test_the_snippet_is_self_contained_and_in_its_language(folder: Path) -> None:
    html = _edm(folder, "signup", "snippet", "--lang", "zh-Hant")
    form = FormReader()
    form.feed(html)
    settings = load_settings(folder / "edm.yaml")
    assert form.action == f"{settings.tracking.base_url}/signup"
    assert form.resources == []  # no style sheet, image or script fetched from anywhere
    assert "@import" not in html and "url(" not in html
    assert 'lang="zh-Hant"' in html and "新聞" in html and "優惠" in html and "訂閱" in html
    names = {field.get("name"): field for field in form.fields}
    assert names["form"]["value"] == "embed" and names["started"]["type"] == "hidden"
    assert names["website"]["type"] == "text"  # the honeypot is a real field, hidden by CSS
    assert "Date.now()" in form.script


def test_a_sign_up_through_the_snippet_gets_no_marketing_until_confirmed(
    folder: Path, smtp_server: SmtpServer
) -> None:
    _edm(folder, "import", "customers", str(folder / "customers.csv"))
    _edm(folder, "classify")
    settings = load_settings(folder / "edm.yaml")
    sessions = open_store(settings)
    app = create_tracking_app(sessions, settings.signing_keys(), SystemClock(), settings.tracking,
                              signup=signup_routes(settings, sessions))
    port = int(settings.tracking.base_url.rsplit(":", 1)[1])
    with serve_in_background(app, port=port), httpx.Client(timeout=30) as http:
        # a browser shows the snippet, its script notes when (5 s ago), the person fills it in and sends it
        form = FormReader()
        form.feed(_edm(folder, "signup", "snippet", "--lang", "en"))
        started = round((datetime.now().timestamp() - 5) * 1000)
        data: dict[str, Any] = {"email": "alice@example.com", "name": "Alice", "started": str(started),
                                "topic": []}
        for field in form.fields:
            name = field.get("name") or ""
            if field.get("type") == "checkbox":
                if "checked" in field:
                    data["topic"].append(field.get("value"))
            elif name not in data:
                data[name] = field.get("value") or ""
        answer = http.post(form.action, data=data)
        assert answer.status_code == 200 and "Check your inbox" in answer.text
        _wait_for(smtp_server, 1)
        (confirmation,) = smtp_server.handler.to("alice@example.com")
        assert confirmation["Subject"].startswith("Please confirm your sign-up")

        _edm(folder, "campaign", "run", "news")
        _wait_for(smtp_server, 2)
        assert _received(smtp_server) == [("alice@example.com", str(confirmation["Subject"])),
                                          ("bob@example.com", "News, Bob")]  # unconfirmed: nothing

        body = confirmation.get_body(("plain",))
        assert body is not None
        link = re.search(r"https?://\S+/signup/confirm/\S+", body.get_content())
        assert link is not None
        assert http.post(link.group(0)).status_code == 200
        assert _edm(folder, "signup", "send") == "sent 0, to retry 0, refused 0\n"  # nothing left unsent

    _edm(folder, "classify")
    _edm(folder, "campaign", "run", "more_news")
    _wait_for(smtp_server, 4)
    assert sorted(subject for to, subject in _received(smtp_server) if to == "alice@example.com") == [
        "News, Alice", str(confirmation["Subject"])]


def test_sign_up_is_served_and_scheduled_only_when_enabled(folder: Path) -> None:
    settings = load_settings(folder / "edm.yaml")
    assert SIGNUP in wanted_jobs(settings, datetime.now().astimezone())
    off = settings.model_copy(update={"signup": settings.signup.model_copy(update={"enabled": False})})
    assert SIGNUP not in wanted_jobs(off, datetime.now().astimezone())
    sessions = open_store(settings)
    assert signup_routes(off, sessions) == []  # off: the tracking server has no /signup
    app = create_tracking_app(sessions, settings.signing_keys(), SystemClock(), settings.tracking,
                              signup=signup_routes(off, sessions))
    with serve_in_background(app) as url:
        assert httpx.get(f"{url}/signup").status_code == 404
    assert _edm(folder, "signup", "expire") == "expired 0\n"
