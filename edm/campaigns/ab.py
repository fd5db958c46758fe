"""A/B tests in the store: when a test is over, measure it, decide (edm.campaigns.winner), send the rest.

The planner queues the test share with their variants and the rest as `awaiting_winner` rows
(never claimed by the sender). Each planning run (`runner.plan_campaigns`, so `campaign run`
and the daemon's plan job) calls `pick_winners`: an occurrence whose test messages have all
been tried (none queued or sending) and whose last one went out `after_hours` ago is measured
over its delivered test mail, the decision is recorded once (`ab_decisions`, unique per
campaign and occurrence), and the waiting rows become `queued` with the winner: at once, or
when the customer's send window next opens. Suppression is checked again when they are sent,
so a customer who unsubscribed while the test ran gets nothing; the holdout stays a holdout.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, false, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from edm.campaigns.schema import Campaign, PickWinner
from edm.campaigns.timing import window_opening
from edm.campaigns.winner import AWAITING_WINNER, Arm, Verdict, decide_winner
from edm.config import PolicySettings
from edm.store import AbDecision, Customer, Event, Order, OutboxMessage
from edm.store.engine import dialect_insert

UNTRIED = ("queued", "sending")  # test messages not yet tried: the test is still going out


@dataclass(frozen=True)
class WinnerResult:
    """One test decided in this run, and how many waiting messages it released."""

    campaign: str
    occurrence: date
    verdict: Verdict
    metric: str
    released: int

    @property
    def line(self) -> str:
        return (f"{self.campaign} {self.occurrence}: A/B test by {self.metric}: {self.verdict.summary}; "
                f"{self.released} waiting messages get {self.verdict.winner}")


def pick_winners(
    sessions: sessionmaker[Session], campaigns: Iterable[Campaign], now: datetime, policy: PolicySettings
) -> list[WinnerResult]:
    """Decide every A/B test of `campaigns` that is over at `now` and release its waiting messages."""
    results = []
    for campaign in campaigns:
        if campaign.pick_winner is None:
            continue
        with sessions.begin() as session:
            for occurrence in _waiting_occurrences(session, campaign.name):
                result = _decide(session, campaign, campaign.pick_winner, occurrence, now, policy)
                if result is not None:
                    results.append(result)
    return results


def _decide(
    session: Session, campaign: Campaign, pick: PickWinner, occurrence: date, now: datetime,
    policy: PolicySettings,
) -> WinnerResult | None:
    stored = _stored_winner(session, campaign.name, occurrence)
    if stored is not None:  # decided before (a row planned since): it gets the same winner
        _count_released(session, campaign.name, occurrence,
                        _release(session, campaign, occurrence, stored, now, policy))
        return None
    if not _over(session, campaign.name, pick, occurrence, now):
        return None
    arms = _measure(session, campaign, pick, occurrence, now)
    default = campaign.default_variant
    assert default is not None  # pick_winner is set
    verdict = decide_winner(arms, confidence=pick.confidence, default=default)
    insert = dialect_insert(session)(AbDecision).values(
        campaign=campaign.name, occurrence=occurrence, decided_at=now, metric=pick.metric,
        test=verdict.tests, confidence=pick.confidence, winner=verdict.winner,
        significant=verdict.significant, p_value=verdict.p_value, arms=_figures(verdict), released=0,
    )
    session.execute(insert.on_conflict_do_nothing(index_elements=["campaign", "occurrence"]))
    winner = _stored_winner(session, campaign.name, occurrence)
    assert winner is not None
    released = _release(session, campaign, occurrence, winner, now, policy)
    _count_released(session, campaign.name, occurrence, released)
    return WinnerResult(campaign.name, occurrence, verdict, pick.metric, released)


def _count_released(session: Session, campaign: str, occurrence: date, released: int) -> None:
    session.execute(update(AbDecision)
                    .where(AbDecision.campaign == campaign, AbDecision.occurrence == occurrence)
                    .values(released=AbDecision.released + released))


def _stored_winner(session: Session, campaign: str, occurrence: date) -> str | None:
    return session.scalar(select(AbDecision.winner).where(AbDecision.campaign == campaign,
                                                          AbDecision.occurrence == occurrence))


def _waiting_occurrences(session: Session, campaign: str) -> list[date]:
    query = (select(OutboxMessage.occurrence).distinct()
             .where(OutboxMessage.campaign == campaign, OutboxMessage.state == AWAITING_WINNER)
             .order_by(OutboxMessage.occurrence))
    return list(session.scalars(query))


def _test_rows(campaign: str, occurrence: date) -> ColumnElement[bool]:
    """The occurrence's test messages: a variant, step 0 (waiting rows have none; held-out ones none)."""
    return and_(OutboxMessage.campaign == campaign, OutboxMessage.occurrence == occurrence,
                OutboxMessage.step == 0, OutboxMessage.variant.is_not(None))


