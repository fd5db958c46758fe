"""The console's reports over a demo's store (`run_demo`: mail sent, opened, answered, ordered): the
commands' filters change what a report shows, a value the command would refuse is a 400 saying why,
and the CSV (a zip of the CLI's files, or one table) and XLSX downloads hold the HTML's figures."""

from __future__ import annotations

import contextlib
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import lxml.html
import openpyxl
import pandas as pd
import pytest
from sqlalchemy import select

from edm.console.app import create_console_app
from edm.console.users import ADMIN, ANALYST, add_user
from edm.demo import DemoRun, run_demo
from edm.reports.html import LABELS
from edm.store import OutboxMessage, SurveyAnswer
from edm.tracking import serve_in_background
from tests.console.conftest import PASSWORD, Console, signed_in

FORMULA = '=HYPERLINK("https://evil.example/","click")'  # a customer's comment, as they wrote it


@dataclass(frozen=True)
class Demo:
    console: Console
    day: str  # the demo's last simulated day: the reports' default period ends there


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("reports") / "demo"
    done: DemoRun = run_demo(folder, customers=120, echo=lambda line: None)
    now = done.clock.now()
    with done.sessions.begin() as db:
        add_user(db, "ada", ADMIN, PASSWORD, now)
        add_user(db, "ana", ANALYST, PASSWORD, now)
        mail = db.execute(select(OutboxMessage.id, OutboxMessage.customer_id)
                          .where(OutboxMessage.state == "sent",
                                 OutboxMessage.id.not_in(select(SurveyAnswer.outbox_id)))).first()
        assert mail is not None
        db.add(SurveyAnswer(customer_id=mail.customer_id, outbox_id=mail.id, survey="csat", score=2,
                            comment=FORMULA, answered_at=now - timedelta(days=3),
                            updated_at=now - timedelta(days=3)))
    app = create_console_app(done.sessions, done.settings, done.clock)
    with serve_in_background(app) as url:
        yield Demo(Console(folder, url), f"{now:%Y-%m-%d}")


@pytest.fixture
def http(demo: Demo) -> Iterator[httpx.Client]:
    client = signed_in(demo.console, "ana")
    yield client
    client.close()


def _table(html: str, name: str) -> pd.DataFrame:
    """The page's table `name` with the commands' column labels (the page wraps English over
    Chinese), a campaign as its slug (the cell's title: the page shows its display name), and
    numbers as numbers."""
    [table] = lxml.html.fromstring(html).xpath(f'//table[@id="{name}"]')
    def squeezed(label: str) -> str:  # no spaces, no soft hyphens (where long words may break)
        return "".join(label.replace("\xad", "").split())

    labels = {squeezed(label): label for label in LABELS.values()}
    heads = [squeezed(th.text_content()) for th in table.xpath("./thead/tr/th")]
    columns = [labels.get(head, head) for head in heads]
    rows = [[cell.get("title") or cell.text_content().strip() for cell in row.xpath("./td|./th")]
            for row in table.xpath("./tbody/tr")]
    frame = pd.DataFrame(rows, columns=columns)
    for column in frame.columns:
        with contextlib.suppress(ValueError, TypeError):  # text, or a rate with its n, stays text
            frame[column] = pd.to_numeric(frame[column])
    return frame


def _report(http: httpx.Client, name: str, **query: str | list[str]) -> httpx.Response:
    answer = http.get(f"/reports/{name}", params=query)
    assert answer.status_code == 200, answer.text[:2000]
    return answer


def test_the_reports_page_offers_each_reports_filters_and_every_format(http: httpx.Client) -> None:
    page = http.get("/reports", headers={"Accept-Language": "en"}).text
    offered = ("campaign", "variant", "tier", "stage", "industry", "locale", "campaign+variant", "tier+stage")
    for by in offered:
        assert f'name="by" value="{by}"' in page, by
    for period in ("month", "week", "quarter", "day"):
        assert f'<option value="{period}"' in page
    for name in ("engagement", "lifecycle", "frequency", "satisfaction", "deliverability"):
        assert f'action="/reports/{name}"' in page
        assert f'href="/reports/{name}?format=csv"' in page and f'href="/reports/{name}?format=xlsx"' in page
    assert page.count('name="format" value="csv"') == 5


