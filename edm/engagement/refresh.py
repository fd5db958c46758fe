"""Recompute customers' engagement from the outbox, the event log and the orders.

For each customer with a profile: the contact interval (edm.engagement.interval), the
engagement score and the likely reading hour (edm.engagement.score), and whether they
are in sunset. Events from privacy proxies and scanners (`Event.machine`) never count.
The three inputs are streamed in customer order and merged, so memory stays flat
however large the store.

A full refresh recomputes everyone; it runs when `full_refresh_hours` have passed since the
last one, after a classification run (tiers move) and when the settings change. In between a
refresh is incremental (edm.engagement.changes): only customers with new events, orders or
sent mail, or whose mail or silence came of age since (so intervals and sunset are what a full
refresh would say), against the population figures the last full refresh counted. Each
refresh leaves an `EngagementRefresh` row saying what it read.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from edm.clock import Clock
from edm.config import EngagementSettings
from edm.engagement.changes import changed_customers
from edm.engagement.interval import (
    contact_interval,
    in_sunset,
    judged_reaction,
    read_rate,
    spaced_interval,
    veiled_reads,
)
from edm.engagement.score import HOURS, REACTIONS, best_send_hour, engagement_score, hour_counts
from edm.store import (
    ClassificationRun,
    Customer,
    CustomerProfile,
    EngagementRefresh,
    Event,
    Order,
    OutboxMessage,
)
from edm.store.sql import utc_hour

SIGNALS = (*REACTIONS, "unsubscribe")
HISTORY_DAYS = 365  # signals older than this no longer move the score or the hour
BATCH = 2000
CHUNK = 500  # customers per query in an incremental refresh
FULL_SHARE = 0.25  # an incremental refresh with more to do than this share of everyone refreshes all


@dataclass(frozen=True)
class EngagementSummary:
    customers: int
    shortened: int  # interval below the tier's base
    lengthened: int  # above it
    sunset: int
    recomputed: int = 0  # customers derived by this refresh (all of them when full)
    full: bool = True


def refresh_engagement(
    sessions: sessionmaker[Session], rules: EngagementSettings, clock: Clock, *, full: bool = False
) -> EngagementSummary:
    """Derive customers' interval, score, reading hour and sunset from what they did: everyone's
    when a full refresh is due (or `full`), else only those with something new since the last one."""
    now = clock.now()
    digest = settings_digest(rules)
    with sessions.begin() as session:
        # read first: what arrives while this refresh reads is read again by the next one
        last_event = session.scalar(select(func.max(Event.id)))
        last_order = session.scalar(select(func.max(Order.id)))
        last_run = session.scalar(select(func.max(ClassificationRun.id)))
        last = session.scalars(select(EngagementRefresh).order_by(EngagementRefresh.id.desc())).first()
        changed = None
        if last is not None and not full and not _full_due(session, last, now, digest, last_run, rules):
            changed = changed_customers(session, last, now, rules, history_window(rules))
            if len(changed) > max(CHUNK, FULL_SHARE * last.customers):
                changed = None
        if changed is None:
            summary, population, click_to_open, written = _refresh_all(session, rules, now)
        else:
            assert last is not None
            population, click_to_open = list(last.population_hours), last.click_to_open
            summary, written = _refresh_some(session, sorted(changed), _totals(last), rules, now,
                                             population, click_to_open)
        refresh = EngagementRefresh(
            refreshed_at=now, full=summary.full, settings_digest=digest, last_event_id=last_event,
            last_order_id=last_order, last_run_id=last_run, population_hours=population,
            click_to_open=click_to_open, recomputed=summary.recomputed, written=written,
            customers=summary.customers, shortened=summary.shortened, lengthened=summary.lengthened,
            sunset=summary.sunset,
        )
        session.add(refresh)
        if summary.full:  # what came before a full refresh is read no more: a day's rows are kept
            session.flush()
            session.execute(delete(EngagementRefresh).where(EngagementRefresh.id < refresh.id))
    return summary


def settings_digest(rules: EngagementSettings) -> str:
    """What the settings that decide the figures hash to: a change means a full refresh."""
    return hashlib.sha256(rules.model_dump_json(exclude={"full_refresh_hours"}).encode()).hexdigest()


def _full_due(session: Session, last: EngagementRefresh, now: datetime, digest: str, last_run: int | None,
              rules: EngagementSettings) -> bool:
    last_full = session.scalar(select(func.max(EngagementRefresh.refreshed_at)).where(EngagementRefresh.full))
    return (last_full is None or now - last_full >= timedelta(hours=rules.full_refresh_hours)
            or now < last.refreshed_at or last.settings_digest != digest
            or (last_run or 0) != (last.last_run_id or 0))


def history_window(rules: EngagementSettings) -> timedelta:
    """How far back signals and orders are read: the history, or the sunset period if longer."""
    return timedelta(days=max(HISTORY_DAYS, rules.sunset_after_days or 0))


@dataclass
class _Totals:
    """Every profile's figures: interval shortened or lengthened against the tier's base, sunset."""

    customers: int = 0
    shortened: int = 0
    lengthened: int = 0
    sunset: int = 0

    def count(self, interval: float | None, sunset: bool | None, base: float, sign: int = 1) -> None:
        if interval is None:  # a profile never refreshed: not yet counted
            return
        self.customers += sign
        self.shortened += sign * (interval < base)
        self.lengthened += sign * (interval > base)
        self.sunset += sign * bool(sunset)

    def summary(self, recomputed: int, full: bool) -> EngagementSummary:
        return EngagementSummary(self.customers, self.shortened, self.lengthened, self.sunset,
                                 recomputed, full)


def _totals(last: EngagementRefresh) -> _Totals:
    return _Totals(last.customers, last.shortened, last.lengthened, last.sunset)


def _refresh_all(
    session: Session, rules: EngagementSettings, now: datetime
) -> tuple[EngagementSummary, list[float], float | None, int]:
    since = now - history_window(rules)
    population, click_to_open = _population_hours(session, since, now)
    mails = _ByCustomer(_stream(session, _mails_query()))
    signals = _ByCustomer(_stream(session, _signals_query(since)))
    orders = _ByCustomer(_stream(session, _orders_query(since)))
    rows = _stream(session, _customers_query())
    totals = _Totals()
    written = _derive_all(session, rows, mails, signals, orders, totals, rules, now, population,
                          click_to_open)
    return totals.summary(totals.customers, full=True), population, click_to_open, written


def _refresh_some(
    session: Session, customer_ids: list[int], totals: _Totals, rules: EngagementSettings, now: datetime,
    population: list[float], click_to_open: float | None,
) -> tuple[EngagementSummary, int]:
    since = now - history_window(rules)
    written = recomputed = 0
    for start in range(0, len(customer_ids), CHUNK):
        chunk = customer_ids[start:start + CHUNK]
        mails = _ByCustomer(_stream(session, _mails_query().where(OutboxMessage.customer_id.in_(chunk))))
        signals = _ByCustomer(_stream(session, _signals_query(since).where(Event.customer_id.in_(chunk))))
        orders = _ByCustomer(_stream(session, _orders_query(since).where(Order.customer_id.in_(chunk))))
        rows = list(_stream(session, _customers_query().where(CustomerProfile.customer_id.in_(chunk))))
        for row in rows:  # their old figures leave the totals; _derive_all counts the new ones
            base = rules.tier_cadence(row.value_tier).base_days
            totals.count(row.contact_interval_days, row.sunset, base, sign=-1)
        recomputed += len(rows)
        written += _derive_all(session, iter(rows), mails, signals, orders, totals, rules, now, population,
                               click_to_open)
    return totals.summary(recomputed, full=False), written


def _derive_all(
    session: Session, rows: Iterator[Any], mails: _ByCustomer, signals: _ByCustomer, orders: _ByCustomer,
    totals: _Totals, rules: EngagementSettings, now: datetime, population: list[float],
    click_to_open: float | None,
) -> int:
    """Derive each profile row's figures, count them into `totals`, write the ones that moved
    (and the ones marked for recomputing); returns how many were written."""
    written = 0
    updates: list[dict[str, Any]] = []
    quiet: dict[tuple[str, str | None], Derived] = {}  # no history: the same for a whole tier
    for row in rows:
        customer_id = row.customer_id
        sent, events = mails.take(customer_id), signals.take(customer_id)
        bought = [at for (at,) in orders.take(customer_id)]
        key = (row.value_tier, row.frequency_preference)
        derived = None if sent or events or bought else quiet.get(key)
        if derived is None:
            derived = derive(sent, events, bought, row, population, rules, now, click_to_open)
            if not (sent or events or bought):
                quiet[key] = derived
        interval, score, sunset, hour = derived
        totals.count(interval, sunset, rules.tier_cadence(row.value_tier).base_days)
        stored = (row.contact_interval_days, row.engagement_score, row.sunset, row.best_hour)
        if derived != stored or row.interval_updated_at is None:
            updates.append({"customer_id": customer_id, "contact_interval_days": interval,
                            "engagement_score": score, "sunset": sunset, "best_hour": hour,
                            "interval_updated_at": now})
            written += 1
        if len(updates) >= BATCH:
            _write(session, updates)
    _write(session, updates)
    return written


Derived = tuple[float, float, bool, int | None]  # interval days, score, sunset, reading hour
EventRow = tuple[str, datetime, bool, int | None]  # kind, occurred at, machine, outbox id: as tracked


def mail_history(
    mails: Iterable[tuple[int, datetime]], events: Iterable[EventRow]
) -> list[tuple[datetime, bool, bool]]:
    """One customer's sent mails (outbox id, sent at), oldest first, whether a person opened or clicked
    each, and whether a machine opened it: what `_mails_query` reads from the store."""
    read = {outbox for kind, _, machine, outbox in events if kind in REACTIONS and not machine}
    fetched = {outbox for kind, _, machine, outbox in events if kind == "open" and machine}
    return sorted((at, outbox in read, outbox in fetched) for outbox, at in mails)


def human_signals(events: Iterable[EventRow], since: datetime) -> list[tuple[str, datetime]]:
    """One customer's opens, clicks and unsubscribes by a person since `since`, oldest first: what
    `_signals_query` reads from the store."""
    return sorted((kind, at) for kind, at, machine, _ in events
                  if kind in SIGNALS and not machine and at >= since)


def derive(
    sent: list[Any], events: list[Any], bought: list[datetime], row: Any, population: list[float],
    rules: EngagementSettings, now: datetime, click_to_open: float | None = None,
) -> Derived:
    """One customer's interval, score, sunset and send hour from their mails (sent at, a person
    reacted, a machine opened), signals (kind, at), orders (at) and profile row (tier, time zone,
    preference); `population` and `click_to_open` are everyone's reading hours and click-to-open rate."""
    judged = [(j, bool(machine)) for at, hit, machine in sent
              if (j := judged_reaction(at, bool(hit), now, rules)) is not None]
    cadence = rules.tier_cadence(row.value_tier)
    if rules.target_read_rate is None:
        interval = contact_interval(cadence, [j for j, _ in judged], rules,
                                    preference=row.frequency_preference)
    else:
        read = float(sum(j for j, _ in judged))
        veiled = (rules.veiled_by_clicks and any(bool(machine) for _, _, machine in sent)
                  and not any(kind == "open" for kind, _ in events))
        if veiled:  # their opens are a proxy's: only clicks show a person read
            read = veiled_reads(int(read), click_to_open)
        rate = read_rate(read, len(judged), rules.target_read_rate, rules.read_rate_prior)
        interval = spaced_interval(cadence, rate, rules.target_read_rate, rules,
                                   preference=row.frequency_preference)
    score = engagement_score([*events, *(("order", at) for at in bought)], now, rules.score_weights,
                             rules.half_life_days)
    reads = [at for kind, at in events if kind in REACTIONS]
    last_signal = max([*reads, *bought, *([row.last_order_at] if row.last_order_at else [])], default=None)
    sunset = in_sunset(sent[0][0] if sent else None, last_signal, now, rules.sunset_after_days)
    zone = _zone(row.timezone)
    hour = best_send_hour(hour_counts(at.astimezone(zone).hour for at in reads), population,
                          rules.send_hour_prior)
    if hour is not None:  # a little ahead, so the mail is on top when they look
        hour = (hour - rules.send_ahead_hours) % HOURS
    return interval, score, sunset, hour


