"""The deliverability report against the hand-counted history in tests/reports/deliveries.py, on SQLite
and PostgreSQL, through `edm report deliverability`; its charts carry Gmail's limits."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from edm.cli import main
from edm.providers import NAMES, provider_of
from edm.reports import deliverability_report, write_report
from edm.reports.build import bounce_lines, gmail_lines
from edm.reports.charts import threshold_figure
from edm.reports.deliverability import provider_expression
from edm.reports.html import LABELS
from edm.store import OutboxMessage
from tests.reports.deliveries import WINDOW, seed_deliveries

GENERATED = datetime(2024, 4, 2, 8, 0, tzinfo=UTC)
NAN = float("nan")
# group, delivered, bounced, bounce rate, complained, complaint rate
BY_CAMPAIGN = [
    ["spring", 24, 3, 3 / 27, 3, 3 / 24],
    ["winback", 10, 1, 1 / 11, 2, 2 / 10],
    ["Total", 34, 4, 4 / 38, 5, 5 / 34],
]
QUIET = [0, 0, NAN, 0, NAN]  # nothing delivered: no rates
BY_PROVIDER = [
    ["gmail", 15, 2, 2 / 17, 2, 2 / 15],
    ["microsoft", 5, 0, 0.0, 1, 1 / 5],
    ["yahoo", 3, 1, 1 / 4, 0, 0.0],
    ["apple", *QUIET],
    ["qq", 2, 0, 0.0, 1, 1 / 2],
    ["netease", 4, 0, 0.0, 0, 0.0],
    ["sina", *QUIET],
    ["sohu", *QUIET],
    ["aliyun", *QUIET],
    ["139", *QUIET],
    ["other", 5, 1, 1 / 6, 1, 1 / 5],
    ["Total", 34, 4, 4 / 38, 5, 5 / 34],
]
# period, then all providers and Gmail alone: delivered, bounced, bounce rate, complained, complaint rate
BY_DAY = [
    ["2024-03-04", 19, 2, 2 / 21, 3, 3 / 19, 10, 1, 1 / 11, 2, 2 / 10],
    ["2024-03-05", 10, 1, 1 / 11, 2, 2 / 10, *QUIET],
    *([f"2024-03-{day:02d}", *QUIET, *QUIET] for day in range(6, 11)),
    ["2024-03-11", 5, 1, 1 / 6, 0, 0.0, 5, 1, 1 / 6, 0, 0.0],
    ["Total", 34, 4, 4 / 38, 5, 5 / 34, 15, 2, 2 / 17, 2, 2 / 15],
]
BY_WEEK = [
    ["2024-W10", 29, 3, 3 / 32, 5, 5 / 29, 10, 1, 1 / 11, 2, 2 / 10],
    ["2024-W11", 5, 1, 1 / 6, 0, 0.0, 5, 1, 1 / 6, 0, 0.0],
    BY_DAY[-1],
]


def same(frame: pd.DataFrame, expected: list[list[object]]) -> None:
    rows = frame.values.tolist()
    assert len(rows) == len(expected), rows
    for row, wanted in zip(rows, expected, strict=True):
        assert row[0] == wanted[0]
        for got, value in zip(row[1:], wanted[1:], strict=True):
            value = float(value)  # type: ignore[arg-type]
            both_missing = math.isnan(got) and math.isnan(value)
            assert both_missing or got == pytest.approx(value, abs=1e-9), (row, wanted)


def cli_env(url: str, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "edm.yaml").write_text("{}\n", encoding="utf-8")
    return {"EDM_CONFIG": str(tmp_path / "edm.yaml"), "EDM_DATABASE_URL": url}


def run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, ["report", "deliverability", "--since", "2024-03-01", "--until",
                                       "2024-04-01", *args], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_rates_per_campaign_provider_and_day_through_the_cli(
    any_db_url: str, any_sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    seed_deliveries(any_sessions)
    env = cli_env(any_db_url, tmp_path)
    out = tmp_path / "d.xlsx"
    printed = run(env, "--format", "xlsx", "--out", str(out))
    assert "Delivered 已送达: 34" in printed and "Hard bounces 硬退信: 4" in printed
    assert f"Complaint rate 投诉率: {5 / 34:.3%}" in printed  # 14.706%
    assert f"Gmail complaint rate Gmail 投诉率: {2 / 15:.3%}" in printed
    assert "Complaints naming no message 无法对应邮件的投诉: 1" in printed
    sheets = pd.read_excel(out, sheet_name=None)
    assert list(sheets) == ["summary", "deliverability-period", "deliverability-campaign",
                            "deliverability-provider"]
    same(sheets["deliverability-campaign"], BY_CAMPAIGN)
    same(sheets["deliverability-provider"], BY_PROVIDER)
    same(sheets["deliverability-period"], BY_DAY)
    assert list(sheets["deliverability-provider"].columns)[:3] == [
        LABELS["provider"], LABELS["delivered"], LABELS["bounced"]]

    printed = run(env, "--period", "week", "--format", "csv", "--out", str(tmp_path / "w.csv"))
    assert f"wrote {tmp_path / 'w-deliverability-period.csv'}" in printed
    same(pd.read_csv(tmp_path / "w-deliverability-period.csv", encoding="utf-8-sig"), BY_WEEK)
    same(pd.read_csv(tmp_path / "w-deliverability-campaign.csv", encoding="utf-8-sig"), BY_CAMPAIGN)
    same(pd.read_csv(tmp_path / "w-deliverability-provider.csv", encoding="utf-8-sig"), BY_PROVIDER)


def test_html_page_shows_both_rate_charts_and_every_table(sessions: sessionmaker[Session],
                                                          tmp_path: Path) -> None:
    seed_deliveries(sessions)
    report = deliverability_report(sessions, now=GENERATED, **WINDOW)
    [page] = write_report(report, tmp_path / "d.html", "html")
    source = page.read_text(encoding="utf-8")
    assert source.count("data:image/png;base64,") == 2
    assert [chart.title for chart in report.charts()] == ["Complaint rate with Gmail's limits",
                                                         "Hard bounce rate"]
    assert all(chart.png.startswith(b"\x89PNG") for chart in report.charts())
    assert "14.706%" in source and "13.333%" in source  # complaint rates with a third decimal
    assert "Gmail" in source and "0.1%" in source and "0.3%" in source
    assert report.figures["unmatched_complaints"] == 1


def test_complaint_chart_draws_gmail_limits_above_the_rates() -> None:
    figure = threshold_figure(["2024-03-04", "2024-03-05"], {"all": [0.0005, NAN], "Gmail": [0.002, 0.0]},
                              "Complaint rate", gmail_lines())
    [axes] = figure.axes
    lines = {str(line.get_label()): line for line in axes.get_lines()}
    keep, never = (line for name, line in lines.items() if name.startswith("Gmail: "))
    assert str(keep.get_label()).startswith("Gmail: keep below 0.1%")
    assert str(never.get_label()).startswith("Gmail: never reach 0.3%")
    assert list(keep.get_ydata()) == [0.1, 0.1] and list(never.get_ydata()) == [0.3, 0.3]
    assert list(lines["Gmail"].get_ydata()) == pytest.approx([0.2, 0.0])  # in %
    assert axes.get_ylim()[1] >= 0.3  # the "never reach" line is always in view
    legend = axes.get_legend()
    assert legend is not None
    assert any(text.get_text().startswith("Gmail: never reach") for text in legend.get_texts())
    bounce = threshold_figure(["w"], {"all": [0.01]}, "Bounce rate", bounce_lines())
    assert sorted(float(line.get_ydata()[0]) for line in bounce.axes[0].get_lines()[1:]) == [5.0, 10.0]


def test_report_needs_a_known_period(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "deliverability", "--period", "month"],
                                env=cli_env(f"sqlite:///{tmp_path / 'edm.db'}", tmp_path))
    assert result.exit_code == 2 and "'month' is not one of 'day', 'week'" in result.output


def test_an_empty_store_gives_no_rates_not_zero(sessions: sessionmaker[Session]) -> None:
    report = deliverability_report(sessions, now=GENERATED, **WINDOW)
    assert dict(report.summary)["Complaint rate 投诉率"] == "–"
    assert math.isnan(report.figures["complaint_rate"]) and report.figures["delivered"] == 0
    provider = report.tables()[2].frame
    assert provider["provider"].tolist() == [*NAMES, "Total"]


ADDRESSES = [
    "a@gmail.com", "A@GMAIL.COM", "b@googlemail.com", "x@mail.gmail.com", "c@Outlook.com", "d@hotmail.com",
    "e@live.com", "f@msn.com", "g@yahoo.com", "h@ymail.com", "i@aol.com", "j@qq.com", "k@foxmail.com",
    "l@163.com", "m@126.com", "n@yeah.net", "o@example.com", "p@gmail.com.", '"q@r"@gmail.com',
    "s@gmail.co", "t@qq.com.cn", "no-at-sign", "u@vip.qq.com", "v@notgmail.com",
]


def test_sql_provider_matches_provider_of(any_sessions: sessionmaker[Session]) -> None:
    seed_deliveries(any_sessions)
    with any_sessions.begin() as session:
        customer = session.scalars(select(OutboxMessage.customer_id).limit(1)).one()
        for number, address in enumerate(ADDRESSES):
            session.add(OutboxMessage(key=f"p{number}", campaign="p", customer_id=customer,
                                      occurrence=GENERATED.date(), to_address=address, state="sent",
                                      next_attempt_at=GENERATED, created_at=GENERATED))
    with any_sessions() as session:
        found = dict(session.execute(
            select(OutboxMessage.to_address, provider_expression(OutboxMessage.to_address))
            .where(OutboxMessage.campaign == "p")).all())
    assert found == {address: provider_of(address) for address in ADDRESSES}
    assert found["x@mail.gmail.com"] == "other" and found['"q@r"@gmail.com'] == "gmail"



def test_a_campaign_named_like_a_formula_stays_text(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    seed_deliveries(sessions)
    with sessions.begin() as session:
        for row in session.scalars(select(OutboxMessage).where(OutboxMessage.campaign == "winback")):
            row.campaign = "=HYPERLINK(\"http://x.example\")"
    report = deliverability_report(sessions, now=GENERATED, **WINDOW)
    paths = write_report(report, tmp_path / "d.csv", "csv")
    campaigns = pd.read_csv(tmp_path / "d-deliverability-campaign.csv", encoding="utf-8-sig")
    assert len(paths) == 3
    assert campaigns["campaign"].tolist() == ["'=HYPERLINK(\"http://x.example\")", "spring", "Total"]
    assert campaigns["complaint_rate"].tolist()[0] == pytest.approx(2 / 10)
