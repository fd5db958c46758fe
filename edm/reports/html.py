"""Write report tables as one self-contained HTML file, or as CSV that Excel opens cleanly.

The HTML has no scripts and no external resources, so it can be mailed as an
attachment and read offline; bars are plain CSS. Labels are English and Chinese.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pandas as pd

from edm.reports.engagement import COUNTS, RATES, engagement_summary

LABELS = {
    "campaign": "Campaign 活动",
    "tier": "Value tier 价值等级",
    "stage": "Lifecycle stage 生命周期",
    "sent": "Sent 已发送",
    "bounced": "Bounced 退信",
    "opened": "Opened 已打开",
    "clicked": "Clicked 已点击",
    "unsubscribed": "Unsubscribed 退订",
    "open_rate": "Open rate 打开率",
    "click_rate": "Click rate 点击率",
}

_STYLE = """
body { font-family: system-ui, "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", sans-serif;
       margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #1f2933; }
h1 { margin-bottom: .2rem; } .generated { color: #616e7c; margin-top: 0; }
.summary { display: flex; flex-wrap: wrap; gap: 1rem; margin: 1.5rem 0; }
.card { border: 1px solid #d9e2ec; border-radius: 6px; padding: .8rem 1.2rem; min-width: 10rem; }
.card .label { color: #616e7c; font-size: .9rem; }
.card .value { font-size: 1.6rem; font-weight: 600; }
.chart { margin: 1rem 0; } .legend span { margin-right: 1.5rem; }
.row { display: grid; grid-template-columns: 16rem 1fr; gap: .2rem 1rem; margin: .4rem 0; }
.row .name { grid-row: span 2; align-self: center; overflow-wrap: anywhere; }
.track { background: #f0f4f8; height: 1rem; position: relative; }
.bar { height: 100%; } .bar.open { background: #2f80ed; } .bar.click { background: #f2994a; }
.track .pct { position: absolute; left: .3rem; top: 0; font-size: .75rem; line-height: 1rem; }
.swatch { display: inline-block; width: .8rem; height: .8rem; margin-right: .3rem; }
table.data { border-collapse: collapse; margin: 1rem 0 2.5rem; }
table.data th, table.data td { border: 1px solid #d9e2ec; padding: .3rem .6rem; text-align: right; }
table.data th { background: #f0f4f8; } table.data td:first-child { text-align: left; }
"""


def write_html(
    path: Path, *, title: str, tables: Mapping[str, pd.DataFrame], generated_at: datetime
) -> Path:
    """One offline HTML page: summary of the first table's Total row, then chart + table each."""
    if not tables:
        raise ValueError("write_html needs at least one table")
    if generated_at.tzinfo is None:
        raise ValueError("generated_at must be timezone-aware")
    first = next(iter(tables.values()))
    sections = "\n".join(_section(name, table) for name, table in tables.items())
    page = f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{escape(title)}</h1>
<p class="generated">Generated 生成时间: {generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC</p>
{_summary(first)}
{sections}
</body>
</html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path


def write_csv(path: Path, table: pd.DataFrame) -> Path:
    """CSV with a UTF-8 byte-order mark, so Excel shows Chinese campaign names correctly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def _summary(table: pd.DataFrame) -> str:
    totals = engagement_summary(table)
    cards = [
        ("Total sent 发送总数", str(totals["sent"])),
        (LABELS["open_rate"], _percent(totals["open_rate"])),
        (LABELS["click_rate"], _percent(totals["click_rate"])),
        ("Unsubscribes 退订数", str(totals["unsubscribed"])),
    ]
    inner = "\n".join(
        f'<div class="card"><div class="label">{label}</div><div class="value">{value}</div></div>'
        for label, value in cards
    )
    return f'<section class="summary">\n{inner}\n</section>'


def _section(name: str, table: pd.DataFrame) -> str:
    return (
        f"<section>\n<h2>{escape(name)}</h2>\n{_chart(table)}\n"
        f"{_display(table).to_html(index=False, escape=True, border=0, classes='data')}\n</section>"
    )


def _chart(table: pd.DataFrame) -> str:
    """A horizontal bar pair (open rate, click rate) per row, drawn with CSS widths only."""
    groups = _group_columns(table)
    rows = []
    for _, row in table.iterrows():
        label = " / ".join(str(row[column]) for column in groups)
        rows.append(
            f'<div class="row"><div class="name">{escape(label)}</div>'
            f"{_bar('open', row['open_rate'])}{_bar('click', row['click_rate'])}</div>"
        )
    legend = (
        '<div class="legend"><span><i class="swatch bar open"></i>'
        f'{LABELS["open_rate"]}</span><span><i class="swatch bar click"></i>'
        f'{LABELS["click_rate"]}</span></div>'
    )
    return f'<div class="chart">\n{legend}\n' + "\n".join(rows) + "\n</div>"


def _bar(kind: str, rate: float) -> str:
    width = max(0.0, min(float(rate), 1.0)) * 100
    return (
        f'<div class="track"><div class="bar {kind}" style="width: {width:.2f}%"></div>'
        f'<span class="pct">{_percent(rate)}</span></div>'
    )


def _display(table: pd.DataFrame) -> pd.DataFrame:
    """The table as people read it: rates as percentages, bilingual headers."""
    shown = table.copy()
    for column in RATES:
        if column in shown.columns:
            shown[column] = shown[column].map(_percent)
    return shown.rename(columns=lambda column: LABELS.get(str(column), str(column)))


def _group_columns(table: pd.DataFrame) -> list[str]:
    measures = {*COUNTS, *RATES}
    return [str(column) for column in table.columns if column not in measures]


def _percent(rate: float) -> str:
    return f"{float(rate):.2%}"
