"""The planner: turn a due campaign into outbox rows, one per eligible customer.

The outbox key is derived from (campaign, step, customer, occurrence), so planning
the same occurrence twice queues nothing new and a restart never re-sends.
The audience is `edm.campaigns.rules` plus the campaign's trigger (never key accounts for `bulk`
promotions); this module gathers what policy needs about each member in one streamed query (those
already planned, most of the audience when the daemon plans again, from a lighter one merged in by
customer) and `edm.campaigns.decisions.decide` judges them, in order: already planned, the
suppression list, the mailbox's consent (its `consents` row by `email_key`, the customer's creation
and last order: edm.consent.policy, `consent.kinds`); for all but service mail the campaign's topic
turned off and the customer's pause (their preference page) and sunset (unless `reaches_sunset`),
one mail per customer per local day (`policy.one_per_day`), the send time (`send_time: optimal`:
their usual reading hour) and send window, the adaptive contact interval (unless `respect_frequency:
false`); and last the variant or the holdout group. A dry run makes the same decisions and reports
them (`watch`) instead of queueing. The occurrence a message belongs to is the campaign's day, or
the customer's own (life events), the class entry's, the last order's (inactivity, after_order), the
expected next order's (reorder), the survey answer's or the customer event's (edm.campaigns.events:
one mail per event day, `delay` after the event; `unless` leaves out those who did the cancelling
event since).

Holiday and life-event mail is timed (`edm.campaigns.timing.Timing`): a customer is planned
while it is their day (a holiday's day as their calendar reads it, unless the trigger names
a time zone) and queued for `at` o'clock there (`next_attempt_at`: the sender claims it
then), or for now once that has passed. A holiday also skips customers whose country does
not keep it (`only_where_observed`). One mail a day, the send window and the contact
interval are all judged for the moment the mail will actually go out.

An A/B test with `pick_winner` sends its variants to the test share only
(`winner.in_test_share`); the rest of the audience is queued as `awaiting_winner` (never
claimed) until `edm.campaigns.ab.pick_winners` decides, or gets the winner at once when the
occurrence's test is already decided.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from operator import attrgetter
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, not_, or_, select, true
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.audience import audience_filter, key_account, satisfaction_class
from edm.campaigns.decisions import Decision, Facts, Judged, Reason, Rules, Watcher, decide
from edm.campaigns.events import Triggered, triggered
from edm.campaigns.events import send_at as event_send_at
from edm.campaigns.keys import OutboxKeys, outbox_keys
from edm.campaigns.schema import Answered, Campaign, ClassEntry, EventTrigger
from edm.campaigns.timing import Timing, local_day, window_opening, zone
from edm.campaigns.triggers import (
    customers_holiday_on,
    holiday_falls_on,
    keeps_holiday,
    life_event_filter,
    occasion,
    timing_for,
)
from edm.campaigns.variants import HOLDOUT
from edm.campaigns.winner import AWAITING_WINNER, in_test_share
from edm.config import ConsentSettings, EngagementSettings, PolicySettings, SendWindow
from edm.consent.policy import ConsentFacts
from edm.consent.topics import topics_in
from edm.countries import derive_country
from edm.store import (
    AbDecision,
    Consent,
    Customer,
    CustomerProfile,
    OutboxMessage,
    ProfileTransition,
    Suppression,
    SurveyAnswer,
)
from edm.store.rows import insert_new

# States in which a mail counts as contact for the frequency policy (the rest of an A/B test is promised).
CONTACT_STATES = ("queued", "sending", "sent", "deferred", AWAITING_WINNER)
BATCH = 500
STREAM = 2000  # audience rows fetched at a time
SAMPLE = 20
EXAMPLES = 5  # customers shown per reason


def plan_title(campaign: str, step: int) -> str:
    """How a plan is named in reports: the campaign, or its follow-up step."""
    return campaign if step == 0 else f"{campaign} step {step}"


@dataclass
class PlanResult:
    campaign: str
    occurrence: date
    audience: int = 0
    queued: int = 0
    already_planned: int = 0
    suppressed: int = 0
    no_consent: int = 0  # no lawful basis the campaign's kind may use (consent.kinds)
    too_soon: int = 0
    paused: int = 0  # asked for no marketing mail until a date (preference page)
    topic_off: int = 0  # turned off the campaign's topic (preference page)
    sunset: int = 0  # long silent: only re-permission and win-back campaigns write
    held_out: int = 0  # the control group: recorded, never sent
    busy: int = 0  # dropped: another campaign mails them today (policy.one_per_day)
    not_observed: int = 0  # their country does not keep the holiday (only_where_observed)
    exited: int = 0  # left a sequence before this step (ordered, clicked, left the audience)
    waiting: int = 0  # of the queued, held for the next day because of another campaign
    awaiting_winner: int = 0  # of the queued, the rest of an A/B test: they get the winner (pick_winner)
    sample: list[str] = field(default_factory=list)
    # who would get what: (variant or "", tier, stage) -> messages, held-out ones under "holdout"
    breakdown: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    recipients: list[int] = field(default_factory=list)  # customer ids, the first SAMPLE of them
    reasons: Counter[Reason] = field(default_factory=Counter)  # decisions per reason
    # the first EXAMPLES (customer id, email) per reason: a bounded sample however large the audience
    examples: dict[Reason, list[tuple[int, str]]] = field(default_factory=dict)

    def count(self, decision: Decision, email: str) -> None:
        """Tally one audience member's decision (the audience itself is counted by the caller)."""
        self.reasons[decision.reason] += 1
        shown = self.examples.setdefault(decision.reason, [])
        if len(shown) < EXAMPLES:
            shown.append((decision.customer_id, email))
        self.waiting += decision.waits
        if decision.send:
            self.queued += 1
            if len(self.sample) < 5:
                self.sample.append(email)
            if len(self.recipients) < SAMPLE:
                self.recipients.append(decision.customer_id)
            return
        held = _HELD_COUNTS[decision.reason]
        setattr(self, held, getattr(self, held) + 1)


