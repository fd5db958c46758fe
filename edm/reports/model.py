"""A report as plain data: summary cards, notes, and sections of charts and tables.

Builders (edm.reports.build) fill it from the store; writers (edm.reports.files) turn
the same object into HTML, CSV or XLSX, so every format shows the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pandas as pd


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
    period: str
    generated_at: datetime
    summary: tuple[tuple[str, str], ...] = ()  # (label, value) cards on top
    sections: tuple[Section, ...] = ()
    notes: tuple[str, ...] = ()  # how to read the figures
    figures: dict[str, float | int] = field(default_factory=dict)  # headline numbers, for the CLI

    def tables(self) -> list[Table]:
        return [table for section in self.sections for table in section.tables]

    def charts(self) -> list[Chart]:
        return [chart for section in self.sections for chart in section.charts]
