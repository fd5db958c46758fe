"""A report as one self-contained HTML page: summary on top, then each section's charts and tables.

No external resources (charts are embedded PNG data URIs), so it can be mailed as an attachment and
read offline. Labels are English and Chinese. Each rate cell shows its n (BASES); tables fit a
1 280 px screen (headers wrap, the first column stays put when a narrow screen scrolls the table)
and sort by a column when its header is clicked: one small inline script, SORT_SCRIPT, whose
CSP hash is SORT_SCRIPT_HASH (the console's report CSP allows exactly it). Without it the tables
read as they are. Rows too few or too recent to judge, and Total rows, stay at the bottom.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
from collections.abc import Mapping
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
    "judgement": "Judged? 是否评判",
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
    "p_value": "p-value p值",
    "decision": "Decision 决定",
    "released": "Rest sent 其余客户数",
    "converted": "Converted 转化",
    "conversion_rate": "Conversion rate 转化率",
    "outcome": "Outcome 结果",
    "too_recent": "Too recent to judge 太新未计",
    "judged": "Judged mails (n) 计入邮件数",
    "judged_linked": "Judged mails with links (n) 有链接的计入邮件数",
    "opened_linked": "Opened, with links (n) 有链接且已打开",
}
# what each rate is over, shown in its cell as "n ...": one sum of columns per n (an uplift has two)
BASES: dict[str, tuple[tuple[str, ...], ...]] = {
    "open_rate": (("judged",),), "unsubscribe_rate": (("judged",),), "click_rate": (("judged_linked",),),
    "click_to_open": (("opened_linked",),),
    "mailed_order_rate": (("mailed",),), "holdout_order_rate": (("holdout",),),
    "order_rate_uplift": (("mailed",), ("holdout",)),
    "engaged_rate_previous": (("delivered_previous",),), "engaged_rate_current": (("delivered_current",),),
    "bounce_rate": (("delivered", "bounced"),), "complaint_rate": (("delivered",),),
    "gmail_bounce_rate": (("gmail_delivered", "gmail_bounced"),),
    "gmail_complaint_rate": (("gmail_delivered",),),
    "conversion_rate": (("sent",),), "nps": (("answers",),), "csat": (("answers",),),
}
HIDDEN = frozenset({"judged", "judged_linked", "opened_linked"})  # in the rate cells' n; files keep them
PINNED_READINGS = ("too few", "too recent")  # rows left out of rankings: the sorting keeps them below
TOTALS = frozenset({"Total", "All customers"})
# group names and dates: read left-aligned, as words, not as figures
LABEL_COLUMNS = frozenset({"variant", "tier", "stage", "industry", "locale", "period", "provider", "from",
                           "to", "survey", "date", "metric", "test", "winner", "occurrence", "decided_at"})
TEXT_COLUMNS = frozenset({"campaign", "comment", "customer", "manager", "reading", "judgement", "outcome",
                           "decision"})
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
       margin: 1.5rem auto; max-width: 80rem; padding: 0 1rem; color: #1f2933; }
h1 { margin-bottom: .2rem; overflow-wrap: anywhere; } .meta { color: #616e7c; margin-top: 0; }
h2, h3 { overflow-wrap: anywhere; }
.summary { display: flex; flex-wrap: wrap; gap: 1rem; margin: 1.5rem 0; }
.card { border: 1px solid #d9e2ec; border-radius: 6px; padding: .8rem 1.2rem; min-width: 10rem;
        max-width: 100%; box-sizing: border-box; }
.card .label { color: #616e7c; font-size: .9rem; overflow-wrap: anywhere; }
.card .value { font-size: 1.5rem; font-weight: 600; overflow-wrap: anywhere; }
.notes { color: #3e4c59; font-size: .9rem; } .note { color: #3e4c59; }
figure.chart { margin: 1rem 0; } figure.chart img { max-width: 100%; height: auto; display: block; }
.scroll { overflow-x: auto; max-width: 100%; }
table.data { border-collapse: separate; border-spacing: 0; margin: .5rem 0 2rem; font-size: .75rem;
             width: 100%; }
table.data th, table.data td { border-right: 1px solid #d9e2ec; border-bottom: 1px solid #d9e2ec;
                               padding: .25rem .3rem; text-align: right; }
table.data th { hyphens: manual; }
table.data tr > :first-child { border-left: 1px solid #d9e2ec; position: sticky; left: 0; z-index: 1;
                               text-align: left; }
table.data thead th { background: #f0f4f8; border-top: 1px solid #d9e2ec; vertical-align: bottom;
                      font-weight: 600; }
table.data td { background: #fff; white-space: nowrap; }
table.data td.text { white-space: normal; min-width: 6rem; max-width: 16rem; overflow-wrap: anywhere;
                     text-align: left; }
table.data th button { font: inherit; color: inherit; background: none; border: 0; padding: 0;
                       cursor: pointer; text-align: inherit; }
table.data th[aria-sort="ascending"] button::after { content: " ▲"; }
table.data th[aria-sort="descending"] button::after { content: " ▼"; }
table.data .zh { display: block; font-weight: 400; }
table.data .label { text-align: left; }
table.data .n { display: block; color: #616e7c; font-size: .7rem; }
table.data .instead { color: #7b8794; font-style: italic; white-space: normal; }
table.data tr.pinned td { color: #7b8794; background: #f8fafc; }
table.data tr.total td { font-weight: 600; border-top: 2px solid #9aa5b1; color: #1f2933;
                         background: #f0f4f8; }
table.data tr.empty td { text-align: left; color: #616e7c; font-style: italic; }
"""
# Sorts a table by the clicked header's column (numbers by value, text by locale, blanks last); rows
# marked "pinned" (too few, too recent, Total) stay below in their order. Keep it byte-for-byte stable:
# the console's CSP allows it by SORT_SCRIPT_HASH.
SORT_SCRIPT = """
document.querySelectorAll("table.data").forEach(function (table) {
  if (!table.tHead || !table.tBodies.length) { return; }
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  heads.forEach(function (head, column) {
    var button = head.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var up = head.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (other) { other.setAttribute("aria-sort", "none"); });
      head.setAttribute("aria-sort", up ? "ascending" : "descending");
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var pinned = rows.filter(function (row) { return row.classList.contains("pinned"); });
      var ranked = rows.filter(function (row) { return !row.classList.contains("pinned"); });
      var key = function (row) {
        var cell = row.cells[column];
        return cell ? (cell.getAttribute("data-sort") || "") : "";
      };
      ranked.sort(function (a, b) {
        var x = key(a), y = key(b);
        if (x === y) { return 0; }
        if (x === "") { return 1; }
        if (y === "") { return -1; }
        var p = Number(x), q = Number(y);
        var order = (isNaN(p) || isNaN(q)) ? x.localeCompare(y) : p - q;
        return up ? order : -order;
      });
      ranked.concat(pinned).forEach(function (row) { body.appendChild(row); });
    });
  });
});
"""
SORT_SCRIPT_HASH = "sha256-" + base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode("utf-8")).digest()).decode()