_HELD_COUNTS = {
    Reason.ALREADY_PLANNED: "already_planned",
    Reason.SUPPRESSED: "suppressed",
    Reason.NO_CONSENT: "no_consent",
    Reason.NOT_OBSERVED: "not_observed",
    Reason.PAUSED: "paused",
    Reason.TOPIC_OFF: "topic_off",
    Reason.SUNSET: "sunset",
    Reason.MAILED_TODAY: "busy",
    Reason.TOO_SOON: "too_soon",
    Reason.HOLDOUT: "held_out",
    Reason.EXITED: "exited",
}


def plan_campaign(
    sessions: sessionmaker[Session],
    campaign: Campaign,
    *,
    occurrence: date,
    now: datetime,
    rules: EngagementSettings,
    policy: PolicySettings | None = None,
    dry_run: bool = False,
    timing: Timing | None = None,
    watch: Watcher | None = None,
    only_customer: int | None = None,
    consent: ConsentSettings | None = None,
) -> PlanResult:
    """Queue the campaign for every eligible customer; with `dry_run`, only count.

    Each audience member gets one `decisions.decide` decision: the `send` ones are queued, the
    holdout recorded as `held_out`; `watch`, when given, sees every decision as it is made.
    `timing`: when each message goes out (default: `triggers.timing_for` at `now`, timed when
    the campaign's holiday is due then). `only_customer`: plan for that one customer only (a reaction
    to their event or order, edm.reactions). An `api` campaign is never planned (edm.campaigns.direct).
    `consent`: which bases each kind may use (default: `ConsentSettings()`'s).
    """
    policy = policy or PolicySettings()
    if timing is None:
        timing = timing_for(campaign, now, due=occasion(campaign, now) is not None)
    judge = Rules.of(campaign, policy, consent)
    result = PlanResult(campaign.name, occurrence)
    if campaign.api:
        return result
    pending: list[dict[str, Any]] = []
    pick = campaign.pick_winner
    with sessions.begin() as session:
        winner = _decided_winner(session, campaign, occurrence) if pick is not None else None
        keys = outbox_keys(session)
        one_per_day = judge.marketing and policy.one_per_day
        holiday = campaign.holiday
        events = _events(session, campaign, now, only_customer)
        for row in _candidates(session, campaign, occurrence, timing, judge.window, one_per_day=one_per_day,
                               only_customer=only_customer, among=events):
            observed = True
            if holiday is not None:
                country = row.country or derive_country(row.locale, row.timezone)
                holiday_day = occurrence
                if timing.at is not None:
                    holiday_day = timing.local_day(row.timezone)
                    if not customers_holiday_on(holiday, holiday_day, country):
                        continue  # not their day (a national day of another country): not in the audience
                observed = not holiday.only_where_observed or keeps_holiday(holiday, country, holiday_day)
            result.audience += 1
            if events is None and row.planned:  # a light row: decided by that alone
                facts = Facts(customer_id=row.id, timezone=row.timezone, interval_days=0.0, planned=True)
            else:
                facts = _facts(row, rules, observed, campaign.topic,
                               planned=events is not None and events.planned(row.id))
            decision = decide(facts, judge, timing)
            if events is not None and decision.send_at is not None:
                decision = events.delayed(decision, row.timezone, judge.window)
            awaits = False
            tester = pick is None or in_test_share(campaign.name, row.id, pick.test_share)
            if pick is not None and decision.send and not tester:
                decision, awaits = _for_the_rest(decision, winner, pick.after_hours)
                result.awaiting_winner += awaits
            result.count(decision, row.email)
            if watch is not None:
                template = campaign.content(decision.variant)[0]
                watch(Judged(campaign.name, 0, row.email, row.name, row.locale, template, decision))
            if not decision.send and decision.reason != Reason.HOLDOUT:
                continue
            assert decision.send_at is not None  # sent and held-out decisions say when
            day = events.day(row.id) if events is not None else _occurrence(campaign, row, timing, occurrence)
            message = _outbox_row(keys, campaign, row.id, row.email, day, now, decision, awaits=awaits)
            arm = HOLDOUT if message["state"] == "held_out" else message["variant"] or ""
            arm = AWAITING_WINNER if awaits else arm
            result.breakdown[(arm, row.tier, row.stage)] += 1
            pending.append(message)
            if len(pending) >= BATCH:
                _queue(session, pending, dry_run)
        _queue(session, pending, dry_run)
    return result


