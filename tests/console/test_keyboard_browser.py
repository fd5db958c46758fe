"""Every action of the console is reached with the keyboard alone (issue 23), in Debian's Chromium:
on each page, Tab from the top reaches every link, button and field of the header and the page, the
first stop is "skip to content", and each stop shows where the focus is (an outline). Skipped where
chromium is not installed (.ci/run installs it)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import screenshot
from tests.console.conftest import PASSWORD, Console

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")

# what a keyboard can reach, named so that a swapped-in copy (Today's live table) is the same stop
STOPS = """() => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, iframe, '
                 + '[tabindex]:not([tabindex="-1"])';
  const name = (el) => [el.tagName, el.getAttribute('href') || '', el.getAttribute('name') || '',
                        el.id || '', (el.textContent || '').trim().slice(0, 40)].join('|');
  const all = [...document.querySelectorAll(selector)]
    .filter(el => !el.disabled && el.getClientRects().length);
  const seen = {};
  const keys = all.map(el => {
    const key = name(el);
    seen[key] = (seen[key] || 0) + 1;
    return key + '#' + seen[key];
  });
  const active = document.activeElement;
  let focused = null;
  if (active && active !== document.body) {
    const at = all.indexOf(active);
    const style = getComputedStyle(active);
    focused = {key: at >= 0 ? keys[at] : name(active), tag: active.tagName,
               outlined: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
               ring: style.boxShadow !== 'none'};
  }
  return {keys, focused};
}"""


def _walk(page: Any, limit: int = 0) -> tuple[list[str], list[dict[str, Any]]]:
    """Tab until every stop was focused (or `limit` presses); the stops and what was focused, in order."""
    keys = page.evaluate(STOPS)["keys"]
    presses = limit or 4 * len(keys) + 80  # a preview's mail frames hold links of their own
    focused: list[dict[str, Any]] = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        now = page.evaluate(STOPS)["focused"]
        if now is not None and (not focused or focused[-1]["key"] != now["key"]):
            focused.append(now)
        if set(keys) <= {f["key"] for f in focused}:
            break
    return keys, focused


def _check(page: Any, name: str, shots: Path, *, skip_first: bool = True) -> list[str]:
    keys, focused = _walk(page)
    reached = {f["key"] for f in focused}
    assert set(keys) - reached == set(), f"{name}: never reached by Tab"
    assert len(keys) >= 3, name
    if skip_first:
        assert focused[0]["key"].startswith("A|#main|"), f"{name}: the first stop is not the skip link"
    # a preview's mail frame: the focus is on a link inside the mail, which Chromium rings itself (the
    # frame element matches neither :focus nor :focus-within then, so the console cannot outline it)
    unseen = [f["key"] for f in focused if f["tag"] != "IFRAME" and not (f["outlined"] or f["ring"])]
    assert unseen == [], f"{name}: focus not visible on {unseen}"
    screenshot(page, shots / f"{name}.png", full_page=False)
    return keys


def _fresh(page: Any, url: str) -> None:
    answer = page.goto(url)
    assert answer is not None and answer.status == 200, url


def test_tab_reaches_every_action_on_every_page(console: Console, screenshots: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    shots = screenshots
    base = console.url
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(locale="en-GB")
            _fresh(page, f"{base}/login")  # the name field has the focus already: Tab goes round
            login = _check(page, "login", shots, skip_first=False)
            assert any(key.startswith("BUTTON|") and "Sign in" in key for key in login)
            assert any(key.startswith("A|/language/zh-Hans") for key in login)
            page.focus("#name")
            page.keyboard.type("mia")
            page.keyboard.press("Tab")
            page.keyboard.type(PASSWORD)
            with page.expect_navigation():
                page.keyboard.press("Enter")

            pages = {"today": "/", "campaigns": "/campaigns", "campaign": "/campaigns/spring_sale",
                     "preview": "/campaigns/spring_sale/preview", "customers": "/customers?q=C",
                     "customer": "/customers/C001", "reports": "/reports"}
            found: dict[str, list[str]] = {}
            for name, path in pages.items():
                _fresh(page, base + path)
                found[name] = _check(page, name, shots)
            for name, keys in found.items():  # the header's actions on every page
                for wanted in ("Sign out", "/language/zh-Hant", "/customers", "/campaigns"):
                    assert any(wanted in key for key in keys), (name, wanted)
            assert any("Approve" in key for key in found["campaign"])
            assert any("Pause" in key for key in found["campaign"])
            assert any(key.startswith("INPUT|") and "|q|" in key for key in found["customers"])
            assert any(key.startswith("SUMMARY|") for key in found["preview"])
            assert any(key.startswith("A|/reports/") for key in found["reports"])

            # approve and pause with the keyboard, then the other two actions are reached too
            for action in ("Approve", "Pause"):
                button = page.get_by_role("button", name=action)
                _fresh(page, f"{base}/campaigns/spring_sale")
                for _ in range(40):
                    page.keyboard.press("Tab")
                    if button.evaluate("b => document.activeElement === b"):
                        break
                with page.expect_navigation():
                    page.keyboard.press("Enter")
            acted = _check(page, "campaign-acted", shots)
            assert any("Withdraw approval" in key for key in acted) and any("Resume" in key for key in acted)

            manager = browser.new_page(locale="en-GB")  # a manager's Today and own customers page
            _fresh(manager, f"{base}/login")
            manager.fill("#name", "max")
            manager.fill("#password", PASSWORD)
            with manager.expect_navigation():
                manager.press("#password", "Enter")
            today = _check(manager, "manager-today", shots)
            assert any(key.startswith("A|/customers|||See them") for key in today)
            _fresh(manager, f"{base}/customers")
            own = _check(manager, "manager-customers", shots)
            assert any(key.startswith("A|/customers/C001") for key in own)

            _fresh(page, base + "/")  # the skip link takes the focus past the header
            page.keyboard.press("Tab")
            page.keyboard.press("Enter")
            assert page.evaluate("document.activeElement.id") == "main"
            page.keyboard.press("Tab")
            assert page.evaluate("document.querySelector('main').contains(document.activeElement)")
        finally:
            browser.close()
