"""A report as one self-contained HTML page: summary on top, then each section's charts and tables.

No scripts and no external resources (charts are embedded PNG data URIs), so it can be
mailed as an attachment and read offline. Labels are English and Chinese.
"""

from __future__ import annotations

import base64
import math
from datetime import UTC
from html import escape
from pathlib import Path

import pandas as pd

from edm.reports.model import Chart, Report, Section, Table

LABELS = {
    "campaign": "Campaign 活动",
    "variant": "Variant 版本",
    "tier": "Value tier 价值等级",
    "stage": "Lifecycle stage 生命周期",
    "industry": "Industry 行业",
    "locale": "Locale 语言",
    "sent": "Sent 已发送",
    "delivered": "Delivered 已送达",
    "deferred": "Deferred 延迟",
    "bounced": "Bounced 退信",
    "opened": "Opened or clicked (people) 打开(真人,含点击)",
    "machine_opened": "Machine opens 机器打开",
    "clicked": "Clicked 点击",
    "unsubscribed": "Unsubscribed 退订",
    "complained": "Complaints 投诉",
    "orders": "Orders 订单",
    "revenue": "Revenue 收入",
    "open_rate": "Open rate 打开率",
    "click_rate": "Click rate 点击率",
    "unsubscribe_rate": "Unsubscribe rate 退订率",
    "click_to_open": "Click-to-open 点击/打开",
    "mailed": "Mailed 发送组",
    "mailed_buyers": "Buyers (mailed) 购买人数(发送组)",
    "mailed_order_rate": "Order rate (mailed) 下单率(发送组)",
    "holdout": "Holdout 对照组",
    "holdout_buyers": "Buyers (holdout) 购买人数(对照组)",
    "holdout_order_rate": "Order rate (holdout) 下单率(对照组)",
    "order_rate_uplift": "Order rate uplift 下单率提升",
    "order_rate_low": "Uplift CI low 区间下限",
    "order_rate_high": "Uplift CI high 区间上限",
    "mailed_revenue_per_recipient": "Revenue / recipient (mailed) 人均收入(发送组)",
    "holdout_revenue_per_recipient": "Revenue / recipient (holdout) 人均收入(对照组)",
    "revenue_uplift": "Revenue uplift 人均收入提升",
    "revenue_low": "Revenue CI low 区间下限",
    "revenue_high": "Revenue CI high 区间上限",
    "reading": "Reading (order rate) 解读(下单率)",
    "from": "From 从",
    "to": "To 到",
    "customers": "Customers 客户数",
    "moves": "Moves 变动次数",
    "interval_mean": "Interval mean (days) 平均间隔(天)",
    "interval_min": "Interval min 最短间隔",
    "interval_max": "Interval max 最长间隔",
    "score_mean": "Score mean 平均互动分",
    "score_min": "Score min 最低分",
    "score_max": "Score max 最高分",
    "sunset": "In sunset 休眠",
    "gaps_previous": "Gaps (previous) 间隔数(上期)",
    "gap_mean_previous": "Mean gap days (previous) 平均间隔(上期)",
    "gaps_current": "Gaps (this period) 间隔数(本期)",
    "gap_mean_current": "Mean gap days (this period) 平均间隔(本期)",
    "delivered_previous": "Delivered (previous) 送达(上期)",
    "engaged_rate_previous": "Engaged rate (previous) 互动率(上期)",
    "delivered_current": "Delivered (this period) 送达(本期)",
    "engaged_rate_current": "Engaged rate (this period) 互动率(本期)",
    "period": "Period 周期",
    "manager": "Account manager 客户经理",
    "answers": "Answers 答卷",
    "promoters": "Promoters 推荐者",
    "passives": "Passives 中立者",
    "detractors": "Detractors 贬损者",
    "nps": "NPS 净推荐值",
    "csat": "CSAT % 满意度",
    "mean_score": "Mean score 平均分",
    "date": "Date 日期",
    "customer": "Customer 客户",
    "survey": "Survey 调查",
    "score": "Score 分数",
    "comment": "Comment 留言",
    "provider": "Receiving provider 收件服务商",
    "bounce_rate": "Hard bounce rate 硬退信率",
    "complaint_rate": "Complaint rate 投诉率",
    "gmail_delivered": "Gmail delivered Gmail 送达",
    "gmail_bounced": "Gmail hard bounces Gmail 硬退信",
    "gmail_bounce_rate": "Gmail hard bounce rate Gmail 硬退信率",
    "gmail_complained": "Gmail complaints Gmail 投诉",
    "gmail_complaint_rate": "Gmail complaint rate Gmail 投诉率",
    "occurrence": "Occurrence 期次",
    "decided_at": "Decided (UTC) 决定时间",
    "metric": "Metric 指标",
    "test": "Test 检验",
    "confidence": "Confidence 置信度",
    "winner": "Sent to the rest 其余客户收到",
    "significant": "Significant 显著",
    "p_value": "p-value p 值",
    "decision": "Decision 决定",
    "released": "Rest sent 其余客户数",
    "converted": "Converted 转化",
    "conversion_rate": "Conversion rate 转化率",
    "outcome": "Outcome 结果",
}
PERCENT_COLUMNS = {
    "open_rate", "click_rate", "unsubscribe_rate", "click_to_open", "mailed_order_rate", "holdout_order_rate",
    "order_rate_uplift", "order_rate_low", "order_rate_high", "engaged_rate_previous", "engaged_rate_current",
    "bounce_rate", "gmail_bounce_rate", "conversion_rate",
}
FINE_PERCENT_COLUMNS = {"complaint_rate", "gmail_complaint_rate"}  # limits of 0.1% need a third decimal
MONEY_COLUMNS = {
    "revenue", "mailed_revenue_per_recipient", "holdout_revenue_per_recipient", "revenue_uplift",
    "revenue_low", "revenue_high",
}
MISSING = "–"