@dataclass(frozen=True)
class _Events:
    """An event campaign's triggered customers (edm.campaigns.events) and their event days already planned."""

    trigger: EventTrigger
    found: dict[int, Triggered]
    done: frozenset[tuple[int, date]]

    def planned(self, customer_id: int) -> bool:
        return (customer_id, self.found[customer_id].day) in self.done

    def day(self, customer_id: int) -> date:
        return self.found[customer_id].day

    def delayed(self, decision: Decision, timezone: str, window: SendWindow | None) -> Decision:
        """The decision's moment moved to `delay` after the event when later (then the send window)."""
        assert decision.send_at is not None
        earliest = event_send_at(self.trigger, self.found[decision.customer_id])
        if earliest <= decision.send_at:
            return decision
        return replace(decision, send_at=window_opening(earliest, timezone, window))


def _events(session: Session, campaign: Campaign, now: datetime, only_customer: int | None) -> _Events | None:
    if campaign.event is None:
        return None
    found = triggered(session, campaign.event, now, only_customer)
    done: frozenset[tuple[int, date]] = frozenset()
    if found:
        rows = session.execute(
            select(OutboxMessage.customer_id, OutboxMessage.occurrence)
            .where(OutboxMessage.campaign == campaign.name, OutboxMessage.step == 0,
                   OutboxMessage.occurrence >= min(t.day for t in found.values()))
        )
        done = frozenset((int(c), d) for c, d in rows)
    return _Events(campaign.event, found, done)


def _decided_winner(session: Session, campaign: Campaign, occurrence: date) -> str | None:
    """The winner of the occurrence's A/B test once decided (edm.campaigns.ab): the rest planned
    after that gets it straight away."""
    return session.scalar(select(AbDecision.winner).where(AbDecision.campaign == campaign.name,
                                                          AbDecision.occurrence == occurrence))


def _for_the_rest(decision: Decision, winner: str | None, after_hours: int) -> tuple[Decision, bool]:
    """A send decision for one of the rest of an A/B test: the winner if known, else a wait (True)
    for it; the waiting row's time is the earliest the rest can go (`after_hours` on)."""
    if winner is not None:
        return replace(decision, variant=winner), False
    assert decision.send_at is not None
    earliest = decision.send_at + timedelta(hours=after_hours)
    return replace(decision, variant=None, send_at=earliest, detail="waits for the A/B test's winner"), True


