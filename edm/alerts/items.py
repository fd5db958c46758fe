"""What a digest says about a customer: the kinds of alert, and each one's reason in plain words.

Pure: plain values in, text out, in the three languages digests are written in. The store
side (`edm.alerts.collect`) turns rows into `AlertItem`s; the mail side (`edm.alerts.digest`)
renders the `CustomerAlerts` that `group` makes of them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Literal, cast, get_args

from edm.config import DigestLanguage
from edm.render import one_line, resolve_language, template_view
from edm.surveys.scores import SCALES

AlertKind = Literal["at_risk", "churned", "dropped_line", "detractor", "unsubscribed", "win_back_click"]
ALERT_KINDS: tuple[AlertKind, ...] = get_args(AlertKind)  # also the order a customer's reasons are listed in
MAX_COMMENT_CHARS = 300  # a longer survey comment is cut, so one customer cannot flood the digest
TIMES_FROM = 1.5  # a silence at least this many times the usual interval is said as "about N times"
NO_FIGURE = "—"
_SCALES: dict[str, range] = {str(name): scale for name, scale in SCALES.items()}


@dataclass(frozen=True, slots=True)
class AlertItem:
    """One thing that happened to one customer, with the figures a manager judges it by."""

    customer_id: int
    external_id: str
    customer_name: str
    kind: AlertKind
    occurred_at: datetime
    lines: tuple[str, ...] = ()  # dropped_line: the product lines they stopped buying
    survey: str | None = None  # detractor: "nps" or "csat", the score and the comment
    score: int | None = None
    comment: str | None = None
    campaign: str | None = None  # unsubscribed (when known) and win_back_click: the mail's campaign
    last_order_at: datetime | None = None
    usual_interval_days: float | None = None  # their expected interval between orders (edm.customers.rhythm)
    value_tier: str | None = None


@dataclass(frozen=True, slots=True)
class _Words:
    """One language's phrases; `{...}` fields are filled by `reason`."""

    at_risk: str
    churned: str
    silent_times: str
    silent_usual: str
    silent: str
    no_orders: str
    dropped: str
    dropped_unknown: str
    detractor: str
    comment: str
    unsubscribed: str
    from_campaign: str
    win_back: str
    win_back_unknown: str
    list_separator: str
    days: Callable[[int], str]
    subject: Callable[[int], str]
    paused_campaign: str  # a sending pause (edm.delivery.health): {what}, {reason}, {since}, {how}
    paused_bulk: str
    paused_subject: str
    bounces: str  # the reason's figures, when it is one edm wrote: {rate}, {count}, {limit}
    complaints: str
    tiers: dict[str, str] = field(default_factory=dict)


