"""The analyst reports in the console: the same builders as `edm report ...` (edm.reports.build), with
the same choices as the commands' options (engagement `--by`, satisfaction `--by` and `--period`,
deliverability `--period`), as their self-contained HTML, an XLSX workbook, or CSV files written by
edm.reports.files as `edm report --format csv` writes them (one table, or a zip of every table).

Every choice comes from a query string: it is checked against the values the command accepts, and
anything else is a `ChoiceError` (the console answers 400 with its message), never an exception.
"""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from edm.config import Settings
from edm.errors import EdmError
from edm.reports import Report
from edm.reports import deliverability as delivery
from edm.reports import satisfaction as answers
from edm.reports.build import (
    deliverability_report,
    engagement_report,
    frequency_report,
    lifecycle_report,
    satisfaction_report,
)
from edm.reports.campaigns import read_facts
from edm.reports.engagement import GROUPINGS, checked_grouping
from edm.reports.files import write_csv, write_report, write_xlsx

DEFAULT_DAYS = 90
FORMATS = ("html", "csv", "xlsx")
CSV_TYPE = "text/csv; charset=utf-8"
ZIP_TYPE = "application/zip"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# engagement --by takes any a+b; the form offers each grouping and the two pairs analysts ask for
ENGAGEMENT_OFFERED = (*GROUPINGS, "campaign+variant", "tier+stage")
Chosen = Mapping[str, tuple[str, ...]]
Builder = Callable[[sessionmaker[Session], Settings, datetime, datetime, datetime, Chosen], Report]


@dataclass(frozen=True, slots=True)
class Choice:
    """One filter of a report: its query parameter, the values the form offers, the default (the
    command's), and whether several may be chosen (checkboxes) or one (a select)."""

    name: str
    offered: tuple[str, ...]
    default: tuple[str, ...]
    many: bool


class ChoiceError(ValueError):
    """A filter, format or table the report does not have: the user's error, said plainly."""


class PeriodError(ChoiceError):
    """A `since` or `until` that is no date, or a period that ends before it starts."""


def _engagement(s: sessionmaker[Session], settings: Settings, now: datetime, since: datetime,
                until: datetime, chosen: Chosen) -> Report:
    groupings = [by.split("+") for by in chosen["by"]]
    return engagement_report(s, groupings, now=now, since=since, until=until, settings=settings.reports,
                             campaigns=read_facts(settings.campaigns_dir))  # titles, "no links"


def _lifecycle(s: sessionmaker[Session], settings: Settings, now: datetime, since: datetime,
               until: datetime, chosen: Chosen) -> Report:
    return lifecycle_report(s, now=now, since=since, until=until)


def _frequency(s: sessionmaker[Session], settings: Settings, now: datetime, since: datetime,
               until: datetime, chosen: Chosen) -> Report:
    return frequency_report(s, now=now, since=since, until=until)


def _satisfaction(s: sessionmaker[Session], settings: Settings, now: datetime, since: datetime,
                  until: datetime, chosen: Chosen) -> Report:
    return satisfaction_report(s, chosen["by"], period=chosen["period"][0], now=now, since=since, until=until,
                               min_answers=settings.reports.min_answers)


def _deliverability(s: sessionmaker[Session], settings: Settings, now: datetime, since: datetime,
                    until: datetime, chosen: Chosen) -> Report:
    return deliverability_report(s, period=chosen["period"][0], now=now, since=since, until=until)


REPORTS: Mapping[str, Builder] = {"engagement": _engagement, "lifecycle": _lifecycle, "frequency": _frequency,
                                  "satisfaction": _satisfaction, "deliverability": _deliverability}
CHOICES: Mapping[str, tuple[Choice, ...]] = {
    "engagement": (Choice("by", ENGAGEMENT_OFFERED, ("campaign", "tier", "stage"), many=True),),
    "lifecycle": (),
    "frequency": (),
    "satisfaction": (Choice("by", answers.GROUPINGS, answers.GROUPINGS, many=True),
                     Choice("period", answers.PERIODS, ("month",), many=False)),
    "deliverability": (Choice("period", delivery.PERIODS, ("day",), many=False),),
}
assert set(CHOICES) == set(REPORTS)
PLAIN = ("since", "until", "format", "table")  # what every report takes besides its own choices


