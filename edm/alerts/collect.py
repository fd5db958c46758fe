"""What each account manager's next digest holds, read from the store.

A manager is an `account_manager_email` (lower-cased) on at least one customer; the name
shown is the latest non-empty `account_manager` among those customers. Their window runs
from the `covered_until` of their `ManagerDigest` row (or `first_lookback_hours` back, the
first time) to `until`, open at the start and closed at the end, so consecutive digests
neither miss nor repeat anything.

Each source is read once for every manager at the same time, over the widest window, then
cut to each manager's own. Sending pauses (edm.delivery.health) are not a customer's news: every
manager is told of each pause in force, in every digest until it is lifted.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, and_, false, func, or_, select
from sqlalchemy.orm import Session

from edm.alerts.items import AlertItem, AlertKind, PauseNotice, manager_language
from edm.config import AlertSettings, DigestLanguage
from edm.delivery.holds import pauses
from edm.store import (
    Customer,
    CustomerProfile,
    Event,
    ManagerDigest,
    OutboxMessage,
    ProfileTransition,
    SurveyAnswer,
)
from edm.store.models import manager_key
from edm.surveys.scores import Survey, is_score, satisfaction_of

LOOKUP_CHUNK = 500  # customer ids per IN (...) when reading their profiles
STAGE_ALERTS: dict[str, AlertKind] = {"at_risk": "at_risk", "churned": "churned"}


@dataclass(frozen=True, slots=True)
class ManagerWindow:
    """One manager and the span of time their next digest covers: (since, until]."""

    email: str  # lower-case
    name: str | None
    since: datetime
    until: datetime
    language: DigestLanguage = "en"  # the language most of their customers read (items.manager_language)


@dataclass(frozen=True, slots=True)
class ManagerDigestContent:
    """One manager's news over their window, in time order (none: nothing to report)."""

    manager_email: str
    manager_name: str | None
    since: datetime
    until: datetime
    items: tuple[AlertItem, ...]
    notices: tuple[PauseNotice, ...] = ()  # sending paused now (every manager is told, each digest)
    language: DigestLanguage = "en"  # what their digest is written in


def _manager() -> ColumnElement[str]:
    """The manager's key on a customer row: the address trimmed and lower-cased (indexed)."""
    return manager_key()


def _managed() -> ColumnElement[bool]:
    """Customers with an account manager."""
    return and_(Customer.account_manager_email.is_not(None), _manager() != "")


def manager_windows(session: Session, until: datetime, settings: AlertSettings) -> list[ManagerWindow]:
    """Every account manager with the window their next digest covers, by email."""
    manager = _manager()
    emails = session.scalars(select(manager).where(_managed()).group_by(manager)).all()
    newest_first = (Customer.created_at.desc(), Customer.id.desc())
    latest = (
        select(manager.label("email"), Customer.account_manager.label("name"),
               func.row_number().over(partition_by=manager, order_by=newest_first).label("rank"))
        .where(_managed(), func.trim(Customer.account_manager) != "")
        .subquery()
    )
    names = dict(session.execute(select(latest.c.email, latest.c.name).where(latest.c.rank == 1)).all())
    covered = dict(session.execute(select(ManagerDigest.manager_email, ManagerDigest.covered_until)).all())
    locales: dict[str, dict[str, int]] = {}
    by_locale = (select(manager, Customer.locale, func.count()).where(_managed())
                 .group_by(manager, Customer.locale))
    for email, locale, customers in session.execute(by_locale):
        locales.setdefault(email, {})[locale or ""] = customers
    first_since = until - timedelta(hours=settings.first_lookback_hours)
    return [
        ManagerWindow(email, _name(names.get(email)), covered.get(email, first_since), until,
                      manager_language(locales.get(email, {}), settings.language))
        for email in sorted(emails)
    ]


def _name(raw: str | None) -> str | None:
    return raw.strip() if raw and raw.strip() else None


def collect(session: Session, windows: Sequence[ManagerWindow],
            settings: AlertSettings) -> list[ManagerDigestContent]:
    """Each manager's items in their window, with their customers' key figures; managers without news
    are kept, with no items, so their watermark can move on."""
    open_windows = [w for w in windows if w.since < w.until]
    found: list[tuple[str, AlertItem]] = []
    if open_windows:
        since = min(w.since for w in open_windows)
        until = max(w.until for w in open_windows)
        found = [*_transitions(session, since, until), *_events(session, since, until, settings),
                 *_detractors(session, since, until)]
        found = _with_figures(session, found)
    notices = tuple(PauseNotice(p.scope, p.reason, p.paused_at) for p in pauses(session))
    by_manager: dict[str, list[AlertItem]] = {}
    for email, item in found:
        by_manager.setdefault(email, []).append(item)
    contents = []
    for window in windows:
        mine = [i for i in by_manager.get(window.email, []) if window.since < i.occurred_at <= window.until]
        mine.sort(key=lambda i: (i.occurred_at, i.customer_id, i.kind))
        contents.append(ManagerDigestContent(window.email, window.name, window.since, window.until,
                                             tuple(mine), notices, window.language))
    return contents