def test_the_engagement_groupings_are_the_commands(http: httpx.Client) -> None:
    default = _report(http, "engagement").text
    assert 'id="engagement-campaign"' in default and 'id="engagement-tier"' in default
    chosen = _report(http, "engagement", by=["industry", "tier+stage"]).text
    assert 'id="engagement-industry"' in chosen and 'id="engagement-tier-stage"' in chosen
    assert 'id="engagement-campaign"' not in chosen
    by_pair = _table(chosen, "engagement-tier-stage")
    assert {LABELS["tier"], LABELS["stage"]} <= set(by_pair.columns)
    # the same people whichever way they are grouped: the total row's figures agree
    total = _table(default, "engagement-campaign").iloc[-1]
    assert total[LABELS["campaign"]] == "Total" and total[LABELS["sent"]] > 0
    assert _table(chosen, "engagement-industry").iloc[-1][LABELS["sent"]] == total[LABELS["sent"]]
    commas = _report(http, "engagement", by="locale,campaign+variant").text  # as --by writes it
    assert 'id="engagement-locale"' in commas and 'id="engagement-campaign-variant"' in commas


def test_the_console_reports_name_campaigns_by_title_and_say_no_links_as_the_command_does(
        http: httpx.Client) -> None:
    page = _report(http, "engagement").text
    assert "Birthday wishes" in page and 'title="birthday"' in page  # the file's title, the slug on hover
    assert "no links" in page  # key_account_greeting's file has none: not 0% clicks


def test_satisfaction_and_deliverability_take_their_groupings_and_periods(http: httpx.Client) -> None:
    default = _report(http, "satisfaction").text
    assert "By value tier 价值等级, per month 按月" in default and "account manager 客户经理" in default
    quarter = _report(http, "satisfaction", by="manager", period="quarter").text
    assert "By account manager 客户经理, per quarter 按季度" in quarter
    assert 'id="satisfaction-nps-tier"' not in quarter and 'id="satisfaction-nps-manager"' in quarter
    periods = _table(quarter, "satisfaction-csat-manager")[LABELS["period"]]
    assert periods.str.contains("-Q").any()
    weekly = _report(http, "deliverability", period="week").text
    assert "per ISO week 按周" in weekly and "per day 按日" not in weekly
    assert "-W" in " ".join(_table(weekly, "deliverability-period")[LABELS["period"]].astype(str))


@pytest.mark.parametrize(("name", "query", "says"), [
    ("engagement", {"by": "nope"}, "cannot group the report by 'nope'; choose from: campaign, variant"),
    ("engagement", {"by": "tier+tier"}, "each grouping may appear once"),
    ("engagement", {"by": ["tier", "tier"]}, "each grouping may appear once"),
    ("satisfaction", {"by": "campaign"}, "cannot group the satisfaction report by 'campaign'"),
    ("satisfaction", {"period": "year"}, "no satisfaction report per 'year'; choose from: month, week"),
    ("satisfaction", {"period": ["week", "month"]}, "choose one period"),
    ("deliverability", {"period": "month"}, "no deliverability report per 'month'; choose from: day, week"),
    ("lifecycle", {"by": "tier"}, "the lifecycle report has no filter 'by'"),
    ("frequency", {"campaign": "x"}, "the frequency report has no filter 'campaign'"),
    ("lifecycle", {"format": "pdf"}, "no 'pdf' download; choose from: html, csv, xlsx"),
    ("lifecycle", {"format": "csv", "table": "nope"}, "no table 'nope'; its tables: lifecycle-lifecycle_"),
    ("lifecycle", {"table": "lifecycle-loyalty"}, "only as CSV"),
    ("engagement", {"since": "2026-13-01"}, "dates are written YYYY-MM-DD"),
])
def test_what_the_command_would_refuse_is_a_400_that_says_why(http: httpx.Client, name: str,
                                                              query: dict[str, str], says: str) -> None:
    answer = http.get(f"/reports/{name}", params=query, headers={"Accept-Language": "en"})
    assert answer.status_code == 400, answer.text[:500]
    assert says.replace("'", "&#39;") in answer.text, answer.text
    assert 'role="alert"' in answer.text and answer.headers["content-type"].startswith("text/html")