class _ByCustomer:
    """Rows ordered by customer id (their first column), handed out one customer at a time."""

    def __init__(self, rows: Iterable[Any]) -> None:
        self._rows = iter(rows)
        self._next = next(self._rows, None)

    def take(self, customer_id: int) -> list[Any]:
        """This customer's rows (without the id); rows of customers before it are skipped."""
        while self._next is not None and self._next[0] < customer_id:
            self._next = next(self._rows, None)
        found = []
        while self._next is not None and self._next[0] == customer_id:
            found.append(tuple(self._next[1:]))
            self._next = next(self._rows, None)
        return found


def _stream(session: Session, query: Any) -> Iterator[Any]:
    return iter(session.execute(query.execution_options(yield_per=BATCH)))


def _customers_query() -> Any:
    return (
        select(CustomerProfile.customer_id, CustomerProfile.value_tier, Customer.timezone,
               Customer.frequency_preference, CustomerProfile.last_order_at,
               CustomerProfile.contact_interval_days, CustomerProfile.engagement_score,
               CustomerProfile.sunset, CustomerProfile.best_hour, CustomerProfile.interval_updated_at)
        .join(Customer, Customer.id == CustomerProfile.customer_id)
        .order_by(CustomerProfile.customer_id)
    )


def _mails_query() -> Any:
    """Every sent mail, oldest first, whether a person opened or clicked it, whether a machine opened it."""
    reacted = exists().where(Event.outbox_id == OutboxMessage.id, Event.kind.in_(REACTIONS),
                             Event.machine.is_(False))
    fetched = exists().where(Event.outbox_id == OutboxMessage.id, Event.kind == "open",
                             Event.machine.is_(True))
    sent_at = func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at)
    return (
        select(OutboxMessage.customer_id, sent_at, reacted, fetched)
        .where(OutboxMessage.state == "sent")
        .order_by(OutboxMessage.customer_id, sent_at)
    )


