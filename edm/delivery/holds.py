"""What holds due mail back, read from the store: sending pauses and warm-up caps.

Both are decided in the database, inside the claim's transaction, so they hold across every
worker process: a pause one worker writes stops the next claim of all of them, and a
provider's daily volume is counted from the outbox (sent today, or on the wire now) rather
than kept per process. On PostgreSQL a claim under warm-up takes a transaction advisory lock,
so two workers never both see the same room left under a cap (SQLite's claim is serialised
by BEGIN IMMEDIATE already).

The window of a pause check is read from the outbox too: a campaign's `sent` rows by
`sent_at`, its `bounced` rows by their bounce event, the latest `window_deliveries` of them
within `window_hours` and after the scope's last resume; complaints are `complaint` events on
those rows. See edm.delivery.health for the policy and how a resume is remembered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    case,
    false,
    func,
    literal,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy.orm import Session

from edm.config import DeliverabilitySettings, WarmupSettings
from edm.delivery.health import (
    BULK,
    CAMPAIGN_PREFIX,
    WindowStats,
    campaign_scope,
    is_pause,
    pause_reason,
    resumed_scope,
    spread,
    total,
)
from edm.delivery.warmup import daily_cap, provider_domains
from edm.store import Event, OutboxMessage, SendingPause, upsert
from edm.store.engine import dialect_insert

log = logging.getLogger(__name__)

WARMUP_LOCK = 0x65646D77  # "edmw": the PostgreSQL advisory lock a claim under warm-up holds
PENDING = ("queued", "deferred", "sending")

_outbox = cast(Table, OutboxMessage.__table__)


@dataclass(frozen=True, slots=True)
class Warmup:
    """The warm-up caps a run applies: provider -> domains, and the cap's first day."""

    start: int
    growth: float
    first_day: date
    providers: Mapping[str, tuple[str, ...]]

    def cap(self, today: date) -> int:
        return daily_cap(self.first_day, today, self.start, self.growth)


@dataclass(frozen=True, slots=True)
class ClaimRules:
    """What a claim needs beyond the outbox: which campaigns are service mail (never held by a
    bulk pause or a warm-up cap), and the warm-up, if on."""

    service_campaigns: frozenset[str] = frozenset()
    warmup: Warmup | None = None


@dataclass(frozen=True, slots=True)
class ClaimPart:
    """A slice of what is due that a claim may take: rows matching `where`, at most `most`."""

    where: ColumnElement[bool]
    most: int | None = None  # None: as many as the batch has room for


@dataclass(frozen=True, slots=True)
class Pause:
    scope: str
    reason: str
    paused_at: datetime


@dataclass
class Held:
    """Why due rows are held back now (for a run's summary)."""

    paused: list[Pause] = field(default_factory=list)
    capped: dict[str, int] = field(default_factory=dict)  # provider -> today's cap, reached


def warmup_of(session: Session, settings: WarmupSettings | None, today: date) -> Warmup | None:
    """The run's warm-up: its first day is `since`, else the day of the outbox's first mail, else today."""
    if settings is None:
        return None
    first = settings.since
    if first is None:
        earliest = session.scalar(select(func.min(OutboxMessage.sent_at)))
        first = _aware(earliest).date() if earliest is not None else today
    return Warmup(settings.start, settings.growth, first, provider_domains(settings.providers))


def pauses(session: Session) -> list[Pause]:
    """Every scope paused now, oldest first."""
    rows = session.execute(select(SendingPause.scope, SendingPause.reason, SendingPause.paused_at)
                           .order_by(SendingPause.paused_at, SendingPause.scope))
    return [Pause(scope, reason, _aware(at)) for scope, reason, at in rows if is_pause(scope)]


def pause(session: Session, scope: str, reason: str, now: datetime) -> bool:
    """Pause `scope`; True when newly paused. Paused already (by this worker or another): the
    first reason and time stay."""
    inserted = session.execute(
        dialect_insert(session)(SendingPause).values(scope=scope, reason=reason, paused_at=now)
        .on_conflict_do_nothing(index_elements=["scope"]).returning(SendingPause.scope)
    ).first()
    if inserted is None:
        return False
    log.warning("paused %s: %s", scope, reason)
    return True