def period(since: str | None, until: str | None, now: datetime) -> tuple[datetime, datetime]:
    """The UTC period of `since` (first day included) to `until` (first day excluded); by default the
    last DEFAULT_DAYS days up to and including today."""
    try:
        end_day = date.fromisoformat(until) if until else now.astimezone(UTC).date() + timedelta(days=1)
        start_day = date.fromisoformat(since) if since else end_day - timedelta(days=DEFAULT_DAYS)
    except ValueError as exc:
        raise PeriodError("dates are written YYYY-MM-DD") from exc
    if start_day >= end_day:
        raise PeriodError("the period must start before it ends")
    return datetime.combine(start_day, time(), UTC), datetime.combine(end_day, time(), UTC)


def chosen_filters(name: str, query: Mapping[str, Sequence[str]]) -> dict[str, tuple[str, ...]]:
    """The report's choices from a query (parameter → its values; blank values ignored, a value may
    also list several with commas, as the commands' --by does), each checked as the command checks
    it; a choice not given is the command's default. Raises ChoiceError."""
    own = {choice.name: choice for choice in CHOICES[name]}
    strange = sorted(set(query) - set(own) - set(PLAIN))
    if strange:
        takes = ", ".join(own) or "only since and until"
        named = ", ".join(repr(key[:30]) for key in strange[:5])
        raise ChoiceError(f"the {name} report has no filter {named} (it takes: {takes})")
    chosen: dict[str, tuple[str, ...]] = {}
    for choice in own.values():
        values = [part.strip() for value in query.get(choice.name, ()) for part in value.split(",")]
        values = [value[:40] for value in values if value][:20]  # what an error message repeats
        if not values:
            chosen[choice.name] = choice.default
            continue
        if not choice.many and len(values) > 1:
            raise ChoiceError(f"choose one {choice.name} for the {name} report, got {', '.join(values)}")
        chosen[choice.name] = tuple(_checked(name, choice, values))
    return chosen


def _checked(report: str, choice: Choice, values: list[str]) -> list[str]:
    """`values` if the command would take them; its own error message otherwise."""
    try:
        if report == "engagement":
            for value in values:
                checked_grouping(value.split("+"))
            if len(set(values)) != len(values):
                raise EdmError(f"each grouping may appear once, got {', '.join(values)}")
        elif choice.many:
            answers.checked_groupings(values)
        elif report == "satisfaction":
            answers.checked_period(values[0])
        else:
            delivery.checked_period(values[0])
    except EdmError as exc:
        raise ChoiceError(str(exc)) from exc
    return values


def output_format(value: str | None) -> str:
    """html (the default), csv or xlsx."""
    if not value:
        return "html"
    if value not in FORMATS:
        raise ChoiceError(f"no {value[:20]!r} download; choose from: {', '.join(FORMATS)}")
    return value


def build_report(name: str, sessions: sessionmaker[Session], settings: Settings, now: datetime,
                 since: datetime, until: datetime, chosen: Chosen | None = None) -> Report:
    """The report `name` for the period with `chosen` filters (by default the command's)."""
    return REPORTS[name](sessions, settings, now, since, until, chosen or chosen_filters(name, {}))


def workbook(report: Report) -> bytes:
    """The report as an XLSX workbook (edm.reports.files.write_xlsx), in memory."""
    with tempfile.TemporaryDirectory() as folder:
        return write_xlsx(Path(folder) / "report.xlsx", report).read_bytes()


def csv_table(report: Report, table: str) -> bytes:
    """One of the report's tables as the CSV `edm report --format csv` writes (UTF-8 with a BOM,
    formulas made inert)."""
    found = {t.name: t for t in report.tables()}
    if table not in found:
        raise ChoiceError(f"the report has no table {table[:60]!r}; its tables: {', '.join(found)}")
    with tempfile.TemporaryDirectory() as folder:
        return write_csv(Path(folder) / "table.csv", found[table].frame).read_bytes()


def csv_zip(report: Report, stem: str) -> bytes:
    """Every table as the CSV files `edm report --format csv --out STEM.csv` writes, in one zip."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as files:
        for path in write_report(report, Path(folder) / f"{stem}.csv", "csv"):
            files.write(path, path.name)
    return buffer.getvalue()


def file_name(*parts: str) -> str:
    """A download's name from its parts; anything but letters, digits, dot and dash becomes a dash,
    so nothing a user typed can end a header or reach another folder."""
    return re.sub(r"[^A-Za-z0-9.-]+", "-", "-".join(parts)).strip("-.")[:150] or "report"
