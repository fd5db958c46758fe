"""Issue 18: an unsubscribe holds for the mailbox, whatever the capitals of the next CRM export.

Through the public surface only: `edm import`, `edm classify`, `edm campaign run` over a real
aiosmtpd, the unsubscribe as a mail client's RFC 8058 one-click POST to the real tracking server.
"""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from edm.cli import main
from edm.clock import SystemClock
from edm.config import load_settings
from edm.runner import open_store
from edm.store import Suppression
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


def _edm(folder: Path, *args: str) -> str:
    result = CliRunner().invoke(main, [*args, "--config", str(folder / "edm.yaml")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _customers(folder: Path, name: str, rows: str) -> Path:
    path = folder / name
    path.write_text("external_id,name,kind,email\n" + rows, encoding="utf-8")
    return path


def _received(smtp_server: SmtpServer) -> list[str]:
    return sorted(m["To"].addresses[0].addr_spec for m in smtp_server.handler.messages)


@pytest.fixture
def folder(tmp_path: Path, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("EDM_SECRET_KEY", SECRET_KEY)
    monkeypatch.setenv("EDM_SMTP__HOST", smtp_server.host)
    monkeypatch.setenv("EDM_SMTP__PORT", str(smtp_server.port))
    monkeypatch.setenv("EDM_POLICY__ONE_PER_DAY", "false")  # two campaigns in one day, in this test
    assert CliRunner().invoke(main, ["init", str(tmp_path)], catch_exceptions=False).exit_code == 0
    for name in ("spring_sale", "summer_sale"):
        (tmp_path / "campaigns" / f"{name}.yaml").write_text(CAMPAIGN.format(name=name), encoding="utf-8")
    return tmp_path


def test_an_unsubscribe_holds_for_every_spelling_and_every_record_of_the_mailbox(
    folder: Path, smtp_server: SmtpServer
) -> None:
    first = _customers(folder, "crm-1.csv",
                       "C001,Alice,person,Alice@example.com\nC003,Bob,person,bob@example.com\n")
    _edm(folder, "import", "customers", str(first))
    _edm(folder, "classify")
    _edm(folder, "campaign", "run", "spring_sale")
    assert _received(smtp_server) == ["Alice@example.com", "bob@example.com"]

    # Alice's mail client unsubscribes her in one click (RFC 8058), on the real tracking server
    (mail,) = smtp_server.handler.to("Alice@example.com")
    url = re.search(r"<(https?://[^>]+/u/[^>]+)>", str(mail["List-Unsubscribe"]))
    assert url is not None, mail["List-Unsubscribe"]
    settings = load_settings(folder / "edm.yaml")
    sessions = open_store(settings)
    app = create_tracking_app(sessions, settings.signing_keys(), SystemClock(), settings.tracking)
    with serve_in_background(app) as base, httpx.Client(timeout=30) as http:
        path = httpx.URL(url.group(1)).raw_path.decode()
        answer = http.post(base + path, content=b"List-Unsubscribe=One-Click",
                           headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 200

    # the next export spells her address otherwise, and has a second record of her mailbox
    second = _customers(folder, "crm-2.csv", "C001,Alice,person,alice@Example.COM\n"
                        "C002,Alice W.,person,ALICE@example.com\nC003,Bob,person,bob@example.com\n")
    imported = _edm(folder, "import", "customers", str(second))
    assert "1 new, 1 updated, 1 unchanged" in imported  # the validator lower-cases only the domain
    assert ("warning: 2 customers share a mailbox with another: C002 ALICE@example.com = "
            "C001 alice@example.com; an unsubscribe by one holds for both") in imported
    _edm(folder, "classify")
    smtp_server.handler.messages.clear()
    ran = _edm(folder, "campaign", "run", "summer_sale")
    assert _received(smtp_server) == ["bob@example.com"], ran
    assert "audience 3, queued 1, already planned 0, suppressed 2," in ran, ran  # at planning, not at sending
    with sessions() as session:  # one row for the mailbox, as first unsubscribed
        assert [(s.email, s.address_key) for s in session.scalars(select(Suppression))] == [
            ("Alice@example.com", "alice@example.com")]


def test_an_import_without_shared_mailboxes_warns_of_none(folder: Path) -> None:
    path = _customers(folder, "crm.csv",
                      "C001,Alice,person,alice@example.com\nC002,Bob,person,bob@example.com\n")
    assert "share a mailbox" not in _edm(folder, "import", "customers", str(path))
