"""What the console's pages show, read from the store in a few aggregate queries each.

No query here loops over customers: counts are grouped in SQL, lists are limited, so the pages
stay fast on a large store. Campaign facts (trigger, next due day) come from the campaign files.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, not_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from edm.alerts.collect import ManagerWindow, collect, manager_windows
from edm.alerts.items import AlertItem
from edm.campaigns.approvals import Approval, standing_approvals
from edm.campaigns.audience import audience_filter, key_account
from edm.campaigns.schema import Campaign
from edm.campaigns.triggers import due_on, next_due
from edm.config import AlertSettings
from edm.delivery.health import BULK, CAMPAIGN_PREFIX
from edm.delivery.holds import Pause, pauses
from edm.doctor.rates import (
    BOUNCE_WARN,
    COMPLAINT_ERROR,
    COMPLAINT_WARN,
    WINDOW_DAYS,
    count_rates,
    judge_rates,
)
from edm.store import Customer, CustomerProfile, Event, Order, OutboxMessage, ProfileTransition, SurveyAnswer
from edm.store.models import manager_key
from edm.store.sql import unindexed

SEARCH_LIMIT = 50
TIMELINE_LIMIT = 200
ALERT_DAYS = 7  # a manager's page: the alerts of the last week
RATE_DAYS = WINDOW_DAYS  # the deliverability rates on Today: the week `edm doctor` judges
EVENT_TRIGGERS = ("life_event", "entered", "inactive", "after_order", "reorder", "answered", "event")


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """One campaign as the list and its page show it."""

    campaign: Campaign
    trigger: str
    next_due: date | None
    due_today: bool
    paused: Pause | None
    approval: Approval | None
    last_occurrence: date | None
    last_states: dict[str, int]  # the last occurrence's outbox rows by state

    @property
    def awaiting_approval(self) -> bool:
        return self.campaign.approval == "required" and self.approval is None


@dataclass
class Today:
    day: date
    due_today: list[CampaignRow] = field(default_factory=list)
    due_week: list[CampaignRow] = field(default_factory=list)
    outbox: dict[str, dict[str, int]] = field(default_factory=dict)  # campaign -> queued/sending/sent_today
    paused: list[Pause] = field(default_factory=list)
    yesterday: dict[str, int] = field(default_factory=dict)  # sent, bounced, opens, clicks
    # mail still to go (queued, deferred, sending) by campaign, value tier and lifecycle stage
    waiting_classes: list[tuple[str, str, str, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TimelineItem:
    at: datetime
    kind: str  # order, mail, event, survey, moved
    text: str


def trigger_summary(campaign: Campaign) -> str:
    """The trigger in a few words: `cron 0 9 * * 1 (Asia/Shanghai)`, `holiday spring_festival`, ..."""
    if campaign.schedule is not None:
        return f"cron {campaign.schedule.cron} ({campaign.schedule.timezone})"
    if campaign.holiday is not None:
        return f"holiday {campaign.holiday.name}"
    for name in EVENT_TRIGGERS:
        if getattr(campaign, name) is not None:
            return name.replace("_", " ")
    return "api" if campaign.api else "by hand"


def campaign_rows(session: Session, campaigns: Iterable[Campaign], today: date) -> list[CampaignRow]:
    """Every campaign with its next due day, pause, approval and last run's figures (three queries)."""
    chosen = sorted(campaigns, key=lambda c: c.name)
    names = [c.name for c in chosen]
    paused = {p.scope: p for p in pauses(session)}
    approvals = standing_approvals(session, names)
    last = _last_runs(session, names)
    rows = []
    for c in chosen:
        occurrence, states = last.get(c.name, (None, {}))
        scheduled = c.schedule is not None or c.holiday is not None
        rows.append(CampaignRow(
            campaign=c, trigger=trigger_summary(c),
            next_due=next_due(c, today - timedelta(days=1)) if scheduled else None,
            due_today=scheduled and due_on(c, today),
            paused=paused.get(f"{CAMPAIGN_PREFIX}{c.name}"), approval=approvals.get(c.name),
            last_occurrence=occurrence, last_states=states,
        ))
    return rows


def _last_runs(session: Session, names: Sequence[str]) -> dict[str, tuple[date, dict[str, int]]]:
    """Per campaign, its latest occurrence in the outbox and that occurrence's rows by state: an
    index lookup and an index range per campaign (ix_outbox_campaign_occurrence)."""
    latest = {}
    for name in names:
        occurrence = session.scalar(select(func.max(OutboxMessage.occurrence))
                                    .where(OutboxMessage.campaign == name))
        if occurrence is not None:
            latest[name] = occurrence
    found: dict[str, tuple[date, dict[str, int]]] = {}
    for name, day in latest.items():  # each a range of the index, not a scan of the outbox
        states = session.execute(
            select(OutboxMessage.state, func.count())
            .where(OutboxMessage.campaign == name, OutboxMessage.occurrence == day)
            .group_by(OutboxMessage.state)
        )
        found[name] = (day, {state: count for state, count in states})
    return found


