"""Today's sending progress in Debian's Chromium: the outbox figures change on the page, without a
navigation, when a sender moves the rows in the store; the script stops asking while the tab is
hidden. Skipped where chromium is not installed (.ci/run installs it)."""

from __future__ import annotations

import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from edm.config import load_settings
from edm.runner import open_store
from edm.store import OutboxMessage
from tests.conftest import screenshot
from tests.console.conftest import PASSWORD, Console
from tests.console.test_today_figures import DAILY, _outbox

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
CELL = '#outbox tr[data-campaign="daily_news"] td[data-count="{}"]'
SHOWN = """() => {{
    Object.defineProperty(document, "visibilityState", {{configurable: true, get: () => "{}"}});
    document.dispatchEvent(new Event("visibilitychange"));
}}"""


def _sign_in(page: Any, base: str) -> None:
    page.goto(f"{base}/login")
    page.fill("#name", "mia")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.press("#password", "Enter")


def _counts(page: Any) -> dict[str, str]:
    return {name: page.locator(CELL.format(name)).inner_text()
            for name in ("queued", "sending", "sent_today", "failed_today")}


def test_the_outbox_figures_follow_the_store_without_a_reload(console: Console, screenshots: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    (console.folder / "campaigns" / "daily_news.yaml").write_text(DAILY, encoding="utf-8")
    now = datetime.now(UTC)
    ids = _outbox(console, [("daily_news", "queued", None, now)] * 4)
    sessions = open_store(load_settings(console.folder / "edm.yaml"))
    errors: list[str] = []
    asked: list[float] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(locale="en-GB")
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda note: errors.append(note.text) if note.type == "error" else None)
            page.on("request", lambda r: asked.append(time.monotonic()) if "/today/" in r.url else None)
            _sign_in(page, console.url)
            assert _counts(page) == {"queued": "4", "sending": "0", "sent_today": "0", "failed_today": "0"}
            page.evaluate("window.loadedOnce = true")  # gone if the page were loaded again

            with sessions.begin() as session:  # a sender claims two, sends one, the relay refuses one
                session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids[:2])).values(state="sending"))
            expect(page.locator(CELL.format("sending"))).to_have_text("2", timeout=15_000)  # the page's CSP
            # forbids eval, so no wait_for_function: Playwright's own matcher polls
            assert _counts(page)["queued"] == "2"
            with sessions.begin() as session:
                session.execute(update(OutboxMessage).where(OutboxMessage.id == ids[0])
                                .values(state="sent", sent_at=datetime.now(UTC)))
                session.execute(update(OutboxMessage).where(OutboxMessage.id == ids[1])
                                .values(state="bounced"))
            expect(page.locator(CELL.format("sent_today"))).to_have_text("1", timeout=15_000)
            assert _counts(page) == {"queued": "2", "sending": "0", "sent_today": "1", "failed_today": "1"}
            assert page.evaluate("window.loadedOnce") is True and page.url == f"{console.url}/"
            screenshot(page, screenshots / "today-live.png")

            link = page.locator('#outbox a[href="/campaigns/daily_news"]')  # the keyboard keeps its place
            link.focus()
            as_of = page.locator("#outbox .as-of").inner_text()
            expect(page.locator("#outbox .as-of")).not_to_have_text(as_of, timeout=15_000)  # swapped since
            assert page.evaluate("document.activeElement.getAttribute('href')") == "/campaigns/daily_news"
            assert page.evaluate("document.querySelector('#outbox').contains(document.activeElement)")

            # hidden (another tab in front): no more asking; visible again: at once
            page.evaluate(SHOWN.format("hidden"))
            hidden_at = time.monotonic()
            page.wait_for_timeout(7_000)
            assert [t for t in asked if t > hidden_at + 0.5] == []
            before = len(asked)
            page.evaluate(SHOWN.format("visible"))
            page.wait_for_timeout(1_000)
            assert len(asked) == before + 1
        finally:
            browser.close()
    assert errors == []


def test_signed_out_the_page_keeps_its_figures_and_stops_asking(console: Console) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    asked: list[int] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            context = browser.new_context(locale="en-GB")
            page = context.new_page()
            _sign_in(page, console.url)
            other = context.new_page()  # signing out elsewhere ends this session too
            other.goto(f"{console.url}/campaigns")
            with other.expect_navigation():
                other.get_by_role("button", name="Sign out").click()
            page.on("response", lambda r: asked.append(r.status) if r.url.endswith("/today/outbox") else None)
            expect(page.locator("#outbox")).to_have_attribute("data-stopped", "", timeout=15_000)
            assert asked == [303]  # one refused ask, then none
            page.wait_for_timeout(6_000)
            assert asked == [303] and page.url == f"{console.url}/"
            assert page.get_by_role("link", name="Refresh the page").is_visible()
        finally:
            browser.close()