def resume(session: Session, scope: str, now: datetime) -> Pause | None:
    """Lift the pause of `scope` and start its window afresh at `now`; the pause lifted, or None."""
    row = session.get(SendingPause, scope)
    if row is None:
        return None
    lifted = Pause(row.scope, row.reason, _aware(row.paused_at))
    session.delete(row)
    upsert(session, SendingPause, [{"scope": resumed_scope(scope), "reason": "resumed", "paused_at": now}],
           key="scope", update=["paused_at"])
    log.warning("resumed %s (paused since %s: %s)", scope, lifted.paused_at.isoformat(), lifted.reason)
    return lifted


def waiting(session: Session, campaigns: Iterable[str] | None = None) -> dict[str, int]:
    """Rows still to send (queued, deferred, sending) by campaign; of `campaigns`, or all."""
    query = select(OutboxMessage.campaign, func.count()).where(OutboxMessage.state.in_(PENDING))
    if campaigns is not None:
        query = query.where(OutboxMessage.campaign.in_(list(campaigns)))
    return {name: n for name, n in session.execute(query.group_by(OutboxMessage.campaign))}


def claim_parts(session: Session, rules: ClaimRules, now: datetime,
                limit: int) -> tuple[list[ClaimPart], Held]:
    """What a claim may take now, given the pauses and today's warm-up room; and what is held.

    No part: nothing may be claimed. Call it inside the claim's transaction, after its lock.
    """
    held = Held(paused=pauses(session))
    c = _outbox.c
    allowed: list[ColumnElement[bool]] = []
    paused_campaigns = [p.scope[len(CAMPAIGN_PREFIX):] for p in held.paused
                        if p.scope.startswith(CAMPAIGN_PREFIX)]
    if paused_campaigns:
        allowed.append(c.campaign.not_in(paused_campaigns))
    service = c.campaign.in_(sorted(rules.service_campaigns)) if rules.service_campaigns else false()
    if any(p.scope == BULK for p in held.paused):
        if not rules.service_campaigns:
            return [], held
        allowed.append(service)
    base = and_(true(), *allowed)
    if rules.warmup is None:
        return [ClaimPart(base)], held
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": WARMUP_LOCK})
    today = now.astimezone(UTC).date()
    cap = rules.warmup.cap(today)
    sent = provider_volumes(session, rules.warmup.providers, _day_start(today))
    matches = {provider: _to_any(domains) for provider, domains in rules.warmup.providers.items()}
    outside = and_(*(~m for m in matches.values())) if matches else true()
    parts = [ClaimPart(and_(base, or_(service, outside)))]
    for provider, match in matches.items():
        room = cap - sent.get(provider, 0)
        if room <= 0:
            held.capped[provider] = cap
        else:
            parts.append(ClaimPart(and_(base, match), min(room, limit)))
    return parts, held


def provider_volumes(session: Session, providers: Mapping[str, tuple[str, ...]],
                     since: datetime) -> dict[str, int]:
    """Messages per provider sent since `since` or on the wire now (every kind of mail counts)."""
    if not providers:
        return {}
    c = _outbox.c
    which = case(*((_to_any(domains), literal(provider)) for provider, domains in providers.items()),
                 else_=literal(""))
    rows = session.execute(
        select(which, func.count())
        .where(or_(and_(c.state == "sent", c.sent_at >= since), c.state == "sending"))
        .group_by(which)
    )
    return {provider: n for provider, n in rows if provider}


def _to_any(domains: Sequence[str]) -> ColumnElement[bool]:
    """The row's recipient is at one of `domains` (LIKE '%@domain': the same on every dialect)."""
    address = func.lower(_outbox.c.to_address)
    return or_(*(address.like("%@" + _escape(d), escape="\\") for d in domains)) if domains else false()


