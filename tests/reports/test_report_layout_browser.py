"""Every report page as an analyst sees it in Chromium, at 1 280 px and at 390 px: nothing scrolls the
page sideways, at 1 280 px every table fits without its own scrollbar, no text box overlaps another or
spills out of its cell, every rate cell shows its n, and a click on a header sorts the table with the
rows too few or too recent to judge (and the Total) kept below. Served with the console's CSP, so the
sorting script runs by its hash. Screenshots are kept in the test's tmp_path."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from edm.config import ReportSettings
from edm.console.app import REPORT_CSP
from edm.reports import (
    Report,
    deliverability_report,
    engagement_report,
    frequency_report,
    lifecycle_report,
    render_html,
    satisfaction_report,
    uplift_report,
)
from edm.reports.campaigns import CampaignFacts
from edm.store import Customer
from tests.conftest import screenshot
from tests.reports.answers import WINDOW, seed_answers
from tests.reports.history import MARCH, seed

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOW = datetime(2024, 3, 21, tzinfo=UTC)
WIDTHS = (1280, 390)
FACTS = CampaignFacts(
    titles={"winback": ("Win them back", "挽回老客户"),
            "spring": ("Spring Festival greeting with a long name", "新春问候")},
    unlinked=frozenset({"winback"}),
)
SETTINGS = ReportSettings(judge_after_days=3, min_rate_n=2, min_group=1)

# the boxes that must never overlap one another: headings, summary cards, notes, charts, tables
BOXES = "h1, p.meta, .card, ul.notes, h2, p.note, figure, h3, .scroll"
LAYOUT = """(selector) => {
  const page = document.scrollingElement;
  const boxes = [...document.querySelectorAll(selector)].map(element => {
    const r = element.getBoundingClientRect();
    return {name: element.tagName + '.' + element.className + ' ' + (element.textContent || '').slice(0, 40),
            left: r.left, top: r.top + window.scrollY, right: r.right, bottom: r.bottom + window.scrollY};
  });
  const overlaps = [];
  boxes.forEach((a, i) => boxes.slice(i + 1).forEach(b => {
    const x = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const y = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    if (x > 0.5 && y > 0.5) { overlaps.push([a.name, b.name]); }
  }));
  const spilling = [...document.querySelectorAll('table.data th, table.data td')]
    .filter(cell => cell.scrollWidth > cell.clientWidth + 1).map(cell => cell.textContent);
  const scrolling = [...document.querySelectorAll('.scroll')]
    .filter(wrap => wrap.scrollWidth > wrap.clientWidth + 1).map(wrap => wrap.querySelector('table').id);
  const rates = [...document.querySelectorAll('td.rate:not(.instead)')];
  return {pageWidth: page.scrollWidth, viewWidth: page.clientWidth, overlaps, spilling, scrolling,
          rates: rates.length, ratesWithoutN: rates.filter(cell => !cell.querySelector('.n')).length};
}"""


def reports(sessions: sessionmaker[Session]) -> dict[str, Report]:
    seed(sessions)
    with sessions.begin() as session:
        session.add(Customer(external_id="x", name="x", email="x@example.com", kind="person", created_at=NOW))
    empty = satisfaction_report(sessions, now=NOW, since=datetime(2030, 1, 1, tzinfo=UTC))
    seed_answers(sessions)
    return {
        "engagement": engagement_report(sessions, [["campaign"], ["tier", "stage"], ["variant"]], now=NOW,
                                        settings=SETTINGS, campaigns=FACTS, **MARCH),
        "uplift": uplift_report(sessions, now=NOW, settings=SETTINGS, campaigns=FACTS, **MARCH),
        "lifecycle": lifecycle_report(sessions, now=NOW),
        "frequency": frequency_report(sessions, now=NOW, **MARCH),
        "satisfaction": satisfaction_report(sessions, now=NOW, **WINDOW),
        "satisfaction-empty": empty,
        "deliverability": deliverability_report(sessions, now=NOW, **MARCH),
    }


def open_page(browser: Any, html: str, width: int, problems: list[str]) -> Any:
    """The page served as the console serves a report: with REPORT_CSP."""
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.route("https://console.test/report", lambda route: route.fulfill(
        status=200, body=html, headers={"Content-Type": "text/html; charset=utf-8",
                                        "Content-Security-Policy": REPORT_CSP}))
    page.goto("https://console.test/report", wait_until="load")
    return page


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_every_report_fits_both_widths_without_overlaps(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    pages = reports(sessions)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for name, report in pages.items():
                html = render_html(report)
                for width in WIDTHS:
                    problems: list[str] = []
                    page = open_page(browser, html, width, problems)
                    shot = tmp_path / f"{name}-{width}.png"
                    screenshot(page, shot)
                    print(f"screenshot of the {name} report at {width} px: {shot}")
                    found = page.evaluate(LAYOUT, BOXES)
                    where = f"{name} at {width} px"
                    assert found["pageWidth"] <= found["viewWidth"], where  # no sideways scroll of the page
                    assert found["overlaps"] == [], where
                    assert found["spilling"] == [], where
                    if width == 1280:  # every table fits; on a phone a table scrolls in its own box
                        assert found["scrolling"] == [], where
                    assert found["ratesWithoutN"] == 0, where
                    assert problems == [], (where, problems)
                    page.close()
            assert render_html(pages["engagement"]).count('class="rate') > 0
        finally:
            browser.close()


ROWS = """([id, column]) => [...document.getElementById(id).tBodies[0].rows].map(row => ({
    first: row.cells[0].textContent, pinned: row.classList.contains('pinned'),
    value: row.cells[column].getAttribute('data-sort')}))"""


def ranked_in_order(rows: list[dict[str, Any]], descending: bool) -> bool:
    """The rows not pinned come first, by value (blanks last); the pinned ones after them."""
    pinned = [row["pinned"] for row in rows]
    if pinned != sorted(pinned):
        return False
    values = [row["value"] for row in rows if not row["pinned"]]
    filled = [float(v) for v in values if v != ""]
    blanks_last = values[len(filled):] == [""] * (len(values) - len(filled))
    return blanks_last and filled == sorted(filled, reverse=descending)


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_a_header_click_sorts_and_keeps_unjudged_rows_below(sessions: sessionmaker[Session],
                                                            tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    seed(sessions)
    report = engagement_report(sessions, [["campaign"]], now=NOW, settings=SETTINGS, campaigns=FACTS, **MARCH)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            problems: list[str] = []
            page = open_page(browser, render_html(report), 1280, problems)
            before = page.evaluate(ROWS, ["engagement-campaign", 1])
            # spring (4 judged) is ranked; winback (1 judged: too few) and the Total stay below
            assert [(row["first"], row["pinned"]) for row in before] == [
                ("Spring Festival greeting with a long name 新春问候", False),
                ("Win them back 挽回老客户", True), ("Total", True)]
            page.close()
            # variants: three ranked rows (2 judged mails each); tiers: high ranked, the rest too few
            page = open_page(browser, render_html(engagement_report(
                sessions, [["variant"], ["tier"]], now=NOW, settings=SETTINGS.model_copy(update={
                    "judge_after_days": 0}), **MARCH)), 1280, problems)
            seen: dict[str, list[dict[str, Any]]] = {}
            for table in ("engagement-variant", "engagement-tier"):
                headers = page.locator(f"#{table} thead th")
                names = [text.replace("\xad", "") for text in headers.all_inner_texts()]
                for column in (names.index(next(n for n in names if n.startswith("Sent"))),
                               names.index(next(n for n in names if n.startswith("Open rate")))):
                    header = headers.nth(column)
                    header.locator("button").click()
                    assert header.get_attribute("aria-sort") == "ascending"
                    assert ranked_in_order(page.evaluate(ROWS, [table, column]), descending=False)
                    header.locator("button").click()
                    assert header.get_attribute("aria-sort") == "descending"
                    rows = seen[table] = page.evaluate(ROWS, [table, column])
                    assert ranked_in_order(rows, descending=True), rows
                    assert rows[-1]["first"] == "Total"
            ranked = [row for row in seen["engagement-variant"] if not row["pinned"]]
            assert len(ranked) == 3  # a real ranking
            below = [row["first"] for row in seen["engagement-tier"]][1:]
            assert below == ["medium", "low", "unknown", "Total"]  # too few, in their order
            screenshot(page, tmp_path / "sorted.png")
            assert problems == [], problems  # the CSP let the script run: no violation reported
        finally:
            browser.close()
