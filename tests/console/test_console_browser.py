"""The console in Debian's Chromium (Playwright): sign in with the keyboard, every page without a
console error, approve and pause with the buttons; screenshots of every page kept in
build/test-artifacts (tests/conftest.py `screenshots`). Skipped where chromium is not installed
(.ci/run installs it)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from edm.config import load_settings
from edm.delivery.holds import pauses
from edm.runner import open_store
from tests.conftest import screenshot
from tests.console.conftest import PASSWORD, Console

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
PAGES = {"today": "/", "campaigns": "/campaigns", "campaign": "/campaigns/spring_sale",
         "preview": "/campaigns/spring_sale/preview", "customers": "/customers?q=C",
         "customer": "/customers/C001", "reports": "/reports"}


def _sign_in_by_keyboard(page: Any, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.wait_for_function("document.activeElement && document.activeElement.id === 'name'")  # autofocus
    page.keyboard.type(name)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def test_a_marketer_signs_in_approves_and_pauses_in_chromium(console: Console, screenshots: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    shots = screenshots
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(locale="zh-CN")
            page.on("console", lambda note: errors.append(note.text) if note.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
            _sign_in_by_keyboard(page, console.url, "mia")
            assert page.url == f"{console.url}/" and page.locator("html").get_attribute("lang") == "zh-Hans"
            for name, path in PAGES.items():
                answer = page.goto(console.url + path)
                assert answer is not None and answer.status == 200, path
                screenshot(page, shots / f"{name}.png")

            page.goto(f"{console.url}/campaigns/spring_sale")
            with page.expect_navigation():
                page.get_by_role("button", name="批准").click()
            assert "已批准" in page.locator("main").inner_text()
            pause = page.get_by_role("button", name="暂停")
            for _ in range(30):  # the keyboard reaches the button
                page.keyboard.press("Tab")
                if pause.evaluate("button => document.activeElement === button"):
                    break
            else:
                pytest.fail("Tab never reached the pause button")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert "已暂停" in page.locator("main").inner_text()

            page.get_by_role("link", name="English").click()
            assert page.locator("html").get_attribute("lang") == "en"
            with page.expect_navigation():
                page.get_by_role("button", name="Sign out").click()
            assert page.url == f"{console.url}/login"

            _sign_in_by_keyboard(page, console.url, "ana")
            assert page.url == f"{console.url}/"
            page.goto(f"{console.url}/campaigns/spring_sale")
            assert "ana (analyst)" in page.locator("header").inner_text()
            assert page.get_by_role("button").all_inner_texts() == ["Sign out"]  # an analyst has no others
            screenshot(page, shots / "campaign-analyst.png")
        finally:
            browser.close()
    assert errors == []
    expected = [*(f"{name}.png" for name in PAGES), "campaign-analyst.png"]
    assert sorted(p.name for p in shots.iterdir()) == sorted(expected)
    with open_store(load_settings(console.folder / "edm.yaml"))() as session:
        assert [p.scope for p in pauses(session)] == ["campaign:spring_sale"]


def test_refusals_in_chromium(console: Console, screenshots: Path) -> None:
    """A manager opening another manager's customer gets 403 and nothing of them; a form posted
    without its CSRF token is refused; an analyst posting the form a marketer would is refused.
    Nothing of it changes the store."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            manager = browser.new_page(locale="en")
            _sign_in_by_keyboard(manager, console.url, "max")
            answer = manager.goto(f"{console.url}/customers/C003")
            assert answer is not None and answer.status == 403
            shown = manager.locator("body").inner_text()
            assert "Not allowed" in shown and "Carol" not in shown and "corp.example.com" not in shown
            screenshot(manager, screenshots / "manager-refused.png")
            mine = manager.goto(f"{console.url}/customers/C001")
            assert mine is not None and mine.status == 200

            marketer = browser.new_page(locale="en")
            _sign_in_by_keyboard(marketer, console.url, "mia")
            forged = marketer.request.post(f"{console.url}/campaigns/spring_sale/pause", form={"x": "1"})
            assert forged.status == 403  # the session's cookie rides along; the token does not

            analyst = browser.new_page(locale="en")
            _sign_in_by_keyboard(analyst, console.url, "ana")
            analyst.goto(f"{console.url}/campaigns/spring_sale")
            csrf = analyst.locator('input[name="csrf"]').first.get_attribute("value")
            assert csrf  # the sign-out form's token: an analyst's page has no pause form
            tried = analyst.request.post(f"{console.url}/campaigns/spring_sale/pause", form={"csrf": csrf})
            assert tried.status == 403
        finally:
            browser.close()
    with open_store(load_settings(console.folder / "edm.yaml"))() as session:
        assert pauses(session) == []
