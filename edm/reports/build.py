"""Assemble the reports from the store: SQL aggregates into tables, tables into charts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session, sessionmaker

from edm.config import ReportSettings
from edm.providers import NAMES as PROVIDER_NAMES
from edm.reports import charts, deliverability
from edm.reports.ab import AB_NOTE, ab_tables
from edm.reports.campaigns import CampaignFacts
from edm.reports.charts import Threshold, bilingual
from edm.reports.engagement import (
    GROUPINGS,
    RATES,
    TOO_RECENT,
    TOTAL,
    Judging,
    checked_grouping,
    engagement_summary,
    engagement_tables,
)
from edm.reports.engagement import (
    TOO_FEW as ENGAGEMENT_TOO_FEW,
)
from edm.reports.frequency import change_table, distribution, profile_summary
from edm.reports.html import fine_percent, money, percent
from edm.reports.lifecycle import DIMENSIONS, flow_matrix, notable_moves, transition_tables
from edm.reports.model import Chart, Report, Section, Table
from edm.reports.satisfaction import (
    ALL,
    answer_frame,
    checked_groupings,
    checked_period,
    comment_table,
    group_rank,
    overall,
    satisfaction_table,
)
from edm.reports.satisfaction import GROUPINGS as SATISFACTION_GROUPINGS
from edm.reports.uplift import TABLES as UPLIFT_TABLES
from edm.reports.uplift import TOO_FEW, uplift_tables
from edm.surveys.scores import Survey

GROUP_TITLES = {
    "campaign": "campaign 活动", "variant": "variant 版本", "tier": "value tier 价值等级",
    "stage": "lifecycle stage 生命周期", "industry": "industry 行业", "locale": "locale 语言",
}
assert set(GROUP_TITLES) == set(GROUPINGS)
DIMENSION_TITLES = {"lifecycle_stage": "Lifecycle stage 生命周期阶段", "loyalty": "Loyalty 忠诚度"}
ENGAGEMENT_NOTES = (
    "Messages count in the period by when they were sent (unsent ones: when queued); their opens and "
    "clicks count whenever they came. 按发送时间归入周期。",
    "Opened and clicked are people: opens by privacy proxies and security scanners are shown apart as "
    "machine opens, their clicks are left out. A person who clicked has opened, whatever the pixel said, so "
    "click-to-open never exceeds 100%. Rates are over delivered mail. 打开与点击只计真人;点击即视为已打开。",
    "Orders and revenue: each order goes to the last delivered mail to that customer in the {days} days "
    "before it (last touch), so none is counted twice. 订单归因于其前 {days} 天内最后一封邮件。",
    "Complaints come from feedback loops (ARF, JMRP) and provider webhooks (docs/webhooks.md); their "
    "rates per provider: edm report deliverability. 投诉来自反馈环与服务商回调，投诉率见送达质量报告。",
    "Tier, stage and industry are each customer's current profile. 等级、阶段、行业为客户当前档案。",
)
JUDGING_NOTE = (
    "Each rate shows its n: the mails it is over. Mail sent in the {days:g} days before the report's "
    "moment is too recent to judge (most people read within a day or two) and is left out of the rates "
    "(reports.judge_after_days). A row over fewer than {min_n} judged mails reads 'too few to judge' and "
    "is left out of the charts and of the sorting (reports.min_rate_n). A campaign without links shows "
    "'no links', not 0% clicks, and is left out of the click rates of the rows it is in. 每个比率附 n;"
    "最近 {days:g} 天的邮件暂不评判;少于 {min_n} 封的行标记为样本太少;无链接的活动不计点击率。"
)
NO_LINKS = "no links 无链接"
NO_ANSWERS = "No answers yet 尚无答卷"
RECENT_CELL = "too recent 太新"
LINK_RATES = ("click_rate", "click_to_open")
UPLIFT_NOTE = (
    "Mailed customers against the campaign's holdout group (planned, never sent): any order within {days} "
    "days of the mail (holdout: of the planned moment). Order-rate interval: Newcombe hybrid score; "
    "revenue-per-recipient interval: Welch t; both {confidence:.0%}. An interval that includes 0 shows no "
    "clear effect. Tier and stage are the customer's class when the mail went out (holdout: when it was "
    "planned), not today's; each variant is set against its campaign's whole holdout. A group with fewer "
    "than {min_group} mailed or held-out customers reads 'too few': no uplift or interval is shown "
    "(reports.min_group). 与对照组比较;区间包含 0 表示效果不显著;等级与阶段取发送时的分类;"
    "任一组少于 {min_group} 人显示“样本太少”。"
)
UPLIFT_TITLES = {
    ("campaign",): "By campaign 按活动", ("campaign", "tier"): "By campaign × value tier 按活动与价值等级",
    ("campaign", "stage"): "By campaign × lifecycle stage 按活动与生命周期阶段",
    ("campaign", "variant"): "By campaign × variant 按活动与版本",
}
assert set(UPLIFT_TITLES) == set(UPLIFT_TABLES)
SATISFACTION_NAMES = {  # (English, Chinese): charts show the Chinese only where a CJK font is installed
    "tier": ("value tier", "价值等级"), "industry": ("industry", "行业"),
    "manager": ("account manager", "客户经理"),
}
SATISFACTION_TITLES = {by: f"{english} {chinese}" for by, (english, chinese) in SATISFACTION_NAMES.items()}
assert set(SATISFACTION_TITLES) == set(SATISFACTION_GROUPINGS)
SURVEY_TITLES: dict[Survey, str] = {"nps": "NPS 净推荐值", "csat": "CSAT 满意度"}
SURVEY_LIMITS: dict[Survey, tuple[float, float]] = {"nps": (-105.0, 105.0), "csat": (-5.0, 105.0)}
PERIOD_TITLES = {"month": "per month 按月", "week": "per ISO week 按周", "quarter": "per quarter 按季度"}
SATISFACTION_NOTES = (
    "NPS asks 'how likely are you to recommend us' (0-10): promoters 9-10, passives 7-8, detractors "
    "0-6; NPS = % promoters - % detractors, from -100 to 100. 净推荐值 = 推荐者% - 贬损者%。",
    "CSAT asks 'how satisfied were you' (1-5): 4-5 count as promoters (satisfied), 3 as passive, 1-2 as "
    "detractors; CSAT = % of answers that are 4 or 5. 满意度 = 4-5 分的占比。",
    "An answer counts in the period of its first click; one mail has one answer per survey, and a score "
    "clicked again later replaces it. The mean score is on the survey's own scale. 按首次作答时间归入周期。",
    "Grouping uses each customer's CURRENT value tier and industry (profile) and account manager (customer "
    "record), not those at the time of the answer. Customers without a manager are '(none)', without a "
    "profile '(unclassified)'. 按客户当前等级、行业与客户经理分组。",
    "Comments are the customers' own words, shown as written. 留言为客户原话。",
)


DELIVERY_PERIOD_TITLES = {"day": "per day 按日", "week": "per ISO week 按周"}
DELIVERABILITY_NOTES = (
    "A message counts in the period by when it was sent (refused at once: when queued); its complaints "
    "count whenever they came. 按发送时间归入周期。",
    "Hard bounce rate = hard bounces / (delivered + hard bounces); complaint rate = messages reported as "
    "spam / delivered. Soft bounces (retried later) are not bounces here. 硬退信率 = 硬退信 / 投递尝试;"
    "投诉率 = 投诉 / 送达。",
    "Gmail's sender guidelines: keep the spam rate below 0.1% and never let it reach 0.3%. Gmail measures "
    "it in Postmaster Tools per day over mail delivered to the inbox, so read the Gmail line per day. "
    "Gmail 要求投诉率低于 0.1%,不得达到 0.3%。",
    "The bounce lines are Amazon SES's: an account is reviewed at a 5% bounce rate and may be paused at "
    "10%; mailbox providers publish no bounce limit. 退信参考线为 Amazon SES 的审查与暂停线。",
    "Provider is the recipient's domain, matched exactly: gmail.com and googlemail.com are Gmail; a "
    "company domain hosted by Google or Microsoft is 'other'. 按收件域名精确匹配服务商。",
    "Complaints that name no message cannot be given a campaign or provider; they are counted on top only. "
    "无法对应邮件的投诉只计入总数卡片。",
)


def gmail_lines() -> tuple[Threshold, ...]:
    """Gmail's spam-rate limits (sender guidelines), in %."""
    return (Threshold(0.1, bilingual("Gmail: keep below 0.1%", "保持低于"), "#e53e3e", "--"),
            Threshold(0.3, bilingual("Gmail: never reach 0.3%", "不得达到"), "#9b2c2c", "-"))