WORDS: dict[DigestLanguage, _Words] = {
    "en": _Words(
        at_risk="At risk of churn",
        churned="Churned",
        silent_times="{head}: no order for {days}, about {ratio} times their usual {usual}",
        silent_usual="{head}: no order for {days}; they usually order every {usual}",
        silent="{head}: no order for {days}",
        no_orders="{head}: no order on record",
        dropped="Stopped buying {lines}, still buys other lines",
        dropped_unknown="Stopped buying one of their product lines, still buys others",
        detractor="Answered the {survey} survey {score}/{top}",
        comment=": '{comment}'",
        unsubscribed="Unsubscribed from our mail",
        from_campaign=" (from a '{campaign}' mail)",
        win_back="Clicked the win-back offer in a '{campaign}' mail",
        win_back_unknown="Clicked a win-back offer",
        list_separator=", ",
        days=lambda n: f"{n} day" if n == 1 else f"{n} days",
        subject=lambda n: (f"edm: {n} customer needs your attention" if n == 1
                           else f"edm: {n} customers need your attention"),
        tiers={"high": "high", "medium": "medium", "low": "low"},
        paused_campaign="Campaign '{what}' paused itself on {since}: {reason}. Its mail waits in the queue; "
                        "`{how}` sends it once the list is cleaned",
        paused_bulk="Bulk mail (all but service mail) paused itself on {since}: {reason}. It waits in the "
                    "queue; `{how}` sends it once the lists are cleaned",
        paused_subject="edm: sending is paused",
        bounces="hard bounces {rate} of the last {count} deliveries (limit {limit})",
        complaints="complaints {rate} of the last {count} deliveries (limit {limit})",
    ),
    "zh-Hans": _Words(
        at_risk="有流失风险",
        churned="已流失",
        silent_times="{head}：已 {days}未下单，约为其平常间隔 {usual}的 {ratio} 倍",
        silent_usual="{head}：已 {days}未下单，平常约每 {usual}下单一次",
        silent="{head}：已 {days}未下单",
        no_orders="{head}：没有下单记录",
        dropped="不再购买{lines}，但仍在购买其他产品线",
        dropped_unknown="停止购买了其中一条产品线，但仍在购买其他产品线",
        detractor="在 {survey} 调查中打了 {score}/{top} 分",
        comment="：“{comment}”",
        unsubscribed="退订了我们的邮件",
        from_campaign="（来自“{campaign}”邮件）",
        win_back="点击了“{campaign}”邮件中的挽回优惠",
        win_back_unknown="点击了挽回优惠",
        list_separator="、",
        days=lambda n: f"{n} 天",
        subject=lambda n: f"edm：{n} 位客户需要您关注",
        tiers={"high": "高", "medium": "中", "low": "低"},
        paused_campaign="活动“{what}”已于 {since} 自动暂停发送：{reason}。其邮件仍在队列中等待；"
                        "清理名单后运行 `{how}` 继续发送",
        paused_bulk="群发邮件（服务类邮件除外）已于 {since} 自动暂停发送：{reason}。邮件仍在队列中等待；"
                    "清理名单后运行 `{how}` 继续发送",
        paused_subject="edm：邮件发送已暂停",
        bounces="最近 {count} 封投递中硬退信占 {rate}（上限 {limit}）",
        complaints="最近 {count} 封投递中投诉占 {rate}（上限 {limit}）",
    ),
    "zh-Hant": _Words(
        at_risk="有流失風險",
        churned="已流失",
        silent_times="{head}：已 {days}未下單，約為其平常間隔 {usual}的 {ratio} 倍",
        silent_usual="{head}：已 {days}未下單，平常約每 {usual}下單一次",
        silent="{head}：已 {days}未下單",
        no_orders="{head}：沒有下單記錄",
        dropped="不再購買{lines}，但仍在購買其他產品線",
        dropped_unknown="停止購買了其中一條產品線，但仍在購買其他產品線",
        detractor="在 {survey} 調查中打了 {score}/{top} 分",
        comment="：「{comment}」",
        unsubscribed="退訂了我們的郵件",
        from_campaign="（來自「{campaign}」郵件）",
        win_back="點擊了「{campaign}」郵件中的挽回優惠",
        win_back_unknown="點擊了挽回優惠",
        list_separator="、",
        days=lambda n: f"{n} 天",
        subject=lambda n: f"edm：{n} 位客戶需要您關注",
        tiers={"high": "高", "medium": "中", "low": "低"},
        paused_campaign="活動「{what}」已於 {since} 自動暫停發送：{reason}。其郵件仍在佇列中等待；"
                        "清理名單後執行 `{how}` 繼續發送",
        paused_bulk="群發郵件（服務類郵件除外）已於 {since} 自動暫停發送：{reason}。郵件仍在佇列中等待；"
                    "清理名單後執行 `{how}` 繼續發送",
        paused_subject="edm：郵件發送已暫停",
        bounces="最近 {count} 封投遞中硬退信佔 {rate}（上限 {limit}）",
        complaints="最近 {count} 封投遞中投訴佔 {rate}（上限 {limit}）",
    ),
}


Titles = Callable[[str], str]  # a campaign's name -> the name a manager reads (edm.campaigns.labels)


def reason(item: AlertItem, language: DigestLanguage, title: Titles | None = None) -> str:
    """Why the customer is in the digest, as one line a manager reads at a glance.

    e.g. "At risk of churn: no order for 96 days, about 3 times their usual 30 days" or
    "Answered the NPS survey 3/10: 'too slow'". Customer-written text (comments, names of
    lines and campaigns) is put on one line and a long comment is cut. `title` names a campaign
    as the manager reads it (its display name in their language); without it, by its name.
    """
    words = WORDS[language]
    if item.kind in ("at_risk", "churned"):
        return _silence(item, words, words.at_risk if item.kind == "at_risk" else words.churned)
    if item.kind == "dropped_line":
        lines = [one_line(line) for line in item.lines if one_line(line)]
        if not lines:
            return words.dropped_unknown
        return words.dropped.format(lines=words.list_separator.join(lines))
    if item.kind == "detractor":
        return _answer(item, words)
    campaign = one_line(item.campaign or "")
    if campaign and title is not None:
        campaign = one_line(title(campaign))
    if item.kind == "unsubscribed":
        return words.unsubscribed + (words.from_campaign.format(campaign=campaign) if campaign else "")
    return words.win_back.format(campaign=campaign) if campaign else words.win_back_unknown


def _silence(item: AlertItem, words: _Words, head: str) -> str:
    if item.last_order_at is None:
        return words.no_orders.format(head=head)
    days = max(0, (item.occurred_at - item.last_order_at).days)
    if not item.usual_interval_days or item.usual_interval_days <= 0:
        return words.silent.format(head=head, days=words.days(days))
    usual = max(1, round(item.usual_interval_days))  # under a day is no usual interval to compare with
    ratio = days / usual
    if ratio < TIMES_FROM:
        return words.silent_usual.format(head=head, days=words.days(days), usual=words.days(usual))
    shown = f"{round(ratio)}" if ratio >= 2 else f"{ratio:.1f}"
    return words.silent_times.format(head=head, days=words.days(days), usual=words.days(usual), ratio=shown)