def _facts(row: Any, rules: EngagementSettings, observed: bool, topic: str | None, *, planned: bool) -> Facts:
    """What `decide` needs from a `_candidates` row, with what the customer chose on the preference
    page: the campaign's `topic` turned off; and no personalisation: their reading hour (learnt from
    their opens) is not used to time their mail."""
    personalised = row.personalised
    return Facts(
        customer_id=row.id,
        timezone=row.timezone,
        interval_days=float(row.interval) if row.interval is not None else rules.base_interval(row.tier),
        planned=planned,
        suppression=(row.suppression or "suppressed") if row.suppressed else None,
        observed=observed,
        paused_until=row.paused_until,
        sunset=bool(row.sunset),
        busy=bool(row.busy),
        best_hour=row.best_hour if personalised else None,
        last_contact=row.last_contact,
        topic_off=topic if topic is not None and topic in topics_in(row.topics_off) else None,
        consent=consent_facts(row),
    )


def consent_facts(row: Any) -> ConsentFacts:
    """The consent columns of a `_candidates` (or follow-up) row as `edm.consent.policy` reads them."""
    return ConsentFacts(basis=row.consent_basis, status=row.consent_status, recorded_at=row.consent_at,
                        source=row.consent_source, customer_since=row.customer_since,
                        last_order_at=row.last_ordered_at)


def consent_columns() -> tuple[Any, ...]:
    """What `consent_facts` reads, for a query joined to `CustomerProfile` and outer-joined to `Consent`
    by the customer's `email_key`: the mailbox's consent row, the customer record's creation and their
    last order as the profile has it (as every other fact the planner reads; a new order refreshes it:
    edm.reactions, and a stale profile only ever makes the basis older)."""
    return (
        Consent.basis.label("consent_basis"), Consent.status.label("consent_status"),
        Consent.recorded_at.label("consent_at"), Consent.source.label("consent_source"),
        Customer.created_at.label("customer_since"), CustomerProfile.last_order_at.label("last_ordered_at"),
    )


def _occurrence(campaign: Campaign, row: Any, timing: Timing, occurrence: date) -> date:
    """The day a message belongs to: the customer's own, the entry's, the last order's, or the campaign's."""
    if campaign.life_event is not None or (campaign.holiday is not None and timing.at is not None):
        return timing.local_day(row.timezone)
    if campaign.entered is not None:
        return row.entered_at.astimezone(UTC).date()  # type: ignore[no-any-return]
    if campaign.reorder is not None:  # the expected order it reminds of (one per order: see _candidates)
        return row.next_order_expected_at.astimezone(UTC).date()  # type: ignore[no-any-return]
    if campaign.order_trigger is not None:
        return row.last_order_at.astimezone(UTC).date()  # type: ignore[no-any-return]
    if campaign.answered is not None:
        return row.answered_at.astimezone(UTC).date()  # type: ignore[no-any-return]
    return occurrence


def _queue(session: Session, rows: list[dict[str, Any]], dry_run: bool) -> None:
    """Insert a batch of outbox rows (existing keys are left alone) and empty the batch."""
    if rows and not dry_run:
        insert_new(session.connection(), OutboxMessage.__tablename__, "key", rows)
    rows.clear()