def render_html(report: Report) -> str:
    """The page as text."""
    for moment in (report.generated_at, report.as_of):
        if moment.tzinfo is None:
            raise ValueError("generated_at and as_of must be timezone-aware")
    cards = "\n".join(
        f'<div class="card"><div class="label">{escape(label)}</div>'
        f'<div class="value">{escape(value)}</div></div>'
        for label, value in report.summary
    )
    notes = "".join(f"<li>{escape(note)}</li>" for note in report.notes)
    sections = "\n".join(_section(section, report.names) for section in report.sections)
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
<p class="meta">Period 周期: {escape(report.period)} · Figures as of 数据截至:
{report.as_of.astimezone(UTC):%Y-%m-%d %H:%M} UTC · Generated 生成时间:
{report.generated_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC</p>
<section class="summary">
{cards}
</section>
<ul class="notes">{notes}</ul>
{sections}
<script>{SORT_SCRIPT}</script>
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


def _section(section: Section, names: Mapping[str, str]) -> str:
    note = f'<p class="note">{escape(section.note)}</p>' if section.note else ""
    charts = "\n".join(_chart(chart) for chart in section.charts)
    tables = "\n".join(_table(table, names) for table in section.tables)
    named = f' id="{escape(section.name)}"' if section.name else ""
    return f"<section{named}>\n<h2>{escape(section.title)}</h2>\n{note}\n{charts}\n{tables}\n</section>"


def _chart(chart: Chart) -> str:
    data = base64.b64encode(chart.png).decode("ascii")
    named = f' id="{escape(chart.name)}"' if chart.name else ""
    return (f'<figure class="chart"{named}><img alt="{escape(chart.title)}" '
            f'src="data:image/png;base64,{data}"></figure>')


def heading(column: str) -> tuple[str, str]:
    """A column's label as (English, Chinese): the Chinese goes on its own line."""
    label = LABELS.get(column, column)
    found = re.search(r"[\u3000-\u9fff\uff00-\uffef]", label)
    if not found:
        return label, ""
    words = label[:found.start()].split()
    if len(words) > 1 and words[-1] in words[:-1]:  # "Gmail complaint rate Gmail 投诉率"
        words, chinese = words[:-1], f"{words[-1]} {label[found.start():]}"
    else:
        chinese = label[found.start():]
    return " ".join(words), chinese.strip()


# where a long header word may break (a soft hyphen), so headers wrap instead of widening the table
BREAKS = {word.replace("|", ""): word.replace("|", "\u00ad") for word in (
    "Deliv|ered", "Unsub|scribed", "Unsub|scribe", "Com|plaints", "De|ferred", "Reve|nue", "Cus|tomers",
    "Con|version", "Con|verted", "Pro|moters", "De|tractors", "Pas|sives", "Occur|rence", "Confi|dence",
    "Signifi|cant", "recip|ient", "Inter|val", "Life|cycle", "Ma|chine", "com|plaints", "com|plaint",
    "deliv|ered", "Mailed", "Bounced", "Clicked", "Orders")}


def breakable(text: str) -> str:
    """`text` escaped, long words given a soft hyphen where they may break."""
    return " ".join(escape(BREAKS.get(word, word)) for word in text.split(" "))


def shown_columns(frame: pd.DataFrame) -> list[str]:
    """The columns the page shows: all but the n columns, which the rate cells carry."""
    return [str(c) for c in frame.columns if str(c) not in HIDDEN]


def _table(table: Table, names: Mapping[str, str]) -> str:
    frame = table.frame
    columns = shown_columns(frame)
    shown = display(frame[columns]) if len(frame) else frame[columns]
    head = "".join(
        f'<th scope="col"{_align(column)} aria-sort="none"><button type="button">{breakable(english)}'
        f'{f"<span class=zh>{escape(chinese)}</span>" if chinese else ""}</button></th>'
        for column, (english, chinese) in zip(columns, map(heading, columns), strict=True))
    if frame.empty:
        body = f'<tr class="empty"><td colspan="{len(columns)}">{escape(table.empty)}</td></tr>'
    else:
        body = "\n".join(_row(table, frame, shown, position, columns, names)
                         for position in range(len(frame)))
    named = f' id="{escape(table.name)}"' if table.name else ""
    return (f'<h3>{escape(table.title)}</h3>\n<div class="scroll"><table class="data"{named}>'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table></div>")


def _row(table: Table, frame: pd.DataFrame, shown: pd.DataFrame, position: int, columns: list[str],
         names: Mapping[str, str]) -> str:
    raw = frame.iloc[position]
    reading = " ".join(str(raw[c]) for c in ("reading", "judgement") if c in frame.columns)
    first = str(raw[columns[0]])
    kinds = ["total"] if first in TOTALS and position == len(frame) - 1 else []
    if reading.startswith(PINNED_READINGS) or kinds:
        kinds.append("pinned")
    cells = []
    for index, column in enumerate(columns):
        value = raw[column]
        text = str(shown.iloc[position, index])
        instead = table.instead.get(column, ())
        classes = (["text"] if column in TEXT_COLUMNS else ["rate"] if column in BASES
                   else ["label"] if column in LABEL_COLUMNS else [])
        if instead and instead[position]:
            cells.append(f'<td class="{" ".join([*classes, "instead"])}" data-sort="">'
                         f"{escape(instead[position])}</td>")
            continue
        if column == "campaign" and str(value) in names:
            name = escape(names[str(value)])
            cells.append(f'<td class="text" title="{escape(str(value))}" data-sort="{name}">{name}</td>')
            continue
        sort = "" if _missing(value) else str(value)
        counted = "".join(f'<span class="n">n {escape(n)}</span>' for n in _bases(frame, position, column))
        css = f' class="{" ".join(classes)}"' if classes else ""
        cells.append(f'<td{css} data-sort="{escape(sort)}">{escape(text)}{counted}</td>')
    css = f' class="{" ".join(kinds)}"' if kinds else ""
    return f"<tr{css}>{''.join(cells)}</tr>"


def _align(column: str) -> str:
    return ' class="label"' if column in LABEL_COLUMNS or column in TEXT_COLUMNS else ""


def _bases(frame: pd.DataFrame, position: int, column: str) -> list[str]:
    """The n of a rate cell, e.g. ["120"] (an uplift: ["120 / 40"]); none for other cells."""
    sums = [parts for parts in BASES.get(column, ()) if all(part in frame.columns for part in parts)]
    if not sums:
        return []
    counts = [sum(int(frame.iloc[position][part]) for part in parts) for parts in sums]
    return [" / ".join(f"{count:,}" for count in counts)]
