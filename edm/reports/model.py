"""A report as plain data: summary cards, notes, and sections of charts and tables.

Builders (edm.reports.build) fill it from the store; writers (edm.reports.files) turn
the same object into HTML, CSV or XLSX, so every format shows the same figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd

from edm.clock import SystemClock


def wall_clock() -> datetime:
    """The real time the report is written: never edm's Clock, which a demo or test may have moved
    (the figures' own moment is `Report.as_of`)."""
    return SystemClock().now()


@dataclass(frozen=True)
class Chart:
    title: str  # also the image's alt text
    png: bytes
    name: str = ""  # a stable HTML id, e.g. "uplift-chart-tier" (none when empty)


@dataclass(frozen=True)
class Table:
    name: str  # a slug for file and sheet names, e.g. "engagement-campaign"
    title: str
    frame: pd.DataFrame
    empty: str = "No rows 无数据"  # what an empty table says instead of bare headers
    # text shown instead of a cell's value, per column and row (e.g. "no links" for a click rate); "" none
    instead: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Section:
    title: str
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()
    note: str = ""
    name: str = ""  # a stable HTML id, e.g. "uplift" (none when empty)


@dataclass(frozen=True)
class Report:
    title: str
    period: str  # the window the figures cover, both ends written out
    as_of: datetime  # the moment the figures are computed at (edm's Clock: simulated in a demo)
    summary: tuple[tuple[str, str], ...] = ()  # (label, value) cards on top
    sections: tuple[Section, ...] = ()
    notes: tuple[str, ...] = ()  # how to read the figures
    figures: dict[str, float | int] = field(default_factory=dict)  # headline numbers, for the CLI
    generated_at: datetime = field(default_factory=wall_clock)  # when the file was written, real time
    names: Mapping[str, str] = field(default_factory=dict)  # campaign -> the name people read

    def tables(self) -> list[Table]:
        return [table for section in self.sections for table in section.tables]

    def charts(self) -> list[Chart]:
        return [chart for section in self.sections for chart in section.charts]