def _candidates(
    session: Session, campaign: Campaign, occurrence: date, timing: Timing, window: SendWindow | None,
    *, one_per_day: bool, only_customer: int | None = None, among: _Events | None = None,
) -> Iterator[Any]:
    """The audience, streamed, with what policy needs to know about each customer."""
    now = timing.now
    timed_holiday = campaign.holiday is not None and timing.at is not None
    # a scan of all customers' zones: only when needed
    needs_zones = one_per_day or campaign.life_event is not None or timed_holiday
    timezones = list(session.scalars(select(Customer.timezone).distinct())) if needs_zones else []
    this_occurrence = and_(OutboxMessage.campaign == campaign.name, OutboxMessage.occurrence == occurrence)
    last_contact = (
        select(
            OutboxMessage.customer_id,
            func.max(func.coalesce(OutboxMessage.sent_at, OutboxMessage.created_at)).label("at"),
        )
        .where(OutboxMessage.state.in_(CONTACT_STATES), ~this_occurrence)
        .group_by(OutboxMessage.customer_id)
        .subquery()
    )
    since = _planned_since(campaign, occurrence)
    this_run = and_(OutboxMessage.campaign == campaign.name, OutboxMessage.occurrence >= since)
    planned_query = select(OutboxMessage.customer_id).where(this_run, OutboxMessage.step == 0)
    if campaign.order_trigger is not None:  # a message since the last order covers this order (or silence)
        planned_query = (
            select(OutboxMessage.customer_id)
            .join(CustomerProfile, CustomerProfile.customer_id == OutboxMessage.customer_id)
            .where(OutboxMessage.campaign == campaign.name, OutboxMessage.step == 0,
                   OutboxMessage.created_at >= CustomerProfile.last_order_at)
        )
    answers = _answers(campaign.answered, now) if campaign.answered is not None else None
    if answers is not None:  # a message since the answer was first given covers it
        planned_query = (
            select(OutboxMessage.customer_id)
            .join(answers, answers.c.customer_id == OutboxMessage.customer_id)
            .where(OutboxMessage.campaign == campaign.name, OutboxMessage.step == 0,
                   OutboxMessage.created_at >= answers.c.answered_at)
        )
    planned = planned_query.distinct().subquery()

    def members(query: Any) -> Any:
        """`query` narrowed to the audience (with what the occurrence needs of each), in customer order."""
        query = query.join(CustomerProfile, CustomerProfile.customer_id == Customer.id).where(
            audience_filter(campaign.audience, now))
        if campaign.life_event is not None:
            query = query.where(life_event_filter(campaign.life_event, timing.local_day, timezones))
        if campaign.holiday is not None and timed_holiday:  # those for whom it is the day (checked per row)
            holiday = campaign.holiday
            zones = [tz for tz in timezones if holiday_falls_on(holiday, timing.local_day(tz))]
            query = query.where(Customer.timezone.in_(zones))
        if campaign.entered is not None:
            entries = _entries(campaign.entered, now)
            query = (
                query.join(entries, entries.c.customer_id == Customer.id)
                .where(getattr(CustomerProfile, campaign.entered.dimension).in_(campaign.entered.into))
                .add_columns(entries.c.entered_at)
            )
        if campaign.order_trigger is not None:
            query = query.where(audience_filter(campaign.order_trigger.as_match(), now)).add_columns(
                CustomerProfile.last_order_at, CustomerProfile.next_order_expected_at
            )
        if answers is not None:
            query = query.join(answers, answers.c.customer_id == Customer.id).add_columns(
                answers.c.answered_at)
        if campaign.bulk:
            query = query.where(not_(key_account()))
        if only_customer is not None:
            query = query.where(Customer.id == only_customer)
        if among is not None:  # an event campaign: those who did the event (a few, within hours)
            query = query.where(Customer.id.in_(sorted(among.found)))
        return query.order_by(Customer.id).execution_options(yield_per=STREAM)

    details = select(
        Customer.id,
        Customer.email,
        Customer.name,
        Customer.timezone,
        Customer.locale,
        Customer.country,
        CustomerProfile.value_tier.label("tier"),
        CustomerProfile.lifecycle_stage.label("stage"),
        CustomerProfile.contact_interval_days.label("interval"),
        CustomerProfile.sunset,
        CustomerProfile.best_hour,
        Customer.paused_until,
        Customer.topics_off,
        Customer.personalised,
        last_contact.c.at.label("last_contact"),
        Suppression.email.is_not(None).label("suppressed"),
        Suppression.reason.label("suppression"),
        planned.c.customer_id.is_not(None).label("planned"),
        (_mailed_on_the_day(campaign, timing, window, timezones) if one_per_day else false())
        .label("busy"),
        *consent_columns(),
    )
    full = (
        members(details)
        .outerjoin(last_contact, last_contact.c.customer_id == Customer.id)
        .outerjoin(Suppression, Suppression.address_key == Customer.email_key)  # the mailbox, any spelling
        .outerjoin(Consent, Consent.address_key == Customer.email_key)
        .outerjoin(planned, planned.c.customer_id == Customer.id)
    )
    connection = session.connection()  # Core rows: the ORM's loading adds nothing to plain columns
    if among is not None:  # who has it is per event day (_Events.planned), not this query's
        yield from connection.execute(full)
        return
    # Those already planned (every member, when the daemon plans again five minutes later) only need
    # their decision, already_planned: they come from a light query, without the contact history.
    light = members(select(Customer.id, Customer.email, Customer.name, Customer.timezone, Customer.locale,
                           Customer.country, true().label("planned"))).join(
        planned, planned.c.customer_id == Customer.id)
    unplanned = full.where(planned.c.customer_id.is_(None))
    yield from _once_each(connection.execute(unplanned), connection.execute(light))


