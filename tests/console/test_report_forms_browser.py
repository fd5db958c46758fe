"""The reports page's forms in Debian's Chromium (Playwright): ticking groupings and pressing Open shows
the report grouped so; the CSV button downloads the zip of the command's files. Screenshots are kept
with the test's files. Skipped where chromium is not installed (.ci/run installs it)."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest

from tests.conftest import screenshot
from tests.console.conftest import PASSWORD, Console

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")


def test_an_analyst_chooses_groupings_opens_the_report_and_downloads_its_csv(
        console: Console, tmp_path: Path, screenshots: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    errors: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(locale="en-GB", accept_downloads=True,
                                    viewport={"width": 1280, "height": 800})
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{console.url}/login")
            page.fill("#name", "ana")
            page.fill("#password", PASSWORD)
            with page.expect_navigation():
                page.press("#password", "Enter")
            page.goto(f"{console.url}/reports")
            screenshot(page, screenshots / "reports.png")
            form = page.locator("#report-engagement form")
            form.get_by_label("Campaign", exact=True).uncheck()
            form.get_by_label("Industry").check()
            form.get_by_label("Value tier × Lifecycle stage").check()
            with page.expect_navigation():
                form.get_by_role("button", name="Open").click()
            assert "/reports/engagement?" in page.url and "by=industry" in page.url
            assert page.locator("#engagement-industry").count() == 1
            assert page.locator("#engagement-tier-stage").count() == 1
            assert page.locator("#engagement-campaign").count() == 0
            screenshot(page, screenshots / "engagement.png", full_page=False)

            page.goto(f"{console.url}/reports")
            form = page.locator("#report-deliverability form")
            form.get_by_label("Per").select_option("week")
            with page.expect_download() as download:
                form.get_by_role("button", name="Download CSV (zip)").click()
            saved = tmp_path / download.value.suggested_filename
            download.value.save_as(saved)
        finally:
            browser.close()
    assert errors == []
    assert saved.name.startswith("deliverability-") and saved.name.endswith("-csv.zip")
    names = zipfile.ZipFile(saved).namelist()
    assert any(name.endswith("-deliverability-period.csv") for name in names), names
    period = zipfile.ZipFile(saved).read(next(n for n in names if n.endswith("-deliverability-period.csv")))
    assert period.decode("utf-8-sig").startswith("period,")