def _escape(value: str) -> str:
    return value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def _aware(moment: datetime) -> datetime:
    """SQLite gives naive UTC datetimes back."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def window_stats(session: Session, campaigns: Sequence[str], settings: DeliverabilitySettings,
                 now: datetime, since: datetime | None = None) -> dict[str, WindowStats]:
    """The last `window_deliveries` deliveries of `campaigns` together, within `window_hours` (and
    after `since`), by campaign: how many, and how many hard-bounced or drew a complaint."""
    if not campaigns:
        return {}
    start = now - timedelta(hours=settings.window_hours)
    if since is not None and since > start:
        start = since
    o, e = OutboxMessage, Event
    sent = select(o.id.label("id"), o.campaign.label("campaign"), o.sent_at.label("at")).where(
        o.campaign.in_(campaigns), o.state == "sent", o.sent_at >= start)
    bounced = (
        select(o.id.label("id"), o.campaign.label("campaign"), func.max(e.occurred_at).label("at"))
        .join(e, e.outbox_id == o.id)
        .where(o.campaign.in_(campaigns), o.state == "bounced", e.kind == "bounce", e.occurred_at >= start)
        .group_by(o.id, o.campaign)
    )
    recent = union_all(sent, bounced).subquery()
    window = (select(recent.c.id, recent.c.campaign).order_by(recent.c.at.desc())
              .limit(settings.window_deliveries).subquery())
    deliveries: dict[str, int] = dict(session.execute(
        select(window.c.campaign, func.count()).group_by(window.c.campaign)).all())
    if not deliveries:
        return {}
    reported: dict[tuple[str, str], int] = {
        (campaign, kind): n for campaign, kind, n in session.execute(
            select(window.c.campaign, e.kind, func.count(func.distinct(e.outbox_id)))
            .join(e, e.outbox_id == window.c.id)
            .where(e.kind.in_(("bounce", "complaint")))
            .group_by(window.c.campaign, e.kind))
    }
    return {campaign: WindowStats(n, reported.get((campaign, "bounce"), 0),
                                  reported.get((campaign, "complaint"), 0))
            for campaign, n in deliveries.items()}


def check_scopes(
    session: Session, scopes: Mapping[str, Sequence[str]], settings: DeliverabilitySettings, now: datetime
) -> tuple[list[Pause], dict[str, dict[str, WindowStats]]]:
    """Judge each scope (scope -> its campaigns) not paused yet, campaigns before bulk mail; pause
    those over the limits. Bulk mail is judged without paused campaigns and without its worst
    campaign (`health.spread`). Returns the new pauses, and each judged scope's window by campaign."""
    marks = session.execute(select(SendingPause.scope, SendingPause.paused_at))
    rows = {scope: _aware(at) for scope, at in marks}
    paused: list[Pause] = []
    judged: dict[str, dict[str, WindowStats]] = {}
    for scope in sorted(scopes, key=lambda s: s == BULK):
        if scope in rows:
            continue
        campaigns = list(scopes[scope])
        if scope == BULK:
            stopped = {s[len(CAMPAIGN_PREFIX):] for s in rows if s.startswith(CAMPAIGN_PREFIX)}
            stopped |= {p.scope[len(CAMPAIGN_PREFIX):] for p in paused}
            campaigns = [name for name in campaigns if name not in stopped]
        found = judged[scope] = window_stats(session, campaigns, settings, now,
                                             since=rows.get(resumed_scope(scope)))
        reason = pause_reason(judged_stats(scope, found), settings)
        if reason is not None and pause(session, scope, reason, now):
            paused.append(Pause(scope, reason, now))
    return paused, judged


def judged_stats(scope: str, by_campaign: Mapping[str, WindowStats]) -> WindowStats:
    """What a scope is judged on: a campaign's window, or bulk mail's less its worst campaign."""
    return spread(by_campaign) if scope == BULK else total(by_campaign.values())


def scopes_for(campaigns: Iterable[str], service_campaigns: frozenset[str],
               bulk_campaigns: Iterable[str]) -> dict[str, list[str]]:
    """The scopes to judge after mail of `campaigns` was answered: each campaign, and all bulk mail
    when one of them is bulk."""
    names = sorted(set(campaigns))
    scopes: dict[str, list[str]] = {campaign_scope(name): [name] for name in names}
    if any(name not in service_campaigns for name in names):
        scopes[BULK] = sorted(set(bulk_campaigns) | {n for n in names if n not in service_campaigns})
    return scopes

