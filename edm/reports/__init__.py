"""Reports: engagement, holdout uplift (per campaign, tier, stage, variant), lifecycle moves, contact
frequency, NPS/CSAT, bounce and complaint rates; HTML, CSV, XLSX."""

from edm.reports.build import (
    deliverability_report,
    engagement_report,
    frequency_report,
    lifecycle_report,
    satisfaction_report,
    uplift_report,
)
from edm.reports.engagement import engagement_summary, engagement_table, tabulate
from edm.reports.files import FORMATS, format_summary, write_csv, write_engagement_report, write_report
from edm.reports.html import render_html, write_html
from edm.reports.model import Chart, Report, Section, Table
from edm.reports.uplift import newcombe_interval, uplift_table, uplift_tables, welch_interval

__all__ = [
    "FORMATS",
    "Chart",
    "Report",
    "Section",
    "Table",
    "deliverability_report",
    "engagement_report",
    "engagement_summary",
    "engagement_table",
    "format_summary",
    "frequency_report",
    "lifecycle_report",
    "newcombe_interval",
    "render_html",
    "satisfaction_report",
    "tabulate",
    "uplift_report",
    "uplift_table",
    "uplift_tables",
    "welch_interval",
    "write_csv",
    "write_engagement_report",
    "write_html",
    "write_report",
]
