"""Approve, pause and resume in the console; the planner and the sender honour them (through the CLI)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from sqlalchemy import select

from edm.config import load_settings
from edm.runner import open_store
from edm.store import AuditEntry, CampaignApproval, OutboxMessage
from edm.suppression import UNSUBSCRIBED, suppress
from tests.conftest import SmtpServer
from tests.console.conftest import GATED, Console, csrf_of, edm, signed_in


def _press(http: httpx.Client, campaign: str, action: str) -> httpx.Response:
    page = http.get(f"/campaigns/{campaign}")
    assert page.status_code == 200, page.text
    return http.post(f"/campaigns/{campaign}/{action}", data={"csrf": csrf_of(page.text)})


def _outbox(console: Console) -> list[tuple[str, str]]:
    with open_store(load_settings(console.folder / "edm.yaml"))() as session:
        return [(row.to_address, row.state) for row in session.scalars(select(OutboxMessage)
                                                                          .order_by(OutboxMessage.to_address))]


def _audit(console: Console) -> list[tuple[str, str, str | None]]:
    with open_store(load_settings(console.folder / "edm.yaml"))() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id))
        return [(e.actor, e.action, e.subject) for e in entries]


def test_a_campaign_needing_approval_is_planned_only_once_a_marketer_approved_it(
    console: Console, smtp_server: SmtpServer
) -> None:
    before = edm(console.folder, "campaign", "run", "spring_sale")
    assert "spring_sale: awaiting approval" in before and _outbox(console) == []
    dry = edm(console.folder, "campaign", "run", "spring_sale", "--dry-run")
    assert "spring_sale: awaiting approval" in dry

    http = signed_in(console, "mia")
    listed = http.get("/campaigns").text
    assert "awaiting approval" in listed
    approved = _press(http, "spring_sale", "approve")
    assert approved.status_code == 303
    assert approved.headers["location"] == "/campaigns/spring_sale?done=approve"
    page = http.get(approved.headers["location"]).text
    assert "Approved." in page and "approved by mia" in page and "Withdraw approval" in page

    after = edm(console.folder, "campaign", "run", "spring_sale")
    assert "awaiting approval" not in after and "queued 3" in after, after
    assert len(smtp_server.handler.messages) == 3
    assert _audit(console) == [("console:mia", "approve", "campaign spring_sale")]
    with open_store(load_settings(console.folder / "edm.yaml"))() as session:
        (approval,) = session.scalars(select(CampaignApproval))
        assert (approval.campaign, approval.approved_by, approval.revoked_at) == ("spring_sale", "mia", None)


def test_a_withdrawn_approval_stops_the_planning_again(console: Console) -> None:
    http = signed_in(console, "ada")
    _press(http, "spring_sale", "approve")
    withdrawn = _press(http, "spring_sale", "revoke")
    assert withdrawn.headers["location"].endswith("done=revoke")
    dry = edm(console.folder, "campaign", "run", "spring_sale", "--dry-run")
    assert "spring_sale: awaiting approval" in dry


def test_a_paused_campaign_keeps_its_mail_queued_until_resumed(
    console: Console, smtp_server: SmtpServer
) -> None:
    http = signed_in(console, "mia")
    _press(http, "spring_sale", "approve")
    paused = _press(http, "spring_sale", "pause")
    assert paused.headers["location"].endswith("done=pause")
    assert "Resume" in http.get("/campaigns/spring_sale").text
    assert "paused in the console by mia" in http.get("/").text  # on the Today page too

    edm(console.folder, "campaign", "run", "spring_sale")
    edm(console.folder, "send", "--no-wait")
    assert smtp_server.handler.messages == []
    assert [state for _, state in _outbox(console)] == ["queued"] * 3

    assert _press(http, "spring_sale", "resume").headers["location"].endswith("done=resume")
    edm(console.folder, "send", "--no-wait")
    assert len(smtp_server.handler.messages) == 3
    assert [state for _, state in _outbox(console)] == ["sent"] * 3
    assert [action for _, action, _ in _audit(console)] == ["approve", "pause", "resume"]


def test_an_analyst_and_a_manager_see_no_buttons_and_may_not_press_them(console: Console) -> None:
    for name in ("ana", "max"):
        http = signed_in(console, name)
        page = http.get("/campaigns/spring_sale")
        assert page.status_code == 200 and "spring_sale" in page.text
        assert "/pause" not in page.text and "/approve" not in page.text
        for action in ("approve", "pause", "resume"):
            answer = http.post(f"/campaigns/spring_sale/{action}", data={"csrf": csrf_of(page.text)})
            assert answer.status_code == 403, (name, action)
    assert _audit(console) == []
    assert "Resume" not in signed_in(console, "mia").get("/campaigns/spring_sale").text  # nothing paused


def test_the_campaign_page_shows_the_yaml_and_its_validation(console: Console) -> None:
    http = signed_in(console, "ana")
    page = http.get("/campaigns/spring_sale").text
    assert "approval: required" in page and "Loads, and every message renders." in page
    broken = console.folder / "campaigns" / "broken.yaml"
    broken.write_text("name: broken\ntemplate: no_such_template\nsubject: {en: Hi}\n", encoding="utf-8")
    listed = http.get("/campaigns").text
    assert "Files that do not load" in listed and "broken.yaml" in listed
    assert http.get("/campaigns/nope").status_code == 404


def test_the_preview_shows_the_audience_the_reasons_and_each_message_sandboxed(console: Console) -> None:
    (console.folder / "campaigns" / "spring_sale.yaml").write_text(GATED.replace("approval: required\n", ""),
                                                                   encoding="utf-8")
    with open_store(load_settings(console.folder / "edm.yaml")).begin() as session:  # Bob unsubscribed
        suppress(session, ["bob@example.com"], UNSUBSCRIBED, datetime.now(UTC))
    http = signed_in(console, "ana")
    assert "/campaigns/spring_sale/preview" in http.get("/campaigns/spring_sale").text
    page = http.get("/campaigns/spring_sale/preview", headers={"Accept-Language": "en"})
    assert page.status_code == 200, page.text
    assert "Audience 3, Would send 2." in page.text
    assert re.search(r"<td>send</td><td>\w+</td><td>2</td>", page.text), page.text
    assert "<td>held back</td><td>suppressed</td><td>1</td>" in page.text
    assert '<iframe sandbox="" title="News, Alice Zhang"' in page.text and 'srcdoc="&lt;' in page.text
    assert "Text part" in page.text and "/customers/C001" in page.text
    assert "/o/" not in page.text.split("srcdoc=", 1)[1].split("</iframe>", 1)[0]  # no open pixel
    assert "'unsafe-inline'" in page.headers["content-security-policy"]
    assert "script-src" not in page.headers["content-security-policy"]
    assert signed_in(console, "max").get("/campaigns/spring_sale/preview").status_code == 403
    assert "/preview" not in signed_in(console, "max").get("/campaigns/spring_sale").text
