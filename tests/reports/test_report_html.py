"""The written reports read back the way a browser, Excel and pandas would: HTML (also in headless
Chromium, with a screenshot kept), CSV and XLSX, all from the hand-made history."""

from __future__ import annotations

import shutil
import warnings
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from edm.config import ReportSettings
from edm.reports import (
    Report,
    engagement_report,
    frequency_report,
    lifecycle_report,
    render_html,
    satisfaction_report,
    write_report,
)
from edm.reports.charts import cjk_font, rate_bars
from edm.reports.html import BASES, LABELS, SORT_SCRIPT, display, heading, shown_columns
from edm.store import Customer, OutboxMessage
from tests.conftest import screenshot
from tests.reports.answers import WINDOW, seed_answers
from tests.reports.history import MARCH, seed

EVIL = "<script>alert(1)</script>"
GENERATED = datetime(2024, 4, 1, 8, 30, tzinfo=UTC)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Page(HTMLParser):
    """Collects every tag's attributes, every table's cells and all visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: list[list[list[str]]] = []
        self.text: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def built(sessions: sessionmaker[Session]) -> Report:
    seed(sessions)
    with sessions.begin() as session:  # a campaign name that must be shown, not run
        message = session.get(OutboxMessage, 1)
        assert message is not None
        message.campaign = EVIL
    return engagement_report(sessions, [["campaign"], ["tier", "stage"]], now=GENERATED,
                             settings=ReportSettings(attribution_days=30, min_group=2, min_rate_n=1), **MARCH)


def judged(frame: pd.DataFrame) -> pd.DataFrame:
    """A table read back from a file: an empty judgement (a row judged as usual) reads as NaN there."""
    if "judgement" not in frame:
        return frame
    return frame.assign(judgement=frame["judgement"].astype(object).fillna(""))


def parse(source: str) -> Page:
    page = Page()
    page.feed(source)
    page.close()
    return page


def test_html_holds_every_value_of_every_table(sessions: sessionmaker[Session]) -> None:
    report = built(sessions)
    source = render_html(report)
    page = parse(source)
    assert '<meta charset="utf-8">' in source
    assert EVIL not in source and "&lt;script&gt;" in source
    tables = report.tables()
    assert len(tables) == 6  # by campaign, by tier x stage, and spring's uplift: 4 tables
    for table, rows in zip(tables, page.tables, strict=True):
        columns = shown_columns(table.frame)  # all but the n columns, which the rate cells carry
        assert [cell.replace("\xad", "") for cell in rows[0]] == ["".join(heading(c)) for c in columns]
        shown = display(table.frame[columns]).astype(str).values.tolist()
        for row, (values, cells) in enumerate(zip(shown, rows[1:], strict=True)):
            for column, value, cell in zip(columns, values, cells, strict=True):
                instead = table.instead.get(column, ("",) * len(shown))[row]
                name = report.names.get(value, value) if column == "campaign" else value
                assert cell == instead or cell.startswith(name), (column, value, cell)
                if column in BASES and not instead:
                    assert " n " in f" {cell[len(value):]}", (column, cell)  # every rate with its n
    text = " ".join(page.text)
    for words in ["Engagement report 互动报告", LABELS["open_rate"], "2024-04-01 08:30 UTC",
                  "Uplift against holdout groups 对照组提升", "Newcombe", "Welch"]:
        assert words in text
    images = [attrs for tag, attrs in page.tags if tag == "img"]
    # two rate charts, three uplift charts: spring's tiers and stages are all too few, so not drawn
    assert len(images) == len(report.charts()) == 5
    assert all(str(attrs["src"]).startswith("data:image/png;base64,") for attrs in images)
    assert not [attrs for tag, attrs in page.tags if tag == "link" or (tag == "script" and attrs)]
    assert source.count("<script") == 1 and f"<script>{SORT_SCRIPT}</script>" in source  # the CSP hash's


def test_the_uplift_section_has_a_stable_id_its_charts_and_tables(sessions: sessionmaker[Session]) -> None:
    source = render_html(built(sessions))
    start = source.index('<section id="uplift">')
    section = source[start:source.index("</section>", start)]
    page = parse(section)
    assert [attrs["id"] for tag, attrs in page.tags if tag == "figure"] == [
        "uplift-chart-campaign", "uplift-chart-revenue", "uplift-chart-variant"]  # tiers, stages: too few
    assert [attrs["id"] for tag, attrs in page.tags if tag == "table"] == [
        "uplift", "uplift-tier", "uplift-stage", "uplift-variant"]
    assert [tag for tag, _ in page.tags][:3] == ["section", "h2", "p"]  # the title, then how to read it
    assert "too few" in " ".join(page.text)  # spring's tiers: one or two customers each
    assert source.count('id="uplift"') == 2  # the section and its first table: nothing else


def test_summary_on_top_is_the_total_row(sessions: sessionmaker[Session]) -> None:
    cards = dict(built(sessions).summary)
    assert cards["Sent 已发送"] == "7" and cards["Delivered 已送达"] == "6"
    assert cards["Open rate (people) 打开率"] == "66.67% (n 6)" and cards["Revenue 收入"] == "440.00"
    assert cards["Click-to-open 点击/打开"] == "75.00% (n 4)"
    assert cards["spring: order rate uplift 下单率提升"].startswith("50.00% [")


def test_charts_draw_chinese_with_an_installed_font() -> None:
    if cjk_font() is None:
        pytest.skip("no CJK font installed (.ci/run installs fonts-noto-cjk)")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib warns "Glyph ... missing from font(s)"
        png = rate_bars(["新春问候", "winback"], {"打开率": [0.5, 0.25]}, "打开率与点击率")
    assert png.startswith(b"\x89PNG")


def test_csv_one_file_per_table_and_xlsx_one_sheet_each(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    report = built(sessions)
    csvs = write_report(report, tmp_path / "e.csv", "csv")
    assert [p.name for p in csvs] == ["e-engagement-campaign.csv", "e-engagement-tier-stage.csv",
                                      "e-uplift.csv", "e-uplift-tier.csv", "e-uplift-stage.csv",
                                      "e-uplift-variant.csv"]
    for path, table in zip(csvs, report.tables(), strict=True):
        assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with the mark
        pd.testing.assert_frame_equal(judged(pd.read_csv(path, encoding="utf-8-sig")), table.frame,
                                      check_dtype=False)
    [book] = write_report(report, tmp_path / "e.xlsx", "xlsx")
    sheets = pd.read_excel(book, sheet_name=None)
    assert list(sheets) == ["summary", "engagement-campaign", "engagement-tier-stage", "uplift",
                            "uplift-tier", "uplift-stage", "uplift-variant"]
    for table in report.tables():
        back = sheets[table.name]
        assert list(back.columns) == [LABELS.get(str(c), str(c)) for c in table.frame.columns]
        back.columns = table.frame.columns
        pd.testing.assert_frame_equal(judged(back), table.frame, check_dtype=False)
    assert "440.00" in sheets["summary"]["value"].astype(str).tolist()


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_every_report_renders_in_chromium(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    engagement = built(sessions)
    with sessions.begin() as session:
        session.add(Customer(external_id="x", name="x", email="x@example.com", kind="person",
                             created_at=GENERATED))
    seed_answers(sessions)  # a comment "<script>x</script>" must be shown, not run
    pages = {
        "engagement": engagement,
        "lifecycle": lifecycle_report(sessions, now=GENERATED),
        "frequency": frequency_report(sessions, now=GENERATED, **MARCH),
        "satisfaction": satisfaction_report(sessions, now=GENERATED, **WINDOW),
    }
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            for name, report in pages.items():
                [path] = write_report(report, tmp_path / f"{name}.html", "html")
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                problems: list[str] = []
                page.on("console", lambda m, out=problems: out.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e, out=problems: out.append(str(e)))
                page.goto(path.as_uri(), wait_until="load")
                images = page.eval_on_selector_all("img", """imgs => imgs.map(i => {
                    i.scrollIntoView();
                    const r = i.getBoundingClientRect();
                    return {w: i.naturalWidth, h: i.naturalHeight, complete: i.complete,
                            shown: r.width > 0 && r.height > 0
                                   && getComputedStyle(i).visibility === 'visible'};
                })""")
                assert images and len(images) == len(report.charts()), name
                assert all(i["complete"] and i["w"] > 0 and i["h"] > 0 and i["shown"] for i in images), images
                for image in page.query_selector_all("img"):
                    assert image.is_visible()
                shot = tmp_path / f"{name}.png"
                screenshot(page, shot)
                print(f"screenshot of the {name} report: {shot}")
                assert shot.stat().st_size > 0
                assert problems == [], problems
                page.close()
        finally:
            browser.close()