def _answer(item: AlertItem, words: _Words) -> str:
    survey = (item.survey or "").lower()
    scale = _SCALES.get(survey)
    top = scale[-1] if scale is not None else "?"
    text = words.detractor.format(survey=survey.upper(), score=item.score, top=top)
    comment = one_line(item.comment or "")
    if len(comment) > MAX_COMMENT_CHARS:
        comment = comment[: MAX_COMMENT_CHARS - 1].rstrip() + "…"
    return text + (words.comment.format(comment=comment) if comment else "")


DIGEST_LANGUAGES: tuple[DigestLanguage, ...] = get_args(DigestLanguage)


def manager_language(locales: Mapping[str, int], fallback: DigestLanguage) -> DigestLanguage:
    """The language a manager reads: the one most of their customers' mail is written in (each
    customer's `locale` resolved as their mail's is: zh-TW → zh-Hant, zh-CN → zh-Hans, fr → en), from
    `locales` (locale → customers). No customers, or a tie, gives `fallback` (`alerts.language`)
    when it is among the most read, else the first of them in en, zh-Hans, zh-Hant order."""
    readers: dict[DigestLanguage, int] = dict.fromkeys(DIGEST_LANGUAGES, 0)
    for locale, customers in locales.items():
        language = cast(DigestLanguage, resolve_language(locale or "", DIGEST_LANGUAGES))
        readers[language] += customers
    most = max(readers.values())
    if most == 0:
        return fallback
    leaders = [language for language, customers in readers.items() if customers == most]
    return fallback if fallback in leaders else leaders[0]


def subject(customers: int, language: DigestLanguage) -> str:
    """The digest's subject line, e.g. "edm: 3 customers need your attention" (none: sending is paused)."""
    return WORDS[language].subject(customers) if customers else WORDS[language].paused_subject


@dataclass(frozen=True, slots=True)
class PauseNotice:
    """Sending held back (a campaign, or all bulk mail) for its bounce or complaint rate."""

    scope: str  # "campaign:NAME" or "bulk"
    reason: str  # as edm.delivery.health wrote it, in English
    paused_at: datetime


_REASON = re.compile(r"(hard bounces|complaints) (\S+%) of the last (\d+) deliveries \(limit (\S+%)\)")


def notice(item: PauseNotice, language: DigestLanguage, zone: tzinfo) -> str:
    """One line for the digest, e.g. "Campaign 'spring' paused itself on 2026-12-07 09:15: hard bounces
    6.2% of the last 1000 deliveries (limit 5%). ..."; the reason in the digest's language."""
    words = WORDS[language]
    found = _REASON.fullmatch(item.reason)
    reason = one_line(item.reason)
    if found is not None:
        what, rate, count, limit = found.groups()
        reason = (words.bounces if what == "hard bounces" else words.complaints).format(
            rate=rate, count=count, limit=limit)
    since = f"{item.paused_at.astimezone(zone):%Y-%m-%d %H:%M}"
    if item.scope.startswith("campaign:"):
        name = one_line(item.scope.removeprefix("campaign:"))
        return words.paused_campaign.format(what=name, since=since, reason=reason,
                                            how=f"edm campaign resume {name}")
    return words.paused_bulk.format(since=since, reason=reason, how="edm campaign resume --bulk")


@template_view
@dataclass(frozen=True, slots=True)
class CustomerAlerts:
    """One customer's block in the digest: who, their key figures, and every reason, in words."""

    customer_id: int
    external_id: str
    name: str
    last_order: str  # the date, in the digest's time zone
    usual_interval: str
    value_tier: str
    reasons: tuple[str, ...]
    kinds: tuple[AlertKind, ...]


def group(items: Iterable[AlertItem], language: DigestLanguage, zone: tzinfo,
          title: Titles | None = None) -> list[CustomerAlerts]:
    """A block per customer, their reasons in `ALERT_KINDS` order then by time; the customers
    with the most serious reason first, then by name."""
    by_customer: dict[int, list[AlertItem]] = {}
    for item in items:
        by_customer.setdefault(item.customer_id, []).append(item)
    words = WORDS[language]
    blocks: list[tuple[int, CustomerAlerts]] = []
    for customer_id, own in by_customer.items():
        own.sort(key=lambda i: (ALERT_KINDS.index(i.kind), i.occurred_at))
        latest = max(own, key=lambda i: i.occurred_at)
        usual = latest.usual_interval_days
        block = CustomerAlerts(
            customer_id=customer_id,
            external_id=one_line(latest.external_id),
            name=one_line(latest.customer_name),
            last_order=(latest.last_order_at.astimezone(zone).date().isoformat()
                        if latest.last_order_at is not None else NO_FIGURE),
            usual_interval=words.days(max(1, round(usual))) if usual and usual > 0 else NO_FIGURE,
            value_tier=(words.tiers.get(latest.value_tier, latest.value_tier)
                        if latest.value_tier else NO_FIGURE),
            reasons=tuple(reason(i, language, title) for i in own),
            kinds=tuple(i.kind for i in own),
        )
        blocks.append((ALERT_KINDS.index(own[0].kind), block))
    blocks.sort(key=lambda b: (b[0], b[1].name.casefold(), b[1].customer_id))
    return [block for _, block in blocks]