def _signals_query(since: datetime) -> Any:
    return (
        select(Event.customer_id, Event.kind, Event.occurred_at)
        .where(Event.kind.in_(SIGNALS), Event.machine.is_(False), Event.occurred_at >= since)
        .order_by(Event.customer_id, Event.occurred_at)
    )


def _orders_query(since: datetime) -> Any:
    return (
        select(Order.customer_id, Order.ordered_at)
        .where(Order.ordered_at >= since)
        .order_by(Order.customer_id, Order.ordered_at)
    )


def _population_hours(session: Session, since: datetime, now: datetime) -> tuple[list[float], float | None]:
    """Everyone's opens and clicks by their local hour (the prior for each customer's reading hour),
    and everyone's click-to-open rate (clicks per open by people: what a veiled reader's click says).

    Counted in SQL by (time zone, UTC hour, kind); a zone's local hour uses its offset today.
    """
    hour = utc_hour(Event.occurred_at)
    rows = session.execute(
        select(Customer.timezone, hour, Event.kind, func.count())
        .join(Customer, Customer.id == Event.customer_id)
        .where(Event.kind.in_(REACTIONS), Event.machine.is_(False), Event.occurred_at >= since)
        .group_by(Customer.timezone, hour, Event.kind)
    )
    everyone = [0.0] * HOURS
    by_kind = dict.fromkeys(REACTIONS, 0)
    for zone_name, utc, kind, count in rows:
        offset = now.astimezone(_zone(zone_name)).utcoffset() or timedelta()
        everyone[(int(utc) + round(offset.total_seconds() / 3600)) % HOURS] += count
        by_kind[kind] += count
    return everyone, click_to_open(by_kind["open"], by_kind["click"])


def click_to_open(opens: int, clicks: int) -> float | None:
    """Clicks per open by people; None before anyone opened."""
    return clicks / opens if opens else None


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def _write(session: Session, updates: list[dict[str, Any]]) -> None:
    if updates:
        session.execute(update(CustomerProfile), updates)
        updates.clear()