def _transitions(session: Session, since: datetime, until: datetime) -> Iterator[tuple[str, AlertItem]]:
    """Entries into at_risk or churned, and into partial churn; a customer who entered the same
    class twice in the window is listed once, at the latest."""
    t = ProfileTransition
    rows = session.execute(
        select(_manager(), t.customer_id, Customer.external_id, Customer.name, t.dimension, t.new,
               t.computed_at)
        .join(Customer, Customer.id == t.customer_id)
        .where(or_(and_(t.dimension == "lifecycle_stage", t.new.in_(tuple(STAGE_ALERTS))),
                   and_(t.dimension == "churn_kind", t.new == "partial")),
               t.computed_at > since, t.computed_at <= until, _managed())
    ).all()
    latest: dict[tuple[int, AlertKind], tuple[str, AlertItem]] = {}
    for email, customer_id, external_id, name, dimension, new, at in rows:
        kind: AlertKind = STAGE_ALERTS[new] if dimension == "lifecycle_stage" else "dropped_line"
        seen = latest.get((customer_id, kind))
        if seen is None or seen[1].occurred_at < at:
            latest[(customer_id, kind)] = (email, AlertItem(customer_id, external_id, name, kind, at))
    yield from latest.values()


def _events(session: Session, since: datetime, until: datetime,
            settings: AlertSettings) -> Iterator[tuple[str, AlertItem]]:
    """Unsubscribes, and people's (not machines') clicks in win-back mail; the first of each per
    customer (and campaign, for clicks) in the window."""
    e = Event
    columns = (_manager(), e.customer_id, Customer.external_id, Customer.name, e.kind, OutboxMessage.campaign,
               e.occurred_at)
    in_window = (e.occurred_at > since, e.occurred_at <= until, _managed())
    # unsubscribes by managed customer, through the (customer, time) index: no index of their own
    # to slow the tracking server's writes, and no scan of every event
    managed = session.scalars(select(Customer.id).where(_managed()).order_by(Customer.id)).all()
    unsubscribes = [
        select(*columns).join(Customer, Customer.id == e.customer_id)
        .outerjoin(OutboxMessage, OutboxMessage.id == e.outbox_id)
        .where(e.customer_id.in_(managed[start : start + LOOKUP_CHUNK]), e.kind == "unsubscribe", *in_window)
        for start in range(0, len(managed), LOOKUP_CHUNK)
    ]
    win_back_clicks = (  # from the win-back mail to its events (both indexed), not through every click
        select(*columns).select_from(OutboxMessage)
        .join(e, e.outbox_id == OutboxMessage.id).join(Customer, Customer.id == e.customer_id)
        .where(OutboxMessage.campaign.in_(settings.win_back_campaigns), e.kind == "click",
               e.machine == false(), *in_window)
    )
    rows = [row for query in (*unsubscribes, win_back_clicks) for row in session.execute(query)]
    first: dict[tuple[int, str | None], tuple[str, AlertItem]] = {}
    for email, customer_id, external_id, name, kind, campaign, at in rows:
        alert: AlertKind = "unsubscribed" if kind == "unsubscribe" else "win_back_click"
        key = (customer_id, None if alert == "unsubscribed" else campaign)
        seen = first.get(key)
        if seen is None or at < seen[1].occurred_at:
            first[key] = (email, AlertItem(customer_id, external_id, name, alert, at, campaign=campaign))
    yield from first.values()


def _detractors(session: Session, since: datetime, until: datetime) -> Iterator[tuple[str, AlertItem]]:
    """Survey answers given or changed in the window whose score, as it stands now, is a detractor's."""
    a = SurveyAnswer
    rows = session.execute(
        select(_manager(), a.customer_id, Customer.external_id, Customer.name, a.survey, a.score, a.comment,
               a.updated_at)
        .join(Customer, Customer.id == a.customer_id)
        .where(a.updated_at > since, a.updated_at <= until, _managed())
    ).all()
    for email, customer_id, external_id, name, survey, score, comment, at in rows:
        if is_score(survey, score) and satisfaction_of(cast(Survey, survey), score) == "detractor":
            yield email, AlertItem(customer_id, external_id, name, "detractor", at, survey=survey,
                                   score=score, comment=comment)


def _with_figures(session: Session, found: list[tuple[str, AlertItem]]) -> list[tuple[str, AlertItem]]:
    """The items with their customers' key figures (and the lines a partial churn dropped)."""
    profiles = {p.customer_id: p for p in _profiles(session, {item.customer_id for _, item in found})}
    completed = []
    for email, item in found:
        profile = profiles.get(item.customer_id)
        if profile is not None:
            lines = tuple(line.strip() for line in (profile.dropped_lines or "").split(",") if line.strip())
            item = replace(item, last_order_at=profile.last_order_at, value_tier=profile.value_tier,
                           usual_interval_days=profile.expected_interval_days,
                           lines=lines if item.kind == "dropped_line" else item.lines)
        completed.append((email, item))
    return completed


def _profiles(session: Session, customer_ids: Iterable[int]) -> Iterator[CustomerProfile]:
    ids = sorted(customer_ids)
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        yield from session.scalars(select(CustomerProfile).where(CustomerProfile.customer_id.in_(chunk)))
