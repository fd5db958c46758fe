"""Write a report to disk: one HTML page, CSV files (one per table) or one XLSX workbook (a sheet each)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session, sessionmaker

from edm.config import ReportSettings
from edm.errors import EdmError
from edm.inert import inert
from edm.reports.build import engagement_report
from edm.reports.campaigns import CampaignFacts
from edm.reports.html import LABELS, write_html
from edm.reports.model import Report

FORMATS = ("html", "csv", "xlsx")
SHEET_CHARS = 31  # Excel's limit on a sheet name


def write_report(report: Report, out: Path, fmt: str) -> list[Path]:
    """The files written. CSV: `out` itself for a single table, else `<stem>-<table>.csv` beside it."""
    if fmt == "html":
        return [write_html(out, report)]
    tables = report.tables()
    if fmt == "csv":
        if len(tables) == 1:
            return [write_csv(out, tables[0].frame)]
        return [write_csv(out.with_name(f"{out.stem}-{t.name}{out.suffix}"), t.frame) for t in tables]
    if fmt == "xlsx":
        return [write_xlsx(out, report)]
    raise EdmError(f"unknown report format {fmt!r}; choose from: {', '.join(FORMATS)}")


def write_csv(path: Path, table: pd.DataFrame) -> Path:
    """CSV with a UTF-8 byte-order mark, so Excel shows Chinese campaign names correctly; text that
    a spreadsheet would run as a formula gets a leading `'` (OWASP's advice on CSV injection)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _inert_text(table).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def _inert_text(table: pd.DataFrame) -> pd.DataFrame:
    """Text cells starting with = + - @ (or a tab or CR) as `'`-prefixed text; numbers untouched."""
    texts = [c for c in table.columns if pd.api.types.is_object_dtype(table[c]) or
             pd.api.types.is_string_dtype(table[c])]
    if not texts:
        return table
    safe = table.copy()
    for column in texts:
        safe[column] = safe[column].map(lambda v: inert(v) if isinstance(v, str) else v)
    return safe


def write_xlsx(path: Path, report: Report) -> Path:
    """A summary sheet, then one sheet per table with bilingual headers and raw numbers (not text);
    text is always text, never a formula."""
    path.parent.mkdir(parents=True, exist_ok=True)
    summary = pd.DataFrame(
        [("Report 报告", report.title), ("Period 周期", report.period),
         ("Figures as of 数据截至", f"{report.as_of.astimezone(UTC):%Y-%m-%d %H:%M} UTC"),
         ("Generated 生成时间", f"{report.generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"), *report.summary,
         *(("Note 说明", note) for note in report.notes)],
        columns=["", "value"],
    )
    used: set[str] = {"summary"}
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        summary.to_excel(writer, sheet_name="summary", index=False)
        for table in report.tables():
            name = _sheet_name(table.name, used)
            frame = table.frame.rename(columns=lambda c: LABELS.get(str(c), str(c)))
            frame.to_excel(writer, sheet_name=name, index=False)
            _text_not_formulas(writer.sheets[name])
            writer.sheets[name].freeze_panes = "A2"
    return path


def _text_not_formulas(sheet: Worksheet) -> None:
    """openpyxl takes any text starting with '=' for a formula; ours are all text (a customer's
    comment '=HYPERLINK(...)' must not run in the analyst's Excel)."""
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                cell.data_type = "s"


def write_engagement_report(
    sessions: sessionmaker[Session],
    groupings: Sequence[Sequence[str]],
    *,
    out: Path,
    fmt: str,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    settings: ReportSettings | None = None,
    campaigns: CampaignFacts | None = None,
) -> tuple[list[Path], dict[str, float | int]]:
    """The files written, and the overall totals (for a short printed summary)."""
    report = engagement_report(sessions, groupings, now=now, since=since, until=until, settings=settings,
                               campaigns=campaigns)
    return write_report(report, out, fmt), report.figures


def format_summary(summary: dict[str, float | int]) -> str:
    def share(name: str) -> str:  # a rate over nothing is NaN: no percentage to print
        value = summary[name]
        return "–" if value != value else f"{value:.1%}"

    return (
        f"sent {summary['sent']:,}, delivered {summary['delivered']:,}, "
        f"opened {summary['opened']:,} ({share('open_rate')}), "
        f"clicked {summary['clicked']:,} ({share('click_rate')}), "
        f"unsubscribed {summary['unsubscribed']:,}, bounced {summary['bounced']:,}, "
        f"orders {summary['orders']:,}, revenue {summary['revenue']:,.2f}"
    )


def _sheet_name(name: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", "-", name)[:SHEET_CHARS]
    candidate, number = base, 2
    while candidate.lower() in used:
        suffix = f"~{number}"
        candidate, number = base[: SHEET_CHARS - len(suffix)] + suffix, number + 1
    used.add(candidate.lower())
    return candidate