_STYLE = """
body { font-family: system-ui, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif;
       margin: 2rem auto; max-width: 78rem; padding: 0 1rem; color: #1f2933; }
h1 { margin-bottom: .2rem; } .meta { color: #616e7c; margin-top: 0; }
.summary { display: flex; flex-wrap: wrap; gap: 1rem; margin: 1.5rem 0; }
.card { border: 1px solid #d9e2ec; border-radius: 6px; padding: .8rem 1.2rem; min-width: 10rem; }
.card .label { color: #616e7c; font-size: .9rem; }
.card .value { font-size: 1.5rem; font-weight: 600; }
.notes { color: #3e4c59; font-size: .9rem; } .note { color: #3e4c59; }
figure.chart { margin: 1rem 0; } figure.chart img { max-width: 100%; height: auto; display: block; }
.scroll { overflow-x: auto; }
table.data { border-collapse: collapse; margin: .5rem 0 2rem; font-size: .9rem; }
table.data th, table.data td { border: 1px solid #d9e2ec; padding: .3rem .6rem; text-align: right; }
table.data th { background: #f0f4f8; } table.data td:first-child { text-align: left; }
"""


def render_html(report: Report) -> str:
    """The page as text."""
    if report.generated_at.tzinfo is None:
        raise ValueError("generated_at must be timezone-aware")
    cards = "\n".join(
        f'<div class="card"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div></div>'
        for label, value in report.summary
    )
    notes = "".join(f"<li>{escape(note)}</li>" for note in report.notes)
    sections = "\n".join(_section(section) for section in report.sections)
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(report.title)}</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>{escape(report.title)}</h1>
<p class="meta">Period 周期: {escape(report.period)} · Generated 生成时间:
{report.generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC</p>
<section class="summary">
{cards}
</section>
<ul class="notes">{notes}</ul>
{sections}
</body>
</html>
"""


def write_html(path: Path, report: Report) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report), encoding="utf-8")
    return path


def display(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as people read it: rates as percentages, money with cents, bilingual headers."""
    shown = frame.copy().astype(object)
    for column in frame.columns:
        if column in PERCENT_COLUMNS:
            shown[column] = frame[column].map(percent)
        elif column in FINE_PERCENT_COLUMNS:
            shown[column] = frame[column].map(fine_percent)
        elif column in MONEY_COLUMNS:
            shown[column] = frame[column].map(money)
        elif frame[column].dtype.kind == "f":
            shown[column] = frame[column].map(lambda v: MISSING if _missing(v) else f"{float(v):g}")
    return shown.rename(columns=lambda column: LABELS.get(str(column), str(column)))


def percent(value: float) -> str:
    return MISSING if _missing(value) else f"{float(value):.2%}"


def fine_percent(value: float) -> str:
    return MISSING if _missing(value) else f"{float(value):.3%}"


def money(value: float) -> str:
    return MISSING if _missing(value) else f"{float(value):,.2f}"


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _section(section: Section) -> str:
    note = f'<p class="note">{escape(section.note)}</p>' if section.note else ""
    charts = "\n".join(_chart(chart) for chart in section.charts)
    tables = "\n".join(_table(table) for table in section.tables)
    named = f' id="{escape(section.name)}"' if section.name else ""
    return f"<section{named}>\n<h2>{escape(section.title)}</h2>\n{note}\n{charts}\n{tables}\n</section>"


def _chart(chart: Chart) -> str:
    data = base64.b64encode(chart.png).decode("ascii")
    named = f' id="{escape(chart.name)}"' if chart.name else ""
    return (f'<figure class="chart"{named}><img alt="{escape(chart.title)}" '
            f'src="data:image/png;base64,{data}"></figure>')


def _table(table: Table) -> str:
    body = display(table.frame).to_html(index=False, escape=True, border=0, classes="data", na_rep=MISSING,
                                        table_id=table.name)
    return f'<h3>{escape(table.title)}</h3>\n<div class="scroll">{body}</div>'