def due_soon(campaigns: Iterable[Campaign], day: date, days: int = 7) -> list[Campaign]:
    """The scheduled campaigns due from `day` to `days` later: those Today shows as planned."""
    last = day + timedelta(days=days)
    return [c for c in campaigns if (c.schedule is not None or c.holiday is not None)
            and (due := next_due(c, day - timedelta(days=1))) is not None and due <= last]


def today_figures(session: Session, campaigns: Iterable[Campaign], now: datetime) -> Today:
    """The Today page: due today and this week, the outbox now and today, pauses, yesterday's results."""
    day = now.astimezone(UTC).date()
    rows = campaign_rows(session, campaigns, day)
    figures = Today(day=day, paused=pauses(session))
    figures.due_today = [r for r in rows if r.due_today]
    figures.due_week = [r for r in rows if not r.due_today and r.next_due is not None
                        and r.next_due <= day + timedelta(days=7)]
    start = datetime.combine(day, time(), UTC)
    outbox: dict[str, dict[str, int]] = defaultdict(dict)
    classes: Counter[tuple[str, str, str]] = Counter()
    tier = func.coalesce(CustomerProfile.value_tier, "-")
    stage = func.coalesce(CustomerProfile.lifecycle_stage, "-")
    for name, state, tier_of, stage_of, count in session.execute(  # what waits: one pass (ix_outbox_due)
        select(OutboxMessage.campaign, OutboxMessage.state, tier, stage, func.count())
        .join(CustomerProfile, CustomerProfile.customer_id == OutboxMessage.customer_id, isouter=True)
        .where(OutboxMessage.state.in_(("queued", "deferred", "sending")))
        .group_by(OutboxMessage.campaign, OutboxMessage.state, tier, stage)
    ):
        key = "sending" if state == "sending" else "queued"
        outbox[name][key] = outbox[name].get(key, 0) + count
        classes[(name, tier_of, stage_of)] += count
    figures.waiting_classes = [(*key, count) for key, count in sorted(classes.items())]
    campaign = unindexed(OutboxMessage.campaign)  # read today's rows by ix_outbox_sent_at, then group
    for name, count in session.execute(  # accepted by the relay today (bounced later or not)
        select(campaign, func.count()).where(OutboxMessage.sent_at >= start).group_by(campaign)
    ):
        outbox[name]["sent_today"] = count
    figures.outbox = dict(sorted(outbox.items()))
    figures.yesterday = _yesterday(session, start - timedelta(days=1), start)
    return figures


def _yesterday(session: Session, start: datetime, end: datetime) -> dict[str, int]:
    sent = session.scalar(select(func.count()).select_from(OutboxMessage)
                          .where(OutboxMessage.sent_at >= start, OutboxMessage.sent_at < end)) or 0
    kinds = {kind: count for kind, count in session.execute(
        select(Event.kind, func.count()).where(Event.occurred_at >= start, Event.occurred_at < end,
                                               Event.kind.in_(("bounce", "open", "click")),
                                               Event.machine.is_(False))
        .group_by(Event.kind)
    )}
    return {"sent": sent, "bounced": kinds.get("bounce", 0), "opens": kinds.get("open", 0),
            "clicks": kinds.get("click", 0)}


def is_bulk_pause(pause: Pause) -> bool:
    return pause.scope == BULK


def managed_by(manager_email: str | None) -> ColumnElement[bool] | None:
    """The condition limiting customers to one manager's (None: no limit, the user is no manager)."""
    if manager_email is None:
        return None
    return manager_key() == manager_email  # ix_customers_manager_key


def search_customers(session: Session, text: str, manager_email: str | None) -> list[Customer]:
    """Customers whose id, email, name (a company's, or a person's) or contact starts with `text`;
    at most 50. Prefix matches, so indexes on the columns can serve them."""
    text = text.strip()
    if not text:
        return []
    prefix = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    condition: ColumnElement[bool] = or_(
        Customer.external_id.like(prefix, escape="\\"),
        Customer.email.like(prefix, escape="\\"),
        Customer.name.like(prefix, escape="\\"),
        Customer.contact_name.like(prefix, escape="\\"),
    )
    limit = managed_by(manager_email)
    if limit is not None:
        condition = and_(condition, limit)
    return list(session.scalars(select(Customer).where(condition).order_by(Customer.name, Customer.id)
                                .limit(SEARCH_LIMIT)))


