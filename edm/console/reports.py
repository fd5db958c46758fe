"""The analyst reports in the console: the same builders as `edm report ...` (edm.reports.build),
their self-contained HTML, or the workbook to download. Only the period is chosen here; the
groupings are each report's defaults (as the commands')."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from edm.config import Settings
from edm.reports import Report
from edm.reports.build import (
    deliverability_report,
    engagement_report,
    frequency_report,
    lifecycle_report,
    satisfaction_report,
)
from edm.reports.files import write_xlsx

DEFAULT_DAYS = 90
Builder = Callable[[sessionmaker[Session], Settings, datetime, datetime, datetime], Report]

def _engagement(s: sessionmaker[Session], settings: Settings, now: datetime, since: datetime,
                until: datetime) -> Report:
    groupings = [["campaign"], ["tier"], ["stage"]]  # `edm report engagement`'s default --by
    return engagement_report(s, groupings, now=now, since=since, until=until, settings=settings.reports)


def _lifecycle(s: sessionmaker[Session], settings: Settings, now: datetime, since: datetime,
               until: datetime) -> Report:
    return lifecycle_report(s, now=now, since=since, until=until)


def _frequency(s: sessionmaker[Session], settings: Settings, now: datetime, since: datetime,
               until: datetime) -> Report:
    return frequency_report(s, now=now, since=since, until=until)


def _satisfaction(s: sessionmaker[Session], settings: Settings, now: datetime, since: datetime,
                  until: datetime) -> Report:
    return satisfaction_report(s, now=now, since=since, until=until)


def _deliverability(s: sessionmaker[Session], settings: Settings, now: datetime, since: datetime,
                    until: datetime) -> Report:
    return deliverability_report(s, now=now, since=since, until=until)


REPORTS: Mapping[str, Builder] = {"engagement": _engagement, "lifecycle": _lifecycle, "frequency": _frequency,
                                  "satisfaction": _satisfaction, "deliverability": _deliverability}


class PeriodError(ValueError):
    """A `since` or `until` that is no date, or a period that ends before it starts."""


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


def build_report(name: str, sessions: sessionmaker[Session], settings: Settings, now: datetime,
                 since: datetime, until: datetime) -> Report:
    return REPORTS[name](sessions, settings, now, since, until)


def workbook(report: Report) -> bytes:
    """The report as an XLSX workbook (edm.reports.files.write_xlsx), in memory."""
    with tempfile.TemporaryDirectory() as folder:
        return write_xlsx(Path(folder) / "report.xlsx", report).read_bytes()