def bounce_lines() -> tuple[Threshold, ...]:
    """Amazon SES's bounce-rate review and pause levels, in % (no mailbox provider publishes one)."""
    return (Threshold(5.0, bilingual("Amazon SES: review at 5%", "审查线"), "#e53e3e", "--"),
            Threshold(10.0, bilingual("Amazon SES: may pause at 10%", "暂停线"), "#9b2c2c", "-"))


def period_text(since: datetime | None, until: datetime | None, now: datetime) -> str:
    """The window with both ends written out: an open end reads as the first record, or the report's
    moment (`now`, edm's clock), never as a bare "now"."""
    start = f"{since.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if since else "the first record 最早记录"
    end = (f"{until.astimezone(UTC):%Y-%m-%d %H:%M} UTC (excl. 不含)" if until
           else f"{now.astimezone(UTC):%Y-%m-%d %H:%M} UTC")
    return f"{start} – {end}"


def engagement_report(
    sessions: sessionmaker[Session],
    groupings: Sequence[Sequence[str]],
    *,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    settings: ReportSettings | None = None,
    campaigns: CampaignFacts | None = None,
) -> Report:
    """Engagement by each grouping, and the uplift of campaigns that had a holdout. `campaigns`
    (edm.reports.campaigns.read_facts): the names people read and which campaigns have no links;
    without, slugs are shown and every campaign is taken to have links."""
    settings = settings or ReportSettings()
    facts = campaigns or CampaignFacts()
    days = settings.attribution_days
    if not groupings:
        raise ValueError("engagement_report needs at least one grouping")
    chosen = [checked_grouping(by) for by in groupings]
    judging = Judging.at(now, settings.judge_after_days, facts.unlinked, settings.min_rate_n)
    with sessions() as session:
        found = engagement_tables(session, chosen, since=since, until=until, attribution_days=days,
                                  judging=judging)
        tables = list(zip(chosen, found, strict=True))
        uplift = uplift_tables(session, UPLIFT_TABLES, since=since, until=until, attribution_days=days,
                               confidence=settings.confidence, min_group=settings.min_group)
        ab_decisions, ab_arms = ab_tables(session, since=since, until=until)
    totals = engagement_summary(tables[0][1])
    total = tables[0][1].iloc[-1]
    drawn = facts.chart_names(bilingual)
    sections = [_engagement_section(by, table, drawn, settings) for by, table in tables]
    if not uplift[0].empty:
        sections.append(uplift_section(uplift, settings, drawn))
    if not ab_decisions.empty:
        sections.append(Section(
            "A/B test winners A/B 测试胜出版本",
            tables=(Table("ab-decisions", "Decisions 决定", ab_decisions),
                    Table("ab-arms", "Variants in each test 各版本", ab_arms)),
            note=AB_NOTE,
        ))
    summary = (
        ("Sent 已发送", str(totals["sent"])),
        ("Delivered 已送达", str(totals["delivered"])),
        ("Open rate (people) 打开率", rate_text(total["open_rate"], total["judged"])),
        ("Click rate 点击率", rate_text(total["click_rate"], total["judged_linked"])),
        ("Click-to-open 点击/打开", rate_text(total["click_to_open"], total["opened_linked"])),
        ("Unsubscribes 退订", str(totals["unsubscribed"])),
        (f"Orders within {days} days {days}天内订单", str(totals["orders"])),
        ("Revenue 收入", money(totals["revenue"])),
        *(((f"Too recent to judge (last {settings.judge_after_days:g} days) 太新未计",
            str(int(total["too_recent"]))),) if total["too_recent"] else ()),
        *_uplift_cards(uplift[0], facts.names),
    )
    notes = (*(note.format(days=days) for note in ENGAGEMENT_NOTES),
             JUDGING_NOTE.format(days=settings.judge_after_days, min_n=settings.min_rate_n))
    return Report(
        title="Engagement report 互动报告", period=period_text(since, until, now), as_of=now,
        summary=summary, sections=tuple(sections), notes=notes, figures=totals, names=facts.names,
    )