def _over(session: Session, campaign: str, pick: PickWinner, occurrence: date, now: datetime) -> bool:
    """Every test message tried, and `after_hours` passed since the last went out (no test message
    delivered: since the rest was planned)."""
    tests = _test_rows(campaign, occurrence)
    untried, last_sent = session.execute(
        select(func.count(OutboxMessage.id).filter(OutboxMessage.state.in_(UNTRIED)),
               func.max(OutboxMessage.sent_at)).where(tests)
    ).one()
    if untried:
        return False
    if last_sent is None:
        last_sent = session.scalar(select(func.min(OutboxMessage.created_at)).where(
            OutboxMessage.campaign == campaign, OutboxMessage.occurrence == occurrence,
            OutboxMessage.state == AWAITING_WINNER))
    return last_sent is not None and now >= last_sent + timedelta(hours=pick.after_hours)


def _measure(
    session: Session, campaign: Campaign, pick: PickWinner, occurrence: date, now: datetime
) -> list[Arm]:
    """Each variant's delivered test messages and, of them, the converted (up to `now`): a person's
    click on the message (machine clicks never count), or an order by the customer after it went out."""
    if pick.metric == "click_rate":
        converted: ColumnElement[bool] = exists().where(
            Event.outbox_id == OutboxMessage.id, Event.kind == "click", Event.machine == false(),
            Event.occurred_at <= now)
    else:
        converted = exists().where(
            Order.customer_id == OutboxMessage.customer_id, Order.ordered_at >= OutboxMessage.sent_at,
            Order.ordered_at <= now)
    query = (
        select(OutboxMessage.variant, func.count(OutboxMessage.id), func.sum(case((converted, 1), else_=0)))
        .where(_test_rows(campaign.name, occurrence), OutboxMessage.state == "sent")
        .group_by(OutboxMessage.variant)
    )
    found = {variant: (int(sent), int(hits or 0)) for variant, sent, hits in session.execute(query)}
    return [Arm(v.name, *found.get(v.name, (0, 0))) for v in campaign.variants]


def _release(
    session: Session, campaign: Campaign, occurrence: date, winner: str, now: datetime, policy: PolicySettings
) -> int:
    """The waiting messages queued with `winner`: now, or when the customer's send window opens.

    `created_at` becomes now: the message is planned only now (a sequence counts its steps from
    it, and the contact policy its last contact)."""
    window = policy.send_window if campaign.follows_policy else None
    rows = session.execute(
        select(OutboxMessage.id, OutboxMessage.next_attempt_at, Customer.timezone)
        .join(Customer, Customer.id == OutboxMessage.customer_id)
        .where(OutboxMessage.campaign == campaign.name, OutboxMessage.occurrence == occurrence,
               OutboxMessage.state == AWAITING_WINNER)
    ).all()
    changes: list[dict[str, Any]] = []
    for row_id, earliest, timezone in rows:
        moment = window_opening(max(now, earliest), timezone, window)
        changes.append({"id": row_id, "state": "queued", "variant": winner, "next_attempt_at": moment,
                        "created_at": now})
    if changes:
        session.execute(update(OutboxMessage), changes)
    return len(changes)


def _figures(verdict: Verdict) -> dict[str, Any]:
    """What the decision saw, for the record (and the report)."""
    return {
        "leader": verdict.leader,
        "arms": [{"name": arm.name, "sent": arm.sent, "converted": arm.converted} for arm in verdict.arms],
        "comparisons": [{"other": c.other, "test": c.test, "p_value": c.p_value, "adjusted": c.adjusted}
                        for c in verdict.comparisons],
    }