def find_customer(session: Session, external_id: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.external_id == external_id))


def may_see(customer: Customer, manager_email: str | None) -> bool:
    """Whether a user (a manager: their email; else None) may see `customer`."""
    if manager_email is None:
        return True
    return (customer.account_manager_email or "").strip().lower() == manager_email


def timeline(session: Session, customer_id: int, limit: int = TIMELINE_LIMIT) -> list[TimelineItem]:
    """The customer's latest orders, mails, events, survey answers and class changes, newest first."""
    items: list[TimelineItem] = []
    for at, amount, line in session.execute(
        select(Order.ordered_at, Order.amount, Order.product_line).where(Order.customer_id == customer_id)
        .order_by(Order.ordered_at.desc()).limit(limit)
    ):
        items.append(TimelineItem(at, "order", f"{amount}" + (f" {line}" if line else "")))
    sent_or_made = func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at)
    for at, campaign, step, state in session.execute(
        select(sent_or_made, OutboxMessage.campaign, OutboxMessage.step, OutboxMessage.state)
        .where(OutboxMessage.customer_id == customer_id).order_by(sent_or_made.desc()).limit(limit)
    ):
        what = f"{campaign}" + (f" #{step}" if step else "") + f": {state}"
        items.append(TimelineItem(_aware(at), "mail", what))
    for at, kind, machine in session.execute(
        select(Event.occurred_at, Event.kind, Event.machine).where(Event.customer_id == customer_id)
        .order_by(Event.occurred_at.desc()).limit(limit)
    ):
        items.append(TimelineItem(at, "event", kind + (" (machine)" if machine else "")))
    for at, survey, score in session.execute(
        select(SurveyAnswer.answered_at, SurveyAnswer.survey, SurveyAnswer.score)
        .where(SurveyAnswer.customer_id == customer_id).order_by(SurveyAnswer.answered_at.desc()).limit(limit)
    ):
        items.append(TimelineItem(at, "survey", f"{survey.upper()} {score}"))
    for at, dimension, old, new in session.execute(
        select(ProfileTransition.computed_at, ProfileTransition.dimension, ProfileTransition.old,
               ProfileTransition.new)
        .where(ProfileTransition.customer_id == customer_id)
        .order_by(ProfileTransition.computed_at.desc()).limit(limit)
    ):
        items.append(TimelineItem(at, "moved", f"{dimension}: {old or '-'} → {new}"))
    items.sort(key=lambda item: item.at, reverse=True)
    return items[:limit]


def by_churn_risk(session: Session, manager_email: str, limit: int = 100) -> list[tuple[Customer, Any]]:
    """A manager's customers, the least likely still to be buying first."""
    limit_to = managed_by(manager_email)
    assert limit_to is not None
    rows = session.execute(
        select(Customer, CustomerProfile.probability_alive)
        .join(CustomerProfile, CustomerProfile.customer_id == Customer.id, isouter=True)
        .where(limit_to)
        .order_by(CustomerProfile.probability_alive.is_(None), CustomerProfile.probability_alive, Customer.id)
        .limit(limit)
    )
    return [(customer, alive) for customer, alive in rows]


def manager_alerts(session: Session, manager_email: str, now: datetime, settings: AlertSettings,
                   days: int = ALERT_DAYS) -> list[AlertItem]:
    """What the manager's digest reports about their customers over the last `days` days, newest first."""
    window = ManagerWindow(manager_email, None, now - timedelta(days=days), now)
    found = collect(session, [window], settings)
    return sorted((item for content in found for item in content.items), key=lambda i: i.occurred_at,
                  reverse=True)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)




# --- Today's live sending progress, deliverability, planned audiences, managers' alerts (issue 23) ---

WAITING_STATES = ("queued", "deferred", "sending")
ENDED_BADLY = ("failed", "bounced")


@dataclass(frozen=True, slots=True)
class Progress:
    """One campaign's outbox now: waiting (queued or deferred), being sent, accepted by the relay
    today, and failed or bounced at once by it today."""

    campaign: str
    queued: int = 0
    sending: int = 0
    sent_today: int = 0
    failed_today: int = 0