def rate_text(rate: Any, n: Any) -> str:
    """A rate with what it is over, e.g. "66.67% (n 6)"; over nothing "– (n 0)"."""
    return f"{percent(rate)} (n {int(n):,})"


def lifecycle_report(
    sessions: sessionmaker[Session], *, now: datetime, since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    """Moves between lifecycle stages and loyalty classes: counts, a flow chart and a from/to heat map."""
    with sessions() as session:
        tables = transition_tables(session, since=since, until=until)
    sections = []
    for dimension, table in tables.items():
        title = DIMENSION_TITLES[dimension]
        matrix = flow_matrix(table, DIMENSIONS[dimension])
        name = bilingual(f"{title.split(' ')[0]} moves", "变动")
        ends = (bilingual("from", "从"), bilingual("to", "到"))
        flows = Chart(f"{title}: flows", charts.flow_chart(matrix, name, *ends))
        counts = Chart(f"{title}: moves", charts.flow_heatmap(matrix, name, *ends))
        sections.append(Section(title, (Table(f"lifecycle-{dimension}", title, table),), (flows, counts)))
    notable = notable_moves(tables)
    summary = tuple(
        (f"{DIMENSION_TITLES[d]} moves 变动", str(int(t["moves"].sum()))) for d, t in tables.items()
    ) + tuple((meaning, str(count)) for meaning, count in notable)
    figures: dict[str, float | int] = {f"{d}_moves": int(t["moves"].sum()) for d, t in tables.items()}
    return Report(
        title="Lifecycle report 生命周期报告", period=period_text(since, until, now), as_of=now,
        summary=summary, sections=tuple(sections), figures=figures,
        notes=("Every class change in the period counts; a customer who moved twice counts in both moves. "
               "'-' is a first classification. 期间内每次变动均计入;'-' 表示首次分类。",),
    )


def frequency_report(
    sessions: sessionmaker[Session], *, now: datetime, since: datetime, until: datetime
) -> Report:
    """Contact intervals and engagement scores per tier now, and actual gaps and engagement then vs now."""
    with sessions() as session:
        summary_table = profile_summary(session)
        intervals = distribution(session, "interval")
        scores = distribution(session, "score")
        change = change_table(session, since=since, until=until)
    now_section = Section(
        "Now: contact interval and engagement score per tier 当前:各等级的联系间隔与互动分",
        tables=(Table("frequency-summary", "Per tier 各等级", summary_table),
                Table("frequency-intervals", "Contact interval, customers per bin 联系间隔分布", intervals),
                Table("frequency-scores", "Engagement score, customers per bin 互动分分布", scores)),
        charts=(Chart("Contact interval distribution", charts.histogram_bars(
                    intervals, bilingual("Contact interval per tier", "各等级联系间隔"),
                    bilingual("days", "天"))),
                Chart("Engagement score distribution", charts.histogram_bars(
                    scores, bilingual("Engagement score per tier", "各等级互动分"),
                    bilingual("score", "分")))),
    )
    tiers = [str(t) for t in change["tier"]]
    names = (bilingual("previous period", "上期"), bilingual("this period", "本期"))
    change_section = Section(
        "Change: actual gaps between mails and engagement, previous period vs this one 变化:上期与本期",
        tables=(Table("frequency-change", "Per tier 各等级", change),),
        charts=(Chart("Mean gap between mails", charts.paired_bars(
                    tiers, change["gap_mean_previous"].tolist(), change["gap_mean_current"].tolist(), names,
                    bilingual("Mean days between two mails", "两封邮件平均间隔"), bilingual("days", "天"))),
                Chart("Engaged rate", charts.paired_bars(
                    tiers, (change["engaged_rate_previous"] * 100).tolist(),
                    (change["engaged_rate_current"] * 100).tolist(), names,
                    bilingual("Delivered mail opened or clicked by a person", "真人打开或点击比例"), "%"))),
        note="The previous period is as long as this one and ends where it starts. A gap belongs to the "
             "period of its later mail. 上期与本期等长。",
    )
    cards = tuple(
        (f"{row['tier']}: interval 间隔 / score 分",
         f"{_figure(row['interval_mean'])} d / {_figure(row['score_mean'])}")
        for row in summary_table.to_dict("records")
    )
    return Report(
        title="Contact frequency report 联系频率报告", period=period_text(since, until, now), as_of=now,
        summary=cards, sections=(now_section, change_section),
        figures={"customers": int(summary_table["customers"].sum())},
        notes=("Profiles keep only the current interval and score; the change is measured from the mail "
               "actually sent and the reactions to it. 档案只存当前值,变化由实际发送与互动计算。",),
    )


def satisfaction_report(
    sessions: sessionmaker[Session],
    groupings: Sequence[str] = SATISFACTION_GROUPINGS,
    *,
    period: str = "month",
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
    min_answers: int = 1,
) -> Report:
    """NPS and CSAT per period for each grouping (with an all-customers row), trend charts for the
    first grouping, and the answers that came with a comment. A score over fewer than `min_answers`
    answers (reports.min_answers) reads "too few to judge" and is not drawn."""
    chosen = checked_groupings(groupings)
    checked_period(period)
    with sessions() as session:
        answers = answer_frame(session, since=since, until=until)
        comments = comment_table(session, since=since, until=until)
    surveys: tuple[Survey, ...] = ("nps", "csat")
    sections = []
    for number, by in enumerate(chosen):
        title = f"By {SATISFACTION_TITLES[by]}, {PERIOD_TITLES[period]}"
        tables = {survey: judged_answers(satisfaction_table(answers, survey, by, period), min_answers)
                  for survey in surveys}
        drawn = {survey: table[table["judgement"] == ""] for survey, table in tables.items()}
        trends = tuple(_trend_chart(survey, by, table, period) for survey, table in drawn.items()
                       if number == 0 and not table.empty)
        few = sum(int((table["judgement"] != "").sum()) for table in tables.values())
        note = (f"{few} score(s) over fewer than {min_answers} answers read 'too few to judge' and are not "
                f"drawn (reports.min_answers). {few} 个分数答卷太少，未画入图表。" if few else "")
        sections.append(Section(title, tuple(
            Table(f"satisfaction-{survey}-{by}", f"{SURVEY_TITLES[survey]}: {title}", table,
                  empty=NO_ANSWERS)
            for survey, table in tables.items()), trends, note=note))
    sections.append(Section(
        "Comments 留言", (Table("satisfaction-comments", "Answers with a comment 带留言的答卷", comments,
                                       empty="No comments yet 尚无留言"),),
        note="Oldest first, by when the answer was first given. 按作答时间排序。"))
    figures: dict[str, float | int] = {"comments": len(comments)}
    summary: list[tuple[str, str]] = []
    for survey in surveys:
        count, score = overall(answers, survey)
        figures |= {survey: score, f"{survey}_answers": count}
        shown = _figure(score) if survey == "nps" else percent(score / 100)
        summary += [(SURVEY_TITLES[survey], shown), (f"{survey.upper()} answers 答卷", str(count))]
    summary.append(("Comments 留言", str(len(comments))))
    return Report(
        title="Satisfaction report 满意度报告", period=period_text(since, until, now), as_of=now,
        summary=tuple(summary), sections=tuple(sections), notes=SATISFACTION_NOTES, figures=figures,
    )


def deliverability_report(
    sessions: sessionmaker[Session], *, period: str = "day", now: datetime, since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    """Hard-bounce and complaint rates per day or week (charts with Gmail's limits), per campaign and
    per receiving provider."""
    deliverability.checked_period(period)
    with sessions() as session:
        campaigns = deliverability.count_by(session, ["campaign"], since=since, until=until)
        providers = deliverability.count_by(session, ["provider"], since=since, until=until)
        periods = deliverability.count_by(session, ["period", "provider"], period=period, since=since,
                                          until=until)
        unmatched = deliverability.unmatched_complaints(session, since=since, until=until)
    by_period = deliverability.period_table(((key[0], key[1], counts) for key, counts in periods), period)
    by_campaign = deliverability.group_table("campaign", ((key[0], counts) for key, counts in campaigns))
    by_provider = deliverability.group_table(
        "provider", ((key[0], counts) for key, counts in providers), PROVIDER_NAMES)
    rows = by_period[by_period["period"] != deliverability.TOTAL]
    labels = rows["period"].tolist()
    every = bilingual("All providers", "全部")
    complaint_chart = Chart("Complaint rate with Gmail's limits", charts.threshold_lines(
        labels, {every: rows["complaint_rate"].tolist(), "Gmail": rows["gmail_complaint_rate"].tolist()},
        bilingual(f"Complaint rate per {period}", "投诉率"), gmail_lines()))
    bounce_chart = Chart("Hard bounce rate", charts.threshold_lines(
        labels, {every: rows["bounce_rate"].tolist(), "Gmail": rows["gmail_bounce_rate"].tolist()},
        bilingual(f"Hard bounce rate per {period}", "硬退信率"), bounce_lines()))
    title = f"Over time, {DELIVERY_PERIOD_TITLES[period]}"
    sections = (
        Section(title, (Table("deliverability-period", title, by_period),), (complaint_chart, bounce_chart)),
        Section("By campaign 按活动", (Table("deliverability-campaign", "By campaign 按活动", by_campaign),)),
        Section("By receiving provider 按收件服务商", (Table(
            "deliverability-provider", "By receiving provider 按收件服务商", by_provider),),
            note="gmail: gmail.com, googlemail.com; microsoft: outlook, hotmail, live, msn; yahoo: yahoo, "
                 "ymail, aol; qq: qq.com, foxmail.com; netease: 163.com, 126.com, yeah.net (see "
                 "edm/providers.py for every domain)."),
    )
    total = by_period.iloc[-1]
    figures: dict[str, float | int] = {
        "delivered": int(total["delivered"]), "bounced": int(total["bounced"]),
        "bounce_rate": float(total["bounce_rate"]), "complained": int(total["complained"]),
        "complaint_rate": float(total["complaint_rate"]),
        "gmail_complaint_rate": float(total["gmail_complaint_rate"]), "unmatched_complaints": unmatched,
    }
    summary = (
        ("Delivered 已送达", str(figures["delivered"])),
        ("Hard bounces 硬退信", str(figures["bounced"])),
        ("Hard bounce rate 硬退信率", percent(figures["bounce_rate"])),
        ("Complaints 投诉", str(figures["complained"])),
        ("Complaint rate 投诉率", fine_percent(figures["complaint_rate"])),
        ("Gmail complaint rate Gmail 投诉率", fine_percent(figures["gmail_complaint_rate"])),
        ("Complaints naming no message 无法对应邮件的投诉", str(unmatched)),
    )
    return Report(
        title="Deliverability report 送达质量报告", period=period_text(since, until, now), as_of=now,
        summary=summary, sections=sections, notes=DELIVERABILITY_NOTES, figures=figures,
    )


def judged_answers(table: pd.DataFrame, min_answers: int) -> pd.DataFrame:
    """The table with a `judgement` column: TOO_FEW where the score rests on fewer than `min_answers`."""
    few = table["answers"] < min_answers
    return table.assign(judgement=few.map({True: ENGAGEMENT_TOO_FEW, False: ""}).astype(object))


def _trend_chart(survey: Survey, by: str, table: pd.DataFrame, period: str) -> Chart:
    """The survey's score per period: a line per group (the MAX_LINES most answered) and all customers."""
    periods = sorted(set(table["period"]))
    scores = table.pivot(index="period", columns=by, values=survey).reindex(periods)
    answered = table[table[by] != ALL].groupby(by)["answers"].sum()
    answered = answered.sort_values(ascending=False, kind="stable")
    most = answered.index[: charts.MAX_LINES]
    shown = [*sorted(most, key=lambda group: group_rank(by, str(group))), ALL]
    series = {str(group): scores[group].tolist() for group in shown}
    unit = "NPS" if survey == "nps" else "%"
    english, chinese = SATISFACTION_NAMES[by]
    title = bilingual(f"{survey.upper()} by {english}, per {period}", f"按{chinese}")
    return Chart(f"{SURVEY_TITLES[survey]} over time by {english}", charts.trend_lines(
        periods, series, title, unit, SURVEY_LIMITS[survey], total=ALL))


def _engagement_section(by: list[str], table: pd.DataFrame, names: Mapping[str, str],
                        settings: ReportSettings) -> Section:
    """The table with every row, and a chart of the rows with enough judged mail (rows too few or too
    recent to judge are left out: a 100% over one mail is no finding)."""
    title = "By " + " × ".join(GROUP_TITLES[name] for name in by)
    rows = table[(table[by[0]] != TOTAL) & (table["judgement"] == "")]
    labels = [" / ".join(names.get(str(row[name]), str(row[name])) if name == "campaign" else str(row[name])
                         for name in by) for _, row in rows.iterrows()]
    left_out = int(((table[by[0]] != TOTAL) & (table["judgement"] != "")).sum())
    charts_: tuple[Chart, ...] = ()
    if len(rows):
        clicks = rows["click_rate"].fillna(0.0)  # no links: no bar (the table says "no links")
        charts_ = (Chart(f"{title}: open and click rates", charts.rate_bars(
            labels,
            {bilingual("Open rate", "打开率"): rows["open_rate"].tolist(),
             bilingual("Click rate", "点击率"): clicks.tolist()},
            bilingual("Open and click rates (people)", "打开率与点击率"),
        )),)
    note = (f"{left_out} row(s) with fewer than {settings.min_rate_n} judged mails, or only mail too recent "
            f"to judge, are in the table but not in the chart. {left_out} 行样本太少或太新，未画入图表。"
            if left_out else "")
    no_links = (table["judged"] > 0) & (table["judged_linked"] == 0)
    too_recent = table["judgement"] == TOO_RECENT
    instead = {
        rate: tuple(RECENT_CELL if recent else NO_LINKS if (lacking and rate in LINK_RATES) else ""
                    for recent, lacking in zip(too_recent, no_links, strict=True))
        for rate in RATES
    }
    return Section(title, (Table("engagement-" + "-".join(by), title, table, instead=instead),), charts_,
                   note=note)


def uplift_section(tables: Sequence[pd.DataFrame], settings: ReportSettings,
                   campaign_names: Mapping[str, str] | None = None) -> Section:
    """Holdout comparisons per campaign, campaign × tier, × stage and × variant (UPLIFT_TABLES' order),
    with the order-rate uplift of each and its interval as charts (groups reading "too few" are in the
    tables only; a chart with no other group is left out); HTML id "uplift"."""
    known = campaign_names or {}
    by_campaign = tables[0]
    names = {by: "-".join(("uplift", *by[1:])) for by in UPLIFT_TABLES}  # uplift, uplift-tier, ...
    judged = [table[table["reading"] != TOO_FEW] if "reading" in table else table for table in tables]
    shown = [_uplift_chart(list(by), table, f"uplift-chart-{by[-1]}", known)
             for by, table in zip(UPLIFT_TABLES, judged, strict=True) if not table.empty]
    if not judged[0].empty:
        shown.insert(1, Chart("Revenue per recipient uplift against the holdout", charts.uplift_chart(
            _uplift_labels(["campaign"], judged[0], known), judged[0]["revenue_uplift"].tolist(),
            judged[0]["revenue_low"].tolist(), judged[0]["revenue_high"].tolist(),
            bilingual("Revenue per recipient uplift vs holdout", "人均收入提升"),
            bilingual("revenue", "收入")), name="uplift-chart-revenue"))
    note = UPLIFT_NOTE.format(days=settings.attribution_days, confidence=settings.confidence,
                              min_group=settings.min_group)
    if by_campaign.empty:
        note = ("No campaign had a holdout group in the period (holdout_percent, "
                "policy.default_holdout_percent). 期间内没有活动设置对照组。 " + note)
    return Section(
        "Uplift against holdout groups 对照组提升",
        tuple(Table(names[by], f"Uplift 提升: {UPLIFT_TITLES[by]}", table,
                    empty="No campaign with a holdout 无对照组")
              for by, table in zip(UPLIFT_TABLES, tables, strict=True)),
        tuple(shown), note=note, name="uplift",
    )


def uplift_report(
    sessions: sessionmaker[Session], *, now: datetime, since: datetime | None = None,
    until: datetime | None = None, settings: ReportSettings | None = None,
    campaigns: CampaignFacts | None = None,
) -> Report:
    """Only the holdout comparisons: per campaign, campaign × tier, × stage and × variant."""
    settings = settings or ReportSettings()
    facts = campaigns or CampaignFacts()
    names = facts.names
    with sessions() as session:
        tables = uplift_tables(session, UPLIFT_TABLES, since=since, until=until,
                               attribution_days=settings.attribution_days, confidence=settings.confidence,
                               min_group=settings.min_group)
    by_campaign = tables[0]
    figures: dict[str, float | int] = {
        "campaigns": len(by_campaign), "too_few": int((by_campaign["reading"] == TOO_FEW).sum()),
    }
    cards = (("Campaigns with a holdout 有对照组的活动", str(len(by_campaign))),
             *_uplift_cards(by_campaign, names))
    return Report(
        title="Uplift report 提升报告", period=period_text(since, until, now), as_of=now, summary=cards,
        sections=(uplift_section(tables, settings, facts.chart_names(bilingual)),), figures=figures,
        names=names,
        notes=("Uplift = mailed minus holdout. 提升 = 发送组 - 对照组。",),
    )


def _uplift_labels(by: list[str], table: pd.DataFrame, names: Mapping[str, str]) -> list[str]:
    return [" / ".join(names.get(str(row[n]), str(row[n])) if n == "campaign" else str(row[n]) for n in by)
            for _, row in table.iterrows()]


def _uplift_chart(by: list[str], table: pd.DataFrame, name: str, names: Mapping[str, str]) -> Chart:
    """The order-rate uplift of each group, in percentage points, with its interval."""
    english = {"campaign": "campaign", "tier": "value tier", "stage": "lifecycle stage", "variant": "variant"}
    chinese = {"campaign": "按活动", "tier": "按价值等级", "stage": "按生命周期阶段", "variant": "按版本"}
    title = bilingual(f"Order rate uplift vs holdout, by {' × '.join(english[n] for n in by)}",
                      chinese[by[-1]])
    return Chart(f"Order rate uplift against the holdout by {' and '.join(by)}", charts.uplift_chart(
        _uplift_labels(by, table, names), (table["order_rate_uplift"] * 100).tolist(),
        (table["order_rate_low"] * 100).tolist(), (table["order_rate_high"] * 100).tolist(), title,
        bilingual("points", "百分点")), name=name)


def _uplift_cards(uplift: pd.DataFrame,
                  names: Mapping[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    known = names or {}
    return tuple(
        (f"{known.get(row['campaign'], row['campaign'])}: order rate uplift 下单率提升",
         f"{TOO_FEW} ({row['mailed']} / {row['holdout']})" if row["reading"] == TOO_FEW else
         f"{percent(row['order_rate_uplift'])} "
         f"[{percent(row['order_rate_low'])}, {percent(row['order_rate_high'])}] "
         f"(n {row['mailed']:,} / {row['holdout']:,})")
        for row in uplift.to_dict("records")
    )


def _figure(value: Any) -> str:
    return "–" if pd.isna(value) else f"{value:g}"
