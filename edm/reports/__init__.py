"""Reports: how campaigns did, as pandas tables, a self-contained HTML page and CSV."""

from edm.reports.engagement import engagement_summary, engagement_table, tabulate
from edm.reports.files import format_summary, write_engagement_report
from edm.reports.html import write_csv, write_html

__all__ = [
    "engagement_summary",
    "engagement_table",
    "format_summary",
    "tabulate",
    "write_csv",
    "write_engagement_report",
    "write_html",
]