def sending_progress(session: Session, now: datetime,
                     counted: dict[str, dict[str, int]] | None = None) -> list[Progress]:
    """The outbox per campaign, in three grouped queries that indexes serve: the waiting states
    (ix_outbox_due), today's sent rows (ix on sent_at), and today's failed or bounced rows. A failed
    or bounced row keeps the `next_attempt_at` of the attempt that ended it, so "today" is read from
    that column (ix_outbox_due again). What the Today page polls every few seconds.

    `counted`: the queued (with deferred), sending and sent_today counts `today_figures` read already
    (`Today.outbox`), so the page itself reads only the failed ones again."""
    start = datetime.combine(now.astimezone(UTC).date(), time(), UTC)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    campaign = unindexed(OutboxMessage.campaign)
    if counted is not None:
        for name, found in counted.items():
            counts[name].update({key: found.get(key, 0) for key in ("queued", "sending", "sent_today")})
    else:
        for name, state, count in session.execute(
            select(campaign, OutboxMessage.state, func.count())
            .where(OutboxMessage.state.in_(WAITING_STATES)).group_by(campaign, OutboxMessage.state)
        ):
            counts[name]["sending" if state == "sending" else "queued"] += count
        for name, count in session.execute(
            select(campaign, func.count()).where(OutboxMessage.sent_at >= start).group_by(campaign)
        ):
            counts[name]["sent_today"] += count
    for name, count in session.execute(
        select(campaign, func.count())
        .where(OutboxMessage.state.in_(ENDED_BADLY), OutboxMessage.next_attempt_at >= start)
        .group_by(campaign)
    ):
        counts[name]["failed_today"] += count
    return [Progress(name, **found) for name, found in sorted(counts.items())]


@dataclass(frozen=True, slots=True)
class RateFinding:
    """A rate as `edm doctor` judges it: `status` ok, warn or error, with the figures behind it."""

    name: str  # bounce or complaint
    status: str
    count: int  # bounces or complaints
    sent: int
    rate: float
    warn_at: float
    error_at: float
    fix: str


def deliverability(sessions: sessionmaker[Session], now: datetime, max_bounce_rate: float,
                   days: int = RATE_DAYS) -> list[RateFinding]:
    """The bounce and complaint rates of the last `days` days judged as `edm doctor` judges them
    (edm.doctor.rates), read from the store only: no DNS, no relay."""
    rates = count_rates(sessions, now, days)
    judged = {check.name: check for check in judge_rates(rates, max_bounce_rate=max_bounce_rate, days=days)}
    bounce, complaint = judged["bounce rate"], judged["complaint rate"]
    return [
        RateFinding("bounce", bounce.status.value.lower(), rates.bounced, rates.sent + rates.refused,
                    rates.bounce_rate, min(BOUNCE_WARN, max_bounce_rate), max_bounce_rate, bounce.fix),
        RateFinding("complaint", complaint.status.value.lower(), rates.complaints, rates.sent,
                    rates.complaint_rate, COMPLAINT_WARN, COMPLAINT_ERROR, complaint.fix),
    ]


def planned_audience(session: Session, campaign: Campaign, now: datetime) -> dict[tuple[str, str], int]:
    """How many customers `campaign`'s audience rules select, by value tier and lifecycle stage: one
    grouped query. Before the holds decided at planning time (consent, suppression, frequency, sunset,
    time zones, pauses): an upper bound; the campaign's preview has the exact figures."""
    tier = func.coalesce(CustomerProfile.value_tier, "-")
    stage = func.coalesce(CustomerProfile.lifecycle_stage, "-")
    query = (select(tier, stage, func.count()).select_from(Customer)
             .join(CustomerProfile, CustomerProfile.customer_id == Customer.id)
             .where(audience_filter(campaign.audience, now)).group_by(tier, stage))
    if campaign.bulk:
        query = query.where(not_(key_account()))
    return {(tier_of, stage_of): count for tier_of, stage_of, count in session.execute(query)}


@dataclass(frozen=True, slots=True)
class ManagerAlertCount:
    email: str
    name: str | None
    alerts: int
    customers: int  # distinct customers the alerts are about


def alert_counts(session: Session, now: datetime, settings: AlertSettings,
                 days: int = ALERT_DAYS) -> list[ManagerAlertCount]:
    """Every account manager's alerts of the last `days` days (what their digests report), counted:
    one collect() over all managers at once, the most alerted first."""
    windows = [ManagerWindow(w.email, w.name, now - timedelta(days=days), now, w.language)
               for w in manager_windows(session, now, settings)]
    found = [ManagerAlertCount(content.manager_email, content.manager_name, len(content.items),
                               len({item.customer_id for item in content.items}))
             for content in collect(session, windows, settings)]
    return sorted((c for c in found if c.alerts), key=lambda c: (-c.alerts, c.email))
