"""Write the engagement report to disk: one HTML page with every table, or CSV files."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from edm.reports.engagement import engagement_summary, engagement_table
from edm.reports.html import write_csv, write_html


def write_engagement_report(
    sessions: sessionmaker[Session],
    groupings: Sequence[Sequence[str]],
    *,
    out: Path,
    fmt: str,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[list[Path], dict[str, float | int]]:
    """The files written, and the overall totals (for a short printed summary).

    HTML holds every grouping in one page; CSV writes one file per grouping
    (`engagement-campaign.csv`, ...) when there is more than one.
    """
    with sessions() as session:
        tables = {
            " × ".join(by): engagement_table(session, by, since=since, until=until) for by in groupings
        }
    summary = engagement_summary(next(iter(tables.values())))
    if fmt == "html":
        return [write_html(out, title="Engagement report 互动报告", tables=tables, generated_at=now)], summary
    if len(tables) == 1:
        return [write_csv(out, next(iter(tables.values())))], summary
    paths = [
        write_csv(out.with_name(f"{out.stem}-{'-'.join(by)}{out.suffix}"), table)
        for by, table in zip(groupings, tables.values(), strict=True)
    ]
    return paths, summary


def format_summary(summary: dict[str, float | int]) -> str:
    return (
        f"sent {summary['sent']}, opened {summary['opened']} ({summary['open_rate']:.1%}), "
        f"clicked {summary['clicked']} ({summary['click_rate']:.1%}), "
        f"unsubscribed {summary['unsubscribed']}, bounced {summary['bounced']}"
    )