def _once_each(unplanned: Iterable[Any], planned: Iterable[Any]) -> Iterator[Any]:
    """Both streams in customer order, each customer once: were the database to show `planned` a row
    this very plan queued (both queries read their subqueries as they start, so none does now), the
    customer is still judged once, as the plan found them."""
    last = None
    for row in heapq.merge(unplanned, planned, key=attrgetter("id")):  # equal ids: the unplanned first
        if row.id != last:
            yield row
        last = row.id


def _mailed_on_the_day(
    campaign: Campaign, timing: Timing, window: SendWindow | None, timezones: list[str]
) -> ColumnElement[bool]:
    """Whether another marketing campaign's mail to the customer goes out on the local day this one's
    would: the day of its moment (a holiday's 09:00, say), after the send window, in their zone."""
    clauses = []
    for timezone in timezones:
        day = local_day(window_opening(timing.moment(timezone), timezone, window), timezone)
        start = datetime.combine(day, time(), zone(timezone))
        at = func.coalesce(OutboxMessage.sent_at, OutboxMessage.next_attempt_at)
        other = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.customer_id == Customer.id,
                OutboxMessage.campaign != campaign.name,
                OutboxMessage.state.in_(CONTACT_STATES),
                at >= start,
                at < start + timedelta(days=1),
            )
            .exists()
        )
        clauses.append(and_(Customer.timezone == timezone, other))
    return or_(false(), *clauses)


def _planned_since(campaign: Campaign, occurrence: date) -> date:
    """From which occurrence on an outbox row means "this customer already has it".

    Per occurrence for scheduled campaigns; once a year for life events; once per entry
    (within the entry window) for class entries; and never while a sequence the customer
    is in still has steps to go.
    """
    since = occurrence
    own_day = campaign.holiday is not None and campaign.holiday.country == "customer"  # their country's
    if campaign.life_event is not None or own_day:
        since = occurrence - timedelta(days=300)  # the customer's own day: once a year
    if campaign.entered is not None:
        since = occurrence - timedelta(days=campaign.entered.within_days + 1)
    if campaign.follow_ups:
        since = min(since, occurrence - timedelta(days=campaign.follow_ups[-1].after_days))
    return since


def _entries(entry: ClassEntry, now: datetime) -> Any:
    """Each customer's latest entry into the classes, within the window."""
    return (
        select(ProfileTransition.customer_id, func.max(ProfileTransition.computed_at).label("entered_at"))
        .where(
            ProfileTransition.dimension == entry.dimension,
            ProfileTransition.new.in_(entry.into),
            ProfileTransition.computed_at >= now - timedelta(days=entry.within_days),
        )
        .group_by(ProfileTransition.customer_id)
        .subquery()
    )


def _answers(trigger: Answered, now: datetime) -> Any:
    """Each customer's latest answer (by when it was first given) that is in the trigger's classes
    now and was given or changed within the window."""
    survey_matches = true() if trigger.survey == "any" else SurveyAnswer.survey == trigger.survey
    return (
        select(SurveyAnswer.customer_id, func.max(SurveyAnswer.answered_at).label("answered_at"))
        .where(
            survey_matches,
            satisfaction_class(SurveyAnswer.survey, SurveyAnswer.score).in_(trigger.as_),
            SurveyAnswer.updated_at >= now - timedelta(days=trigger.within_days),
        )
        .group_by(SurveyAnswer.customer_id)
        .subquery()
    )


def _outbox_row(
    keys: OutboxKeys, campaign: Campaign, customer_id: int, email: str, occurrence: date, now: datetime,
    decision: Decision, *, awaits: bool = False,
) -> dict[str, Any]:
    held_out = decision.reason == Reason.HOLDOUT
    state = "held_out" if held_out else AWAITING_WINNER if awaits else "queued"
    return {
        "key": keys(campaign.name, 0, customer_id, occurrence),
        "campaign": campaign.name,
        "step": 0,
        "customer_id": customer_id,
        "occurrence": occurrence,
        "to_address": email,
        "state": state,
        "variant": None if held_out else decision.variant,
        "attempts": 0,
        "next_attempt_at": decision.send_at,
        "created_at": now,
    }