def test_the_csv_zip_holds_the_commands_files_with_the_htmls_figures(http: httpx.Client, demo: Demo) -> None:
    since = "2020-01-01"
    html = _report(http, "engagement", since=since, by=["campaign", "tier"]).text
    download = _report(http, "engagement", since=since, by=["campaign", "tier"], format="csv")
    assert download.headers["content-type"] == "application/zip"
    until = (pd.Timestamp(demo.day) + pd.Timedelta(days=1)).strftime("%Y%m%d")
    stem = f"engagement-20200101-{until}"
    assert download.headers["content-disposition"] == f'attachment; filename="{stem}-csv.zip"'
    files = zipfile.ZipFile(io.BytesIO(download.content))
    names = files.namelist()
    assert f"{stem}-engagement-campaign.csv" in names and f"{stem}-engagement-tier.csv" in names
    assert f"{stem}-engagement-stage.csv" not in names
    raw = files.read(f"{stem}-engagement-campaign.csv")
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: Excel shows Chinese names right
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    shown = _table(html, "engagement-campaign")
    assert [row["campaign"] for row in rows] == shown[LABELS["campaign"]].tolist()
    for column in ("sent", "delivered", "opened", "clicked", "orders"):
        assert [int(row[column]) for row in rows] == shown[LABELS[column]].tolist(), column


def test_one_table_alone_as_csv_with_formulas_made_inert(http: httpx.Client, demo: Demo) -> None:
    html = _report(http, "satisfaction", since="2020-01-01").text
    assert "=HYPERLINK(" in html  # the page shows it as written
    one = _report(http, "satisfaction", since="2020-01-01", format="csv", table="satisfaction-comments")
    assert one.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = one.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="satisfaction-20200101-')
    assert disposition.endswith('-satisfaction-comments.csv"')
    rows = list(csv.DictReader(io.StringIO(one.content.decode("utf-8-sig"))))
    assert "'" + FORMULA in [row["comment"] for row in rows]  # a spreadsheet shows it, never runs it
    assert FORMULA not in [row["comment"] for row in rows]


def test_the_workbook_holds_the_htmls_figures_and_formulas_stay_text(http: httpx.Client, demo: Demo,
                                                                      tmp_path: Path) -> None:
    html = _report(http, "deliverability", period="week").text
    download = _report(http, "deliverability", period="week", format="xlsx")
    assert download.headers["content-type"] == ("application/vnd.openxmlformats-officedocument."
                                                "spreadsheetml.sheet")
    assert download.headers["content-disposition"].endswith('.xlsx"')
    (tmp_path / "d.xlsx").write_bytes(download.content)
    book = openpyxl.load_workbook(tmp_path / "d.xlsx")
    sheet = book["deliverability-campaign"]
    header = [cell.value for cell in sheet[1]]
    rows = [dict(zip(header, (cell.value for cell in row), strict=True))
            for row in sheet.iter_rows(min_row=2)]
    shown = _table(html, "deliverability-campaign")
    for column in ("campaign", "delivered", "bounced", "complained"):
        assert [row[LABELS[column]] for row in rows] == shown[LABELS[column]].tolist(), column
    comments = _report(http, "satisfaction", since="2020-01-01", format="xlsx")
    (tmp_path / "s.xlsx").write_bytes(comments.content)
    cells = [cell for row in openpyxl.load_workbook(tmp_path / "s.xlsx")["satisfaction-comments"].iter_rows()
             for cell in row if cell.value == FORMULA]
    assert cells and all(cell.data_type == "s" for cell in cells)  # text, not a formula
